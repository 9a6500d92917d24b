//! The `sipreg` binary: parse flags, run on a single-threaded runtime, render, exit with the documented code.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use sipreg::cli::{Cli, ColorChoice, Command, RegisterArgs, WatchArgs};
use sipreg::config::Config;
use sipreg::exit;
use sipreg::net::resolve::Resolver;
use sipreg::observe::report::{Report, Summary};
use sipreg::render::progress::Progress;
use sipreg::render::{self, Detail, Palette};

mod serving;
mod storming;

use serving::{exporter, metrics_server};
use storming::storm;

fn init_logging(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    // sipreg logs only at info and debug: without -v or RUST_LOG there is nothing to set up.
    if verbose == 0 && std::env::var_os("RUST_LOG").is_none() {
        return;
    }
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "sipreg=info",
        (false, _) => "sipreg=debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .with_target(false)
        .without_time()
        .try_init();
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    // A closed pipe (`sipreg ... | head -1`) is not an error of ours.
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

fn print_bytes(bytes: &[u8]) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes).and_then(|()| out.flush());
    ExitCode::from(exit::OK)
}

/// One line on stderr; a closed stderr is not worth a panic.
fn eprint_line(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
}

fn usage_error(message: &str, json: bool) -> ExitCode {
    // A Nagios plugin's usage error is UNKNOWN (3), on stdout, where the monitoring reads it.
    if std::env::args_os().any(|a| a == "--nagios") {
        print(&render::nagios::unknown(message));
        return ExitCode::from(exit::NAGIOS_UNKNOWN);
    }
    if json {
        print(&render::json_error(message, exit::USAGE));
    } else {
        eprint_line(&format!("sipreg: error: {message}"));
    }
    ExitCode::from(exit::USAGE)
}

/// Clap's error as one line: its first paragraph, without the `error:` prefix.
fn one_line(rendered: &str) -> String {
    let first: Vec<&str> = rendered
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let line = first.join(" ");
    line.strip_prefix("error: ").unwrap_or(&line).to_string()
}

/// Colour for the human output: `--color`, then NO_COLOR, TERM=dumb and whether stdout is a terminal.
fn palette(choice: ColorChoice) -> Palette {
    let on = match choice {
        ColorChoice::Never => false,
        ColorChoice::Always => true,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::env::var("TERM").map_or(true, |t| t != "dumb")
        }
    };
    if on {
        Palette::colored()
    } else {
        Palette::plain()
    }
}

fn show(report: &Report, args: &RegisterArgs) -> ExitCode {
    if args.nagios {
        let (line, code) =
            render::nagios::line(report, args.warning.as_ref(), args.critical.as_ref());
        print(&line);
        return ExitCode::from(code);
    }
    if args.json {
        print(&render::json(report));
    } else {
        let detail = if args.quiet {
            Detail::Quiet
        } else {
            Detail::Normal
        };
        print(&render::human(report, detail, &palette(args.color)));
    }
    ExitCode::from(report.exit_code)
}

fn generate(command: &Command) -> Option<ExitCode> {
    match command {
        Command::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "sipreg", &mut buf);
            Some(print_bytes(&buf))
        }
        Command::Man => {
            let mut buf = Vec::new();
            // The package version only: the committed man page must not change with every commit.
            let command = Cli::command().version(env!("CARGO_PKG_VERSION"));
            if let Err(e) = clap_mangen::Man::new(command).render(&mut buf) {
                eprint_line(&format!("sipreg: error: cannot render the man page: {e}"));
                return Some(ExitCode::from(exit::INTERNAL));
            }
            Some(print_bytes(&buf))
        }
        Command::Demo { .. }
        | Command::Resolve(_)
        | Command::Watch(_)
        | Command::Exporter(_)
        | Command::Storm(_) => None,
    }
}

/// `sipreg resolve`: the ordered candidates, without sending any SIP. Exit 0 when at least one
/// candidate has an address, 3 when none has, 2 on a usage error.
fn resolve(rt: &tokio::runtime::Runtime, args: &RegisterArgs) -> ExitCode {
    let config = match Config::from_args(args, None) {
        Ok(c) => c,
        Err(e) => return usage_error(&e.to_string(), args.json),
    };
    let resolver = Resolver::new(config.dns.clone());
    let list = rt.block_on(sipreg::net::resolve::candidates(
        &config.target(),
        &resolver,
    ));
    let server = config.server_display();
    if args.json {
        print(&render::candidates_json(&server, &list));
    } else {
        print(&render::candidates_text(&server, &config.order, &list));
    }
    if list.iter().any(|c| c.addr.is_ok()) {
        ExitCode::from(exit::OK)
    } else {
        ExitCode::from(exit::UNREACHABLE)
    }
}

/// `--count N`: one line (or JSON object) per run, then a summary.
fn repeat(
    rt: &tokio::runtime::Runtime,
    config: &Config,
    args: &RegisterArgs,
    progress: &mut Progress,
) -> ExitCode {
    let resolver = Resolver::new(config.dns.clone());
    let total = args.count as usize;
    let pal = palette(args.color);
    let mut reports = Vec::with_capacity(total);
    for n in 1..=total {
        let report = rt.block_on(sipreg::oneshot::run_with(config, &resolver, progress));
        if args.json {
            print(&render::json_line(&report));
        } else if !args.quiet {
            print(&render::run_line(n, total, &report, &pal));
        }
        reports.push(report);
        if n < total {
            rt.block_on(async { tokio::time::sleep(args.interval).await });
        }
    }
    let summary = Summary::of(&reports);
    if args.json {
        print(&render::json_summary(&summary));
    } else {
        print(&render::summary_line(&summary, &pal));
    }
    ExitCode::from(summary.exit_code)
}

/// `sipreg demo`: the in-process registrar and the phone's default flags.
fn demo(rt: &tokio::runtime::Runtime, json: bool, color: ColorChoice) -> ExitCode {
    match rt.block_on(sipreg::demo::run()) {
        Ok(report) if json => {
            print(&render::json(&report));
            ExitCode::from(report.exit_code)
        }
        Ok(report) => {
            print(&render::human(&report, Detail::Normal, &palette(color)));
            ExitCode::from(report.exit_code)
        }
        Err(e) => {
            eprint_line(&format!("sipreg: error: demo failed: {e:#}"));
            ExitCode::from(exit::INTERNAL)
        }
    }
}

/// The configuration of the flags, SIPREG_PASSWORD included, or the usage error's exit code.
fn config(args: &RegisterArgs) -> Result<Config, ExitCode> {
    let env_password = match std::env::var("SIPREG_PASSWORD") {
        Ok(p) => Some(p),
        Err(std::env::VarError::NotPresent) => None,
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(usage_error("SIPREG_PASSWORD is not valid UTF-8", args.json));
        }
    };
    Config::from_args(args, env_password).map_err(|e| usage_error(&e.to_string(), args.json))
}

/// Counts SIGINT and SIGTERM: the first ends the watch, the second skips the removal. The handlers
/// are installed when this is called (inside the runtime), before the watch sends anything.
#[cfg(unix)]
fn signals(
    tx: tokio::sync::watch::Sender<u32>,
) -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        let mut count = 0u32;
        loop {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            count += 1;
            if tx.send(count).is_err() {
                return;
            }
        }
    })
}

/// Counts Ctrl-C where there are no Unix signals.
#[cfg(not(unix))]
fn signals(
    tx: tokio::sync::watch::Sender<u32>,
) -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async move {
        let mut count = 0u32;
        while tokio::signal::ctrl_c().await.is_ok() {
            count += 1;
            if tx.send(count).is_err() {
                return;
            }
        }
    })
}

/// `sipreg watch`: events as they happen, then the summary and its exit code.
fn watch(rt: &tokio::runtime::Runtime, w: &WatchArgs) -> ExitCode {
    let args = &w.register;
    if args.count > 1 {
        return usage_error(
            "--count does not apply to watch (use --duration)",
            args.json,
        );
    }
    let config = match config(args) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let settings = sipreg::ua::watch::WatchSettings {
        keepalive: w.keepalive,
        refresh: w.refresh,
        duration: w.duration,
        inbound_every: args.check_inbound.filter(|d| !d.is_zero()),
    };
    if w.keepalive > sipreg::config::MAX_DURATION {
        return usage_error("--keepalive is longer than a week", args.json);
    }
    let (tx, rx) = tokio::sync::watch::channel(0u32);
    let live = !args.json && !args.quiet && std::io::stderr().is_terminal();
    let summary = rt.block_on(async {
        match signals(tx) {
            Ok(counting) => {
                tokio::spawn(counting);
            }
            Err(e) => eprint_line(&format!("sipreg: warning: no signal handling: {e}")),
        }
        let mut status = if live {
            sipreg::render::status::WatchStatus::stderr(settings.refresh)
        } else {
            sipreg::render::status::WatchStatus::disabled()
        };
        let mut shared = sipreg::observe::tally::Shared::default();
        if let Some(addr) = w.metrics_listen {
            if let Err(e) = metrics_server(addr, shared.clone()).await {
                return Err(usage_error(&format!("--metrics-listen: {e:#}"), args.json));
            }
        }
        let mut sinks = sipreg::event::Fanout(vec![&mut status, &mut shared]);
        Ok(sipreg::watching::watch(&config, &settings, rx, args.json, &mut sinks).await)
    });
    let summary = match summary {
        Ok(s) => s,
        Err(code) => return code,
    };
    print(&render::events::summary(&summary, args.json));
    ExitCode::from(summary.exit_code)
}

/// The registration test itself: one run, or `--count` runs.
fn register(rt: &tokio::runtime::Runtime, args: &RegisterArgs) -> ExitCode {
    let config = match config(args) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut progress = if !args.json && !args.quiet && std::io::stderr().is_terminal() {
        let _guard = rt.enter();
        Progress::stderr()
    } else {
        Progress::disabled()
    };
    if args.count > 1 {
        if args.nagios {
            return usage_error("--nagios checks one registration: drop --count", args.json);
        }
        return repeat(rt, &config, args, &mut progress);
    }
    let resolver = Resolver::new(config.dns.clone());
    let report = rt.block_on(sipreg::oneshot::run_with(&config, &resolver, &mut progress));
    show(&report, args)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::from(exit::OK);
        }
        Err(e) => {
            let json = std::env::args_os().any(|a| a == "--json");
            return usage_error(&one_line(&e.render().to_string()), json);
        }
    };
    if let Some(code) = cli.command.as_ref().and_then(generate) {
        return code;
    }
    let args = match &cli.command {
        Some(Command::Resolve(sub)) => sub.as_ref(),
        Some(Command::Watch(w)) => &w.register,
        Some(Command::Storm(s)) => &s.register,
        _ => &cli.register,
    };
    match &cli.command {
        Some(Command::Exporter(e)) => init_logging(e.verbose, false),
        _ => init_logging(args.verbose, args.quiet),
    }
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprint_line(&format!("sipreg: error: cannot start the runtime: {e}"));
            return ExitCode::from(exit::INTERNAL);
        }
    };
    match cli.command {
        Some(Command::Resolve(_)) => resolve(&rt, args),
        Some(Command::Demo { json }) => demo(&rt, json, args.color),
        Some(Command::Watch(w)) => watch(&rt, &w),
        Some(Command::Exporter(e)) => exporter(&rt, &e),
        Some(Command::Storm(s)) => storm(&s),
        _ => register(&rt, args),
    }
}

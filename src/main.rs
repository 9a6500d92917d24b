//! The `sipreg` binary: parse flags, run on a single-threaded runtime, render, exit with the documented code.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use sipreg::cli::{Cli, Command};
use sipreg::config::Config;
use sipreg::render::{self, Detail};
use sipreg::report::Report;

fn init_logging(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
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
        .with_target(false)
        .without_time()
        .try_init();
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

fn print(text: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    // A closed pipe (`sipreg ... | head -1`) is not an error of ours.
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    ExitCode::SUCCESS
}

fn usage_error(message: &str, json: bool) -> ExitCode {
    if json {
        print(&render::json_error(message, 2));
    } else {
        eprintln!("sipreg: error: {message}");
    }
    ExitCode::from(2)
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

fn show(report: &Report, json: bool, quiet: bool) -> ExitCode {
    if json {
        print(&render::json(report));
    } else {
        let detail = if quiet { Detail::Quiet } else { Detail::Normal };
        print(&render::human(report, detail));
    }
    ExitCode::from(report.exit_code)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let json = std::env::args().any(|a| a == "--json");
            return usage_error(&one_line(&e.render().to_string()), json);
        }
    };
    let args = &cli.register;
    init_logging(args.verbose, args.quiet);
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sipreg: error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    if let Some(Command::Demo { json }) = cli.command {
        return match rt.block_on(sipreg::demo::run()) {
            Ok(report) => show(&report, json, false),
            Err(e) => {
                eprintln!("sipreg: error: demo failed: {e:#}");
                ExitCode::from(1)
            }
        };
    }
    let config = match Config::from_args(args, std::env::var("SIPREG_PASSWORD").ok()) {
        Ok(c) => c,
        Err(e) => return usage_error(&e.to_string(), args.json),
    };
    let report = rt.block_on(sipreg::run(&config));
    show(&report, args.json, args.quiet)
}

//! The one-shot command: one registration test, or `--count` runs, rendered as text, JSON or a
//! Nagios line.

use std::io::IsTerminal;
use std::process::ExitCode;

use sipreg::config::Config;
use sipreg::net::resolve::Resolver;
use sipreg::observe::report::{Report, Summary};
use sipreg::render::progress::Progress;
use sipreg::render::{self, Detail};

use super::cli::RegisterArgs;
use super::{palette, print, usage_error};

/// The registration test itself: one run, or `--count` runs.
pub fn register(rt: &tokio::runtime::Runtime, args: &RegisterArgs) -> ExitCode {
    let config = match config(args) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut capture = match capture(args) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut progress = if !args.json && !args.quiet && std::io::stderr().is_terminal() {
        let _guard = rt.enter();
        Progress::stderr()
    } else {
        Progress::disabled()
    };
    let mut sinks = sipreg::event::Fanout(vec![&mut progress]);
    if let Some(c) = capture.as_mut() {
        sinks.0.push(c);
    }
    if args.count > 1 {
        if args.nagios {
            return usage_error("--nagios checks one registration: drop --count", args.json);
        }
        return repeat(rt, &config, args, &mut sinks);
    }
    let resolver = Resolver::new(config.dns.clone());
    let mut report = rt.block_on(sipreg::session::oneshot::run_with(
        &config, &resolver, &mut sinks,
    ));
    drop(sinks);
    if let Some(c) = &capture {
        report.capture = Some(c.info());
        report.warnings.extend(c.failed());
    }
    show(&report, args)
}

/// `--pcap FILE` and `--hep ADDR:PORT`: the capture file, created now (a bad path is a usage error;
/// `-` is refused), and the HEP socket.
pub fn capture(args: &RegisterArgs) -> Result<Option<sipreg::capture::Capture>, ExitCode> {
    capture_with_ring(args, None)
}

/// As [`capture`], with `watch --pcap-ring`'s window.
pub fn capture_with_ring(
    args: &RegisterArgs,
    ring: Option<std::time::Duration>,
) -> Result<Option<sipreg::capture::Capture>, ExitCode> {
    if args.pcap.is_none() && args.hep.hep.is_none() {
        return Ok(None);
    }
    if args.pcap.as_ref().is_some_and(|p| p.as_os_str() == "-") {
        return Err(usage_error(
            "--pcap - is refused: a pcap is no text for a terminal or a pipe; give a file",
            args.json,
        ));
    }
    sipreg::capture::Capture::create(args.pcap.as_deref(), ring, args.hep.target())
        .map(Some)
        .map_err(|e| usage_error(&e, args.json))
}

/// `--count N`: one line (or JSON object) per run, then a summary.
fn repeat(
    rt: &tokio::runtime::Runtime,
    config: &Config,
    args: &RegisterArgs,
    progress: &mut dyn sipreg::event::Sink,
) -> ExitCode {
    let resolver = Resolver::new(config.dns.clone());
    let total = args.count as usize;
    let pal = palette(args.color);
    let mut reports = Vec::with_capacity(total);
    for n in 1..=total {
        let report = rt.block_on(sipreg::session::oneshot::run_with(
            config, &resolver, progress,
        ));
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

/// The configuration of the flags, SIPREG_PASSWORD included, or the usage error's exit code.
pub fn config(args: &RegisterArgs) -> Result<Config, ExitCode> {
    let env_password = match std::env::var("SIPREG_PASSWORD") {
        Ok(p) => Some(p),
        Err(std::env::VarError::NotPresent) => None,
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(usage_error("SIPREG_PASSWORD is not valid UTF-8", args.json));
        }
    };
    super::flags::config(args, env_password).map_err(|e| usage_error(&e.to_string(), args.json))
}

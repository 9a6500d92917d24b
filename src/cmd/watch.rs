//! `sipreg watch`: events as they happen, then the summary and its exit code.

use std::io::IsTerminal;
use std::process::ExitCode;

use sipreg::render;

use super::cli::WatchArgs;
use super::exporter::metrics_server;
use super::register::config;
use super::signals::signals;
use super::{eprint_line, print, usage_error};

/// `sipreg watch`: events as they happen, then the summary and its exit code.
pub fn watch(rt: &tokio::runtime::Runtime, w: &WatchArgs) -> ExitCode {
    let args = &w.register;
    if args.count > 1 {
        return usage_error(
            "--count does not apply to watch (use --duration)",
            args.json,
        );
    }
    let mut capture = match super::register::capture_with_ring(args, w.pcap_ring) {
        Ok(c) => c,
        Err(code) => return code,
    };
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
        if let Some(c) = capture.as_mut() {
            sinks.0.push(c);
        }
        Ok(sipreg::session::watch::watch(&config, &settings, rx, args.json, &mut sinks).await)
    });
    let mut summary = match summary {
        Ok(s) => s,
        Err(code) => return code,
    };
    summary.capture = capture.as_ref().map(sipreg::capture::Capture::info);
    print(&render::events::summary(&summary, args.json));
    ExitCode::from(summary.exit_code)
}

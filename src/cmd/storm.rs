//! `sipreg storm` and `sipreg storm merge`: the binary's front end for storms.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use super::cli::{StormArgs, StormCommand};
use sipreg::exit;
use sipreg::render;

use super::signals::signals;
use super::{eprint_line, print, usage_error};

/// `sipreg storm merge FILE...`: the shards' results as one.
fn storm_merge(files: &[std::path::PathBuf], json: bool) -> ExitCode {
    let mut parts: Vec<sipreg::observe::storm::StormSummary> = Vec::new();
    for f in files {
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => return usage_error(&format!("{}: {e}", f.display()), json),
        };
        match serde_json::from_str::<sipreg::observe::storm::StormSummary>(text.trim()) {
            Ok(p) if parts.contains(&p) => {
                let why = format!(
                    "{}: the same result twice (a shard given twice?)",
                    f.display()
                );
                return usage_error(&why, json);
            }
            Ok(p) => parts.push(p),
            Err(e) => {
                let why = format!("{}: not a `sipreg storm --json` result ({e})", f.display());
                return usage_error(&why, json);
            }
        }
    }
    match sipreg::observe::storm::StormSummary::merge(&parts) {
        Ok(m) if json => print(&render::storm::json(&m)),
        Ok(m) => {
            let header = format!("storm: {} shards merged", parts.len());
            print(&render::storm::human(&header, &m));
        }
        Err(e) => return usage_error(&e, json),
    }
    ExitCode::from(exit::OK)
}

/// Raises the open-file limit to its hard limit for a storm; a note when it changed or is short.
fn open_files(needed: u64) -> Option<String> {
    let (soft, hard) = rlimit::Resource::NOFILE.get().ok()?;
    let raised = rlimit::increase_nofile_limit(hard).unwrap_or(soft);
    if raised < needed {
        return Some(format!(
            "the open-file limit is {raised} (hard limit {hard}): fewer than the {needed} sockets of a socket per account; accounts beyond it fail (split the storm with --shard, or use --socket shared)"
        ));
    }
    (raised > soft).then(|| format!("open-file limit raised from {soft} to {raised}"))
}

/// How a storm runs: `--threads 1`, and by default `--socket shared` (one socket, one reader), on one
/// thread; a socket per account on a lane per core (or `--threads`): threads each running a
/// single-threaded runtime with their share of the accounts; a shared socket with `--threads N` on a
/// runtime of N workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    /// One single-threaded runtime.
    Single,
    /// Threads each with a single-threaded runtime and every N-th account.
    Lanes(usize),
    /// One runtime with this many worker threads.
    Workers(usize),
}

fn engine(threads: Option<u16>, socket: sipreg::storm::SocketMode, local: bool) -> Engine {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    // A registrar on loopback runs on these cores too: the storm leaves it half of them (on 2
    // cores, lanes cost 10-40 % more CPU per registration than one thread, BENCHMARKS.md).
    let lanes = if local { cores / 2 } else { cores };
    match (threads.map(usize::from), socket) {
        (Some(1), _) | (None, sipreg::storm::SocketMode::Shared) => Engine::Single,
        (Some(n), sipreg::storm::SocketMode::Shared) => Engine::Workers(n),
        (None, _) if lanes <= 1 => Engine::Single,
        (n, _) => Engine::Lanes(n.unwrap_or(lanes)),
    }
}

/// Whether the registrar is on this machine: a loopback address or `localhost`.
fn on_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Runs the storm as `engine` says, with the signal counter and the live line. An error comes with
/// its exit code: the registrar unreachable (the shared socket), or sipreg's own failure.
fn run(
    plan: sipreg::storm::Plan,
    engine: Engine,
    live: bool,
) -> Result<sipreg::observe::storm::StormSummary, (String, u8)> {
    let rt = match engine {
        Engine::Workers(n) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build(),
        Engine::Single | Engine::Lanes(_) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
    }
    .map_err(|e| (format!("cannot start the runtime: {e}"), exit::INTERNAL))?;
    let (tx, rx) = tokio::sync::watch::channel(0u32);
    let mut tick = move |snap: &sipreg::storm::Snapshot| {
        if live {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K{}", render::storm::progress(snap));
            let _ = err.flush();
        }
    };
    rt.block_on(async move {
        if let Ok(counting) = signals(tx) {
            tokio::spawn(counting);
        }
        match engine {
            Engine::Lanes(n) => tokio::task::spawn_blocking(move || {
                // A socket per account opens nothing shared: a lane fails only on its own.
                sipreg::storm::run_lanes(plan, n, &rx, &mut tick).map_err(|e| (e, exit::INTERNAL))
            })
            .await
            .unwrap_or_else(|e| Err((format!("the storm's threads failed: {e}"), exit::INTERNAL))),
            Engine::Single | Engine::Workers(_) => sipreg::storm::run(plan, rx, &mut tick)
                .await
                .map_err(|e| (e, exit::UNREACHABLE)),
        }
    })
}

/// `sipreg storm`: the accounts at once, a live line on a terminal, then the summary. Exit 0 when
/// every account registered, 5 when some did not, 3 when none did, 2 on a usage error.
pub(crate) fn storm(s: &StormArgs) -> ExitCode {
    if let Some(StormCommand::Merge { files, json }) = &s.command {
        return storm_merge(files, *json);
    }
    let json = s.register.json;
    let plan = match super::storm_plan::plan(s) {
        Ok(p) => p,
        Err(e) => return usage_error(&e, json),
    };
    let accounts = plan.accounts.len() as u64;
    let plan_socket = plan.socket;
    let capture = plan.capture.as_ref().map(sipreg::capture::Capture::tap);
    if plan.socket == sipreg::storm::SocketMode::PerAccount {
        // Every account keeps its socket until the end (its binding lives on it).
        if let Some(note) = open_files(accounts + 64) {
            eprint_line(&format!("sipreg storm: {note}"));
        }
    }
    let header = format!(
        "storm: {accounts} accounts at {} ({}, {})",
        plan.base.server_display(),
        render::order(&plan.base.order),
        match plan.socket {
            sipreg::storm::SocketMode::PerAccount => "a socket per account",
            sipreg::storm::SocketMode::Shared => "one shared socket",
        }
    );
    let live = !json && !s.register.quiet && std::io::stderr().is_terminal();
    let local = on_loopback(&plan.base.server.host);
    let result = run(plan, engine(s.threads, plan_socket, local), live);
    if live {
        let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
    }
    let mut summary = match result {
        Ok(s) => s,
        // The shared socket could not be opened: the registrar is unreachable, not the flags wrong.
        Err((e, code)) if json => {
            print(&render::json_error(&e, code));
            return ExitCode::from(code);
        }
        Err((e, code)) => {
            eprint_line(&format!("sipreg: error: {e}"));
            return ExitCode::from(code);
        }
    };
    summary.capture = capture.as_ref().map(sipreg::capture::Capture::info);
    summary
        .warnings
        .extend(capture.as_ref().and_then(sipreg::capture::Capture::failed));
    if json {
        print(&render::storm::json(&summary));
    } else {
        print(&render::storm::human(&header, &summary));
    }
    ExitCode::from(
        if summary.registered == summary.accounts && summary.failed == 0 {
            exit::OK
        } else if summary.registered == 0 {
            exit::UNREACHABLE
        } else {
            exit::EXPECTATION
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use sipreg::storm::SocketMode::{PerAccount, Shared};

    #[test]
    fn a_registrar_on_loopback_gets_half_the_cores() {
        for host in ["127.0.0.1", "127.9.9.9", "::1", "[::1]", "LocalHost"] {
            assert!(on_loopback(host), "{host}");
        }
        for host in [
            "192.0.2.7",
            "pbx.example.com",
            "2001:db8::1",
            "localhost.example",
        ] {
            assert!(!on_loopback(host), "{host}");
        }
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let lanes = |n: usize| {
            if n <= 1 {
                Engine::Single
            } else {
                Engine::Lanes(n)
            }
        };
        assert_eq!(engine(None, PerAccount, false), lanes(cores));
        assert_eq!(engine(None, PerAccount, true), lanes(cores / 2));
        assert_eq!(engine(Some(3), PerAccount, true), Engine::Lanes(3));
        assert_eq!(engine(Some(1), PerAccount, false), Engine::Single);
        assert_eq!(engine(None, Shared, false), Engine::Single);
        assert_eq!(engine(Some(2), Shared, true), Engine::Workers(2));
    }
}

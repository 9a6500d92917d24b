//! A storm's [`Plan`] from the command line: the one-shot flags that make sense for many accounts,
//! the accounts file, the shard.

use std::path::Path;
use std::time::Duration;

use sipreg::model::Transport;
use sipreg::storm::{Pace, Plan, SocketMode, accounts};

use super::cli::{SocketArg, StormArgs};

/// One-shot flags a storm refuses, with the reason.
fn refused(args: &StormArgs) -> Option<&'static str> {
    let r = &args.register;
    if r.password.is_some() || r.password_file.is_some() {
        return Some(
            "--password and --password-file do not apply to storm: each account's password comes from the accounts file",
        );
    }
    if r.keep {
        return Some(
            "--keep does not apply to storm: every binding is removed at the end (use --duration to hold them)",
        );
    }
    if r.count > 1 {
        return Some("--count does not apply to storm");
    }
    if r.nagios {
        return Some("--nagios does not apply to storm");
    }
    if r.pcap.as_ref().is_some_and(|p| p.as_os_str() == "-") {
        return Some(
            "--pcap - is refused: a pcap is no text for a terminal or a pipe; give a file",
        );
    }
    if r.check_inbound.is_some() {
        return Some("--check-inbound does not apply to storm");
    }
    if r.expect_transport.is_some() || r.max_time.is_some() {
        return Some("--expect-transport and --max-time do not apply to storm");
    }
    None
}

/// Builds the plan: checks the flags, reads the accounts and takes this shard's.
///
/// # Errors
/// One line naming the bad flag, value, or accounts-file line.
pub fn plan(args: &StormArgs) -> Result<Plan, String> {
    if let Some(why) = refused(args) {
        return Err(why.to_string());
    }
    let base = super::flags::config(&args.register, None).map_err(|e| e.to_string())?;
    let socket = match args.socket {
        SocketArg::PerAccount => SocketMode::PerAccount,
        SocketArg::Shared => SocketMode::Shared,
    };
    if socket == SocketMode::Shared
        && (base.order.len() != 1
            || !matches!(base.order.first(), Some(Transport::Udp | Transport::Tcp)))
    {
        return Err("--socket shared needs exactly one of --udp or --tcp".into());
    }
    if args
        .duration
        .is_some_and(|d| d > sipreg::config::MAX_DURATION)
    {
        return Err("--duration is longer than a week".into());
    }
    let path = args.accounts.as_deref().unwrap_or(Path::new(""));
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("--accounts {}: {e}", path.display()))?;
    let mut all = accounts::parse(&path.display().to_string(), &text)?;
    if let Some(shard) = args.shard {
        let mut i = 0;
        all.retain(|_| {
            i += 1;
            shard.takes(i - 1)
        });
    }
    let capture = if wants_capture(args) {
        let capture = sipreg::capture::Capture::create(
            args.register.pcap.as_deref(),
            None,
            args.register.hep.target(),
        )?;
        Some(capture.with_cap(sipreg::capture::STORM_CAP))
    } else {
        None
    };
    Ok(Plan {
        capture,
        base,
        accounts: all,
        pace: Pace::new(args.rate, args.burst.map_or(1, |b| b as usize)),
        concurrency: args.concurrency as usize,
        duration: args.duration.filter(|d| *d > Duration::ZERO),
        socket,
    })
}

/// `--pcap` or `--hep` given.
fn wants_capture(args: &StormArgs) -> bool {
    args.register.pcap.is_some() || args.register.hep.hep.is_some()
}

//! Every exit code sipreg uses, in one documented table (README "Exit codes", `--help`).

use crate::model::Verdict;

/// Registered (and every expectation met); also `--help`, `--version`, `resolve` with an address.
pub const OK: u8 = 0;
/// Rejected: the server answered with a final failure other than authentication.
pub const REJECTED: u8 = 1;
/// Usage or configuration error: bad flag, unsupported transport set, unreadable file.
pub const USAGE: u8 = 2;
/// Unreachable: no transport got a final answer (`resolve`: no candidate has an address).
pub const UNREACHABLE: u8 = 3;
/// Unauthorized: challenged again after credentials were sent, or challenged without a password.
pub const UNAUTHORIZED: u8 = 4;
/// Registered, but not as `--expect-transport` or `--max-time` demanded, or `--check-inbound`
/// failed (in `watch`: without a drop).
pub const EXPECTATION: u8 = 5;
/// `watch`: registered, but the registration dropped at least once.
pub const DROPPED: u8 = 6;
/// `--nagios`: UNKNOWN, the Monitoring Plugins code for a usage error or a check that could not run
/// (0, 1 and 2 are OK, WARNING and CRITICAL in that mode).
pub const NAGIOS_UNKNOWN: u8 = 3;
/// sipreg itself failed: the runtime, a storm's threads or the demo registrar could not start, the
/// man page could not be written. 70 is sysexits' EX_SOFTWARE; distinct from 1 (rejected), so that a
/// pipeline can tell a registrar's refusal from a broken tester.
pub const INTERNAL: u8 = 70;

/// The exit-code table as `--help` prints it.
pub const TABLE: &str = "\
Exit codes:
  0  registered
  1  rejected: the server answered with a final failure other than authentication
  2  usage or configuration error (bad flag, unsupported transport set, unreadable file,
     bad exporter config, an address that cannot be bound)
  3  unreachable: no transport got a final answer
  4  unauthorized: challenged again after credentials were sent, or challenged without a password
  5  registered, but not as --expect-transport or --max-time demanded, or
     --check-inbound failed (watch: held without a drop)
  6  watch: registered, but the registration dropped at least once
  70 sipreg itself failed (a runtime or thread that cannot start): not the registrar's answer
storm: 0 every account registered, 5 some did not, 3 none did.
With --nagios: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (usage errors too).";

impl Verdict {
    /// The documented exit code of the verdict.
    #[must_use]
    pub fn exit_code(self) -> u8 {
        of_verdict(self)
    }
}

/// The exit code of a verdict.
#[must_use]
pub fn of_verdict(v: Verdict) -> u8 {
    match v {
        Verdict::Registered => OK,
        Verdict::Rejected => REJECTED,
        Verdict::Unreachable => UNREACHABLE,
        Verdict::Unauthorized => UNAUTHORIZED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_map_to_the_documented_codes() {
        assert_eq!(of_verdict(Verdict::Registered), 0);
        assert_eq!(of_verdict(Verdict::Rejected), 1);
        assert_eq!(of_verdict(Verdict::Unreachable), 3);
        assert_eq!(of_verdict(Verdict::Unauthorized), 4);
        assert_ne!(INTERNAL, REJECTED, "a broken tester is not a rejection");
        for (code, line) in [
            (0, "registered"),
            (2, "usage"),
            (5, "--expect-transport"),
            (70, "sipreg itself failed"),
        ] {
            assert!(
                TABLE
                    .lines()
                    .any(|l| l.trim_start().starts_with(&code.to_string()) && l.contains(line)),
                "{code} {line}"
            );
        }
    }
}

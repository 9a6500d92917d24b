//! The facts of a run: every attempt with its timings, outcome and reason, and the verdict.

use serde::Serialize;

pub use crate::model::Outcome;
use crate::model::{Binding, Transport};
pub use crate::units::ms;

/// Durations inside one attempt, in milliseconds; `None` when the phase did not happen.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Phases {
    /// DNS lookups (NAPTR, SRV, A/AAAA) for this transport, on its first candidate.
    pub dns_ms: Option<f64>,
    /// TCP connect (TCP and TLS only).
    pub connect_ms: Option<f64>,
    /// TLS handshake.
    pub tls_ms: Option<f64>,
    /// From the first REGISTER sent to the first response of any kind.
    pub first_response_ms: Option<f64>,
    /// From the first REGISTER sent to the final response that ended the attempt.
    pub final_ms: Option<f64>,
}

impl Phases {
    /// Each phase by its name in the metrics and perfdata (`dns`, `connect`, `tls`,
    /// `first_response`, `final`), in order: the one list the renderers share.
    #[must_use]
    pub fn named(&self) -> [(&'static str, Option<f64>); 5] {
        [
            ("dns", self.dns_ms),
            ("connect", self.connect_ms),
            ("tls", self.tls_ms),
            ("first_response", self.first_response_ms),
            ("final", self.final_ms),
        ]
    }
}

/// One transport tried in one cycle.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attempt {
    /// 1-based cycle.
    pub cycle: u32,
    /// Transport.
    pub transport: Transport,
    /// Remote address tried, `ip:port` (or `host:port` when it did not resolve).
    pub remote: String,
    /// The DNS name that gave the address (SRV target or SERVER host), when DNS was used.
    pub target: Option<String>,
    /// `ipv4` or `ipv6`, when an address was found.
    pub family: Option<&'static str>,
    /// Local address used, when a socket was opened.
    pub local: Option<String>,
    /// Start, relative to the start of the run.
    pub started_ms: f64,
    /// Duration of the whole attempt, including a 401/423 retry.
    pub elapsed_ms: f64,
    /// How it ended.
    pub outcome: Outcome,
    /// Final status code, when the server answered.
    pub status: Option<u16>,
    /// Why, in plain words.
    pub reason: String,
    /// What to do about it, in plain words; a NAT note on success.
    pub hint: Option<String>,
    /// Phase timings.
    pub phases: Phases,
    /// REGISTER requests sent in this attempt (more than one after a challenge or a 423).
    pub requests: u32,
    /// UDP retransmissions (Timer E) needed.
    pub retransmissions: u32,
    /// The `Server` header of the last answer.
    pub server_header: Option<String>,
    /// The address the server saw, from `received`/`rport` in the top Via (reveals NAT).
    pub seen_as: Option<String>,
    /// The lifetime the registrar granted, in seconds.
    pub expires: Option<u32>,
    /// The negotiated TLS parameters, for TLS attempts that completed the handshake.
    pub tls: Option<TlsInfo>,
    /// How our binding was found in the 2xx, and what the registrar stored when it rewrote it.
    pub binding: Option<Binding>,
    /// The address the answers came from, when it was not the one the requests went to.
    pub answered_from: Option<String>,
    /// New TCP/TLS connections opened because the server closed one after an answer.
    pub reconnects: u32,
}

impl Attempt {
    /// An attempt of `cycle` over `transport` to `remote` that has just begun: nothing measured,
    /// nothing answered yet (its outcome stays `timeout` until it ends otherwise).
    #[must_use]
    pub fn new(cycle: u32, transport: Transport, remote: String) -> Attempt {
        Attempt {
            cycle,
            transport,
            remote,
            target: None,
            family: None,
            local: None,
            started_ms: 0.0,
            elapsed_ms: 0.0,
            outcome: Outcome::Timeout,
            status: None,
            reason: String::new(),
            hint: None,
            phases: Phases::default(),
            requests: 0,
            retransmissions: 0,
            server_header: None,
            seen_as: None,
            expires: None,
            tls: None,
            binding: None,
            answered_from: None,
            reconnects: 0,
        }
    }
}

/// What a TLS handshake negotiated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsInfo {
    /// Protocol version, such as `TLSv1_3`.
    pub version: String,
    /// Cipher suite, such as `TLS13_AES_256_GCM_SHA384`.
    pub cipher: String,
    /// A device certificate was configured (rustls sends it only when the server asks).
    pub client_cert: bool,
    /// The earliest notAfter in the server's chain, Unix seconds.
    pub earliest_cert_expiry: Option<i64>,
}

/// The outcome of removing our binding after success.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unregister {
    /// True when the registrar confirmed the removal.
    pub done: bool,
    /// Final status, when the server answered.
    pub status: Option<u16>,
    /// What happened.
    pub reason: String,
    /// Our Contacts the registrar may still hold (left out when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_removed: Vec<String>,
    /// How long the removal took, ms (not part of the attempt's `elapsed_ms`).
    pub elapsed_ms: Option<f64>,
}

/// The inbound check (`--check-inbound`): did an OPTIONS to our own AOR, sent through the registrar,
/// reach us?
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inbound {
    /// It reached us.
    pub arrived: bool,
    /// Over which transport it reached us.
    pub transport: Option<Transport>,
    /// It came on the flow that holds our binding.
    pub same_flow: Option<bool>,
    /// From sending the OPTIONS to its arrival, ms.
    pub rtt_ms: Option<f64>,
    /// The registrar's final answer to our OPTIONS (404: no binding, 408, 480, …).
    pub status: Option<u16>,
    /// That answer, or why there was none.
    pub reason: String,
    /// What it means, in plain words.
    pub hint: Option<String>,
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// True when a transport registered.
    pub registered: bool,
    /// The transport that registered.
    pub transport: Option<Transport>,
    /// Registered over TLS.
    pub secure: bool,
    /// Registered over a weaker transport after TLS failed: a downgrade.
    pub downgraded: bool,
    /// TLS server verification was switched off (`--insecure`).
    pub insecure: bool,
    /// The SERVER as given.
    pub server: String,
    /// The address of record.
    pub aor: String,
    /// Transports in the order tried.
    pub order: Vec<Transport>,
    /// Whole run, in milliseconds (including the unregister and any waits).
    pub elapsed_ms: f64,
    /// From the start to the 2xx that registered us, in milliseconds; what the verdict and
    /// `--max-time` count.
    pub registered_ms: Option<f64>,
    /// Lifetime granted by the registrar.
    pub expires: Option<u32>,
    /// Verdict name: `registered`, `rejected`, `unauthorized` or `unreachable`.
    pub verdict: &'static str,
    /// The process exit code.
    pub exit_code: u8,
    /// Removal of our binding; `None` with `--keep` or when not registered.
    pub unregister: Option<Unregister>,
    /// The inbound check; `None` without `--check-inbound` or when not registered.
    pub inbound: Option<Inbound>,
    /// Things a user should know that do not change the verdict.
    pub warnings: Vec<String>,
    /// `--expect-transport` / `--max-time` checks that failed (exit code 5).
    pub expectations_failed: Vec<String>,
    /// Every attempt, in order.
    pub attempts: Vec<Attempt>,
    /// With `--pcap`: the capture file and the messages it holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture: Option<crate::capture::CaptureInfo>,
}

/// Exit code when the registration succeeded but broke `--expect-transport` or `--max-time`.
pub const EXIT_EXPECTATION: u8 = crate::exit::EXPECTATION;

impl Report {
    /// Applies the CI assertions: a registration over another transport than expected, or slower than
    /// allowed, turns exit code 0 into [`EXIT_EXPECTATION`].
    pub fn check_expectations(
        &mut self,
        transport: Option<Transport>,
        max_time: Option<std::time::Duration>,
    ) {
        if !self.registered {
            return;
        }
        if let (Some(want), Some(got)) = (transport, self.transport) {
            if want != got {
                self.expectations_failed
                    .push(format!("expected a registration over {want}, got {got}"));
            }
        }
        if let Some(max) = max_time {
            let limit = ms(max);
            let took = self.registered_ms.unwrap_or(self.elapsed_ms);
            if took > limit {
                self.expectations_failed.push(format!(
                    "took {took:.1} ms, more than --max-time {}",
                    humantime::format_duration(max)
                ));
            }
        }
        if !self.expectations_failed.is_empty() {
            self.exit_code = EXIT_EXPECTATION;
        }
    }
}

/// The summary of a repeat run (`--count`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Runs made.
    pub runs: usize,
    /// Runs that registered.
    pub registered: usize,
    /// How many runs registered over each transport.
    pub transports: std::collections::BTreeMap<Transport, usize>,
    /// Fastest registered run, ms.
    pub min_ms: Option<f64>,
    /// Median registered run, ms.
    pub median_ms: Option<f64>,
    /// Slowest registered run, ms.
    pub max_ms: Option<f64>,
    /// The exit code: 0 only if every run registered as expected, else the last failing run's code.
    pub exit_code: u8,
}

impl Summary {
    /// Summarises the reports of a repeat run.
    #[must_use]
    pub fn of(reports: &[Report]) -> Summary {
        let mut transports = std::collections::BTreeMap::new();
        let mut times: Vec<f64> = Vec::new();
        for r in reports.iter().filter(|r| r.registered) {
            if let Some(t) = r.transport {
                *transports.entry(t).or_insert(0) += 1;
            }
            times.push(r.registered_ms.unwrap_or(r.elapsed_ms));
        }
        times.sort_by(f64::total_cmp);
        let median = match times.len() {
            0 => None,
            n if n % 2 == 1 => Some(times[n / 2]),
            n => Some((times[n / 2 - 1] + times[n / 2]) / 2.0),
        };
        Summary {
            runs: reports.len(),
            registered: times.len(),
            transports,
            min_ms: times.first().copied(),
            median_ms: median,
            max_ms: times.last().copied(),
            exit_code: reports
                .iter()
                .rev()
                .map(|r| r.exit_code)
                .find(|c| *c != 0)
                .unwrap_or(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(
        registered: bool,
        transport: Option<Transport>,
        elapsed_ms: f64,
        exit_code: u8,
    ) -> Report {
        Report {
            capture: None,
            registered,
            transport,
            secure: false,
            downgraded: false,
            insecure: false,
            server: "s".into(),
            aor: "sip:a@s".into(),
            order: vec![Transport::Udp],
            elapsed_ms,
            registered_ms: registered.then_some(elapsed_ms),
            expires: None,
            verdict: "registered",
            exit_code,
            unregister: None,
            inbound: None,
            warnings: vec![],
            expectations_failed: vec![],
            attempts: vec![],
        }
    }

    #[test]
    fn summary_counts_and_orders() {
        let runs = [
            report(true, Some(Transport::Udp), 3.0, 0),
            report(false, None, 9.0, 3),
            report(true, Some(Transport::Tcp), 1.0, 0),
            report(true, Some(Transport::Udp), 2.0, 0),
        ];
        let s = Summary::of(&runs);
        assert_eq!((s.runs, s.registered, s.exit_code), (4, 3, 3));
        assert_eq!(
            (s.min_ms, s.median_ms, s.max_ms),
            (Some(1.0), Some(2.0), Some(3.0))
        );
        assert_eq!(s.transports.get(&Transport::Udp), Some(&2));
        assert_eq!(Summary::of(&runs[2..]).median_ms, Some(1.5));
    }

    #[test]
    fn expectations_turn_success_into_exit_5() {
        let mut r = report(true, Some(Transport::Udp), 50.0, 0);
        r.check_expectations(
            Some(Transport::Udp),
            Some(std::time::Duration::from_millis(100)),
        );
        assert_eq!(r.exit_code, 0);
        r.check_expectations(Some(Transport::Tcp), None);
        assert_eq!(r.exit_code, EXIT_EXPECTATION);
        let mut slow = report(true, Some(Transport::Udp), 150.0, 0);
        slow.check_expectations(None, Some(std::time::Duration::from_millis(100)));
        assert_eq!(slow.exit_code, EXIT_EXPECTATION);
        let mut failed = report(false, None, 1.0, 3);
        failed.check_expectations(Some(Transport::Tcp), Some(std::time::Duration::ZERO));
        assert_eq!(failed.exit_code, 3, "a failed run keeps its own code");
    }
}

//! The facts of a run: every attempt with its timings, outcome and reason, and the verdict.

use serde::Serialize;

use crate::engine::Verdict;
use crate::transport::{FailureKind, Transport};

/// How one attempt ended (spec §7 `outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// 2xx.
    Registered,
    /// The host name did not resolve.
    DnsFailed,
    /// TCP connect reset.
    Refused,
    /// TCP connect not answered in time.
    ConnectTimeout,
    /// ICMP unreachable.
    Unreachable,
    /// TLS handshake, alert or certificate failure.
    TlsFailed,
    /// Connection closed or reset before a final response.
    Closed,
    /// Timer F.
    Timeout,
    /// A final non-2xx answer.
    Rejected,
    /// Authentication failed or no password for a challenge.
    Unauthorized,
}

impl From<FailureKind> for Outcome {
    fn from(k: FailureKind) -> Self {
        match k {
            FailureKind::DnsFailed => Outcome::DnsFailed,
            FailureKind::Refused => Outcome::Refused,
            FailureKind::ConnectTimeout => Outcome::ConnectTimeout,
            FailureKind::Unreachable => Outcome::Unreachable,
            FailureKind::TlsFailed => Outcome::TlsFailed,
            FailureKind::Closed => Outcome::Closed,
            FailureKind::Timeout => Outcome::Timeout,
        }
    }
}

impl Outcome {
    /// The snake_case name used in JSON and in the human lines.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Registered => "registered",
            Outcome::DnsFailed => "dns_failed",
            Outcome::Refused => "refused",
            Outcome::ConnectTimeout => "connect_timeout",
            Outcome::Unreachable => "unreachable",
            Outcome::TlsFailed => "tls_failed",
            Outcome::Closed => "closed",
            Outcome::Timeout => "timeout",
            Outcome::Rejected => "rejected",
            Outcome::Unauthorized => "unauthorized",
        }
    }
}

/// Durations inside one attempt, in milliseconds; `None` when the phase did not happen.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Phases {
    /// TCP connect (TCP and TLS only).
    pub connect_ms: Option<f64>,
    /// TLS handshake.
    pub tls_ms: Option<f64>,
    /// From the first REGISTER sent to the first response of any kind.
    pub first_response_ms: Option<f64>,
    /// From the first REGISTER sent to the final response that ended the attempt.
    pub final_ms: Option<f64>,
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
    /// Whole run, in milliseconds.
    pub elapsed_ms: f64,
    /// Lifetime granted by the registrar.
    pub expires: Option<u32>,
    /// Verdict name: `registered`, `rejected`, `unauthorized` or `unreachable`.
    pub verdict: &'static str,
    /// The process exit code.
    pub exit_code: u8,
    /// Removal of our binding; `None` with `--keep` or when not registered.
    pub unregister: Option<Unregister>,
    /// Things a user should know that do not change the verdict.
    pub warnings: Vec<String>,
    /// Every attempt, in order.
    pub attempts: Vec<Attempt>,
}

impl Verdict {
    /// The name used in the report.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Registered => "registered",
            Verdict::Rejected => "rejected",
            Verdict::Unauthorized => "unauthorized",
            Verdict::Unreachable => "unreachable",
        }
    }
}

/// Milliseconds of a duration as a float with microsecond precision.
#[must_use]
pub fn ms(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

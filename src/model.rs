//! The one model of a run: transports, how an attempt ended, TLS problems and the verdict. No I/O.

use std::time::Duration;

use serde::Serialize;

/// A transport the phone can be configured with (Table 89).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// SIP over UDP, RFC 3261 §18 with Timer E retransmissions.
    Udp,
    /// SIP over TCP.
    Tcp,
    /// SIP over TLS over TCP (RFC 3261 §26.2).
    Tls,
}

impl Transport {
    /// The token used in the Via header (`UDP`, `TCP`, `TLS`).
    #[must_use]
    pub fn via_name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }

    /// True for TCP and TLS, which carry a request once and never retransmit (§17.1.2.2).
    #[must_use]
    pub fn is_reliable(self) -> bool {
        self != Transport::Udp
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.via_name())
    }
}

/// How one attempt ended (spec §7 `outcome`). The first eight are transport failures: each is a
/// fallback trigger (spec §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// 2xx.
    Registered,
    /// The host name did not resolve.
    DnsFailed,
    /// The TCP connect was answered with a reset.
    Refused,
    /// The TCP connect got no answer within `--connect-timeout`.
    ConnectTimeout,
    /// ICMP host, network or port unreachable.
    Unreachable,
    /// The TLS handshake failed, an alert arrived, or the server certificate was rejected.
    TlsFailed,
    /// The connection was closed or reset, or the stream broke a framing limit, before a final response.
    Closed,
    /// Timer F fired without a final response.
    Timeout,
    /// A final non-2xx answer other than authentication.
    Rejected,
    /// Challenged again after credentials were sent, or challenged without a password.
    Unauthorized,
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

    /// True when the transport could not carry the request (no final SIP answer).
    #[must_use]
    pub fn is_transport_failure(self) -> bool {
        !matches!(
            self,
            Outcome::Registered | Outcome::Rejected | Outcome::Unauthorized
        )
    }
}

/// The TLS failures a person can act on differently (each has its own hint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsProblem {
    /// The server certificate chains to a CA we do not trust.
    UnknownIssuer,
    /// The server certificate does not name the server.
    NameMismatch,
    /// The server certificate has expired.
    Expired,
    /// The server certificate is not valid yet.
    NotValidYet,
    /// Another problem with the server certificate.
    BadCertificate,
    /// The server wants a device certificate and we sent none.
    ClientCertRequired,
    /// The server rejected our device certificate.
    ClientCertRejected,
    /// The port does not answer in TLS, or the handshake did not finish in time.
    NotTls,
    /// Another handshake failure or alert.
    Other,
}

/// A failed transport, with the reason in plain words and the facts a hint needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The failure class: one of the transport-failure outcomes.
    pub kind: Outcome,
    /// What happened, for a person.
    pub reason: String,
    /// True when our own check of the server certificate failed (`--strict-tls` makes that final).
    pub certificate: bool,
    /// What kind of TLS problem, for TLS failures.
    pub tls: Option<TlsProblem>,
    /// An ICMP port unreachable answered (UDP): something is there, but not on this port.
    pub port_unreachable: bool,
    /// The names a rejected server certificate is valid for, when rustls said.
    pub cert_names: Option<String>,
    /// What the legacy TLS probe found after a failed handshake: the server would pick a version or
    /// cipher suite that a phone may accept and rustls does not. Boxed: it is rare, and keeps
    /// `Failure` small.
    pub legacy: Option<Box<LegacyTls>>,
}

/// A TLS version and cipher suite a server would pick that rustls does not support.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyTls {
    /// The version in words: "TLS 1.0".
    pub version: String,
    /// The cipher suite's IANA name: "TLS_RSA_WITH_AES_128_CBC_SHA".
    pub suite: String,
    /// What rustls lacks, in words: "RSA key exchange, no forward secrecy", "CBC mode".
    pub why: Vec<String>,
}

impl std::fmt::Display for LegacyTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} with {}", self.version, self.suite)?;
        if !self.why.is_empty() {
            write!(f, " ({})", self.why.join("; "))?;
        }
        Ok(())
    }
}

impl Failure {
    /// A failure of `kind` with `reason`.
    #[must_use]
    pub fn new(kind: Outcome, reason: impl Into<String>) -> Self {
        Self {
            kind,
            reason: reason.into(),
            certificate: false,
            tls: None,
            port_unreachable: false,
            cert_names: None,
            legacy: None,
        }
    }
}

/// How an attempt ended, as the fallback plan needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct End {
    /// The outcome.
    pub outcome: Outcome,
    /// The final status, when the server answered.
    pub status: Option<u16>,
    /// Retry-After from the answer.
    pub retry_after: Option<Duration>,
    /// Our check of the server certificate failed.
    pub certificate: bool,
}

impl End {
    /// An end with only an outcome.
    #[must_use]
    pub fn of(outcome: Outcome) -> Self {
        Self {
            outcome,
            status: None,
            retry_after: None,
            certificate: false,
        }
    }
}

/// Why the registration sends another request in the same round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retry {
    /// A digest challenge answered.
    Challenge {
        /// 401 or 407.
        status: u16,
        /// Digest algorithm.
        algorithm: &'static str,
        /// Realm.
        realm: String,
        /// The server said the nonce was stale.
        stale: bool,
    },
    /// 423 Interval Too Brief: the lifetime is raised to Min-Expires.
    IntervalTooBrief {
        /// The new Expires.
        min_expires: u32,
    },
}

/// How our binding was found in a 2xx (RFC 3261 §10.3: a 2xx lists every current binding), in the
/// order pjsip's registration client tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BindingMatch {
    /// A Contact with our URI's host and port.
    Exact,
    /// A Contact with the address the registrar saw us as (Via `received`/`rport`, RFC 3581 §4):
    /// the registrar rewrote the URI to it.
    Received,
    /// A Contact with our `+sip.instance` (RFC 5626 §4.1): the registrar rewrote the URI.
    Instance,
    /// The only Contact of the answer, not recognisably ours.
    OnlyContact,
    /// No Contact of ours; the lifetime came from the Expires header.
    ExpiresHeader,
    /// No binding of ours and no Expires header.
    None,
}

/// Our binding as the registrar's 2xx lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Binding {
    /// How it was found.
    pub matched: BindingMatch,
    /// The lifetime granted, in seconds.
    pub expires: Option<u32>,
    /// The Contact URI the registrar stored, when it is not the one we sent.
    pub stored: Option<String>,
    /// How many Contacts the answer listed.
    #[serde(skip)]
    pub listed: usize,
}

/// The end of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Registered.
    Registered,
    /// The last cycle ended with a final rejection from the server.
    Rejected,
    /// The last cycle ended unauthorized.
    Unauthorized,
    /// No transport of the last cycle got a final answer.
    Unreachable,
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

/// Which address families to use (`-4`, `-6`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// IPv4 and IPv6.
    #[default]
    Any,
    /// IPv4 only.
    V4,
    /// IPv6 only.
    V6,
}

impl Family {
    /// `-4` / `ipv4` and `-6` / `ipv6`: one family, or both when neither is set; `None` when both
    /// are (they exclude each other).
    #[must_use]
    pub fn from_flags(v4: bool, v6: bool) -> Option<Family> {
        match (v4, v6) {
            (true, true) => None,
            (true, false) => Some(Family::V4),
            (false, true) => Some(Family::V6),
            (false, false) => Some(Family::Any),
        }
    }
}

impl Family {
    /// True when `ip` is allowed.
    #[must_use]
    pub fn allows(self, ip: std::net::IpAddr) -> bool {
        match self {
            Family::Any => true,
            Family::V4 => ip.is_ipv4(),
            Family::V6 => ip.is_ipv6(),
        }
    }
}

/// When to send the refresh, relative to the lifetime the registrar granted (not the one asked for).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RefreshPolicy {
    /// At this fraction of the lifetime (baresip and linphone use 0.9).
    Fraction(f64),
    /// This long before the lifetime ends (pjsip 5 s, Asterisk 10 s), but never before half of it.
    Before(Duration),
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        RefreshPolicy::Fraction(0.9)
    }
}

impl RefreshPolicy {
    /// The delay from the 2xx to the refresh, for a granted lifetime.
    #[must_use]
    pub fn delay(self, granted: Duration) -> Duration {
        match self {
            RefreshPolicy::Fraction(f) => granted.mul_f64(f.clamp(0.0, 1.0)),
            RefreshPolicy::Before(margin) => granted.saturating_sub(margin).max(granted / 2),
        }
    }
}

/// Milliseconds of a duration as a float with microsecond precision.
#[must_use]
pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// A duration in the unit a person reads best.
#[must_use]
pub fn human_ms(ms: f64) -> String {
    if ms < 1.0 {
        format!("{ms:.2} ms")
    } else if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else if ms < 10_000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

/// A duration rounded for people: `29.3 s`, `1.8 ms`, `2 min 5 s`, `1 h 30 min` (a wait, a
/// timeout), where humantime would print `29s 324ms 927us 997ns`.
#[must_use]
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        return human_ms(ms(d));
    }
    let whole = d.as_secs() + u64::from(d.subsec_millis() >= 500);
    match whole {
        ..3600 => match whole % 60 {
            0 => format!("{} min", whole / 60),
            s => format!("{} min {s} s", whole / 60),
        },
        _ => match (whole % 3600) / 60 {
            0 => format!("{} h", whole / 3600),
            m => format!("{} h {m} min", whole / 3600),
        },
    }
}

/// `--shard K/N`: this copy takes the accounts whose index modulo N is K (K from 0 to N − 1, as a
/// Kubernetes Indexed Job's `JOB_COMPLETION_INDEX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This copy, from 0.
    pub index: usize,
    /// The number of copies.
    pub count: usize,
}

impl Shard {
    /// Parses `K/N`.
    ///
    /// # Errors
    /// One line naming the value.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || format!("{s:?} is not K/N with 0 ≤ K < N (example: 0/4)");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = k.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// True when this copy takes the account at `index` (0-based, in file order).
    #[must_use]
    pub fn takes(&self, index: usize) -> bool {
        index % self.count == self.index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_rounded_for_people() {
        for (d, text) in [
            (Duration::from_nanos(29_324_927_997), "29.3 s"),
            (Duration::from_micros(1_834), "1.8 ms"),
            (Duration::from_micros(450), "0.45 ms"),
            (Duration::from_millis(2_345), "2.35 s"),
            (Duration::from_millis(59_940), "59.9 s"),
            (Duration::from_secs(60), "1 min"),
            (Duration::from_millis(125_600), "2 min 6 s"),
            (Duration::from_secs(1800), "30 min"),
            (Duration::from_secs(5400), "1 h 30 min"),
            (Duration::from_secs(7200), "2 h"),
        ] {
            assert_eq!(human_duration(d), text, "{d:?}");
        }
    }

    #[test]
    fn families() {
        let v4: std::net::IpAddr = "192.0.2.1".parse().unwrap();
        let v6: std::net::IpAddr = "::1".parse().unwrap();
        assert!(Family::V4.allows(v4) && !Family::V4.allows(v6));
        assert!(Family::V6.allows(v6) && !Family::V6.allows(v4));
        assert!(Family::Any.allows(v4) && Family::Any.allows(v6));
    }

    #[test]
    fn transport_failures_are_the_fallback_triggers() {
        let failures = [
            Outcome::DnsFailed,
            Outcome::Refused,
            Outcome::ConnectTimeout,
            Outcome::Unreachable,
            Outcome::TlsFailed,
            Outcome::Closed,
            Outcome::Timeout,
        ];
        assert!(failures.iter().all(|o| o.is_transport_failure()));
        for o in [
            Outcome::Registered,
            Outcome::Rejected,
            Outcome::Unauthorized,
        ] {
            assert!(!o.is_transport_failure(), "{o:?}");
        }
    }
}

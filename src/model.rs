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
    /// SIP over WebSocket over TCP (RFC 7118), as browser phones register; not in Table 89.
    Ws,
    /// SIP over secure WebSocket, over TLS (RFC 7118).
    Wss,
}

impl Transport {
    /// The token used in the Via header (`UDP`, `TCP`, `TLS`, `WS`, `WSS`: RFC 7118 §5).
    #[must_use]
    pub fn via_name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
        }
    }

    /// WS or WSS: SIP messages in WebSocket messages after an HTTP upgrade.
    #[must_use]
    pub fn is_websocket(self) -> bool {
        matches!(self, Transport::Ws | Transport::Wss)
    }

    /// TLS or WSS: the connection runs a TLS handshake.
    #[must_use]
    pub fn is_secure(self) -> bool {
        matches!(self, Transport::Tls | Transport::Wss)
    }

    /// True for all but UDP: a request is carried once and never retransmitted (§17.1.2.2).
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

    /// Every outcome that means the transport could not carry the request (the fallback's triggers).
    pub const TRANSPORT_FAILURES: [Outcome; 7] = [
        Outcome::DnsFailed,
        Outcome::Refused,
        Outcome::ConnectTimeout,
        Outcome::Unreachable,
        Outcome::TlsFailed,
        Outcome::Closed,
        Outcome::Timeout,
    ];
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
    /// The HTTP status a WebSocket upgrade was answered with instead of 101 (101 itself when the
    /// server switched without the `sip` subprotocol, RFC 7118 §4.1).
    pub upgrade: Option<u16>,
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
            upgrade: None,
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(
            Outcome::TRANSPORT_FAILURES
                .iter()
                .all(|o| o.is_transport_failure())
        );
        for o in [
            Outcome::Registered,
            Outcome::Rejected,
            Outcome::Unauthorized,
        ] {
            assert!(!o.is_transport_failure(), "{o:?}");
        }
    }
}

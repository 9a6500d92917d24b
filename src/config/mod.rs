//! A validated [`Config`]: built from the command line or from a [`ConfigBuilder`]; every usage error is found here, before any packet.

mod builder;
mod deduce;
mod server;

use std::sync::Arc;
use std::time::Duration;

use crate::model::Transport;
use crate::net::resolve::{DnsSettings, Target};
use crate::net::tls;

pub use builder::ConfigBuilder;
pub use deduce::transport_order;
pub use server::Server;

/// A usage or configuration error: exit code 2, one line naming the bad value.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl ConfigError {
    /// The message with flags named as configuration keys (`--connect-timeout` → `connect_timeout`),
    /// for an error about a file rather than the command line.
    #[must_use]
    pub fn as_keys(&self) -> String {
        let mut out = String::with_capacity(self.0.len());
        let mut rest = self.0.as_str();
        while let Some(at) = rest.find("--") {
            out.push_str(&rest[..at]);
            let tail = &rest[at + 2..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .unwrap_or(tail.len());
            out.push_str(&tail[..end].replace('-', "_"));
            rest = &tail[end..];
        }
        out.push_str(rest);
        out
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(msg.into()))
}

/// The longest duration any flag takes: a week keeps every timer sum far from overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// A password that never prints.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a password.
    #[must_use]
    pub fn new(password: impl Into<String>) -> Secret {
        Secret(password.into())
    }

    /// The password itself, for the digest computation only.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(password: String) -> Secret {
        Secret(password)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// RFC 3261 timers, scaled by `--t1` (§17.1.1.1, Table 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// T1, the RTT estimate: the first Timer E interval.
    pub t1: Duration,
    /// T2 = 8 × T1: the longest Timer E interval.
    pub t2: Duration,
    /// Timer F: the transaction timeout.
    pub timer_f: Duration,
    /// TCP connect (and TLS handshake) budget.
    pub connect: Duration,
}

/// TLS choices after the files were read.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// The rustls client configuration.
    pub client: Arc<rustls::ClientConfig>,
    /// The name the server certificate must hold (SNI too, unless it is an IP address).
    pub server_name: String,
    /// `--insecure`.
    pub insecure: bool,
    /// `--strict-tls`.
    pub strict: bool,
    /// A device certificate is configured.
    pub has_client_cert: bool,
}

/// Everything a run needs, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// The registrar.
    pub server: Server,
    /// Transports in the order they are tried (spec §1).
    pub order: Vec<Transport>,
    /// The path of the WebSocket upgrade (`--ws-path`, or the path of a `ws://` or `wss://` SERVER).
    pub ws_path: String,
    /// AOR user.
    pub user: String,
    /// AOR domain and Request-URI host (IPv6 bracketed).
    pub domain: String,
    /// Digest user name.
    pub auth_user: String,
    /// Digest password, if any.
    pub password: Option<Secret>,
    /// Requested lifetime in seconds.
    pub expires: u32,
    /// Keep the binding after success.
    pub keep: bool,
    /// `--check-inbound`: after registering, send an OPTIONS to our AOR through the registrar.
    pub check_inbound: bool,
    /// Timers.
    pub timers: Timers,
    /// Extra cycles after a failed one.
    pub retries: u32,
    /// First wait between cycles.
    pub retry_interval: Duration,
    /// Longest wait between cycles.
    pub retry_max: Duration,
    /// Port for UDP and TCP.
    pub sip_port: u16,
    /// Port for TLS.
    pub tls_port: u16,
    /// TLS settings; present when TLS is in the order.
    pub tls: Option<TlsConfig>,
    /// `--expect-transport`.
    pub expect_transport: Option<Transport>,
    /// `--max-time`.
    pub max_time: Option<Duration>,
    /// DNS settings (RFC 3263 lookups, resolver, family).
    pub dns: DnsSettings,
}

impl Config {
    /// The port a transport uses.
    #[must_use]
    pub fn port(&self, t: Transport) -> u16 {
        if t.is_secure() {
            self.tls_port
        } else {
            self.sip_port
        }
    }

    /// The address of record, `sip:user@domain`.
    #[must_use]
    pub fn aor(&self) -> String {
        format!("sip:{}@{}", self.user, self.domain)
    }

    /// The TLS client of the run, when TLS is enabled.
    #[must_use]
    pub fn tls_client(&self) -> Option<tls::Client> {
        self.tls.as_ref().map(|t| tls::Client {
            config: t.client.clone(),
            server_name: t.server_name.clone(),
        })
    }

    /// Where a WS or WSS connection is upgraded: SERVER's host and the path; none without them.
    #[must_use]
    pub fn ws_target(&self) -> Option<crate::net::ws::WsTarget> {
        self.order
            .iter()
            .any(|t| t.is_websocket())
            .then(|| crate::net::ws::WsTarget {
                host: self.server.host.clone(),
                path: self.ws_path.clone(),
            })
    }

    /// What the resolver looks up for this run.
    #[must_use]
    pub fn target(&self) -> Target {
        Target {
            host: self.server.host.clone(),
            explicit_port: self.server.port.is_some(),
            order: self.order.clone(),
            sip_port: self.sip_port,
            tls_port: self.tls_port,
        }
    }

    /// SERVER as the user gave it, normalised.
    #[must_use]
    pub fn server_display(&self) -> String {
        let scheme = if self.server.sips { "sips:" } else { "" };
        match self.server.port {
            Some(p) => format!("{scheme}{}:{p}", self.server.uri_host()),
            None => format!("{scheme}{}", self.server.uri_host()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_in_errors_read_as_keys() {
        let e = ConfigError("--t1 must be at least 1ms; see --connect-timeout".into());
        assert_eq!(e.as_keys(), "t1 must be at least 1ms; see connect_timeout");
    }
}

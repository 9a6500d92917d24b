//! [`ConfigBuilder`]: a [`Config`] without clap, with the command line's defaults and its validation.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::{Config, ConfigError, Secret, deduce};
use crate::model::Family;
use crate::model::Transport;

/// The inputs of a [`Config`] before validation, with the defaults of the command line.
///
/// The one list of a run's settings: the command line's flags map onto its fields one for one, and
/// the exporter's modules are read into it from TOML. [`ConfigBuilder::build`] validates them with
/// errors worded as on the command line (they name the flag, for example `--t1`).
///
/// ```
/// use std::time::Duration;
/// use sipreg::config::{Config, Secret};
///
/// let config = Config::builder("pbx.example.com")
///     .user("alice")
///     .password(Secret::new("s3cret"))
///     .t1(Duration::from_millis(250))
///     .build()
///     .expect("valid");
/// assert_eq!(config.aor(), "sip:alice@pbx.example.com");
/// ```
///
/// It reads from TOML (or any serde format) with the flags' long names in snake case, durations as
/// humantime text (`"300ms"`, `"1m 30s"`) and unknown keys refused; SERVER, the password, the
/// address family and `--interval` are not read (the exporter's modules give them otherwise).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[allow(clippy::struct_excessive_bools)]
pub struct ConfigBuilder {
    /// SERVER: `host[:port]`, `[v6][:port]`, `sip:` or `sips:`.
    #[serde(skip)]
    pub server: String,
    /// `--udp`.
    pub udp: bool,
    /// `--tcp`.
    pub tcp: bool,
    /// `--tls`.
    pub tls: bool,
    /// `--ws`: SIP over WebSocket (RFC 7118), not with the phone's transports.
    pub ws: bool,
    /// `--wss`: SIP over secure WebSocket.
    pub wss: bool,
    /// `--ws-path`: the path of the WebSocket upgrade.
    pub ws_path: String,
    /// `--user`: the AOR user.
    pub user: String,
    /// `--domain`: the AOR domain (default: the SERVER host).
    pub domain: Option<String>,
    /// `--auth-user`: the digest user name (default: `user`).
    pub auth_user: Option<String>,
    /// `--password` or `SIPREG_PASSWORD`.
    #[serde(skip)]
    pub password: Option<Secret>,
    /// `--password-file`.
    pub password_file: Option<PathBuf>,
    /// `--expires`, seconds.
    pub expires: u32,
    /// `--keep`: leave the binding in place.
    pub keep: bool,
    /// `--check-inbound`.
    pub check_inbound: bool,
    /// `--connect-timeout`.
    #[serde(deserialize_with = "duration")]
    pub connect_timeout: Duration,
    /// `--timeout` (Timer F; default 64 × T1).
    #[serde(deserialize_with = "some_duration")]
    pub timeout: Option<Duration>,
    /// `--t1`.
    #[serde(deserialize_with = "duration")]
    pub t1: Duration,
    /// `--retries`.
    pub retries: u32,
    /// `--retry-interval`.
    #[serde(deserialize_with = "duration")]
    pub retry_interval: Duration,
    /// `--retry-max`.
    #[serde(deserialize_with = "duration")]
    pub retry_max: Duration,
    /// `--tls-port`.
    pub tls_port: u16,
    /// `--ca-file`.
    pub ca_file: Option<PathBuf>,
    /// `--cert`.
    pub cert: Option<PathBuf>,
    /// `--key`.
    pub key: Option<PathBuf>,
    /// `--tls-server-name`.
    pub tls_server_name: Option<String>,
    /// `--insecure`.
    pub insecure: bool,
    /// `--strict-tls`.
    pub strict_tls: bool,
    /// `--no-srv`.
    pub no_srv: bool,
    /// `--dns-server`.
    pub dns_server: Option<SocketAddr>,
    /// `-4` / `-6`.
    #[serde(skip)]
    pub family: Family,
    /// `--expect-transport`.
    #[serde(deserialize_with = "some_transport")]
    pub expect_transport: Option<Transport>,
    /// `--max-time`.
    #[serde(deserialize_with = "some_duration")]
    pub max_time: Option<Duration>,
    /// `--interval` (between runs of `--count`): not part of a [`Config`], only checked.
    #[serde(skip)]
    pub interval: Duration,
}

impl Default for ConfigBuilder {
    /// The command line's defaults, with no SERVER yet.
    fn default() -> Self {
        ConfigBuilder::new("")
    }
}

/// A duration as humantime text (`"300ms"`, `"30s"`, `"1m 30s"`).
fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(text.trim()).map_err(|e| {
        serde::de::Error::custom(format!("{text:?}: {e} (examples: 300ms, 30s, 1m 30s)"))
    })
}

/// [`duration`] for an optional setting.
fn some_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

/// `udp`, `tcp`, `tls`, `ws` or `wss`, in any case.
fn some_transport<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Transport>, D::Error> {
    let text = String::deserialize(d)?;
    match text.to_ascii_lowercase().as_str() {
        "udp" => Ok(Some(Transport::Udp)),
        "tcp" => Ok(Some(Transport::Tcp)),
        "tls" => Ok(Some(Transport::Tls)),
        "ws" => Ok(Some(Transport::Ws)),
        "wss" => Ok(Some(Transport::Wss)),
        _ => Err(serde::de::Error::custom(format!(
            "{text:?} is not udp, tcp, tls, ws or wss"
        ))),
    }
}

impl Config {
    /// A builder for a run against `server` (`host[:port]`, `[v6][:port]`, `sip:` or `sips:`),
    /// with the command line's defaults.
    #[must_use]
    pub fn builder(server: impl Into<String>) -> ConfigBuilder {
        ConfigBuilder::new(server)
    }
}

impl ConfigBuilder {
    /// A builder with the command line's defaults: UDP + TCP, user `sipreg`, expires 3600 s,
    /// T1 500 ms, Timer F 64 × T1, connect timeout 30 s, no retries (30 s first wait, 30 min
    /// longest), TLS port 5061, NAPTR/SRV on, both address families.
    #[must_use]
    pub fn new(server: impl Into<String>) -> ConfigBuilder {
        ConfigBuilder {
            server: server.into(),
            udp: false,
            tcp: false,
            tls: false,
            ws: false,
            wss: false,
            ws_path: "/".to_string(),
            user: "sipreg".to_string(),
            domain: None,
            auth_user: None,
            password: None,
            password_file: None,
            expires: 3600,
            keep: false,
            check_inbound: false,
            connect_timeout: Duration::from_secs(30),
            timeout: None,
            t1: Duration::from_millis(500),
            retries: 0,
            retry_interval: Duration::from_secs(30),
            retry_max: Duration::from_secs(30 * 60),
            tls_port: 5061,
            ca_file: None,
            cert: None,
            key: None,
            tls_server_name: None,
            insecure: false,
            strict_tls: false,
            no_srv: false,
            dns_server: None,
            family: Family::Any,
            expect_transport: None,
            max_time: None,
            interval: Duration::from_secs(1),
        }
    }

    /// The registrar (SERVER): `host[:port]`, `[v6][:port]`, `sip:` or `sips:`.
    #[must_use]
    pub fn server(mut self, server: impl Into<String>) -> Self {
        self.server = server.into();
        self
    }

    /// Enables UDP (`--udp`). No transport enabled means the phone's default, UDP + TCP.
    #[must_use]
    pub fn udp(mut self, on: bool) -> Self {
        self.udp = on;
        self
    }

    /// Enables TCP (`--tcp`).
    #[must_use]
    pub fn tcp(mut self, on: bool) -> Self {
        self.tcp = on;
        self
    }

    /// Enables TLS (`--tls`); UDP + TLS without TCP is refused by [`ConfigBuilder::build`].
    #[must_use]
    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }

    /// The user part of the address of record (`--user`).
    #[must_use]
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = user.into();
        self
    }

    /// The domain of the address of record (`--domain`); by default the SERVER host.
    #[must_use]
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// The digest user name (`--auth-user`); by default the user.
    #[must_use]
    pub fn auth_user(mut self, auth_user: impl Into<String>) -> Self {
        self.auth_user = Some(auth_user.into());
        self
    }

    /// The digest password (`--password`).
    #[must_use]
    pub fn password(mut self, password: Secret) -> Self {
        self.password = Some(password);
        self
    }

    /// Reads the digest password from the first line of this file (`--password-file`).
    #[must_use]
    pub fn password_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.password_file = Some(path.into());
        self
    }

    /// The requested registration lifetime in seconds (`--expires`).
    #[must_use]
    pub fn expires(mut self, seconds: u32) -> Self {
        self.expires = seconds;
        self
    }

    /// Checks that requests through the registrar reach us (`--check-inbound`).
    #[must_use]
    pub fn check_inbound(mut self, on: bool) -> Self {
        self.check_inbound = on;
        self
    }

    /// Keeps the binding after a successful registration (`--keep`).
    #[must_use]
    pub fn keep(mut self, keep: bool) -> Self {
        self.keep = keep;
        self
    }

    /// RFC 3261 T1 (`--t1`); scales Timer E, T2 and the default Timer F.
    #[must_use]
    pub fn t1(mut self, t1: Duration) -> Self {
        self.t1 = t1;
        self
    }

    /// Timer F, the transaction timeout (`--timeout`); by default 64 × T1.
    #[must_use]
    pub fn timeout(mut self, timer_f: Duration) -> Self {
        self.timeout = Some(timer_f);
        self
    }

    /// The TCP connect and TLS handshake budget (`--connect-timeout`).
    #[must_use]
    pub fn connect_timeout(mut self, connect: Duration) -> Self {
        self.connect_timeout = connect;
        self
    }

    /// Extra cycles after a failed one (`--retries`).
    #[must_use]
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// The first wait between cycles (`--retry-interval`).
    #[must_use]
    pub fn retry_interval(mut self, wait: Duration) -> Self {
        self.retry_interval = wait;
        self
    }

    /// The longest wait between cycles (`--retry-max`).
    #[must_use]
    pub fn retry_max(mut self, wait: Duration) -> Self {
        self.retry_max = wait;
        self
    }

    /// The TLS port when TLS is one of several transports (`--tls-port`).
    #[must_use]
    pub fn tls_port(mut self, port: u16) -> Self {
        self.tls_port = port;
        self
    }

    /// Trusts only the CA certificates in this PEM file (`--ca-file`).
    #[must_use]
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// A device certificate chain and its private key, both PEM (`--cert`, `--key`).
    #[must_use]
    pub fn client_cert(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.cert = Some(cert.into());
        self.key = Some(key.into());
        self
    }

    /// The name the server certificate must hold (`--tls-server-name`); by default the SERVER host.
    #[must_use]
    pub fn tls_server_name(mut self, name: impl Into<String>) -> Self {
        self.tls_server_name = Some(name.into());
        self
    }

    /// Does not verify the server certificate (`--insecure`).
    #[must_use]
    pub fn insecure(mut self, insecure: bool) -> Self {
        self.insecure = insecure;
        self
    }

    /// A certificate that fails verification ends the cycle (`--strict-tls`).
    #[must_use]
    pub fn strict_tls(mut self, strict: bool) -> Self {
        self.strict_tls = strict;
        self
    }

    /// Skips the NAPTR and SRV lookups (`--no-srv`).
    #[must_use]
    pub fn no_srv(mut self, no_srv: bool) -> Self {
        self.no_srv = no_srv;
        self
    }

    /// Asks this DNS server instead of the system's resolver (`--dns-server`).
    #[must_use]
    pub fn dns_server(mut self, server: SocketAddr) -> Self {
        self.dns_server = Some(server);
        self
    }

    /// The address families to use (`-4`, `-6`).
    #[must_use]
    pub fn family(mut self, family: Family) -> Self {
        self.family = family;
        self
    }

    /// The transport the registration must use (`--expect-transport`).
    #[must_use]
    pub fn expect_transport(mut self, transport: Transport) -> Self {
        self.expect_transport = Some(transport);
        self
    }

    /// The longest the registration may take (`--max-time`).
    #[must_use]
    pub fn max_time(mut self, limit: Duration) -> Self {
        self.max_time = Some(limit);
        self
    }

    /// Validates the inputs and reads the files they name, with the steps of [`Config::from_args`].
    ///
    /// # Errors
    /// A [`ConfigError`] with one line naming the bad value, worded as on the command line.
    pub fn build(&self) -> Result<Config, ConfigError> {
        deduce::deduce(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_and_tls_are_refused() {
        let e = Config::builder("h")
            .udp(true)
            .tls(true)
            .build()
            .unwrap_err();
        assert_eq!(e.to_string(), "unsupported transport set: UDP + TLS");
        assert!(
            Config::builder("h")
                .udp(true)
                .tcp(true)
                .tls(true)
                .build()
                .is_ok()
        );
    }

    #[test]
    fn builder_validates_like_the_cli() {
        let cases = [
            (
                Config::builder("h").expires(0),
                "--expires must be at least 1 (a registration of 0 s is a removal)",
            ),
            (
                Config::builder("h").t1(Duration::ZERO),
                "--t1 must be longer than 0",
            ),
            (
                Config::builder("sips:h").udp(true),
                "a sips: SERVER is TLS only: drop --udp and --tcp",
            ),
            (
                Config::builder("h")
                    .udp(true)
                    .expect_transport(Transport::Tcp),
                "--expect-transport tcp is not among the enabled transports",
            ),
            (
                Config::builder("h")
                    .password(Secret::new("pw"))
                    .password_file("/nonexistent"),
                "give --password or --password-file, not both",
            ),
            (Config::builder("h").user(""), "--user is empty"),
            (
                Config::builder("10.0.0.1").family(Family::V6),
                "-6 cannot reach SERVER 10.0.0.1: it is an address of the other family",
            ),
            (Config::builder(""), "SERVER is empty"),
            (
                Config::builder("h").tls(true).tls_port(0),
                "--tls-port 0 is out of range 1-65535",
            ),
        ];
        for (builder, want) in cases {
            let e = builder.build().unwrap_err();
            assert_eq!(e.to_string(), want);
        }
    }

    #[test]
    fn a_builder_builds_many_configs() {
        let base = Config::builder("h").password(Secret::new("pw"));
        let users: Vec<String> = (1..=3)
            .map(|i| base.clone().user(format!("u{i}")).build().unwrap().aor())
            .collect();
        assert_eq!(users, ["sip:u1@h", "sip:u2@h", "sip:u3@h"]);
    }
}

//! Turns the command line into a validated [`Config`]: every usage error is found here, before any packet.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::cli::RegisterArgs;
use crate::resolve::{DnsSettings, Family};
use crate::transport::Transport;
use crate::transport::tls::{self, TlsSettings};

/// A usage or configuration error: exit code 2, one line naming the bad value.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(msg.into()))
}

/// The registrar as given on the command line (spec §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// Host name or IP address, without brackets.
    pub host: String,
    /// Explicit port, if one was given.
    pub port: Option<u16>,
    /// True for a `sips:` URI: TLS only.
    pub sips: bool,
}

impl Server {
    /// Parses `host`, `host:port`, `[v6]`, `[v6]:port`, `sip:host[:port]` or `sips:host[:port]`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the bad part.
    pub fn parse(input: &str) -> Result<Server, ConfigError> {
        let s = input.trim();
        if s.is_empty() {
            return err("SERVER is empty");
        }
        let lower = s.to_ascii_lowercase();
        let (rest, sips) = if lower.starts_with("sips:") {
            (&s[5..], true)
        } else if lower.starts_with("sip:") {
            (&s[4..], false)
        } else if let Some((scheme, _)) = s.split_once("://") {
            return err(format!(
                "unsupported URI scheme {scheme:?} in SERVER {s:?}: use host[:port], sip: or sips:"
            ));
        } else {
            (s, false)
        };
        if rest.contains('@') {
            return err(format!(
                "SERVER {s:?} has a user part: give the registrar only, and the user with --user"
            ));
        }
        if rest.contains([';', '?', '/']) || rest.chars().any(char::is_whitespace) {
            return err(format!(
                "SERVER {s:?} must be host[:port] without URI parameters or paths"
            ));
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let Some((addr, after)) = v6.split_once(']') else {
                return err(format!("unclosed '[' in SERVER {s:?}"));
            };
            if addr.parse::<std::net::Ipv6Addr>().is_err() {
                return err(format!("{addr:?} in SERVER {s:?} is not an IPv6 address"));
            }
            let port = match after {
                "" => None,
                p => match p.strip_prefix(':') {
                    Some(p) => Some(parse_port(p, s)?),
                    None => return err(format!("unexpected {after:?} after ']' in SERVER {s:?}")),
                },
            };
            (addr.to_string(), port)
        } else if rest.parse::<std::net::Ipv6Addr>().is_ok() {
            (rest.to_string(), None)
        } else if let Some((h, p)) = rest.rsplit_once(':') {
            if h.contains(':') {
                return err(format!(
                    "SERVER {s:?}: write an IPv6 address with a port as [addr]:port"
                ));
            }
            (h.to_string(), Some(parse_port(p, s)?))
        } else {
            (rest.to_string(), None)
        };
        validate_host(&host, s)?;
        Ok(Server { host, port, sips })
    }

    /// The host as it appears in a URI: IPv6 in brackets.
    #[must_use]
    pub fn uri_host(&self) -> String {
        crate::sip::message::bracket_host(&self.host)
    }
}

fn parse_port(p: &str, s: &str) -> Result<u16, ConfigError> {
    match p.parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(u16::try_from(n).unwrap_or(u16::MAX)),
        Ok(n) => err(format!("port {n} in SERVER {s:?} is out of range 1-65535")),
        Err(_) => err(format!("port {p:?} in SERVER {s:?} is not a number")),
    }
}

fn validate_host(host: &str, s: &str) -> Result<(), ConfigError> {
    if host.is_empty() {
        return err(format!("SERVER {s:?} has no host"));
    }
    if host.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let trimmed = host.strip_suffix('.').unwrap_or(host);
    if host.len() > 253 || !trimmed.split('.').all(label_ok) {
        return err(format!("{host:?} in SERVER {s:?} is not a valid host name"));
    }
    Ok(())
}

/// The longest duration any flag takes: a week keeps every timer sum far from overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// A password that never prints.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// The password itself, for the digest computation only.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
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
    /// Validates the flags and reads the files they name.
    ///
    /// # Errors
    /// A [`ConfigError`] with one line naming the bad value.
    pub fn from_args(
        a: &RegisterArgs,
        env_password: Option<String>,
    ) -> Result<Config, ConfigError> {
        let Some(server_arg) = a.server.as_deref() else {
            return err("SERVER is required");
        };
        let server = Server::parse(server_arg)?;
        let order = transport_order(a.udp, a.tcp, a.tls, server.sips)?;
        if let Some(t) = a.expect_transport.map(Transport::from) {
            if !order.contains(&t) {
                return err(format!(
                    "--expect-transport {} is not among the enabled transports",
                    t.via_name().to_ascii_lowercase()
                ));
            }
        }
        let family = match (a.ipv4, a.ipv6) {
            (true, _) => Family::V4,
            (_, true) => Family::V6,
            _ => Family::Any,
        };
        if let Ok(ip) = server.host.parse::<IpAddr>() {
            if !family.allows(ip) {
                let flag = if family == Family::V4 { "-4" } else { "-6" };
                return err(format!(
                    "{flag} cannot reach SERVER {}: it is an address of the other family",
                    server.host
                ));
            }
        }
        let dns = DnsSettings {
            no_srv: a.no_srv,
            server: a.dns_server,
            family,
        };
        validate_user(&a.user, "--user")?;
        let domain = match &a.domain {
            Some(d) => {
                let parsed = Server::parse(d).map_err(|e| ConfigError(format!("--domain: {e}")))?;
                if parsed.port.is_some()
                    || parsed.sips
                    || d.to_ascii_lowercase().starts_with("sip:")
                {
                    return err(format!("--domain {d:?} must be a bare host name"));
                }
                parsed.uri_host()
            }
            None => server.uri_host(),
        };
        let auth_user = a.auth_user.clone().unwrap_or_else(|| a.user.clone());
        if auth_user.is_empty() || auth_user.chars().any(char::is_control) {
            return err(format!(
                "--auth-user {auth_user:?} is empty or holds control characters"
            ));
        }
        let password = match (&a.password, &a.password_file) {
            (Some(_), Some(_)) => return err("give --password or --password-file, not both"),
            (Some(p), None) => Some(p.0.clone()),
            (None, Some(path)) => Some(read_password(path)?),
            (None, None) => env_password.filter(|p| !p.is_empty()),
        }
        .map(Secret);
        for (name, d) in [
            ("--connect-timeout", Some(a.connect_timeout)),
            ("--t1", Some(a.t1)),
            ("--timeout", a.timeout),
            ("--retry-max", Some(a.retry_max)),
            ("--retry-interval", Some(a.retry_interval)),
            ("--max-time", a.max_time),
            ("--interval", Some(a.interval)),
        ] {
            let Some(d) = d else { continue };
            if d.is_zero() && !matches!(name, "--max-time" | "--interval" | "--retry-interval") {
                return err(format!("{name} must be longer than 0"));
            }
            if d > MAX_DURATION {
                return err(format!(
                    "{name} {} is longer than the limit of {}",
                    humantime::format_duration(d),
                    humantime::format_duration(MAX_DURATION)
                ));
            }
        }
        if a.expires == 0 {
            return err("--expires must be at least 1 (a registration of 0 s is a removal)");
        }
        let t1 = a.t1;
        let timer_f = a.timeout.unwrap_or(t1.saturating_mul(64)).min(MAX_DURATION);
        let timers = Timers {
            t1,
            t2: t1.saturating_mul(8),
            timer_f,
            connect: a.connect_timeout,
        };
        // Spec §5: the SERVER port serves UDP and TCP; TLS uses --tls-port unless TLS is alone or sips:.
        let tls_only = order == [Transport::Tls];
        let sip_port = server.port.unwrap_or(5060);
        let tls_port = if tls_only || server.sips {
            server.port.unwrap_or(a.tls_port)
        } else {
            a.tls_port
        };
        let ca = a.ca_file.as_deref().map(read_certs).transpose()?;
        let client = match (&a.cert, &a.key) {
            (Some(c), Some(k)) => Some((read_certs(c)?, read_key(k)?)),
            (Some(_), None) => return err("--cert needs --key"),
            (None, Some(_)) => return err("--key needs --cert"),
            (None, None) => None,
        };
        let has_client_cert = client.is_some();
        let tls = if order.contains(&Transport::Tls) {
            let settings = TlsSettings {
                ca,
                client,
                insecure: a.insecure,
            };
            let client = tls::client_config(&settings).map_err(ConfigError)?;
            let server_name = a
                .tls_server_name
                .clone()
                .unwrap_or_else(|| server.host.clone());
            if rustls::pki_types::ServerName::try_from(server_name.as_str()).is_err() {
                return err(format!(
                    "--tls-server-name {server_name:?} is not a valid name"
                ));
            }
            Some(TlsConfig {
                client,
                server_name,
                insecure: a.insecure,
                strict: a.strict_tls,
                has_client_cert,
            })
        } else {
            None
        };
        Ok(Config {
            server,
            order,
            user: a.user.clone(),
            domain,
            auth_user,
            password,
            expires: a.expires,
            keep: a.keep,
            timers,
            retries: a.retries,
            retry_interval: a.retry_interval,
            retry_max: a.retry_max,
            sip_port,
            tls_port,
            tls,
            expect_transport: a.expect_transport.map(Transport::from),
            max_time: a.max_time,
            dns,
        })
    }

    /// The port a transport uses.
    #[must_use]
    pub fn port(&self, t: Transport) -> u16 {
        if t == Transport::Tls {
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
}

/// Spec §1: the order tried for a set of phone flags; UDP + TLS is refused as the phone refuses it.
///
/// # Errors
/// `unsupported transport set: UDP + TLS`, or TLS-only `sips:` with UDP or TCP.
pub fn transport_order(
    udp: bool,
    tcp: bool,
    tls: bool,
    sips: bool,
) -> Result<Vec<Transport>, ConfigError> {
    if udp && tls && !tcp {
        return err("unsupported transport set: UDP + TLS");
    }
    if sips && (udp || tcp) {
        return err("a sips: SERVER is TLS only: drop --udp and --tcp");
    }
    let (udp, tcp, tls) = match (udp, tcp, tls) {
        (false, false, false) if sips => (false, false, true),
        (false, false, false) => (true, true, false),
        flags => flags,
    };
    let order: Vec<Transport> = [
        (tls, Transport::Tls),
        (tcp, Transport::Tcp),
        (udp, Transport::Udp),
    ]
    .into_iter()
    .filter_map(|(on, t)| on.then_some(t))
    .collect();
    Ok(order)
}

fn validate_user(user: &str, flag: &str) -> Result<(), ConfigError> {
    if user.is_empty() {
        return err(format!("{flag} is empty"));
    }
    // RFC 3261 §25.1: user = 1*( unreserved / escaped / user-unreserved ), without `;` and `?`,
    // which would start URI parameters and headers.
    let bytes = user.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let ok = b.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,/".contains(&b);
        if b == b'%' {
            let escaped = bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
            if !escaped {
                return err(format!(
                    "{flag} {user:?} has a '%' that is not followed by two hex digits"
                ));
            }
            i += 3;
            continue;
        }
        if !ok {
            let c = user[i..].chars().next().unwrap_or('?');
            return err(format!(
                "{flag} {user:?} contains {c:?}, which a SIP user part cannot hold (write it as %XX)"
            ));
        }
        i += 1;
    }
    Ok(())
}

fn read_password(path: &Path) -> Result<String, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError(format!(
            "cannot read --password-file {}: {e}",
            path.display()
        ))
    })?;
    let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
    if line.is_empty() {
        return err(format!("--password-file {} is empty", path.display()));
    }
    Ok(line.to_string())
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    std::fs::metadata(path)
        .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| {
            ConfigError(format!(
                "cannot read certificates from {}: {e}",
                path.display()
            ))
        })?;
    if certs.is_empty() {
        return err(format!("{} holds no PEM certificate", path.display()));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, ConfigError> {
    std::fs::metadata(path)
        .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
    PrivateKeyDer::from_pem_file(path).map_err(|e| {
        ConfigError(format!(
            "{} holds no usable private key (PKCS#8, PKCS#1 or SEC1 PEM, unencrypted): {e}",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use Transport::{Tcp, Tls, Udp};

    #[test]
    fn spec_section_1_table() {
        let cases = [
            ((false, false, false), vec![Tcp, Udp]),
            ((true, false, false), vec![Udp]),
            ((false, true, false), vec![Tcp]),
            ((false, false, true), vec![Tls]),
            ((true, true, false), vec![Tcp, Udp]),
            ((false, true, true), vec![Tls, Tcp]),
            ((true, true, true), vec![Tls, Tcp, Udp]),
        ];
        for ((u, t, s), want) in cases {
            assert_eq!(
                transport_order(u, t, s, false).unwrap(),
                want,
                "{u} {t} {s}"
            );
        }
        let e = transport_order(true, false, true, false).unwrap_err();
        assert_eq!(e.to_string(), "unsupported transport set: UDP + TLS");
        assert_eq!(
            transport_order(false, false, false, true).unwrap(),
            vec![Tls]
        );
        assert!(transport_order(false, true, false, true).is_err());
    }

    #[test]
    fn server_forms() {
        let ok = [
            ("pbx.example.com", "pbx.example.com", None, false),
            ("pbx.example.com:5070", "pbx.example.com", Some(5070), false),
            ("10.0.0.1", "10.0.0.1", None, false),
            ("[::1]", "::1", None, false),
            ("[2001:db8::1]:5080", "2001:db8::1", Some(5080), false),
            ("::1", "::1", None, false),
            (
                "sip:pbx.example.com:5062",
                "pbx.example.com",
                Some(5062),
                false,
            ),
            ("SIPS:pbx.example.com", "pbx.example.com", None, true),
        ];
        for (input, host, port, sips) in ok {
            let s = Server::parse(input).unwrap();
            assert_eq!(
                (s.host.as_str(), s.port, s.sips),
                (host, port, sips),
                "{input}"
            );
        }
        let bad = [
            "",
            "host:0",
            "host:70000",
            "host:abc",
            "[::1",
            "[nope]:5060",
            "http://x",
            "sip:a@b",
            "a b",
            "-bad-.com",
            "sip:x;transport=tcp",
            "1:2:3:4:5:6:7:8:9",
        ];
        for input in bad {
            assert!(Server::parse(input).is_err(), "{input} should be refused");
        }
    }
}

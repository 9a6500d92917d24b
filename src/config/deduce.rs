//! From a [`ConfigBuilder`] to a [`Config`]: the validation steps of [`ConfigBuilder::build`], worded as
//! on the command line (they name the flag).

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::{
    Config, ConfigBuilder, ConfigError, MAX_DURATION, Secret, Server, Timers, TlsConfig, err,
};
use crate::model::Family;
use crate::model::Transport;
use crate::net::resolve::DnsSettings;
use crate::net::tls::{self, TlsSettings};

type CertChain = Vec<CertificateDer<'static>>;
type ClientCert = (CertChain, PrivateKeyDer<'static>);

/// The validation steps, in the order their errors take precedence.
pub(super) fn deduce(b: &ConfigBuilder) -> Result<Config, ConfigError> {
    let (server, order) = server_and_order(b)?;
    let expect_transport = expectations(b, &order)?;
    let dns = family_and_dns(b, &server)?;
    let Account {
        user,
        domain,
        auth_user,
        password,
    } = account(b, &server)?;
    durations(b)?;
    expires(b)?;
    let timers = timers(b);
    let (sip_port, tls_port) = ports(b, &server, &order)?;
    let tls = tls(b, &server, &order)?;
    let ws_path = ws_path(b, &server)?;
    Ok(Config {
        server,
        order,
        ws_path,
        user,
        domain,
        auth_user,
        password,
        expires: b.expires,
        keep: b.keep,
        check_inbound: b.check_inbound,
        timers,
        retries: b.retries,
        retry_interval: b.retry_interval,
        retry_max: b.retry_max,
        sip_port,
        tls_port,
        tls,
        expect_transport,
        max_time: b.max_time,
        dns,
    })
}

/// SERVER, and the transports in the order they are tried.
fn server_and_order(b: &ConfigBuilder) -> Result<(Server, Vec<Transport>), ConfigError> {
    let server = Server::parse(&b.server)?;
    let phone = b.udp || b.tcp || b.tls;
    if let Some(t) = server.websocket {
        if phone || b.ws || b.wss {
            return err(format!(
                "a {}:// SERVER is {t} only: drop --udp, --tcp, --tls, --ws and --wss",
                t.via_name().to_ascii_lowercase()
            ));
        }
        return Ok((server, vec![t]));
    }
    if b.ws || b.wss {
        if phone || server.sips {
            return err(
                "--ws and --wss do not mix with --udp, --tcp, --tls or a sips: SERVER: Table 89's fallback is the desk phone's, and a WebSocket phone has none to those",
            );
        }
        // WSS first; WS after it is a downgrade, as TCP after TLS.
        let order = [(b.wss, Transport::Wss), (b.ws, Transport::Ws)]
            .into_iter()
            .filter_map(|(on, t)| on.then_some(t))
            .collect();
        return Ok((server, order));
    }
    let order = transport_order(b.udp, b.tcp, b.tls, server.sips)?;
    Ok((server, order))
}

/// The path of the WebSocket upgrade: a `ws://` or `wss://` SERVER's, else `--ws-path`.
fn ws_path(b: &ConfigBuilder, server: &Server) -> Result<String, ConfigError> {
    if let Some(p) = &server.path {
        return Ok(p.clone());
    }
    super::server::validate_path(&b.ws_path, "--ws-path")?;
    Ok(b.ws_path.clone())
}

/// `--expect-transport` must be one of the enabled transports.
fn expectations(b: &ConfigBuilder, order: &[Transport]) -> Result<Option<Transport>, ConfigError> {
    if let Some(t) = b.expect_transport {
        if !order.contains(&t) {
            return err(format!(
                "--expect-transport {} is not among the enabled transports",
                t.via_name().to_ascii_lowercase()
            ));
        }
    }
    Ok(b.expect_transport)
}

/// `-4` / `-6` must allow an IP-address SERVER; the DNS settings.
fn family_and_dns(b: &ConfigBuilder, server: &Server) -> Result<DnsSettings, ConfigError> {
    let family = b.family;
    if let Ok(ip) = server.host.parse::<IpAddr>() {
        if !family.allows(ip) {
            let flag = if family == Family::V4 { "-4" } else { "-6" };
            return err(format!(
                "{flag} cannot reach SERVER {}: it is an address of the other family",
                server.host
            ));
        }
    }
    Ok(DnsSettings {
        no_srv: b.no_srv,
        server: b.dns_server,
        family,
    })
}

/// Who registers: the address of record and the digest credentials.
struct Account {
    user: String,
    domain: String,
    auth_user: String,
    password: Option<Secret>,
}

/// `--user`, `--domain`, `--auth-user` and the password.
fn account(b: &ConfigBuilder, server: &Server) -> Result<Account, ConfigError> {
    validate_user(&b.user, "--user")?;
    let domain = domain(b, server)?;
    let auth_user = b.auth_user.clone().unwrap_or_else(|| b.user.clone());
    if auth_user.is_empty() || auth_user.chars().any(char::is_control) {
        return err(format!(
            "--auth-user {auth_user:?} is empty or holds control characters"
        ));
    }
    Ok(Account {
        user: b.user.clone(),
        domain,
        auth_user,
        password: password(b)?,
    })
}

/// `--domain` as a URI host (a bare host name), or the SERVER host.
fn domain(b: &ConfigBuilder, server: &Server) -> Result<String, ConfigError> {
    let Some(d) = &b.domain else {
        return Ok(server.uri_host());
    };
    let parsed = Server::parse(d).map_err(|e| ConfigError(format!("--domain: {e}")))?;
    if parsed.port.is_some() || parsed.sips || d.to_ascii_lowercase().starts_with("sip:") {
        return err(format!("--domain {d:?} must be a bare host name"));
    }
    Ok(parsed.uri_host())
}

/// The password given, or the first line of `--password-file`; not both.
fn password(b: &ConfigBuilder) -> Result<Option<Secret>, ConfigError> {
    match (&b.password, &b.password_file) {
        (Some(_), Some(_)) => err("give --password or --password-file, not both"),
        (Some(p), None) => Ok(Some(p.clone())),
        (None, Some(path)) => Ok(Some(Secret(read_password(path)?))),
        (None, None) => Ok(None),
    }
}

/// Every duration is at most [`MAX_DURATION`], and those that must be are longer than 0.
fn durations(b: &ConfigBuilder) -> Result<(), ConfigError> {
    let checks: [(&str, Option<Duration>); 7] = [
        ("--connect-timeout", Some(b.connect_timeout)),
        ("--t1", Some(b.t1)),
        ("--timeout", b.timeout),
        ("--retry-max", Some(b.retry_max)),
        ("--retry-interval", Some(b.retry_interval)),
        ("--max-time", b.max_time),
        ("--interval", Some(b.interval)),
    ];
    for (name, d) in checks {
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
    Ok(())
}

/// `--expires 0` would be a removal, not a registration.
fn expires(b: &ConfigBuilder) -> Result<(), ConfigError> {
    if b.expires == 0 {
        return err("--expires must be at least 1 (a registration of 0 s is a removal)");
    }
    Ok(())
}

/// T1, T2 = 8 × T1, Timer F (64 × T1 unless given) and the connect budget.
fn timers(b: &ConfigBuilder) -> Timers {
    let t1 = b.t1;
    let timer_f = b.timeout.unwrap_or(t1.saturating_mul(64)).min(MAX_DURATION);
    Timers {
        t1,
        t2: t1.saturating_mul(8),
        timer_f,
        connect: b.connect_timeout,
    }
}

/// Spec §5: the SERVER port serves UDP and TCP; TLS uses `--tls-port` unless TLS is alone or `sips:`.
fn ports(
    b: &ConfigBuilder,
    server: &Server,
    order: &[Transport],
) -> Result<(u16, u16), ConfigError> {
    // The command line refuses 0 before this; a builder is told here.
    if b.tls_port == 0 {
        return err("--tls-port 0 is out of range 1-65535");
    }
    // WebSocket (RFC 7118 §7): the SERVER port, else 80 for WS and 443 for WSS; with both, WSS on 443.
    if order.iter().any(|t| t.is_websocket()) {
        return Ok(match order {
            [Transport::Wss] => (server.port.unwrap_or(80), server.port.unwrap_or(443)),
            _ => (server.port.unwrap_or(80), 443),
        });
    }
    let tls_only = order == [Transport::Tls];
    let sip_port = server.port.unwrap_or(5060);
    let tls_port = if tls_only || server.sips {
        server.port.unwrap_or(b.tls_port)
    } else {
        b.tls_port
    };
    Ok((sip_port, tls_port))
}

/// The certificate files are read whatever the transports; the TLS settings when TLS is enabled.
fn tls(
    b: &ConfigBuilder,
    server: &Server,
    order: &[Transport],
) -> Result<Option<TlsConfig>, ConfigError> {
    let (ca, client) = tls_files(b)?;
    if !order.iter().any(|t| t.is_secure()) {
        return Ok(None);
    }
    let has_client_cert = client.is_some();
    let settings = TlsSettings {
        ca,
        client,
        insecure: b.insecure,
    };
    let client = tls::client_config(&settings).map_err(ConfigError)?;
    let server_name = b
        .tls_server_name
        .clone()
        .unwrap_or_else(|| server.host.clone());
    if rustls::pki_types::ServerName::try_from(server_name.as_str()).is_err() {
        return err(format!(
            "--tls-server-name {server_name:?} is not a valid name"
        ));
    }
    Ok(Some(TlsConfig {
        client,
        server_name,
        insecure: b.insecure,
        strict: b.strict_tls,
        has_client_cert,
    }))
}

/// The CA certificates of `--ca-file`, and the device certificate chain with its key.
fn tls_files(b: &ConfigBuilder) -> Result<(Option<CertChain>, Option<ClientCert>), ConfigError> {
    let ca = b.ca_file.as_deref().map(read_certs).transpose()?;
    let client = match (&b.cert, &b.key) {
        (Some(c), Some(k)) => Some((read_certs(c)?, read_key(k)?)),
        (Some(_), None) => return err("--cert needs --key"),
        (None, Some(_)) => return err("--key needs --cert"),
        (None, None) => None,
    };
    Ok((ca, client))
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
}

//! Hints a help-desk engineer can act on: one per failure kind, in plain words, plus a NAT note.

use std::net::SocketAddr;

use crate::config::Config;
use crate::event::Ended;
use crate::model::{LegacyTls, Outcome, TlsProblem, Transport};
use crate::net::resolve::Candidate;
use crate::observe::report::Attempt;

/// What the hints need to know of the run's settings.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The SERVER host as given.
    pub host: String,
    /// The name the TLS certificate was checked against.
    pub tls_name: Option<String>,
    /// A device certificate was configured.
    pub has_client_cert: bool,
    /// A password was configured.
    pub has_password: bool,
}

impl Context {
    /// The context of a run of `cfg`.
    #[must_use]
    pub fn of(cfg: &Config) -> Self {
        Self {
            host: cfg.server.host.clone(),
            tls_name: cfg.tls.as_ref().map(|t| t.server_name.clone()),
            has_client_cert: cfg.tls.as_ref().is_some_and(|t| t.has_client_cert),
            has_password: cfg.password.is_some(),
        }
    }
}

/// The structured facts of one attempt that its hint reads.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The address tried (or the host name when it did not resolve).
    pub ip: String,
    /// The port tried.
    pub port: u16,
    /// The TLS problem, for TLS failures.
    pub tls: Option<TlsProblem>,
    /// An ICMP port unreachable came back.
    pub port_unreachable: bool,
    /// The names a rejected certificate is valid for.
    pub cert_names: Option<String>,
    /// The legacy TLS version or suite the server would pick, found by the probe.
    pub legacy: Option<LegacyTls>,
    /// Retry-After from the answer, in seconds.
    pub retry_after: Option<u32>,
    /// Min-Expires from a 423.
    pub min_expires: Option<u32>,
    /// The HTTP status of a refused WebSocket upgrade (101: switched without `sip`).
    pub upgrade: Option<u16>,
}

impl Facts {
    /// The facts of an attempt at `candidate` that ended as `ended`.
    #[must_use]
    pub fn of(candidate: Option<&Candidate>, ended: &Ended) -> Self {
        let (ip, port) = match candidate {
            Some(c) => match &c.addr {
                Ok(a) => (a.ip().to_string(), a.port()),
                Err(_) => (c.target.clone(), c.port),
            },
            None => (String::new(), 0),
        };
        let failure = ended.failure.as_ref();
        Self {
            ip,
            port,
            tls: failure.and_then(|f| f.tls),
            port_unreachable: failure.is_some_and(|f| f.port_unreachable),
            cert_names: failure.and_then(|f| f.cert_names.clone()),
            legacy: failure.and_then(|f| f.legacy.as_deref().cloned()),
            retry_after: ended.retry_after,
            min_expires: ended.min_expires,
            upgrade: failure.and_then(|f| f.upgrade),
        }
    }
}

/// The hint for an attempt, if one helps.
#[must_use]
pub fn for_attempt(a: &Attempt, f: &Facts, cx: &Context) -> Option<String> {
    let (ip, port) = (&f.ip, f.port);
    let t = a.transport.via_name();
    let hint = match a.outcome {
        Outcome::Registered => return nat_note(a),
        Outcome::DnsFailed => format!(
            "check the spelling of {}, and the DNS server this machine uses (or give an IP address)",
            cx.host
        ),
        Outcome::Refused if f.upgrade == Some(101) => {
            "the web server speaks WebSocket but not SIP over it: enable the sip subprotocol (RFC 7118) on the server, or check the path (--ws-path)".to_string()
        }
        Outcome::Refused if f.upgrade.is_some() => format!(
            "a web server answers on {t} {port} at {ip}, but not with SIP over WebSocket on that path: check --ws-path (or the path of the ws:// SERVER) and that the server's WebSocket module is enabled"
        ),
        Outcome::Refused => format!(
            "nothing listens on {t} {port} at {ip}: is {t} enabled on the server, or does a firewall reject it?"
        ),
        Outcome::ConnectTimeout => {
            format!("no answer at all: a firewall probably drops {t} {port}, or {ip} is down")
        }
        Outcome::Unreachable if f.port_unreachable => format!(
            "{ip} answered that nothing listens on UDP {port}: is UDP enabled on the server, and is this the right port?"
        ),
        Outcome::Unreachable => {
            format!("this machine has no route to {ip}: check the address, the VPN or the network")
        }
        Outcome::TlsFailed => tls_hint(cx, f),
        Outcome::Closed => format!(
            "the server dropped the {t} connection without a SIP answer: its logs say why (a blocked address, a size limit, or a crash)"
        ),
        Outcome::Timeout if a.transport == Transport::Udp => format!(
            "no SIP answer over UDP: a firewall may drop UDP {port}, or the server ignores this address"
        ),
        Outcome::Timeout => format!(
            "the {t} connection opened but the server sent no SIP answer: is this a SIP port?"
        ),
        Outcome::Unauthorized if !cx.has_password => {
            "the server wants a password: set SIPREG_PASSWORD or use --password-file".to_string()
        }
        Outcome::Unauthorized => {
            "the registrar refused the credentials: check the password, --user and --auth-user"
                .to_string()
        }
        Outcome::Rejected => return status_hint(a.status?, f),
    };
    Some(hint)
}

fn tls_hint(cx: &Context, f: &Facts) -> String {
    let name = cx.tls_name.as_deref().unwrap_or(&cx.host);
    let port = f.port;
    if let Some(legacy) = &f.legacy {
        return legacy_hint(legacy);
    }
    match f.tls {
        Some(TlsProblem::UnknownIssuer) => {
            "the server certificate comes from a CA this machine does not trust: give that CA with --ca-file (or test with --insecure)".to_string()
        }
        Some(TlsProblem::NameMismatch) => {
            let names = f
                .cert_names
                .as_ref()
                .map_or_else(String::new, |n| format!(" ({n})"));
            format!(
                "the certificate does not name {name}{names}: connect by a name it holds, or set --tls-server-name"
            )
        }
        Some(TlsProblem::Expired) => {
            "the server certificate is out of date: renew it on the server (the dates are above)".to_string()
        }
        Some(TlsProblem::NotValidYet) => {
            "the server certificate is not valid yet: check the clocks of the server and of this machine".to_string()
        }
        Some(TlsProblem::ClientCertRequired) if !cx.has_client_cert => {
            "the server requires a device certificate: give one with --cert and --key".to_string()
        }
        Some(TlsProblem::ClientCertRequired | TlsProblem::ClientCertRejected) => {
            "the server rejected the device certificate: is it signed by a CA the server trusts, and still valid?".to_string()
        }
        Some(TlsProblem::NotTls) => format!(
            "port {port} does not seem to speak TLS: check --tls-port (SIP over TLS is usually on 5061)"
        ),
        Some(TlsProblem::BadCertificate | TlsProblem::Other) | None => {
            "the TLS handshake failed: the server's TLS settings and this machine's do not match".to_string()
        }
    }
}

/// What to change on a server that only agrees to a TLS version or suite rustls does not support.
fn legacy_hint(l: &LegacyTls) -> String {
    let enable = if l.why.iter().any(|w| w.contains("older than TLS 1.2")) {
        "enable TLS 1.2 with"
    } else {
        "add"
    };
    format!(
        "the server agrees only to {} with {}: a phone that supports it would register over TLS, sipreg cannot. \
         On the server, {enable} ECDHE key exchange and AES-GCM suites (e.g. ECDHE-RSA-AES128-GCM-SHA256); \
         the old suite can stay for older phones",
        l.version, l.suite
    )
}

fn status_hint(status: u16, cx: &Facts) -> Option<String> {
    let hint = match status {
        300..=399 => "the registrar sends this account elsewhere: register at the Contact it gave".to_string(),
        403 => "the registrar refuses this account: check --user and --domain (the user may not exist or may not be allowed from here), or its contact limit is reached (Asterisk/FreePBX max_contacts, single-registration accounts): another device holds the registration".to_string(),
        404 => "the registrar does not know this user or domain: check --user and --domain".to_string(),
        423 => match cx.min_expires {
            Some(m) => format!("the server wants a longer registration: use --expires {m} or more"),
            None => "the server wants a longer registration but did not say how long: raise --expires".to_string(),
        },
        480 | 486 | 500 | 503 | 504 => match cx.retry_after {
            Some(s) => format!("the server is overloaded or in maintenance: it asks to wait {s} s before trying again"),
            None => "the server is overloaded, in maintenance or failing: try again later, and check its logs".to_string(),
        },
        400..=499 => format!("the registrar rejected the request ({status}): its logs say why"),
        600..=699 => "a global failure: the registrar says no server will accept this registration".to_string(),
        _ => return None,
    };
    Some(hint)
}

/// What the inbound check's result means (`--check-inbound`), given where the registrar saw us.
#[must_use]
pub fn inbound(
    i: &crate::observe::report::Inbound,
    seen: Option<&str>,
    local: Option<&str>,
    has_password: bool,
) -> Option<String> {
    let behind_nat = match (
        seen.and_then(|s| s.parse::<SocketAddr>().ok()),
        local.and_then(|l| l.parse::<SocketAddr>().ok()),
    ) {
        (Some(s), Some(l)) => s != l,
        _ => false,
    };
    if i.arrived {
        return (i.same_flow == Some(false)).then(|| {
            "the request reached us from another address than the registrar's: a NAT or firewall in front of a phone would drop it".to_string()
        });
    }
    let hint = match i.status {
        Some(404 | 480) => "the registrar has no binding for us: it did not keep the registration, or looks up another AOR (check --user and --domain)".to_string(),
        Some(200..=299) => "the registrar answered the OPTIONS itself instead of forwarding it to us: it does not route requests to registered users, so this check cannot tell".to_string(),
        Some(code @ (401 | 407)) if !has_password => format!(
            "the registrar wants credentials for requests to registered users ({code}): give the account's password (SIPREG_PASSWORD or --password-file) so that the check can answer the challenge"
        ),
        Some(code @ (401 | 407)) => format!(
            "the registrar did not accept the account's credentials for a request to a user ({code} again after answering its challenge): it may want another user name for proxy authentication, or allow only some callers; its logs say why"
        ),
        Some(403 | 405 | 501) => "the registrar refuses to forward requests to registered users: it is a registrar only, or wants other credentials or another caller".to_string(),
        Some(code @ (400..=407 | 409..=479 | 481..=499)) => format!(
            "the registrar refused or failed to route the request ({code}); nothing was in the way on the network: its configuration or logs say why"
        ),
        Some(code @ 500..=699) => format!(
            "the registrar failed to route the request ({code}); nothing was in the way on the network: its logs say why"
        ),
        _ if behind_nat => format!(
            "we are behind NAT (the registrar saw {}, we sent from {}): it stored our private Contact and cannot reach it; the registrar must use the address it saw (rport and received: Kamailio's nathelper fix_nated_register, Asterisk's rewrite_contact), or the NAT pinhole closed",
            seen.unwrap_or("?"),
            local.unwrap_or("?")
        ),
        _ => "the registrar forwarded the request, but it did not reach us: a firewall in front of this host lets nothing in, or a NAT pinhole closed before it came".to_string(),
    };
    Some(hint)
}

/// A note when the server saw another address than the one we sent from: there is NAT in between.
fn nat_note(a: &Attempt) -> Option<String> {
    let seen: SocketAddr = a.seen_as.as_deref()?.parse().ok()?;
    let local: SocketAddr = a.local.as_deref()?.parse().ok()?;
    (seen.ip() != local.ip()).then(|| {
        format!(
            "NAT: the server saw us as {seen} while we sent from {local}; calls to the registered Contact may not reach this host"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(outcome: Outcome, transport: Transport) -> Attempt {
        let mut a = Attempt::new(1, transport, "192.0.2.7:5060".into());
        a.local = Some("10.0.0.5:40000".into());
        a.elapsed_ms = 1.0;
        a.outcome = outcome;
        a.requests = 1;
        a
    }

    fn cx() -> Context {
        Context {
            host: "pbx.example.com".into(),
            ..Context::default()
        }
    }

    fn facts() -> Facts {
        Facts {
            ip: "192.0.2.7".into(),
            port: 5060,
            ..Facts::default()
        }
    }

    #[test]
    fn every_failure_kind_has_a_hint() {
        for outcome in Outcome::TRANSPORT_FAILURES
            .into_iter()
            .chain([Outcome::Unauthorized])
        {
            assert!(
                for_attempt(&attempt(outcome, Transport::Tcp), &facts(), &cx()).is_some(),
                "{outcome:?}"
            );
        }
        for status in [302, 401, 403, 404, 423, 488, 503, 603] {
            let mut a = attempt(Outcome::Rejected, Transport::Udp);
            a.status = Some(status);
            assert!(for_attempt(&a, &facts(), &cx()).is_some(), "{status}");
        }
    }

    #[test]
    fn refused_names_the_transport_port_and_host() {
        let h = for_attempt(&attempt(Outcome::Refused, Transport::Tcp), &facts(), &cx()).unwrap();
        assert_eq!(
            h,
            "nothing listens on TCP 5060 at 192.0.2.7: is TCP enabled on the server, or does a firewall reject it?"
        );
        let h = for_attempt(
            &attempt(Outcome::ConnectTimeout, Transport::Tcp),
            &facts(),
            &cx(),
        )
        .unwrap();
        assert!(
            h.starts_with("no answer at all: a firewall probably drops TCP 5060"),
            "{h}"
        );
    }

    #[test]
    fn nat_note_only_when_the_addresses_differ() {
        let mut a = attempt(Outcome::Registered, Transport::Udp);
        assert_eq!(for_attempt(&a, &facts(), &cx()), None);
        a.seen_as = Some("10.0.0.5:40000".into());
        assert_eq!(for_attempt(&a, &facts(), &cx()), None);
        a.seen_as = Some("198.51.100.1:61000".into());
        assert!(
            for_attempt(&a, &facts(), &cx())
                .unwrap()
                .starts_with("NAT: the server saw us as 198.51.100.1:61000")
        );
    }

    #[test]
    fn tls_hints_point_at_the_right_flag() {
        let c = cx();
        let mut f = facts();
        let a = attempt(Outcome::TlsFailed, Transport::Tls);
        f.tls = Some(TlsProblem::UnknownIssuer);
        assert!(for_attempt(&a, &f, &c).unwrap().contains("--ca-file"));
        f.tls = Some(TlsProblem::ClientCertRequired);
        assert!(
            for_attempt(&a, &f, &c)
                .unwrap()
                .contains("--cert and --key")
        );
        let named = attempt(Outcome::TlsFailed, Transport::Tls);
        f.cert_names = Some("DnsName(\"localhost\")".into());
        f.tls = Some(TlsProblem::NameMismatch);
        assert!(
            for_attempt(&named, &f, &c)
                .unwrap()
                .contains("DnsName(\"localhost\")")
        );
    }

    #[test]
    fn legacy_tls_hint_says_what_to_change_on_the_server() {
        let a = attempt(Outcome::TlsFailed, Transport::Tls);
        let mut f = facts();
        f.tls = Some(TlsProblem::Other);
        f.legacy = Some(LegacyTls {
            version: "TLS 1.0".into(),
            suite: "TLS_RSA_WITH_AES_128_CBC_SHA".into(),
            why: vec![
                "older than TLS 1.2, the oldest version rustls speaks".into(),
                "RSA key exchange, no forward secrecy".into(),
                "CBC mode".into(),
            ],
        });
        let h = for_attempt(&a, &f, &cx()).unwrap();
        assert!(
            h.contains("TLS 1.0 with TLS_RSA_WITH_AES_128_CBC_SHA")
                && h.contains("a phone that supports it would register over TLS, sipreg cannot")
                && h.contains("enable TLS 1.2 with ECDHE key exchange and AES-GCM suites"),
            "{h}"
        );
        f.legacy.as_mut().unwrap().version = "TLS 1.2".into();
        f.legacy.as_mut().unwrap().why.remove(0);
        let h = for_attempt(&a, &f, &cx()).unwrap();
        assert!(h.contains("add ECDHE key exchange"), "{h}");
    }
}

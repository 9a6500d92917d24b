//! The registrar as given on the command line: `host[:port]`, `[v6][:port]`, `sip:` or `sips:`.

use std::net::IpAddr;

use super::{ConfigError, err};

/// The registrar as given on the command line (spec §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// Host name or IP address, without brackets.
    pub host: String,
    /// Explicit port, if one was given.
    pub port: Option<u16>,
    /// True for a `sips:` URI: TLS only.
    pub sips: bool,
    /// `ws://` or `wss://`: that WebSocket transport only (RFC 7118).
    pub websocket: Option<crate::model::Transport>,
    /// The path of a `ws://` or `wss://` URI.
    pub path: Option<String>,
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
        let Scheme {
            rest,
            sips,
            websocket,
            path,
        } = scheme(s)?;
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
        Ok(Server {
            host,
            port,
            sips,
            websocket,
            path,
        })
    }

    /// The host as it appears in a URI: IPv6 in brackets.
    #[must_use]
    pub fn uri_host(&self) -> String {
        crate::sip::message::bracket_host(&self.host)
    }
}

/// What SERVER's scheme says: the `host[:port]` after it, and the transport it fixes.
struct Scheme<'a> {
    rest: &'a str,
    sips: bool,
    websocket: Option<crate::model::Transport>,
    path: Option<String>,
}

/// Splits off `sip:`, `sips:`, `ws://` or `wss://` (and a WebSocket URI's path); other schemes are refused.
fn scheme(s: &str) -> Result<Scheme<'_>, ConfigError> {
    let lower = s.to_ascii_lowercase();
    let plain = |rest, sips| Scheme {
        rest,
        sips,
        websocket: None,
        path: None,
    };
    if lower.starts_with("sips:") {
        return Ok(plain(&s[5..], true));
    }
    if lower.starts_with("sip:") {
        return Ok(plain(&s[4..], false));
    }
    if lower.starts_with("ws://") || lower.starts_with("wss://") {
        let secure = lower.starts_with("wss://");
        let after = &s[if secure { 6 } else { 5 }..];
        let (rest, path) = match after.find('/') {
            Some(at) => (&after[..at], Some(after[at..].to_string())),
            None => (after, None),
        };
        if let Some(p) = &path {
            validate_path(p, &format!("the path of SERVER {s:?}"))?;
        }
        let t = if secure {
            crate::model::Transport::Wss
        } else {
            crate::model::Transport::Ws
        };
        return Ok(Scheme {
            websocket: Some(t),
            path,
            ..plain(rest, false)
        });
    }
    if let Some((scheme, _)) = s.split_once("://") {
        return err(format!(
            "unsupported URI scheme {scheme:?} in SERVER {s:?}: use host[:port], sip:, sips:, ws:// or wss://"
        ));
    }
    Ok(plain(s, false))
}

/// A WebSocket request path (`what` names where it came from): `/` and printable ASCII, no spaces,
/// no fragment.
pub(super) fn validate_path(p: &str, what: &str) -> Result<(), ConfigError> {
    if !p.starts_with('/') || p.contains('#') || !p.bytes().all(|b| b.is_ascii_graphic()) {
        return err(format!(
            "{what} {p:?} must start with / and hold no spaces or #"
        ));
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

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
            ("ws://pbx.example.com", "pbx.example.com", None, false),
            ("wss://[::1]:8443/sip", "::1", Some(8443), false),
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
        let wss = Server::parse("WSS://pbx.example.com:443/ws?x=1").unwrap();
        assert_eq!(
            (wss.websocket, wss.path.as_deref()),
            (Some(crate::model::Transport::Wss), Some("/ws?x=1"))
        );
        let ws = Server::parse("ws://pbx.example.com").unwrap();
        assert_eq!(
            (ws.websocket, ws.path),
            (Some(crate::model::Transport::Ws), None)
        );
        for input in [
            "ws://a b",
            "ws://h/a b",
            "ws://u@h",
            "wss://h:0",
            "ws://h/#x",
        ] {
            assert!(Server::parse(input).is_err(), "{input} should be refused");
        }
    }
}

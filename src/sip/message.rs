//! Builds the REGISTER request of RFC 3261 §10.2 with rsip.

use std::net::{IpAddr, SocketAddr};

use rsip::{
    Header, Headers, Method, Request, Scheme, Version,
    common::uri::{Host, HostWithPort, Uri},
    headers::{self, UntypedHeader},
};

use crate::model::Transport;

/// Which authorization header a request carries (RFC 3261 §22.2 and §22.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthHeader {
    /// `Authorization`, the answer to a 401 `WWW-Authenticate`.
    Authorization,
    /// `Proxy-Authorization`, the answer to a 407 `Proxy-Authenticate`.
    ProxyAuthorization,
}

/// Everything one REGISTER needs. One value per transaction: CSeq and branch change every time.
#[derive(Debug, Clone)]
pub struct Register<'a> {
    /// Transport named in the Via and in the Contact's `transport` parameter.
    pub transport: Transport,
    /// The registrar's domain: Request-URI host and the host of the AOR (brackets around IPv6).
    pub domain: &'a str,
    /// The user part of the AOR.
    pub user: &'a str,
    /// The local address of the socket that carries the request (Via sent-by and Contact).
    pub local: SocketAddr,
    /// Call-ID, the same for every request of a run (§10.2).
    pub call_id: &'a str,
    /// From tag, the same for every request of a run.
    pub from_tag: &'a str,
    /// CSeq number, one higher for every new request (§8.1.1.5).
    pub cseq: u32,
    /// Top Via branch, fresh per transaction (§8.1.1.7).
    pub branch: &'a str,
    /// Requested binding lifetime in seconds; 0 removes our binding (§10.2.2).
    pub expires: u32,
    /// Authorization and Proxy-Authorization values computed for this request.
    pub authorization: &'a [(AuthHeader, String)],
    /// Our instance ID, `urn:uuid:…` (RFC 5626 §4.1): sent as `+sip.instance` so that our binding
    /// can be found after a registrar rewrote the Contact URI.
    pub instance: &'a str,
}

/// A host as it appears in a SIP URI or Via: IPv6 addresses in brackets (RFC 3261 §25.1).
#[must_use]
pub fn uri_host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// A host name or address as text, IPv6 in brackets (RFC 3261 §25.1).
#[must_use]
pub fn bracket_host(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// `host:port` for a host that may be an address (IPv6 bracketed) or a name, as Via `received`
/// gives it.
#[must_use]
pub fn addr_text(host: &str, port: u16) -> String {
    match host.trim_matches(['[', ']']).parse::<IpAddr>() {
        Ok(ip) => host_port(SocketAddr::new(ip, port)),
        Err(_) => format!("{host}:{port}"),
    }
}

/// `host:port` with IPv6 bracketed.
#[must_use]
pub fn host_port(addr: SocketAddr) -> String {
    format!("{}:{}", uri_host(addr.ip()), addr.port())
}

impl Register<'_> {
    /// The Contact URI for our binding: the local address actually used, with `;transport=` when not UDP.
    #[must_use]
    pub fn contact_uri(&self) -> String {
        let transport = match self.transport {
            Transport::Udp => "",
            Transport::Tcp => ";transport=tcp",
            Transport::Tls => ";transport=tls",
        };
        format!("sip:{}@{}{transport}", self.user, host_port(self.local))
    }

    /// The AOR `sip:user@domain` used in To and From.
    #[must_use]
    pub fn aor(&self) -> String {
        format!("sip:{}@{}", self.user, self.domain)
    }

    /// Renders the request as it goes on the wire.
    #[must_use]
    pub fn build(&self) -> Vec<u8> {
        // §10.2: the Request-URI names the domain of the registrar, without a user part. rsip renders an
        // IPv6 `IpAddr` without brackets, so hosts go in as domains, which it prints verbatim.
        let uri = Uri {
            scheme: Some(Scheme::Sip),
            host_with_port: HostWithPort::from(Host::Domain(self.domain.into())),
            ..Default::default()
        };
        let aor = self.aor();
        let mut hs = Headers::default();
        // §8.1.1.7 and RFC 3581 §3: our sent-by, a fresh branch, and rport so the server answers the source.
        hs.push(Header::Via(headers::Via::new(format!(
            "SIP/2.0/{} {};branch={};rport",
            self.transport.via_name(),
            host_port(self.local),
            self.branch
        ))));
        hs.push(Header::MaxForwards(headers::MaxForwards::new("70")));
        hs.push(Header::From(headers::From::new(format!(
            "<{aor}>;tag={}",
            self.from_tag
        ))));
        hs.push(Header::To(headers::To::new(format!("<{aor}>"))));
        hs.push(Header::CallId(headers::CallId::new(self.call_id)));
        hs.push(Header::CSeq(headers::CSeq::new(format!(
            "{} REGISTER",
            self.cseq
        ))));
        hs.push(Header::Contact(headers::Contact::new(format!(
            "<{}>;expires={};+sip.instance=\"<{}>\"",
            self.contact_uri(),
            self.expires,
            self.instance
        ))));
        hs.push(Header::Expires(headers::Expires::new(
            self.expires.to_string(),
        )));
        for (kind, value) in self.authorization {
            hs.push(match kind {
                AuthHeader::Authorization => {
                    Header::Authorization(headers::Authorization::new(value.clone()))
                }
                AuthHeader::ProxyAuthorization => {
                    Header::ProxyAuthorization(headers::ProxyAuthorization::new(value.clone()))
                }
            });
        }
        hs.push(Header::UserAgent(headers::UserAgent::new(concat!(
            "sipreg/",
            env!("CARGO_PKG_VERSION")
        ))));
        hs.push(Header::ContentLength(headers::ContentLength::new("0")));
        let request = Request {
            method: Method::Register,
            uri,
            version: Version::V2,
            headers: hs,
            body: Vec::new(),
        };
        request.to_string().into_bytes()
    }
}

/// The OPTIONS that `--check-inbound` sends to our own AOR through the registrar (RFC 3261 §11): the
/// registrar looks up our binding and forwards it to us, as it would a call.
#[derive(Debug, Clone)]
pub struct Options<'a> {
    /// Transport of the flow it goes over.
    pub transport: Transport,
    /// The AOR domain.
    pub domain: &'a str,
    /// The AOR user: the Request-URI is our own AOR.
    pub user: &'a str,
    /// Our address on the flow.
    pub local: SocketAddr,
    /// A Call-ID of its own, by which the forwarded request is recognised.
    pub call_id: &'a str,
    /// From tag.
    pub from_tag: &'a str,
    /// Top Via branch.
    pub branch: &'a str,
}

impl Options<'_> {
    /// Renders the request as it goes on the wire.
    #[must_use]
    pub fn build(&self) -> Vec<u8> {
        let aor = format!("sip:{}@{}", self.user, self.domain);
        format!(
            "OPTIONS {aor} SIP/2.0\r\n\
             Via: SIP/2.0/{} {};branch={};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <{aor}>;tag={}\r\n\
             To: <{aor}>\r\n\
             Call-ID: {}\r\n\
             CSeq: 1 OPTIONS\r\n\
             Contact: <sip:{}@{}>\r\n\
             Accept: application/sdp\r\n\
             User-Agent: sipreg/{}\r\n\
             Content-Length: 0\r\n\r\n",
            self.transport.via_name(),
            host_port(self.local),
            self.branch,
            self.from_tag,
            self.call_id,
            self.user,
            host_port(self.local),
            env!("CARGO_PKG_VERSION")
        )
        .into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(transport: Transport, local: &str) -> Vec<u8> {
        Register {
            transport,
            domain: "example.com",
            user: "alice",
            local: local.parse().unwrap(),
            call_id: "cid1",
            from_tag: "tag1",
            cseq: 7,
            branch: "z9hG4bKabc",
            expires: 600,
            authorization: &[],
            instance: "urn:uuid:00000000-0000-4000-8000-000000000001",
        }
        .build()
    }

    #[test]
    fn register_has_the_rfc_3261_headers() {
        let text = String::from_utf8(sample(Transport::Tcp, "10.0.0.5:40000")).unwrap();
        assert!(
            text.starts_with("REGISTER sip:example.com SIP/2.0\r\n"),
            "{text}"
        );
        assert!(text.contains("Via: SIP/2.0/TCP 10.0.0.5:40000;branch=z9hG4bKabc;rport\r\n"));
        assert!(text.contains("Max-Forwards: 70\r\n"));
        assert!(text.contains("From: <sip:alice@example.com>;tag=tag1\r\n"));
        assert!(text.contains("To: <sip:alice@example.com>\r\n"));
        assert!(text.contains("CSeq: 7 REGISTER\r\n"));
        assert!(text.contains("Contact: <sip:alice@10.0.0.5:40000;transport=tcp>;expires=600;+sip.instance=\"<urn:uuid:00000000-0000-4000-8000-000000000001>\"\r\n"));
        assert!(text.contains("Expires: 600\r\n"));
        assert!(text.contains("User-Agent: sipreg/"));
        assert!(text.ends_with("Content-Length: 0\r\n\r\n"), "{text:?}");
    }

    #[test]
    fn options_to_our_own_aor() {
        let text = String::from_utf8(
            Options {
                transport: Transport::Udp,
                domain: "example.com",
                user: "alice",
                local: "10.0.0.5:40000".parse().unwrap(),
                call_id: "probe1",
                from_tag: "t1",
                branch: "z9hG4bKp",
            }
            .build(),
        )
        .unwrap();
        assert!(
            text.starts_with("OPTIONS sip:alice@example.com SIP/2.0\r\n"),
            "{text}"
        );
        assert!(text.contains("Via: SIP/2.0/UDP 10.0.0.5:40000;branch=z9hG4bKp;rport\r\n"));
        assert!(text.contains("CSeq: 1 OPTIONS\r\n") && text.contains("Call-ID: probe1\r\n"));
        assert!(crate::sip::response::Response::parse(b"SIP/2.0 200 OK\r\n\r\n").is_ok());
    }

    #[test]
    fn ipv6_local_address_is_bracketed_and_udp_has_no_transport_param() {
        let text = String::from_utf8(sample(Transport::Udp, "[::1]:5070")).unwrap();
        assert!(text.contains("Via: SIP/2.0/UDP [::1]:5070;"), "{text}");
        assert!(
            text.contains("Contact: <sip:alice@[::1]:5070>;expires=600"),
            "{text}"
        );
    }
}

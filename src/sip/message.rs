//! Builds the REGISTER request of RFC 3261 §10.2 (held to rsip's rendering by a test) and the OPTIONS.

use std::net::{IpAddr, SocketAddr};

use crate::model::Transport;
use crate::sip::{ascii, put_decimal};

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
    /// Contacts of ours from earlier flows, removed in the same request (`expires=0`, after our
    /// Contact; RFC 3261 §10.2.2, as pjsip's registration client does when its address changed).
    /// They carry no `+sip.instance`, so a registrar that matches by instance does not remove the
    /// binding the request makes; ours comes first, because some registrars (Kamailio's
    /// `insert_contacts`) take the instance of a new record from the first Contact.
    pub remove: &'a [(Transport, SocketAddr)],
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

/// `host:port` as in a SIP URI or Via: IPv6 addresses in brackets (RFC 3261 §25.1).
#[must_use]
pub fn host_port(addr: SocketAddr) -> String {
    let mut out = Vec::with_capacity(48);
    put_host_port(&mut out, addr);
    ascii(out)
}

/// Appends `host:port` of `addr` to `out`, as [`host_port`] writes it.
pub fn put_host_port(out: &mut Vec<u8>, addr: SocketAddr) {
    match addr.ip() {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                put_decimal(out, octet.into());
            }
        }
        IpAddr::V6(v6) => {
            use std::io::Write as _;
            // Writing into a Vec cannot fail.
            let _ = write!(out, "[{v6}]");
        }
    }
    out.push(b':');
    put_decimal(out, addr.port().into());
}

impl Register<'_> {
    /// Renders the request as it goes on the wire, in one buffer, byte for byte as rsip renders the
    /// same request (a test holds it to that): a storm builds tens of thousands a second, and rsip's
    /// model costs a dozen allocations per request, the formatting machinery a few thousand
    /// instructions.
    #[must_use]
    pub fn build(&self) -> Vec<u8> {
        let auth: usize = self.authorization.iter().map(|(_, v)| v.len() + 24).sum();
        let mut out = Vec::with_capacity(
            560 + auth + 3 * (self.user.len() + self.domain.len()) + self.instance.len(),
        );
        let put = |out: &mut Vec<u8>, parts: &[&str]| {
            for p in parts {
                out.extend_from_slice(p.as_bytes());
            }
        };
        let (user, domain) = (self.user, self.domain);
        // §10.2: the Request-URI names the domain of the registrar, without a user part. §8.1.1.7 and
        // RFC 3581 §3: our sent-by, a fresh branch, and rport so the server answers the source.
        put(
            &mut out,
            &["REGISTER sip:", domain, " SIP/2.0\r\nVia: SIP/2.0/"],
        );
        put(&mut out, &[self.transport.via_name(), " "]);
        put_host_port(&mut out, self.local);
        put(
            &mut out,
            &[";branch=", self.branch, ";rport\r\nMax-Forwards: 70\r\n"],
        );
        put(
            &mut out,
            &["From: <sip:", user, "@", domain, ">;tag=", self.from_tag],
        );
        put(
            &mut out,
            &["\r\nTo: <sip:", user, "@", domain, ">\r\nCall-ID: "],
        );
        put(&mut out, &[self.call_id, "\r\nCSeq: "]);
        put_decimal(&mut out, self.cseq.into());
        put(&mut out, &[" REGISTER\r\nContact: <sip:", user, "@"]);
        put_host_port(&mut out, self.local);
        put(&mut out, &[transport_param(self.transport), ">;expires="]);
        put_decimal(&mut out, self.expires.into());
        put(&mut out, &[";+sip.instance=\"<", self.instance, ">\"\r\n"]);
        for (transport, local) in self.remove {
            put(&mut out, &["Contact: <sip:", user, "@"]);
            put_host_port(&mut out, *local);
            put(&mut out, &[transport_param(*transport), ">;expires=0\r\n"]);
        }
        put(&mut out, &["Expires: "]);
        put_decimal(&mut out, self.expires.into());
        put(&mut out, &["\r\n"]);
        for (kind, value) in self.authorization {
            let name = match kind {
                AuthHeader::Authorization => "Authorization: ",
                AuthHeader::ProxyAuthorization => "Proxy-Authorization: ",
            };
            put(&mut out, &[name, value, "\r\n"]);
        }
        put(
            &mut out,
            &[concat!(
                "User-Agent: sipreg/",
                env!("CARGO_PKG_VERSION"),
                "\r\nContent-Length: 0\r\n\r\n"
            )],
        );
        out
    }
}

/// The Contact URI's `;transport=` parameter: none for UDP, the default (RFC 3261 §19.1.1).
#[must_use]
pub fn transport_param(transport: Transport) -> &'static str {
    match transport {
        Transport::Udp => "",
        Transport::Tcp => ";transport=tcp",
        Transport::Tls => ";transport=tls",
        // RFC 7118 §5.2.
        Transport::Ws => ";transport=ws",
        Transport::Wss => ";transport=wss",
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
    /// CSeq number: 1, then 2 for the request that answers a challenge (§8.1.3.5).
    pub cseq: u32,
    /// The answer to the registrar's challenge, if it sent one (§22.2).
    pub authorization: Option<(AuthHeader, &'a str)>,
}

impl Options<'_> {
    /// Renders the request as it goes on the wire.
    #[must_use]
    pub fn build(&self) -> Vec<u8> {
        let aor = format!("sip:{}@{}", self.user, self.domain);
        let auth = match self.authorization {
            Some((AuthHeader::Authorization, v)) => format!("Authorization: {v}\r\n"),
            Some((AuthHeader::ProxyAuthorization, v)) => format!("Proxy-Authorization: {v}\r\n"),
            None => String::new(),
        };
        format!(
            "OPTIONS {aor} SIP/2.0\r\n\
             Via: SIP/2.0/{} {};branch={};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <{aor}>;tag={}\r\n\
             To: <{aor}>\r\n\
             Call-ID: {}\r\n\
             CSeq: {} OPTIONS\r\n{auth}\
             Contact: <sip:{}@{}>\r\n\
             Accept: application/sdp\r\n\
             User-Agent: sipreg/{}\r\n\
             Content-Length: 0\r\n\r\n",
            self.transport.via_name(),
            host_port(self.local),
            self.branch,
            self.from_tag,
            self.call_id,
            self.cseq,
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
            remove: &[],
        }
        .build()
    }

    use rsip::{
        Header, Headers, Method, Request, Scheme, Version,
        common::uri::{Host, HostWithPort, Uri},
        headers::{self, UntypedHeader},
    };

    /// The same REGISTER in rsip's model: the reference for `build`.
    fn rsip_request(r: &Register) -> Request {
        // rsip renders an IPv6 `IpAddr` without brackets, so hosts go in as domains, printed verbatim.
        let uri = Uri {
            scheme: Some(Scheme::Sip),
            host_with_port: HostWithPort::from(Host::Domain(r.domain.into())),
            ..Default::default()
        };
        let aor = format!("sip:{}@{}", r.user, r.domain);
        let contact_uri = format!(
            "sip:{}@{}{}",
            r.user,
            host_port(r.local),
            transport_param(r.transport)
        );
        let mut hs = Headers::default();
        hs.push(Header::Via(headers::Via::new(format!(
            "SIP/2.0/{} {};branch={};rport",
            r.transport.via_name(),
            host_port(r.local),
            r.branch
        ))));
        hs.push(Header::MaxForwards(headers::MaxForwards::new("70")));
        hs.push(Header::From(headers::From::new(format!(
            "<{aor}>;tag={}",
            r.from_tag
        ))));
        hs.push(Header::To(headers::To::new(format!("<{aor}>"))));
        hs.push(Header::CallId(headers::CallId::new(r.call_id)));
        hs.push(Header::CSeq(headers::CSeq::new(format!(
            "{} REGISTER",
            r.cseq
        ))));
        hs.push(Header::Contact(headers::Contact::new(format!(
            "<{}>;expires={};+sip.instance=\"<{}>\"",
            contact_uri, r.expires, r.instance
        ))));
        hs.push(Header::Expires(headers::Expires::new(
            r.expires.to_string(),
        )));
        for (kind, value) in r.authorization {
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
        Request {
            method: Method::Register,
            uri,
            version: Version::V2,
            headers: hs,
            body: Vec::new(),
        }
    }

    #[test]
    fn host_port_is_what_display_writes() {
        for a in [
            "0.0.0.0:0",
            "127.0.0.1:5060",
            "10.20.255.1:65535",
            "[::1]:5061",
            "[2001:db8::7]:1",
        ] {
            let addr: SocketAddr = a.parse().unwrap();
            assert_eq!(host_port(addr), addr.to_string());
        }
    }

    #[test]
    fn written_as_rsip_renders_it() {
        let both = [
            (
                AuthHeader::Authorization,
                "Digest username=\"alice\", nc=00000001".to_string(),
            ),
            (
                AuthHeader::ProxyAuthorization,
                "Digest username=\"bob\"".to_string(),
            ),
        ];
        let cases = [
            (
                Transport::Udp,
                "example.com",
                "10.0.0.5:40000",
                600,
                &both[..0],
            ),
            (
                Transport::Tcp,
                "pbx.example.com",
                "[2001:db8::5]:5062",
                0,
                &both[..1],
            ),
            (
                Transport::Tls,
                "[2001:db8::1]",
                "192.0.2.9:5061",
                3600,
                &both[..],
            ),
        ];
        for (transport, domain, local, expires, authorization) in cases {
            let register = Register {
                transport,
                domain,
                user: "alice",
                local: local.parse().unwrap(),
                call_id: "cid1@x",
                from_tag: "tag1",
                cseq: 7,
                branch: "z9hG4bKabc",
                expires,
                authorization,
                instance: "urn:uuid:00000000-0000-4000-8000-000000000001",
                remove: &[],
            };
            let ours = String::from_utf8(register.build()).unwrap();
            assert_eq!(ours, rsip_request(&register).to_string());
        }
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
    fn contacts_of_earlier_flows_are_removed_after_ours_without_the_instance() {
        let remove = [
            (Transport::Tcp, "10.0.0.5:40001".parse().unwrap()),
            (Transport::Udp, "[2001:db8::5]:5062".parse().unwrap()),
        ];
        let text = String::from_utf8(
            Register {
                transport: Transport::Tcp,
                domain: "example.com",
                user: "alice",
                local: "10.0.0.5:40002".parse().unwrap(),
                call_id: "cid1",
                from_tag: "tag1",
                cseq: 9,
                branch: "z9hG4bKabc",
                expires: 600,
                authorization: &[],
                instance: "urn:uuid:00000000-0000-4000-8000-000000000001",
                remove: &remove,
            }
            .build(),
        )
        .unwrap();
        let contacts: Vec<&str> = text.lines().filter(|l| l.starts_with("Contact:")).collect();
        assert_eq!(
            contacts,
            [
                "Contact: <sip:alice@10.0.0.5:40002;transport=tcp>;expires=600;+sip.instance=\"<urn:uuid:00000000-0000-4000-8000-000000000001>\"",
                "Contact: <sip:alice@10.0.0.5:40001;transport=tcp>;expires=0",
                "Contact: <sip:alice@[2001:db8::5]:5062>;expires=0",
            ],
            "{text}"
        );
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
                cseq: 1,
                authorization: None,
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

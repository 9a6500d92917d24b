//! The loopback registrar of `sipreg demo`: UDP answers REGISTER (RFC 3261 §10.3), TCP on the same port is refused.
//!
//! A reply echoes Via (with `received` and `rport`, RFC 3581 §4), From, To (plus a tag), Call-ID and
//! CSeq, and grants the requested Contact. [`Request`] and [`refusing_tcp`] are public so that other
//! loopback servers (the test server) answer and refuse the same way.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use tokio::net::{TcpSocket, UdpSocket};
use tokio::task::JoinHandle;

use crate::sip::framing::header_end;

/// The parts of a SIP request a registrar needs: request line and headers (names in lower case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method, such as `REGISTER`.
    pub method: String,
    /// The Request-URI as sent.
    pub uri: String,
    headers: Vec<(String, String)>,
}

impl Request {
    /// Reads the request line and headers of `bytes`; `None` when there is no request line.
    #[must_use]
    pub fn parse(bytes: &[u8]) -> Option<Request> {
        let end = header_end(bytes).map_or(bytes.len(), |(e, _)| e);
        let text = std::str::from_utf8(&bytes[..end]).ok()?;
        let mut lines = text.lines();
        let mut first = lines.next()?.split_whitespace();
        let method = first.next()?.to_string();
        let uri = first.next()?.to_string();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Some(Request {
            method,
            uri,
            headers,
        })
    }

    /// The first value of the header `name` (lower case).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every Contact value of the request, in order.
    pub fn contacts(&self) -> impl Iterator<Item = &str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == "contact" || n == "m")
            .map(|(_, v)| v.as_str())
    }

    /// The Contact and Expires header lines of a 2xx that grants the requested bindings (§10.3
    /// step 8): every Contact of the request but those it removes (`expires=0`), each with its
    /// lifetime, as a registrar that lists only the request's Contacts answers.
    #[must_use]
    pub fn binding(&self) -> Vec<String> {
        let expires = self.header("expires").unwrap_or("3600");
        let mut lines = Vec::new();
        for contact in self.contacts() {
            let params: Vec<&str> = crate::sip::header::split_top_level(contact, ';').collect();
            let own = params.iter().find_map(|p| {
                p.trim()
                    .to_ascii_lowercase()
                    .strip_prefix("expires=")
                    .map(str::to_string)
            });
            let granted = own.unwrap_or_else(|| expires.to_string());
            if granted == "0" {
                continue;
            }
            // The Contact as sent (URI and header parameters such as +sip.instance), with the
            // lifetime granted in place of the one asked for (§10.3 step 8).
            let kept: Vec<&str> = params
                .into_iter()
                .filter(|p| !p.trim().to_ascii_lowercase().starts_with("expires="))
                .collect();
            lines.push(format!("Contact: {};expires={granted}", kept.join(";")));
        }
        lines.push(format!("Expires: {expires}"));
        lines
    }

    /// A response with `status`, `reason` and `extra` header lines (without CRLF), as seen from
    /// `source`: the top Via gets `received` and a filled-in `rport`, To gets a tag.
    #[must_use]
    pub fn reply(&self, source: SocketAddr, status: u16, reason: &str, extra: &[String]) -> String {
        let mut out = format!("SIP/2.0 {status} {reason}\r\n");
        let mut first_via = true;
        for (name, value) in &self.headers {
            match name.as_str() {
                "via" => {
                    let mut v = value.clone();
                    if first_via {
                        // RFC 3581 §4: fill in rport and received with the source we saw.
                        v = v.replace(";rport", &format!(";rport={}", source.port()));
                        v.push_str(&format!(";received={}", source.ip()));
                        first_via = false;
                    }
                    out.push_str(&format!("Via: {v}\r\n"));
                }
                "from" => out.push_str(&format!("From: {value}\r\n")),
                "to" => out.push_str(&format!("To: {value};tag=sipreg-registrar\r\n")),
                "call-id" => out.push_str(&format!("Call-ID: {value}\r\n")),
                "cseq" => out.push_str(&format!("CSeq: {value}\r\n")),
                _ => {}
            }
        }
        for e in extra {
            out.push_str(e);
            out.push_str("\r\n");
        }
        out.push_str("Server: sipreg-registrar\r\nContent-Length: 0\r\n\r\n");
        out
    }

    /// The demo's answer: 200 OK granting the binding to a REGISTER, 405 to any other method.
    #[must_use]
    pub fn answer(&self, source: SocketAddr) -> String {
        if self.method == "REGISTER" {
            self.reply(source, 200, "OK", &self.binding())
        } else {
            self.reply(source, 405, "Method Not Allowed", &[])
        }
    }
}

/// A TCP socket bound to `addr` that never listens: a connect to it is refused, and no other socket
/// can take the port while it lives.
///
/// # Errors
/// When the port cannot be bound.
pub fn refusing_tcp(addr: SocketAddr) -> std::io::Result<TcpSocket> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.bind(addr)?;
    Ok(socket)
}

/// Binds UDP on a free port of `ip` and, with `tcp`, the TCP side of the same port; tries other
/// ports while the TCP side is taken.
///
/// # Errors
/// When no UDP port can be bound, or the TCP side fails on every port tried.
pub async fn bind_sip_port<T>(
    ip: IpAddr,
    tcp: impl Fn(SocketAddr) -> std::io::Result<T>,
) -> std::io::Result<(UdpSocket, T)> {
    let mut last_err = None;
    for _ in 0..50 {
        let udp = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
        match tcp(udp.local_addr()?) {
            Ok(t) => return Ok((udp, t)),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| std::io::Error::other("no free port")))
}

/// The running demo registrar on 127.0.0.1; it stops when dropped.
pub struct Registrar {
    /// The SIP port: UDP answers, TCP is refused.
    pub sip_addr: SocketAddr,
    task: JoinHandle<()>,
    _refusing: TcpSocket,
}

impl Registrar {
    /// Binds and starts serving on the current tokio runtime.
    ///
    /// # Errors
    /// When no loopback port can be bound.
    pub async fn start() -> std::io::Result<Registrar> {
        let (udp, refusing) = bind_sip_port(IpAddr::V4(Ipv4Addr::LOCALHOST), refusing_tcp).await?;
        let sip_addr = udp.local_addr()?;
        Ok(Registrar {
            sip_addr,
            task: tokio::spawn(serve(udp)),
            _refusing: refusing,
        })
    }
}

impl Drop for Registrar {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Answers every request that arrives on `socket`.
async fn serve(socket: UdpSocket) {
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((n, source)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        if let Some(request) = Request::parse(&buf[..n]) {
            let _ = socket
                .send_to(request.answer(source).as_bytes(), source)
                .await;
        }
    }
}

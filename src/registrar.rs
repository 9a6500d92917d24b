//! A small registrar on loopback (UDP, TCP, TLS, mutual TLS) for `sipreg demo` and the tests.
//!
//! It answers REGISTER by RFC 3261 §10.3 in outline: echoes Via (with `received` and `rport`, RFC 3581
//! §4), From, To (plus a tag), Call-ID and CSeq, and grants the requested Contact. Behaviours let tests
//! script refusals, silence, challenges and rejections. It keeps a log of every request it saw.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

use crate::model::Transport;
use crate::sip::digest::{self, Challenge, Credentials};
use crate::sip::framing::{StreamFramer, header_end};
use crate::sip::response::split_top_level;

/// How the registrar answers a REGISTER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behaviour {
    /// 200 OK with the requested Contact and Expires.
    Accept,
    /// A final response with this status (403, 404, 503, ...).
    Reject(u16),
    /// Never answer.
    Silent,
    /// On streams, close the connection instead of answering; on UDP, stay silent.
    Close,
    /// Challenge with 401 (MD5, qop=auth) and accept only `user` with `password`.
    Challenge {
        /// The user name that may register.
        user: String,
        /// Its password.
        password: String,
    },
    /// Answer the n-th request with the n-th reply; the last one repeats.
    Script(Vec<Canned>),
}

/// A scripted reply. A 2xx also carries the requested Contact and Expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canned {
    /// Status code.
    pub status: u16,
    /// Reason phrase.
    pub reason: String,
    /// Extra header lines, without CRLF.
    pub headers: Vec<String>,
}

impl Canned {
    /// A reply with `status`, `reason` and extra header lines.
    #[must_use]
    pub fn new(status: u16, reason: &str, headers: &[&str]) -> Self {
        Self {
            status,
            reason: reason.to_string(),
            headers: headers.iter().map(ToString::to_string).collect(),
        }
    }
}

/// What to do on the TCP side of the SIP port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpMode {
    /// Listen and answer.
    Listen,
    /// Nothing listens: a connect is refused.
    Refuse,
    /// A listener whose accept queue is full: further SYNs are dropped and a connect hangs.
    Blackhole,
}

/// Registrar set-up.
#[derive(Clone)]
pub struct Options {
    /// Address to bind, normally 127.0.0.1.
    pub ip: IpAddr,
    /// Answer on UDP.
    pub udp: bool,
    /// The TCP side of the SIP port.
    pub tcp: TcpMode,
    /// Serve TLS with this configuration on a port of its own.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// How to answer.
    pub behaviour: Behaviour,
    /// Pretend to see requests from this address in Via `received`/`rport`, as a server behind NAT does.
    pub nat: Option<SocketAddr>,
}

/// What the serving tasks share.
struct Shared {
    behaviour: Behaviour,
    nat: Option<SocketAddr>,
    /// Nonces this registrar issued; credentials must answer one of them.
    nonces: Mutex<Vec<String>>,
    /// The answer given to each request (by Call-ID, CSeq and branch), so a retransmission gets the
    /// same answer and does not advance a script (RFC 3261 §17.2.2).
    answers: Mutex<Vec<(String, Option<String>)>>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            udp: true,
            tcp: TcpMode::Listen,
            tls: None,
            behaviour: Behaviour::Accept,
            nat: None,
        }
    }
}

/// One request the registrar received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Transport it came over.
    pub transport: Transport,
    /// The source address.
    pub peer: SocketAddr,
    /// CSeq number.
    pub cseq: u32,
    /// The Call-ID.
    pub call_id: String,
    /// The Expires header value.
    pub expires: Option<u32>,
    /// The Contact value.
    pub contact: String,
    /// The Authorization header value, if any.
    pub authorization: Option<String>,
    /// The Proxy-Authorization header value, if any.
    pub proxy_authorization: Option<String>,
    /// A retransmission of an earlier request (same Call-ID, CSeq and branch).
    pub retransmission: bool,
}

/// A running registrar.
pub struct Registrar {
    /// The SIP port (UDP and, unless refused, TCP).
    pub sip_addr: SocketAddr,
    /// The TLS address, when TLS is served.
    pub tls_addr: Option<SocketAddr>,
    log: Arc<Mutex<Vec<Seen>>>,
    tasks: Vec<JoinHandle<()>>,
    _hold: Vec<TcpStream>,
    _closed: (Option<UdpSocket>, Option<TcpSocket>),
}

impl Drop for Registrar {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Registrar {
    /// Binds and starts serving on the current tokio runtime.
    ///
    /// # Errors
    /// When no loopback port can be bound.
    pub async fn start(opts: Options) -> std::io::Result<Registrar> {
        let log = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::new(Shared {
            behaviour: opts.behaviour.clone(),
            nat: opts.nat,
            nonces: Mutex::new(Vec::new()),
            answers: Mutex::new(Vec::new()),
        });
        let mut tasks = Vec::new();
        let mut hold = Vec::new();
        let (udp, tcp, sip_addr, refusing) = bind_sip_port(opts.ip, opts.tcp).await?;
        let mut closed_udp = None;
        if opts.udp {
            let udp = Arc::new(udp);
            tasks.push(tokio::spawn(serve_udp(udp, shared.clone(), log.clone())));
        } else {
            // Keep the port, but connected elsewhere: datagrams from anyone else get ICMP port
            // unreachable, and no other socket can take the port meanwhile.
            udp.connect(SocketAddr::new(opts.ip, 9)).await?;
            closed_udp = Some(udp);
        }
        match (opts.tcp, tcp) {
            (TcpMode::Listen, Some(l)) => {
                tasks.push(tokio::spawn(serve_tcp(
                    l,
                    None,
                    shared.clone(),
                    log.clone(),
                )));
            }
            (TcpMode::Blackhole, Some(l)) => {
                hold = fill_accept_queue(sip_addr).await;
                // Keep the listener open and never accept.
                tasks.push(tokio::spawn(async move {
                    let _l = l;
                    std::future::pending::<()>().await;
                }));
            }
            _ => {}
        }
        let tls_addr = match &opts.tls {
            Some(cfg) => {
                let l = TcpListener::bind(SocketAddr::new(opts.ip, 0)).await?;
                let addr = l.local_addr()?;
                let acceptor = tokio_rustls::TlsAcceptor::from(cfg.clone());
                tasks.push(tokio::spawn(serve_tcp(
                    l,
                    Some(acceptor),
                    shared.clone(),
                    log.clone(),
                )));
                Some(addr)
            }
            None => None,
        };
        Ok(Registrar {
            sip_addr,
            tls_addr,
            log,
            tasks,
            _hold: hold,
            _closed: (closed_udp, refusing),
        })
    }

    /// Every request seen so far, without retransmissions.
    #[must_use]
    pub fn seen(&self) -> Vec<Seen> {
        self.seen_all()
            .into_iter()
            .filter(|s| !s.retransmission)
            .collect()
    }

    /// Every datagram or message seen so far, retransmissions included.
    #[must_use]
    pub fn seen_all(&self) -> Vec<Seen> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

/// Binds UDP on a free port and TCP on the same port (unless TCP is to be refused).
#[allow(clippy::type_complexity)]
async fn bind_sip_port(
    ip: IpAddr,
    mode: TcpMode,
) -> std::io::Result<(
    UdpSocket,
    Option<TcpListener>,
    SocketAddr,
    Option<TcpSocket>,
)> {
    let mut last_err = None;
    for _ in 0..50 {
        let udp = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
        let addr = udp.local_addr()?;
        let tcp = match mode {
            // Bound but not listening: a SYN gets a reset, and no one else can take the port.
            TcpMode::Refuse => match refusing_socket(addr) {
                Ok(socket) => return Ok((udp, None, addr, Some(socket))),
                Err(e) => Err(e),
            },
            TcpMode::Listen => TcpListener::bind(addr).await,
            TcpMode::Blackhole => {
                let socket = if ip.is_ipv4() {
                    TcpSocket::new_v4()?
                } else {
                    TcpSocket::new_v6()?
                };
                socket.bind(addr).and_then(|()| socket.listen(1))
            }
        };
        match tcp {
            Ok(l) => return Ok((udp, Some(l), addr, None)),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| std::io::Error::other("no free port")))
}

/// Connects to a listener that never accepts until its queue is full: the connect that times out
/// proves that the next SYN is dropped.
async fn fill_accept_queue(addr: SocketAddr) -> Vec<TcpStream> {
    let mut held = Vec::new();
    for _ in 0..64 {
        match tokio::time::timeout(Duration::from_millis(500), TcpStream::connect(addr)).await {
            Ok(Ok(s)) => held.push(s),
            _ => break,
        }
    }
    held
}

fn refusing_socket(addr: SocketAddr) -> std::io::Result<TcpSocket> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.bind(addr)?;
    Ok(socket)
}

/// A loopback TCP port where nothing listens, held for as long as the value lives: a connect to it
/// is refused, and no other socket can take the port meanwhile.
pub struct RefusingPort {
    /// The port number.
    pub port: u16,
    _socket: TcpSocket,
}

/// Reserves a [`RefusingPort`] on 127.0.0.1.
///
/// # Errors
/// When no port can be bound.
pub fn refusing_tcp_port() -> std::io::Result<RefusingPort> {
    let socket = refusing_socket(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0))?;
    let port = socket.local_addr()?.port();
    Ok(RefusingPort {
        port,
        _socket: socket,
    })
}

/// Runs a registrar on a runtime of its own in a background thread, for synchronous tests.
pub struct Background {
    registrar: Registrar,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Background {
    /// Starts the registrar.
    ///
    /// # Errors
    /// When the runtime cannot start or no port can be bound.
    pub fn start(opts: Options) -> std::io::Result<Background> {
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            rt.block_on(async move {
                match Registrar::start(opts).await {
                    Ok(r) => {
                        let _ = tx.send(Ok(r));
                        let _ = stopped.await;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            });
        });
        let registrar = rx
            .recv()
            .map_err(|_| std::io::Error::other("registrar thread ended"))??;
        Ok(Background {
            registrar,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl std::ops::Deref for Background {
    type Target = Registrar;
    fn deref(&self) -> &Registrar {
        &self.registrar
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve_udp(socket: Arc<UdpSocket>, behaviour: Arc<Shared>, log: Arc<Mutex<Vec<Seen>>>) {
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let Some(req) = Request::parse(&buf[..n]) else {
            continue;
        };
        if let Some(answer) = answer(&req, Transport::Udp, peer, &behaviour, &log) {
            let _ = socket.send_to(answer.as_bytes(), peer).await;
        }
    }
}

async fn serve_tcp(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    behaviour: Arc<Shared>,
    log: Arc<Mutex<Vec<Seen>>>,
) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let behaviour = behaviour.clone();
        let log = log.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                Some(acceptor) => {
                    if let Ok(s) = acceptor.accept(stream).await {
                        serve_stream(s, Transport::Tls, peer, &behaviour, &log).await;
                    }
                }
                None => serve_stream(stream, Transport::Tcp, peer, &behaviour, &log).await,
            }
        });
    }
}

async fn serve_stream<S: AsyncRead + AsyncWrite + Unpin>(
    mut io: S,
    transport: Transport,
    peer: SocketAddr,
    behaviour: &Shared,
    log: &Mutex<Vec<Seen>>,
) {
    let mut framer = StreamFramer::new();
    let mut chunk = [0u8; 4096];
    loop {
        loop {
            let message = match framer.next_message() {
                Ok(Some(m)) => m,
                Ok(None) => break,
                // A stream that cannot be framed is closed: memory stays bounded.
                Err(_) => return,
            };
            let Some(req) = Request::parse(&message) else {
                continue;
            };
            if behaviour.behaviour == Behaviour::Close {
                let _ = record(&req, transport, peer, log, false);
                return;
            }
            if let Some(answer) = answer(&req, transport, peer, behaviour, log) {
                if io.write_all(answer.as_bytes()).await.is_err() {
                    return;
                }
            }
        }
        match io.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => framer.push(&chunk[..n]),
        }
    }
}

/// The parts of a request the registrar needs.
struct Request {
    method: String,
    uri: String,
    headers: Vec<(String, String)>,
}

impl Request {
    fn parse(bytes: &[u8]) -> Option<Request> {
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

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What identifies a request for retransmission detection: Call-ID, CSeq and top Via branch.
fn request_key(req: &Request) -> String {
    let branch = req
        .header("via")
        .and_then(|v| v.split(';').find_map(|p| p.trim().strip_prefix("branch=")))
        .unwrap_or_default();
    format!(
        "{}|{}|{branch}",
        req.header("call-id").unwrap_or_default(),
        req.header("cseq").unwrap_or_default()
    )
}

/// Logs a request; returns its index among the requests seen, retransmissions not counted.
fn record(
    req: &Request,
    transport: Transport,
    peer: SocketAddr,
    log: &Mutex<Vec<Seen>>,
    retransmission: bool,
) -> usize {
    let seen = Seen {
        retransmission,
        transport,
        peer,
        cseq: req
            .header("cseq")
            .and_then(|c| c.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
        call_id: req.header("call-id").unwrap_or_default().to_string(),
        expires: req.header("expires").and_then(|e| e.parse().ok()),
        contact: req.header("contact").unwrap_or_default().to_string(),
        authorization: req.header("authorization").map(str::to_string),
        proxy_authorization: req.header("proxy-authorization").map(str::to_string),
    };
    match log.lock() {
        Ok(mut l) => {
            l.push(seen);
            l.iter()
                .filter(|s| !s.retransmission)
                .count()
                .saturating_sub(1)
        }
        Err(_) => 0,
    }
}

/// The registrar's answer, or `None` to stay silent.
fn answer(
    req: &Request,
    transport: Transport,
    peer: SocketAddr,
    shared: &Shared,
    log: &Mutex<Vec<Seen>>,
) -> Option<String> {
    let key = request_key(req);
    let earlier = shared
        .answers
        .lock()
        .ok()
        .and_then(|a| a.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone()));
    if let Some(previous) = earlier {
        let _ = record(req, transport, peer, log, true);
        return previous;
    }
    let index = record(req, transport, peer, log, false);
    let reply = fresh_answer(req, index, peer, shared);
    if let Ok(mut a) = shared.answers.lock() {
        a.push((key, reply.clone()));
    }
    reply
}

/// The answer to a request seen for the first time.
fn fresh_answer(req: &Request, index: usize, peer: SocketAddr, shared: &Shared) -> Option<String> {
    let behaviour = &shared.behaviour;
    let peer = shared.nat.unwrap_or(peer);
    if req.method != "REGISTER" {
        return Some(response(req, peer, 405, "Method Not Allowed", &[]));
    }
    match behaviour {
        Behaviour::Silent | Behaviour::Close => None,
        Behaviour::Accept => Some(ok(req, peer)),
        Behaviour::Reject(code) => {
            let reason = match code {
                403 => "Forbidden",
                404 => "Not Found",
                503 => "Service Unavailable",
                _ => "Rejected",
            };
            Some(response(req, peer, *code, reason, &[]))
        }
        Behaviour::Script(replies) => {
            let reply = replies.get(index).or(replies.last())?;
            let extra = reply.headers.clone();
            if (200..300).contains(&reply.status) {
                let mut all = ok_headers(req);
                all.extend(extra);
                Some(response(req, peer, reply.status, &reply.reason, &all))
            } else {
                Some(response(req, peer, reply.status, &reply.reason, &extra))
            }
        }
        Behaviour::Challenge { user, password } => {
            let authorized = req.header("authorization").is_some_and(|a| {
                let issued = shared.nonces.lock().map(|n| n.clone()).unwrap_or_default();
                check_digest(a, req, user, password, &issued)
            });
            if authorized {
                Some(ok(req, peer))
            } else {
                let nonce = crate::sip::random_hex(12);
                if let Ok(mut n) = shared.nonces.lock() {
                    n.push(nonce.clone());
                }
                let challenge = format!(
                    "WWW-Authenticate: Digest realm=\"sipreg\", nonce=\"{nonce}\", qop=\"auth\", algorithm=MD5"
                );
                Some(response(req, peer, 401, "Unauthorized", &[challenge]))
            }
        }
    }
}

fn ok_headers(req: &Request) -> Vec<String> {
    let expires = req.header("expires").unwrap_or("3600");
    let contact = req.header("contact").unwrap_or_default();
    let contact_uri = contact.split(';').next().unwrap_or_default();
    vec![
        format!("Contact: {contact_uri};expires={expires}"),
        format!("Expires: {expires}"),
    ]
}

fn ok(req: &Request, peer: SocketAddr) -> String {
    response(req, peer, 200, "OK", &ok_headers(req))
}

fn response(
    req: &Request,
    peer: SocketAddr,
    status: u16,
    reason: &str,
    extra: &[String],
) -> String {
    let mut out = format!("SIP/2.0 {status} {reason}\r\n");
    let mut first_via = true;
    for (name, value) in &req.headers {
        match name.as_str() {
            "via" => {
                let mut v = value.clone();
                if first_via {
                    // RFC 3581 §4: fill in rport and received with the source we saw.
                    v = v.replace(";rport", &format!(";rport={}", peer.port()));
                    v.push_str(&format!(";received={}", peer.ip()));
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

/// Checks an Authorization value against the user and password (RFC 3261 §22.4), recomputing the
/// response with the same digest code the client uses.
fn check_digest(value: &str, req: &Request, user: &str, password: &str, issued: &[String]) -> bool {
    let method = req.method.as_str();
    let Ok(ch) = Challenge::parse(value) else {
        return false;
    };
    let body = value.trim().get(6..).unwrap_or_default();
    let mut params = std::collections::HashMap::new();
    for p in split_top_level(body, ',') {
        if let Some((k, v)) = p.split_once('=') {
            params.insert(
                k.trim().to_ascii_lowercase(),
                v.trim().trim_matches('"').to_string(),
            );
        }
    }
    let get = |k: &str| params.get(k).map(String::as_str).unwrap_or_default();
    // The credentials must name our user, answer a nonce we issued, and cover the Request-URI
    // exactly as sent (RFC 3261 §22.4).
    if get("username") != user || !issued.iter().any(|n| n == &ch.nonce) || get("uri") != req.uri {
        return false;
    }
    let nc = u32::from_str_radix(get("nc"), 16).unwrap_or(0);
    let expected = digest::response(
        &ch,
        &Credentials {
            username: user,
            password,
        },
        method,
        get("uri"),
        nc,
        get("cnonce"),
    );
    expected == get("response")
}

//! The one scriptable test server on loopback (UDP, TCP, TLS, mutual TLS), run on a thread of its own.
//!
//! Every behaviour is a list of [`Step`]s per request: the named ones (accept, reject, challenge, ...)
//! answer through [`sipreg::registrar::Request`] as the demo registrar does; [`Behaviour::Raw`] lets a
//! test send any bytes (spoiled replies, noise, drips, resets). It logs every request it saw.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sipreg::model::Transport;
use sipreg::registrar::{Request, bind_sip_port, refusing_tcp};
use sipreg::sip::digest::{self, Challenge, Credentials};
use sipreg::sip::framing::{Frame, StreamFramer};
use sipreg::sip::header::split_top_level;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream, UdpSocket};

/// What the server does with one request, in order.
#[derive(Debug, Clone)]
pub enum Step {
    /// Send these bytes (one datagram on UDP).
    Send(Vec<u8>),
    /// On streams, send these bytes one at a time with a pause after each; on UDP, send them at once.
    Drip(Vec<u8>, Duration),
    /// On streams, close the connection; on UDP, nothing.
    Close,
    /// On TCP, close the connection with a reset; on UDP, nothing.
    Reset,
    /// On UDP, send these bytes from another port of the same address (a cluster or SBC answering
    /// from elsewhere); on streams, send them as usual.
    SendFromElsewhere(Vec<u8>),
    /// On UDP, send these bytes to this address (a proxy forwarding to a registered Contact); on
    /// streams, send them on the connection as usual.
    SendTo(SocketAddr, Vec<u8>),
}

/// A request as a script sees it.
pub struct Incoming {
    /// The request.
    pub request: Request,
    /// Where it came from (the NAT pretence, when set).
    pub source: SocketAddr,
    /// Its place among the requests seen, retransmissions not counted.
    pub index: usize,
}

impl Incoming {
    /// The `host:port` of the Contact of this request (a REGISTER's binding), when it is an
    /// address.
    pub fn contact_addr(&self) -> Option<SocketAddr> {
        let contact = self.request.header("contact")?;
        let uri = contact.split('<').nth(1)?.split('>').next()?;
        let host_port = uri.rsplit('@').next()?.split(';').next()?;
        host_port.parse().ok()
    }

    /// A response with `status`, `reason` and extra header lines.
    pub fn reply(&self, status: u16, reason: &str, extra: &[String]) -> Vec<u8> {
        self.request
            .reply(self.source, status, reason, extra)
            .into_bytes()
    }

    /// The demo registrar's answer: 200 OK with the binding (405 to other methods).
    pub fn ok(&self) -> Vec<u8> {
        self.request.answer(self.source).into_bytes()
    }

    /// The 200 OK with every `name` header line (any case) passed through `edit`: `None` drops the
    /// line, and a value may carry more lines after a CRLF.
    pub fn spoiled(&self, name: &str, edit: impl Fn(&str) -> Option<String>) -> Vec<u8> {
        let ok = self.request.answer(self.source);
        let mut out = String::new();
        for line in ok.split_inclusive("\r\n") {
            match line.split_once(':') {
                Some((n, v)) if n.eq_ignore_ascii_case(name) => {
                    if let Some(v) = edit(v.trim()) {
                        out.push_str(&format!("{n}: {v}\r\n"));
                    }
                }
                _ => out.push_str(line),
            }
        }
        out.into_bytes()
    }
}

/// A script: the steps that answer each request.
pub type Script = Arc<dyn Fn(&Incoming) -> Vec<Step> + Send + Sync>;

/// How the server answers.
#[derive(Clone)]
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
    /// Challenge every user; the password of user U is this prefix followed by U.
    ChallengeAll {
        /// The password prefix.
        prefix: String,
    },
    /// Answer the n-th request with the n-th reply; the last one repeats.
    Script(Vec<Canned>),
    /// Answer each request with the steps the script gives.
    Raw(Script),
    /// Answer the first bytes of each connection or datagram, unread, with these bytes (for
    /// TLS-level cases: a ClientHello answered by plaintext or an alert).
    Greet(Vec<u8>),
}

impl Behaviour {
    /// [`Behaviour::Raw`] from a closure.
    pub fn raw(script: impl Fn(&Incoming) -> Vec<Step> + Send + Sync + 'static) -> Behaviour {
        Behaviour::Raw(Arc::new(script))
    }

    /// 200 OK to every request; after the answer to request `index` (from 0, retransmissions not
    /// counted) the connection closes (nothing on UDP).
    pub fn close_after(index: usize) -> Behaviour {
        Behaviour::raw(move |r: &Incoming| {
            let mut steps = vec![Step::Send(r.ok())];
            if r.index == index {
                steps.push(Step::Close);
            }
            steps
        })
    }
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

/// Server set-up.
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
    /// Answer a CRLFCRLF ping on a stream with a CRLF pong (RFC 5626 §3.5.1).
    pub pong: bool,
    /// Answer only this many pings (over all connections), then stop answering: a registrar that
    /// answered keep-alives and then went silent.
    pub pong_limit: Option<usize>,
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
            pong: true,
            pong_limit: None,
        }
    }
}

/// One request the server received.
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
    /// The Contact values, joined by ", ".
    pub contact: String,
    /// The Authorization header value, if any.
    pub authorization: Option<String>,
    /// The Proxy-Authorization header value, if any.
    pub proxy_authorization: Option<String>,
    /// A retransmission of an earlier request (same Call-ID, CSeq and branch).
    pub retransmission: bool,
}

/// What the serving tasks share with the test.
struct Shared {
    behaviour: Behaviour,
    nat: Option<SocketAddr>,
    /// Nonces this server issued; credentials must answer one of them.
    nonces: Mutex<Vec<String>>,
    /// The steps that answered each request (by Call-ID, CSeq and branch), so a retransmission gets
    /// the same answer and does not advance a script (RFC 3261 §17.2.2).
    answers: Mutex<Vec<(String, Vec<Step>)>>,
    log: Mutex<Vec<Seen>>,
    pong: bool,
    pong_limit: Option<usize>,
    /// Keep-alive pings received on streams.
    pings: std::sync::atomic::AtomicUsize,
    /// The bindings a 2xx granted (Contact URI and when it runs out), removed by `expires=0`; not
    /// tied to any connection, as many registrars keep them.
    bindings: Mutex<Vec<(String, std::time::Instant)>>,
}

/// A thread with a tokio runtime of its own that keeps a server running until dropped.
pub struct Background {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Background {
    /// Runs `serve` on a new thread: it binds, spawns its tasks and returns what the caller needs
    /// (`T`) and what must stay alive (`H`). Dropping the `Background` drops `H` and ends every task.
    pub fn start<T, H, F>(
        serve: impl FnOnce() -> F + Send + 'static,
    ) -> std::io::Result<(Background, T)>
    where
        T: Send + 'static,
        F: Future<Output = std::io::Result<(T, H)>>,
    {
        let (ready, bound) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match rt {
                Ok(rt) => rt.block_on(async move {
                    match serve().await {
                        Ok((t, _held)) => {
                            let _ = ready.send(Ok(t));
                            let _ = stopped.await;
                        }
                        Err(e) => {
                            let _ = ready.send(Err(e));
                        }
                    }
                }),
                Err(e) => {
                    let _ = ready.send(Err(e));
                }
            }
        });
        let t = bound
            .recv()
            .map_err(|_| std::io::Error::other("server thread ended"))??;
        let background = Background {
            stop: Some(stop),
            thread: Some(thread),
        };
        Ok((background, t))
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

/// A running test server; it stops when dropped.
pub struct Server {
    /// The SIP port (UDP and, unless refused, TCP).
    pub sip_addr: SocketAddr,
    /// The TLS address, when TLS is served.
    pub tls_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
    _background: Background,
}

impl Server {
    /// Binds the ports and starts serving.
    pub fn start(opts: Options) -> std::io::Result<Server> {
        let shared = Arc::new(Shared {
            behaviour: opts.behaviour.clone(),
            nat: opts.nat,
            nonces: Mutex::default(),
            answers: Mutex::default(),
            log: Mutex::default(),
            pong: opts.pong,
            pong_limit: opts.pong_limit,
            pings: std::sync::atomic::AtomicUsize::new(0),
            bindings: Mutex::default(),
        });
        let serving = shared.clone();
        let (background, (sip_addr, tls_addr)) = Background::start(move || async move {
            let held = serve(opts, serving).await?;
            Ok(((held.sip_addr, held.tls_addr), held))
        })?;
        Ok(Server {
            sip_addr,
            tls_addr,
            shared,
            _background: background,
        })
    }

    /// Every request seen so far, without retransmissions.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen_all()
            .into_iter()
            .filter(|s| !s.retransmission)
            .collect()
    }

    /// The Contacts bound now: granted by a 2xx, not removed, not expired.
    pub fn bindings(&self) -> Vec<String> {
        let now = std::time::Instant::now();
        self.shared
            .bindings
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, until)| *until > now)
            .map(|(uri, _)| uri.clone())
            .collect()
    }

    /// Keep-alive pings received on streams.
    pub fn pings(&self) -> usize {
        self.shared.pings.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Every datagram or message seen so far, retransmissions included.
    pub fn seen_all(&self) -> Vec<Seen> {
        self.shared.log.lock().unwrap().clone()
    }
}

/// The addresses bound, and sockets held while the server runs.
struct Held {
    sip_addr: SocketAddr,
    tls_addr: Option<SocketAddr>,
    _sockets: (Option<UdpSocket>, Option<TcpSocket>, Vec<TcpStream>),
}

/// The TCP side of the SIP port.
enum TcpSide {
    Listener(TcpListener),
    Refusing(TcpSocket),
}

/// Binds the ports and spawns the serving tasks on the current runtime.
async fn serve(opts: Options, shared: Arc<Shared>) -> std::io::Result<Held> {
    let (udp, tcp) = bind_sip_port(opts.ip, |addr| match opts.tcp {
        // Bound but not listening: a SYN gets a reset, and no one else can take the port.
        TcpMode::Refuse => refusing_tcp(addr).map(TcpSide::Refusing),
        TcpMode::Listen => listen(addr, 1024).map(TcpSide::Listener),
        TcpMode::Blackhole => listen(addr, 1).map(TcpSide::Listener),
    })
    .await?;
    let sip_addr = udp.local_addr()?;
    let mut closed_udp = None;
    if opts.udp {
        tokio::spawn(serve_udp(udp, shared.clone()));
    } else {
        // Keep the port, but connected elsewhere: datagrams from anyone else get ICMP port
        // unreachable, and no other socket can take the port meanwhile.
        udp.connect(SocketAddr::new(opts.ip, 9)).await?;
        closed_udp = Some(udp);
    }
    let mut refusing = None;
    let mut queue = Vec::new();
    match tcp {
        TcpSide::Refusing(socket) => refusing = Some(socket),
        TcpSide::Listener(l) if opts.tcp == TcpMode::Blackhole => {
            queue = fill_accept_queue(sip_addr).await;
            // Keep the listener open and never accept.
            tokio::spawn(async move {
                let _l = l;
                std::future::pending::<()>().await;
            });
        }
        TcpSide::Listener(l) => {
            tokio::spawn(serve_tcp(l, None, shared.clone()));
        }
    }
    let tls_addr = match opts.tls {
        Some(cfg) => {
            let l = TcpListener::bind(SocketAddr::new(opts.ip, 0)).await?;
            let addr = l.local_addr()?;
            let acceptor = tokio_rustls::TlsAcceptor::from(cfg);
            tokio::spawn(serve_tcp(l, Some(acceptor), shared));
            Some(addr)
        }
        None => None,
    };
    Ok(Held {
        sip_addr,
        tls_addr,
        _sockets: (closed_udp, refusing, queue),
    })
}

/// A listener on `addr` with this accept queue length.
fn listen(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
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

/// A loopback TCP port where nothing listens, held for as long as the value lives: a connect to it
/// is refused, and no other socket can take the port meanwhile.
pub struct RefusingPort {
    /// The port number.
    pub port: u16,
    _socket: TcpSocket,
}

/// Reserves a [`RefusingPort`] on 127.0.0.1.
pub fn refusing_tcp_port() -> RefusingPort {
    let socket = refusing_tcp(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0))
        .expect("a loopback port binds");
    RefusingPort {
        port: socket.local_addr().expect("bound").port(),
        _socket: socket,
    }
}

async fn serve_udp(socket: UdpSocket, shared: Arc<Shared>) {
    let mut buf = vec![0u8; 65536];
    while let Ok((n, peer)) = socket.recv_from(&mut buf).await {
        for step in shared.steps(&buf[..n], Transport::Udp, peer) {
            match step {
                Step::Send(b) | Step::Drip(b, _) => {
                    let _ = socket.send_to(&b, peer).await;
                }
                Step::SendFromElsewhere(b) => {
                    let ip = socket.local_addr().map(|a| a.ip());
                    if let Ok(other) = UdpSocket::bind((ip.unwrap_or(peer.ip()), 0)).await {
                        let _ = other.send_to(&b, peer).await;
                    }
                }
                Step::SendTo(to, b) => {
                    let _ = socket.send_to(&b, to).await;
                }
                Step::Close | Step::Reset => {}
            }
        }
    }
}

async fn serve_tcp(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
) {
    while let Ok((stream, peer)) = listener.accept().await {
        let shared = shared.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            if let Behaviour::Greet(bytes) = &shared.behaviour {
                greet(stream, bytes).await;
                return;
            }
            match tls {
                Some(acceptor) => {
                    if let Ok(s) = acceptor.accept(stream).await {
                        serve_stream(s, Transport::Tls, peer, &shared).await;
                    }
                }
                None => serve_stream(stream, Transport::Tcp, peer, &shared).await,
            }
        });
    }
}

/// Answers the first bytes on `stream` with `bytes`, then waits for the peer to close.
async fn greet(mut stream: TcpStream, bytes: &[u8]) {
    let mut buf = [0u8; 4096];
    if matches!(stream.read(&mut buf).await, Ok(n) if n > 0)
        && stream.write_all(bytes).await.is_ok()
    {
        while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
    }
}

/// A stream whose TCP socket can be reset.
trait OverTcp: AsyncRead + AsyncWrite + Unpin {
    fn tcp(&self) -> &TcpStream;
}

impl OverTcp for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl OverTcp for tokio_rustls::server::TlsStream<TcpStream> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().0
    }
}

async fn serve_stream<S: OverTcp>(
    mut io: S,
    transport: Transport,
    peer: SocketAddr,
    shared: &Shared,
) {
    let mut framer = StreamFramer::new();
    let mut chunk = [0u8; 4096];
    loop {
        loop {
            let message = match framer.next_frame() {
                Ok(Some(Frame::Message(m))) => m,
                Ok(Some(Frame::Ping)) => {
                    let before = shared
                        .pings
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let answers = shared.pong && shared.pong_limit.is_none_or(|n| before < n);
                    if answers && !send(&mut io, b"\r\n").await {
                        return;
                    }
                    continue;
                }
                Ok(Some(Frame::Pong)) => continue,
                Ok(None) => break,
                // A stream that cannot be framed is closed: memory stays bounded.
                Err(_) => return,
            };
            for step in shared.steps(&message, transport, peer) {
                let sent = match step {
                    Step::Send(b) | Step::SendFromElsewhere(b) | Step::SendTo(_, b) => {
                        send(&mut io, &b).await
                    }
                    Step::Drip(b, pause) => {
                        let mut sent = true;
                        for byte in b.chunks(1) {
                            sent = sent && send(&mut io, byte).await;
                            tokio::time::sleep(pause).await;
                        }
                        sent
                    }
                    Step::Close => false,
                    Step::Reset => {
                        let _ = io.tcp().set_zero_linger();
                        false
                    }
                };
                if !sent {
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

/// Writes and flushes `bytes`; false when the stream is gone.
async fn send<S: AsyncWrite + Unpin>(io: &mut S, bytes: &[u8]) -> bool {
    io.write_all(bytes).await.is_ok() && io.flush().await.is_ok()
}

impl Shared {
    /// The steps that answer one message; a retransmission gets the steps of its original.
    fn steps(&self, bytes: &[u8], transport: Transport, peer: SocketAddr) -> Vec<Step> {
        if let Behaviour::Greet(b) = &self.behaviour {
            return vec![Step::Send(b.clone())];
        }
        let Some(request) = Request::parse(bytes) else {
            return Vec::new();
        };
        let key = request_key(&request);
        let earlier = self
            .answers
            .lock()
            .unwrap()
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone());
        if let Some(previous) = earlier {
            self.record(&request, transport, peer, true);
            return previous;
        }
        let index = self.record(&request, transport, peer, false);
        let incoming = Incoming {
            request,
            source: self.nat.unwrap_or(peer),
            index,
        };
        let steps = self.fresh(&incoming);
        self.bind(&incoming.request, &steps);
        self.answers.lock().unwrap().push((key, steps.clone()));
        steps
    }

    /// Applies the Contacts of a REGISTER that the steps answer with a 2xx (RFC 3261 §10.3): each
    /// is bound for its `expires` (or the Expires header, or 3600 s), `expires=0` removes it.
    fn bind(&self, request: &Request, steps: &[Step]) {
        let granted = steps.iter().any(|s| match s {
            Step::Send(b) | Step::Drip(b, _) => b.starts_with(b"SIP/2.0 2"),
            _ => false,
        });
        if request.method != "REGISTER" || !granted {
            return;
        }
        let header: u64 = request
            .header("expires")
            .and_then(|e| e.parse().ok())
            .unwrap_or(3600);
        let mut table = self.bindings.lock().unwrap();
        for contact in request.contacts() {
            let Some(uri) = contact.split('<').nth(1).and_then(|u| u.split('>').next()) else {
                continue;
            };
            let expires = contact
                .rsplit_once('>')
                .and_then(|(_, params)| {
                    params
                        .split(';')
                        .find_map(|p| p.trim().strip_prefix("expires=")?.parse::<u64>().ok())
                })
                .unwrap_or(header);
            table.retain(|(u, _)| u != uri);
            if expires > 0 {
                let until = std::time::Instant::now() + std::time::Duration::from_secs(expires);
                table.push((uri.to_string(), until));
            }
        }
    }

    /// Logs a request; returns its index among the requests seen, retransmissions not counted.
    fn record(
        &self,
        req: &Request,
        transport: Transport,
        peer: SocketAddr,
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
            contact: req.contacts().collect::<Vec<_>>().join(", "),
            authorization: req.header("authorization").map(str::to_string),
            proxy_authorization: req.header("proxy-authorization").map(str::to_string),
        };
        let mut log = self.log.lock().unwrap();
        log.push(seen);
        log.iter()
            .filter(|s| !s.retransmission)
            .count()
            .saturating_sub(1)
    }

    /// The answer to a request seen for the first time.
    fn fresh(&self, r: &Incoming) -> Vec<Step> {
        if r.request.method != "REGISTER" && !matches!(self.behaviour, Behaviour::Raw(_)) {
            return vec![Step::Send(r.ok())];
        }
        let reply = match &self.behaviour {
            Behaviour::Silent | Behaviour::Greet(_) => return Vec::new(),
            Behaviour::Close => return vec![Step::Close],
            Behaviour::Raw(script) => return script(r),
            Behaviour::Accept => r.ok(),
            Behaviour::Reject(code) => {
                let reason = match code {
                    403 => "Forbidden",
                    404 => "Not Found",
                    503 => "Service Unavailable",
                    _ => "Rejected",
                };
                r.reply(*code, reason, &[])
            }
            Behaviour::Script(replies) => {
                let Some(canned) = replies.get(r.index).or(replies.last()) else {
                    return Vec::new();
                };
                let mut headers = Vec::new();
                if (200..300).contains(&canned.status) {
                    headers = r.request.binding();
                }
                headers.extend(canned.headers.iter().cloned());
                r.reply(canned.status, &canned.reason, &headers)
            }
            Behaviour::Challenge { .. } | Behaviour::ChallengeAll { .. } => {
                let authorized = r.request.header("authorization").is_some_and(|a| {
                    let (user, password) = match &self.behaviour {
                        Behaviour::ChallengeAll { prefix } => {
                            let user = digest_username(a);
                            (user.clone(), format!("{prefix}{user}"))
                        }
                        Behaviour::Challenge { user, password } => (user.clone(), password.clone()),
                        _ => return false,
                    };
                    let issued = self.nonces.lock().unwrap().clone();
                    check_digest(a, &r.request, &user, &password, &issued)
                });
                if authorized {
                    r.ok()
                } else {
                    let nonce = sipreg::sip::random_hex(12);
                    self.nonces.lock().unwrap().push(nonce.clone());
                    let challenge = format!(
                        "WWW-Authenticate: Digest realm=\"sipreg\", nonce=\"{nonce}\", qop=\"auth\", algorithm=MD5"
                    );
                    r.reply(401, "Unauthorized", &[challenge])
                }
            }
        };
        vec![Step::Send(reply)]
    }
}

/// The `username` of an Authorization value.
fn digest_username(value: &str) -> String {
    let body = value.trim().get(6..).unwrap_or_default();
    split_top_level(body, ',')
        .into_iter()
        .find_map(|p| {
            let (k, v) = p.split_once('=')?;
            (k.trim().eq_ignore_ascii_case("username"))
                .then(|| v.trim().trim_matches('"').to_string())
        })
        .unwrap_or_default()
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

/// Checks an Authorization value against the user and password (RFC 3261 §22.4), recomputing the
/// response with the same digest code the client uses.
fn check_digest(value: &str, req: &Request, user: &str, password: &str, issued: &[String]) -> bool {
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
        &req.method,
        get("uri"),
        nc,
        get("cnonce"),
    );
    expected == get("response")
}

//! The three SIP transports over real sockets: connect, send one message, receive one message.

pub mod tls;

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::sip::{MAX_MESSAGE, framing::StreamFramer};

/// A transport the phone can be configured with (Table 89).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// SIP over UDP, RFC 3261 §18 with Timer E retransmissions.
    Udp,
    /// SIP over TCP.
    Tcp,
    /// SIP over TLS over TCP (RFC 3261 §26.2).
    Tls,
}

impl Transport {
    /// The token used in the Via header (`UDP`, `TCP`, `TLS`).
    #[must_use]
    pub fn via_name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }

    /// True for TCP and TLS, which carry a request once and never retransmit (§17.1.2.2).
    #[must_use]
    pub fn is_reliable(self) -> bool {
        self != Transport::Udp
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.via_name())
    }
}

/// Why a transport could not carry the request; each kind is a fallback trigger (spec §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The host name could not be resolved.
    DnsFailed,
    /// The TCP connect was answered with a reset.
    Refused,
    /// The TCP connect got no answer within `--connect-timeout`.
    ConnectTimeout,
    /// ICMP host, network or port unreachable.
    Unreachable,
    /// The TLS handshake failed, an alert arrived, or the server certificate was rejected.
    TlsFailed,
    /// The connection was closed or reset, or the stream broke a framing limit, before a final response.
    Closed,
    /// Timer F fired without a final response.
    Timeout,
}

/// A failed transport, with the reason in plain words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The failure class.
    pub kind: FailureKind,
    /// What happened, for a person.
    pub reason: String,
    /// True when our own check of the server certificate failed (`--strict-tls` makes that final).
    pub certificate: bool,
    /// What kind of TLS problem, for TLS failures.
    pub tls: Option<TlsProblem>,
}

/// The TLS failures a person can act on differently (each has its own hint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsProblem {
    /// The server certificate chains to a CA we do not trust.
    UnknownIssuer,
    /// The server certificate does not name the server.
    NameMismatch,
    /// The server certificate has expired.
    Expired,
    /// The server certificate is not valid yet.
    NotValidYet,
    /// Another problem with the server certificate.
    BadCertificate,
    /// The server wants a device certificate and we sent none.
    ClientCertRequired,
    /// The server rejected our device certificate.
    ClientCertRejected,
    /// The port does not answer in TLS, or the handshake did not finish in time.
    NotTls,
    /// Another handshake failure or alert.
    Other,
}

impl Failure {
    /// A failure of `kind` with `reason`.
    #[must_use]
    pub fn new(kind: FailureKind, reason: impl Into<String>) -> Self {
        Self {
            kind,
            reason: reason.into(),
            certificate: false,
            tls: None,
        }
    }
}

/// A live connection (or connected UDP socket) to the registrar.
pub enum Connection {
    /// A connected UDP socket: ICMP port unreachable surfaces as `ECONNREFUSED` (RFC 3261 §18.4).
    Udp(UdpSocket),
    /// A TCP stream with its framer.
    Tcp(Stream<TcpStream>),
    /// A TLS stream with its framer.
    Tls(Box<Stream<tokio_rustls::client::TlsStream<TcpStream>>>),
}

/// A byte stream plus the framer that cuts it into SIP messages.
pub struct Stream<S> {
    io: S,
    framer: StreamFramer,
    remote: SocketAddr,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream<S> {
    /// Wraps a connected stream.
    pub fn new(io: S, remote: SocketAddr) -> Self {
        Self {
            io,
            framer: StreamFramer::new(),
            remote,
        }
    }

    async fn send(&mut self, bytes: &[u8], transport: Transport) -> Result<(), Failure> {
        let res = async {
            self.io.write_all(bytes).await?;
            self.io.flush().await
        }
        .await;
        res.map_err(|e| stream_error(&e, transport, self.remote))
    }

    /// Reads until one whole message is framed. Cancel-safe: bytes read are kept in the framer.
    async fn recv(&mut self, transport: Transport) -> Result<Vec<u8>, Failure> {
        let mut chunk = [0u8; 8192];
        loop {
            match self.framer.next_message() {
                Ok(Some(message)) => return Ok(message),
                Ok(None) => {}
                Err(e) => {
                    return Err(Failure::new(
                        FailureKind::Closed,
                        format!("unusable answer from the server: {e}"),
                    ));
                }
            }
            let n = self
                .io
                .read(&mut chunk)
                .await
                .map_err(|e| stream_error(&e, transport, self.remote))?;
            if n == 0 {
                return Err(Failure::new(
                    FailureKind::Closed,
                    format!("the server closed the {transport} connection before a final response"),
                ));
            }
            self.framer.push(&chunk[..n]);
        }
    }
}

/// Classifies an error on an open stream: TLS errors (a TLS 1.3 alert arrives on the first read) or a
/// closed connection.
fn stream_error(e: &io::Error, transport: Transport, remote: SocketAddr) -> Failure {
    if let Some(tls_err) = tls::rustls_error(e) {
        return tls::failure(tls_err);
    }
    match e.kind() {
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => Failure::new(
            FailureKind::Closed,
            format!(
                "the server reset the {transport} connection ({remote}) before a final response"
            ),
        ),
        io::ErrorKind::UnexpectedEof => Failure::new(
            FailureKind::Closed,
            format!("the server closed the {transport} connection before a final response"),
        ),
        _ => Failure::new(
            FailureKind::Closed,
            format!("{transport} connection failed: {e}"),
        ),
    }
}

impl Connection {
    /// The local address of the socket: the Via sent-by and Contact of our requests.
    ///
    /// # Errors
    /// The OS error if the socket has no local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Connection::Udp(s) => s.local_addr(),
            Connection::Tcp(s) => s.io.local_addr(),
            Connection::Tls(s) => s.io.get_ref().0.local_addr(),
        }
    }

    /// The negotiated TLS version and cipher suite, for TLS connections.
    #[must_use]
    pub fn tls_info(&self) -> Option<(String, String)> {
        let Connection::Tls(s) = self else {
            return None;
        };
        let conn = s.io.get_ref().1;
        let version = conn.protocol_version().map(|v| format!("{v:?}"))?;
        let cipher = conn
            .negotiated_cipher_suite()
            .map(|c| format!("{:?}", c.suite()))?;
        Some((version, cipher))
    }

    /// Bytes received on a stream that do not yet form a whole message.
    #[must_use]
    pub fn buffered(&self) -> usize {
        match self {
            Connection::Udp(_) => 0,
            Connection::Tcp(s) => s.framer.buffered(),
            Connection::Tls(s) => s.framer.buffered(),
        }
    }

    /// The transport this connection carries.
    #[must_use]
    pub fn transport(&self) -> Transport {
        match self {
            Connection::Udp(_) => Transport::Udp,
            Connection::Tcp(_) => Transport::Tcp,
            Connection::Tls(_) => Transport::Tls,
        }
    }

    /// Sends one whole message.
    ///
    /// # Errors
    /// A [`Failure`] when the socket reports an error (ICMP unreachable, reset, TLS alert).
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        match self {
            Connection::Udp(s) => s
                .send(bytes)
                .await
                .map(|_| ())
                .map_err(|e| udp_error(&e, s)),
            Connection::Tcp(s) => s.send(bytes, Transport::Tcp).await,
            Connection::Tls(s) => s.send(bytes, Transport::Tls).await,
        }
    }

    /// Receives one whole message. Cancel-safe, so it can race a timer.
    ///
    /// # Errors
    /// A [`Failure`] when the connection closes, resets, breaks a limit or an ICMP error arrives.
    pub async fn recv(&mut self) -> Result<Vec<u8>, Failure> {
        match self {
            Connection::Udp(s) => {
                let mut buf = vec![0u8; MAX_MESSAGE + 1];
                loop {
                    let n = s.recv(&mut buf).await.map_err(|e| udp_error(&e, s))?;
                    if n > MAX_MESSAGE {
                        tracing::debug!(
                            "ignoring a datagram over the {} KiB limit",
                            MAX_MESSAGE / 1024
                        );
                        continue;
                    }
                    buf.truncate(n);
                    return Ok(buf);
                }
            }
            Connection::Tcp(s) => s.recv(Transport::Tcp).await,
            Connection::Tls(s) => s.recv(Transport::Tls).await,
        }
    }
}

fn udp_error(e: &io::Error, s: &UdpSocket) -> Failure {
    let peer = s.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    match e.kind() {
        io::ErrorKind::ConnectionRefused => Failure::new(
            FailureKind::Unreachable,
            format!("ICMP port unreachable: nothing listens on UDP {peer}"),
        ),
        _ => unreachable_error(e, Transport::Udp, &peer),
    }
}

fn unreachable_error(e: &io::Error, transport: Transport, peer: &str) -> Failure {
    let what = match e.raw_os_error() {
        Some(code) if code == libc_code::EHOSTUNREACH => "ICMP host unreachable",
        Some(code) if code == libc_code::ENETUNREACH => "network unreachable",
        _ => "network error",
    };
    Failure::new(
        FailureKind::Unreachable,
        format!("{what} sending {transport} to {peer}: {e}"),
    )
}

/// The Linux errno values we classify (stable ABI; no libc crate needed for two numbers).
mod libc_code {
    pub const ENETUNREACH: i32 = 101;
    pub const EHOSTUNREACH: i32 = 113;
}

/// Opens a connected UDP socket to `remote`.
///
/// # Errors
/// A [`Failure`] of kind `Unreachable` when no route exists.
pub async fn connect_udp(remote: SocketAddr) -> Result<Connection, Failure> {
    let bind: SocketAddr = if remote.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(bind)
        .await
        .map_err(|e| unreachable_error(&e, Transport::Udp, &remote.to_string()))?;
    socket
        .connect(remote)
        .await
        .map_err(|e| unreachable_error(&e, Transport::Udp, &remote.to_string()))?;
    Ok(Connection::Udp(socket))
}

/// Opens a TCP connection within `timeout` (the phone's "approximately thirty seconds").
///
/// # Errors
/// `Refused` on a reset, `ConnectTimeout` when no answer came, `Unreachable` on ICMP errors.
pub async fn connect_tcp(remote: SocketAddr, timeout: Duration) -> Result<TcpStream, Failure> {
    match tokio::time::timeout(timeout, TcpStream::connect(remote)).await {
        Err(_) => Err(Failure::new(
            FailureKind::ConnectTimeout,
            format!(
                "no answer to the TCP connect within {}",
                humantime::format_duration(timeout)
            ),
        )),
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => Err(Failure::new(
            FailureKind::Refused,
            format!("connection refused by {remote} (TCP reset)"),
        )),
        Ok(Err(e)) => Err(unreachable_error(&e, Transport::Tcp, &remote.to_string())),
        Ok(Ok(stream)) => {
            // One request, one answer: do not let Nagle hold the REGISTER back.
            let _ = stream.set_nodelay(true);
            Ok(stream)
        }
    }
}

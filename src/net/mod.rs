//! The flows the user agent talks over: one small seam (`Flow`, `Connector`) with real UDP, TCP and
//! TLS sockets behind it, and an in-memory flow for tests.

mod inbox;
pub mod memory;
pub mod resolve;
mod scratch;
pub mod shared;
pub mod srv;
pub mod stream;
pub mod tls;
pub mod tls_probe;
pub mod tls_reason;
pub mod udp;
pub mod ws;
pub mod x509;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use crate::model::{Failure, Transport};
pub use crate::sip::framing::Frame;

/// The negotiated TLS parameters of a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsParams {
    /// Protocol version, such as `TLSv1_3`.
    pub version: String,
    /// Cipher suite, such as `TLS13_AES_256_GCM_SHA384`.
    pub cipher: String,
    /// The earliest notAfter in the chain the server sent, Unix seconds.
    pub earliest_cert_expiry: Option<i64>,
}

/// One open flow to the registrar (RFC 5626 §3: a UDP 5-tuple or a TCP/TLS connection).
pub trait Flow: Send {
    /// The transport the flow carries.
    fn transport(&self) -> Transport;
    /// Our address on the flow: the Via sent-by and Contact of our requests.
    fn local_addr(&self) -> SocketAddr;
    /// The registrar's address.
    fn remote_addr(&self) -> SocketAddr;
    /// The negotiated TLS version and cipher, for TLS flows.
    fn tls_params(&self) -> Option<TlsParams> {
        None
    }
    /// Bytes received on a stream that do not yet form a whole message.
    fn buffered(&self) -> usize {
        0
    }
    /// The address the last frame came from, when it was not the registrar's (UDP only).
    fn answered_from(&self) -> Option<SocketAddr> {
        None
    }
    /// Sends one whole message (or keep-alive).
    fn send(&mut self, bytes: &[u8]) -> impl Future<Output = Result<(), Failure>> + Send;
    /// Sends an answer to the last message received, back to where it came from (RFC 3261
    /// §18.2.2); on a connection, the same as `send`.
    fn reply(&mut self, bytes: &[u8]) -> impl Future<Output = Result<(), Failure>> + Send {
        self.send(bytes)
    }
    /// Receives the next frame. Cancel-safe, so it can race a timer.
    fn recv(&mut self) -> impl Future<Output = Result<Frame, Failure>> + Send;
}

/// Opens flows: the seam between the user agent and the network.
pub trait Connector: Sync {
    /// The flows it opens.
    type Flow: Flow;
    /// Opens a UDP socket or a TCP connection to `remote` (for TLS, the TCP part) within `timeout`.
    fn open(
        &self,
        transport: Transport,
        remote: SocketAddr,
        timeout: Duration,
    ) -> impl Future<Output = Result<Self::Flow, Failure>> + Send;
    /// Runs the TLS handshake on an opened TCP flow within `timeout`.
    fn secure(
        &self,
        flow: Self::Flow,
        timeout: Duration,
    ) -> impl Future<Output = Result<Self::Flow, Failure>> + Send;
}

/// A real flow: a connected UDP socket, a TCP stream or a TLS stream.
pub enum Connection {
    /// A connected UDP socket: ICMP port unreachable surfaces as `ECONNREFUSED` (RFC 3261 §18.4).
    Udp(udp::UdpFlow),
    /// A TCP stream with its framer.
    Tcp(stream::Stream<tokio::net::TcpStream>),
    /// A TLS stream with its framer.
    Tls(Box<stream::Stream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>>),
    /// A WebSocket over TCP (RFC 7118).
    Ws(Box<ws::WsFlow<tokio::net::TcpStream>>),
    /// A WebSocket over TLS.
    Wss(Box<ws::WsFlow<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>>),
}

impl Flow for Connection {
    fn transport(&self) -> Transport {
        match self {
            Connection::Udp(_) => Transport::Udp,
            Connection::Tcp(_) => Transport::Tcp,
            Connection::Tls(_) => Transport::Tls,
            Connection::Ws(s) => s.transport(),
            Connection::Wss(s) => s.transport(),
        }
    }

    fn local_addr(&self) -> SocketAddr {
        match self {
            Connection::Udp(s) => s.local,
            Connection::Tcp(s) => s.local,
            Connection::Tls(s) => s.local,
            Connection::Ws(s) => s.local,
            Connection::Wss(s) => s.local,
        }
    }

    fn remote_addr(&self) -> SocketAddr {
        match self {
            Connection::Udp(s) => s.remote,
            Connection::Tcp(s) => s.remote,
            Connection::Tls(s) => s.remote,
            Connection::Ws(s) => s.remote,
            Connection::Wss(s) => s.remote,
        }
    }

    fn tls_params(&self) -> Option<TlsParams> {
        match self {
            Connection::Tls(s) => tls::params(&s.io),
            Connection::Wss(s) => s.tls.clone(),
            _ => None,
        }
    }

    fn answered_from(&self) -> Option<SocketAddr> {
        match self {
            Connection::Udp(s) => s.answered_from(),
            _ => None,
        }
    }

    fn buffered(&self) -> usize {
        match self {
            Connection::Udp(_) | Connection::Ws(_) | Connection::Wss(_) => 0,
            Connection::Tcp(s) => s.buffered(),
            Connection::Tls(s) => s.buffered(),
        }
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        match self {
            Connection::Udp(s) => s.send(bytes).await,
            Connection::Tcp(s) => s.send(bytes, Transport::Tcp).await,
            Connection::Tls(s) => s.send(bytes, Transport::Tls).await,
            Connection::Ws(s) => s.send(bytes).await,
            Connection::Wss(s) => s.send(bytes).await,
        }
    }

    async fn reply(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        match self {
            Connection::Udp(s) => s.reply(bytes).await,
            other => other.send(bytes).await,
        }
    }

    async fn recv(&mut self) -> Result<Frame, Failure> {
        match self {
            Connection::Udp(s) => s.recv().await.map(udp::frame),
            Connection::Tcp(s) => s.recv(Transport::Tcp).await,
            Connection::Tls(s) => s.recv(Transport::Tls).await,
            Connection::Ws(s) => s.recv().await,
            Connection::Wss(s) => s.recv().await,
        }
    }
}

/// Opens real sockets; holds the TLS client configuration shared by every flow of the process.
#[derive(Clone)]
pub struct Sockets {
    tls: Option<tls::Client>,
    /// Where the WebSocket upgrade goes, when the run's transports are WS or WSS.
    websocket: Option<std::sync::Arc<ws::WsTarget>>,
    /// One UDP socket per flow, without the second one that catches answers from elsewhere.
    lean: bool,
}

impl Sockets {
    /// A connector with the TLS client of a run (if TLS is enabled).
    #[must_use]
    pub fn new(tls: Option<tls::Client>) -> Self {
        Self {
            tls,
            lean: false,
            websocket: None,
        }
    }

    /// The same connector, upgrading its WS and WSS connections at `target` (RFC 7118).
    #[must_use]
    pub fn websocket(mut self, target: Option<ws::WsTarget>) -> Self {
        self.websocket = target.map(std::sync::Arc::new);
        self
    }

    fn ws_target(&self) -> Result<&ws::WsTarget, Failure> {
        self.websocket.as_deref().ok_or_else(|| {
            Failure::new(
                crate::model::Outcome::Refused,
                "WebSocket is not configured",
            )
        })
    }

    /// A connector for storms: a UDP flow is one connected socket, so ten thousand accounts need
    /// ten thousand descriptors, not twenty.
    #[must_use]
    pub fn lean(tls: Option<tls::Client>) -> Self {
        Self {
            tls,
            lean: true,
            websocket: None,
        }
    }
}

impl Connector for Sockets {
    type Flow = Connection;

    async fn open(
        &self,
        transport: Transport,
        remote: SocketAddr,
        timeout: Duration,
    ) -> Result<Connection, Failure> {
        if transport == Transport::Udp {
            return udp::UdpFlow::connect(remote, !self.lean)
                .await
                .map(Connection::Udp);
        }
        let tcp = stream::connect_tcp(remote, timeout).await?;
        let stream = stream::Stream::new(tcp, remote)?;
        if transport != Transport::Ws {
            // WSS upgrades after its TLS handshake (`secure`).
            return Ok(Connection::Tcp(stream));
        }
        let addrs = (stream.local, stream.remote);
        ws::upgrade(
            stream.io,
            transport,
            self.ws_target()?,
            addrs,
            None,
            timeout,
        )
        .await
        .map(|w| Connection::Ws(Box::new(w)))
    }

    async fn secure(&self, flow: Connection, timeout: Duration) -> Result<Connection, Failure> {
        let Connection::Tcp(s) = flow else {
            return Ok(flow);
        };
        let Some(tls) = &self.tls else {
            return Err(Failure::new(
                crate::model::Outcome::TlsFailed,
                "TLS is not configured",
            ));
        };
        let secured = tls::handshake(s, tls.config.clone(), &tls.server_name, timeout).await?;
        match (self.websocket.as_deref(), secured) {
            // WSS: the upgrade runs over the TLS stream.
            (Some(target), Connection::Tls(s)) => {
                let params = tls::params(&s.io);
                let addrs = (s.local, s.remote);
                ws::upgrade(s.io, Transport::Wss, target, addrs, params, timeout)
                    .await
                    .map(|w| Connection::Wss(Box::new(w)))
            }
            (_, other) => Ok(other),
        }
    }
}

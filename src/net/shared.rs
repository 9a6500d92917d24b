//! One UDP socket or one TCP connection shared by every account of a storm (`--socket shared`, as
//! SIPp's `-t u1` and `-t t1`): each account's flow sends through it, and a reader hands every
//! answer to the flow whose request carried its Call-ID (RFC 3261 §8.1.1.4).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UdpSocket;
use tokio::net::tcp::OwnedWriteHalf;

use super::inbox::{self, Receiver, Sender};
use super::{Connector, Flow, Frame};
use crate::model::{Failure, Outcome, Transport};
use crate::sip::MAX_MESSAGE;
use crate::sip::framing::StreamFramer;

/// The receive buffer asked for on a shared UDP socket (as SIPp's `-buff_size`); the kernel caps it
/// at `net.core.rmem_max`.
const RECEIVE_BUFFER: usize = 4 << 20;

/// Call-ID → (the flow's number, its inbox). The routes hold the only sender of each inbox, so that
/// clearing them (the shared connection closed) ends every flow's receive.
type Routes = Mutex<HashMap<Vec<u8>, (u64, Sender)>>;

enum Out {
    Udp(Arc<UdpSocket>),
    Tcp(tokio::sync::Mutex<OwnedWriteHalf>),
}

/// What every flow of the shared socket holds.
struct Inner {
    transport: Transport,
    local: SocketAddr,
    remote: SocketAddr,
    out: Out,
    routes: Routes,
    strays: AtomicU64,
    next_flow: AtomicU64,
    /// The connection is gone: no flow can send or be opened on it any more.
    closed: std::sync::atomic::AtomicBool,
}

/// The shared socket or connection, and the connector over it.
#[derive(Clone)]
pub struct Shared {
    inner: Arc<Inner>,
    reader: Arc<tokio::task::JoinHandle<()>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        if Arc::strong_count(&self.reader) == 1 {
            self.reader.abort();
        }
    }
}

impl Shared {
    /// Opens the one UDP socket or TCP connection to `remote` and starts its reader.
    ///
    /// # Errors
    /// A [`Failure`] when the socket cannot be opened or the connection fails; TLS is not shared.
    pub async fn open(
        transport: Transport,
        remote: SocketAddr,
        timeout: Duration,
    ) -> Result<Shared, Failure> {
        match transport {
            Transport::Udp => Self::udp(remote).await,
            Transport::Tcp => Self::tcp(remote, timeout).await,
            Transport::Tls | Transport::Ws | Transport::Wss => Err(Failure::new(
                Outcome::TlsFailed,
                format!("a shared socket carries UDP or TCP, not {transport}"),
            )),
        }
    }

    async fn udp(remote: SocketAddr) -> Result<Shared, Failure> {
        let any: SocketAddr = if remote.is_ipv4() {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let fail =
            |e: std::io::Error| Failure::new(Outcome::Unreachable, format!("UDP socket: {e}"));
        let socket = UdpSocket::bind(any).await.map_err(fail)?;
        let _ = socket2::SockRef::from(&socket).set_recv_buffer_size(RECEIVE_BUFFER);
        socket.connect(remote).await.map_err(fail)?;
        let local = socket.local_addr().map_err(fail)?;
        let socket = Arc::new(socket);
        let inner = Arc::new(Inner {
            transport: Transport::Udp,
            local,
            remote,
            out: Out::Udp(socket.clone()),
            routes: Mutex::new(HashMap::new()),
            strays: AtomicU64::new(0),
            next_flow: AtomicU64::new(0),
            closed: std::sync::atomic::AtomicBool::new(false),
        });
        let reader = tokio::spawn(read_udp(socket, inner.clone()));
        Ok(Shared {
            inner,
            reader: Arc::new(reader),
        })
    }

    async fn tcp(remote: SocketAddr, timeout: Duration) -> Result<Shared, Failure> {
        let stream = super::stream::connect_tcp(remote, timeout).await?;
        let local = stream
            .local_addr()
            .map_err(|e| Failure::new(Outcome::Closed, format!("no local address: {e}")))?;
        let _ = stream.set_nodelay(true);
        let (read, write) = stream.into_split();
        let inner = Arc::new(Inner {
            transport: Transport::Tcp,
            local,
            remote,
            out: Out::Tcp(tokio::sync::Mutex::new(write)),
            routes: Mutex::new(HashMap::new()),
            strays: AtomicU64::new(0),
            next_flow: AtomicU64::new(0),
            closed: std::sync::atomic::AtomicBool::new(false),
        });
        let reader = tokio::spawn(read_tcp(read, inner.clone()));
        Ok(Shared {
            inner,
            reader: Arc::new(reader),
        })
    }

    /// Our address on the shared socket.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local
    }

    /// Messages that matched no flow (late answers to abandoned requests, or strays).
    #[must_use]
    pub fn strays(&self) -> u64 {
        self.inner.strays.load(Ordering::Relaxed)
    }
}

/// The Call-ID of a SIP message (`Call-ID:` or its compact form `i:`), trimmed.
#[must_use]
pub fn call_id(message: &[u8]) -> Option<&[u8]> {
    // Every request and every answer passes here. First one vector search for the header as sipreg
    // writes it and registrars echo it, inside the headers (no empty line before it).
    static WRITTEN: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\nCall-ID:"));
    if let Some(at) = WRITTEN.find(message) {
        if crate::sip::framing::header_end(&message[..=at]).is_none() {
            let rest = &message[at + 9..];
            return Some(rest[..memchr::memchr(b'\n', rest).unwrap_or(rest.len())].trim_ascii());
        }
    }
    // Any other spelling: line ends by memchr, and only a line that starts as `Call-ID` or `i` can
    // be it.
    let mut rest = message.get(memchr::memchr(b'\n', message)? + 1..)?;
    loop {
        let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
        let line = &rest[..end];
        if line.trim_ascii().is_empty() {
            // The end of the headers: what follows is the body.
            return None;
        }
        if matches!(line.first(), Some(b'c' | b'C' | b'i' | b'I')) {
            if let Some(colon) = memchr::memchr(b':', line) {
                let name = line[..colon].trim_ascii();
                if name.eq_ignore_ascii_case(b"call-id") || name.eq_ignore_ascii_case(b"i") {
                    return Some(line[colon + 1..].trim_ascii());
                }
            }
        }
        rest = rest.get(end + 1..)?;
    }
}

impl Inner {
    /// A failure once the shared connection is gone.
    fn gone(&self) -> Result<(), Failure> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(Failure::new(
                Outcome::Closed,
                format!("the shared connection to {} closed", self.remote),
            ));
        }
        Ok(())
    }

    fn dispatch(&self, message: Vec<u8>) {
        let routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        let to = call_id(&message).and_then(|id| routes.get(id));
        match to {
            Some((_, tx)) if tx.send(Frame::Message(message)) => {}
            _ => {
                self.strays.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn close_all(&self) {
        self.closed.store(true, Ordering::Relaxed);
        self.routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

async fn read_udp(socket: Arc<UdpSocket>, inner: Arc<Inner>) {
    let mut buf = vec![0u8; MAX_MESSAGE + 1];
    loop {
        match socket.recv(&mut buf).await {
            Ok(n) if n <= MAX_MESSAGE => inner.dispatch(buf[..n].to_vec()),
            Ok(_) => {}
            // An ICMP error for one datagram says nothing about the others: go on.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

async fn read_tcp(mut read: tokio::net::tcp::OwnedReadHalf, inner: Arc<Inner>) {
    let mut framer = StreamFramer::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match read.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        framer.push(&buf[..n]);
        loop {
            match framer.next_frame() {
                Ok(Some(Frame::Message(m))) => inner.dispatch(m),
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => {
                    inner.close_all();
                    return;
                }
            }
        }
    }
    // The connection is gone: every flow's receive ends.
    inner.close_all();
}

/// One account's flow over the shared socket.
pub struct SharedFlow {
    inner: Arc<Inner>,
    /// This flow's number, so that it removes only its own route.
    id: u64,
    rx: Receiver,
    /// The inbox's sender until the first request gives the flow a route.
    tx: Option<Sender>,
    call_id: Option<Vec<u8>>,
}

impl SharedFlow {
    /// Routes answers with this Call-ID to this flow (moving its route when the Call-ID changed).
    fn route(&mut self, id: &[u8]) {
        if self.call_id.as_deref() == Some(id) {
            return;
        }
        let mut routes = self
            .inner
            .routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let old = self
            .call_id
            .take()
            .and_then(|old| routes.remove(&old))
            .filter(|(owner, _)| *owner == self.id)
            .map(|(_, tx)| tx);
        if let Some(tx) = old.or_else(|| self.tx.take()) {
            routes.insert(id.to_vec(), (self.id, tx));
            self.call_id = Some(id.to_vec());
        }
    }
}

impl Drop for SharedFlow {
    fn drop(&mut self) {
        if let Some(id) = self.call_id.take() {
            let mut routes = self
                .inner
                .routes
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if routes.get(&id).is_some_and(|(owner, _)| *owner == self.id) {
                routes.remove(&id);
            }
        }
    }
}

impl Flow for SharedFlow {
    fn transport(&self) -> Transport {
        self.inner.transport
    }

    fn local_addr(&self) -> SocketAddr {
        self.inner.local
    }

    fn remote_addr(&self) -> SocketAddr {
        self.inner.remote
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        // A request on a connection whose reader is gone would only wait for Timer F.
        self.inner.gone()?;
        if let Some(id) = call_id(bytes) {
            self.route(id);
        }
        let sent = match &self.inner.out {
            Out::Udp(s) => s.send(bytes).await.map(|_| ()),
            Out::Tcp(w) => w.lock().await.write_all(bytes).await,
        };
        sent.map_err(|e| {
            let outcome = if e.kind() == std::io::ErrorKind::ConnectionRefused {
                Outcome::Unreachable
            } else {
                Outcome::Closed
            };
            Failure::new(
                outcome,
                format!("the shared socket to {} failed: {e}", self.inner.remote),
            )
        })
    }

    async fn recv(&mut self) -> Result<Frame, Failure> {
        self.rx.recv().await.ok_or_else(|| {
            Failure::new(
                Outcome::Closed,
                format!("the shared connection to {} closed", self.inner.remote),
            )
        })
    }
}

impl Connector for Shared {
    type Flow = SharedFlow;

    async fn open(
        &self,
        transport: Transport,
        remote: SocketAddr,
        _timeout: Duration,
    ) -> Result<SharedFlow, Failure> {
        if transport != self.inner.transport || remote != self.inner.remote {
            return Err(Failure::new(
                Outcome::Refused,
                format!(
                    "the shared socket carries {} to {}, not {transport} to {remote}",
                    self.inner.transport, self.inner.remote
                ),
            ));
        }
        self.inner.gone()?;
        let (tx, rx) = inbox::inbox();
        Ok(SharedFlow {
            id: self.inner.next_flow.fetch_add(1, Ordering::Relaxed),
            inner: self.inner.clone(),
            rx,
            tx: Some(tx),
            call_id: None,
        })
    }

    async fn secure(&self, _flow: SharedFlow, _timeout: Duration) -> Result<SharedFlow, Failure> {
        Err(Failure::new(
            Outcome::TlsFailed,
            "a shared socket carries UDP or TCP, not TLS",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_call_id_is_found_in_long_and_compact_form() {
        let long =
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP x\r\nCall-ID:  abc@h \r\nCSeq: 1 REGISTER\r\n\r\n";
        assert_eq!(call_id(long), Some(&b"abc@h"[..]));
        let compact = b"SIP/2.0 200 OK\r\ni: xyz\r\n\r\nCall-ID: body";
        assert_eq!(call_id(compact), Some(&b"xyz"[..]));
        assert_eq!(call_id(b"SIP/2.0 200 OK\r\nCSeq: 1 REGISTER\r\n\r\n"), None);
        assert_eq!(call_id(b"\r\n\r\n"), None);
        let after_others = b"REGISTER sip:h SIP/2.0\nContact: <sip:a@h>\nCSeq: 1 X\nCALL-ID :q\n\n";
        assert_eq!(call_id(after_others), Some(&b"q"[..]));
        assert_eq!(
            call_id(b"SIP/2.0 200 OK\r\nContact: x\r\nI :  z"),
            Some(&b"z"[..])
        );
        assert_eq!(call_id(b"SIP/2.0 200 OK\r\nCall-Info: y"), None);
        assert_eq!(call_id(b"no line end"), None);
    }
}

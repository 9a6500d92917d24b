//! TCP connect and the byte streams of TCP and TLS, cut into frames (RFC 3261 §18.3, RFC 5626 §3.5.1).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use std::pin::Pin;
use std::task::Poll;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use super::Frame;
use super::scratch::with_scratch;
use super::udp::unreachable_error;
use crate::model::{Failure, Outcome, Transport};
use crate::sip::framing::StreamFramer;

/// The most one read takes from a stream.
const READ_CHUNK: usize = 16 * 1024;

/// A byte stream plus the framer that cuts it into SIP messages and keep-alives.
pub struct Stream<S> {
    pub(crate) io: S,
    framer: StreamFramer,
    pub(crate) local: SocketAddr,
    pub(crate) remote: SocketAddr,
}

impl Stream<TcpStream> {
    /// Wraps a connected TCP stream.
    ///
    /// # Errors
    /// A `Closed` [`Failure`] when the socket has no local address.
    pub fn new(io: TcpStream, remote: SocketAddr) -> Result<Self, Failure> {
        let local = io.local_addr().map_err(|e| {
            Failure::new(Outcome::Closed, format!("socket has no local address: {e}"))
        })?;
        Ok(Self::wrap(io, local, remote))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Stream<S> {
    /// Wraps a stream whose addresses are known.
    pub fn wrap(io: S, local: SocketAddr, remote: SocketAddr) -> Self {
        Self {
            io,
            framer: StreamFramer::new(),
            local,
            remote,
        }
    }

    /// Replaces the byte stream (after a TLS handshake), keeping addresses and buffered bytes.
    pub fn map<T>(self, io: T) -> Stream<T> {
        Stream {
            io,
            framer: self.framer,
            local: self.local,
            remote: self.remote,
        }
    }

    /// Bytes buffered that do not yet form a frame.
    #[must_use]
    pub fn buffered(&self) -> usize {
        self.framer.buffered()
    }

    /// Writes one whole message.
    ///
    /// # Errors
    /// A [`Failure`] when the write fails.
    pub async fn send(&mut self, bytes: &[u8], transport: Transport) -> Result<(), Failure> {
        let res = async {
            self.io.write_all(bytes).await?;
            self.io.flush().await
        }
        .await;
        res.map_err(|e| stream_error(&e, transport, self.remote))
    }

    /// Reads until one whole frame is there. Cancel-safe: bytes read are kept in the framer.
    ///
    /// # Errors
    /// A `Closed` (or TLS) [`Failure`] on close, reset, a broken limit or a TLS alert.
    pub async fn recv(&mut self, transport: Transport) -> Result<Frame, Failure> {
        loop {
            match self.framer.next_frame() {
                Ok(Some(frame)) => return Ok(frame),
                Ok(None) => {}
                Err(e) => {
                    return Err(Failure::new(
                        Outcome::Closed,
                        format!("unusable answer from the server: {e}"),
                    ));
                }
            }
            let n = self
                .read_some()
                .await
                .map_err(|e| stream_error(&e, transport, self.remote))?;
            if n == 0 {
                return Err(Failure::new(
                    Outcome::Closed,
                    format!("the server closed the {transport} connection before a final response"),
                ));
            }
        }
    }

    /// Reads what has arrived into the framer through the thread's scratch buffer
    /// ([`super::scratch`]): a waiting flow holds no read buffer. Cancel-safe. 0 at the end.
    async fn read_some(&mut self) -> io::Result<usize> {
        std::future::poll_fn(|cx| {
            with_scratch(|buf| {
                let mut read = ReadBuf::new(&mut buf[..READ_CHUNK]);
                match Pin::new(&mut self.io).poll_read(cx, &mut read) {
                    Poll::Ready(Ok(())) => {
                        self.framer.push(read.filled());
                        Poll::Ready(Ok(read.filled().len()))
                    }
                    Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                    Poll::Pending => Poll::Pending,
                }
            })
        })
        .await
    }
}

/// Classifies an error on an open stream: TLS errors (a TLS 1.3 alert arrives on the first read) or a
/// closed connection.
fn stream_error(e: &io::Error, transport: Transport, remote: SocketAddr) -> Failure {
    if let Some(tls_err) = super::tls_reason::rustls_error(e) {
        return super::tls_reason::failure(tls_err);
    }
    match e.kind() {
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => Failure::new(
            Outcome::Closed,
            format!(
                "the server reset the {transport} connection ({remote}) before a final response"
            ),
        ),
        io::ErrorKind::UnexpectedEof => Failure::new(
            Outcome::Closed,
            format!("the server closed the {transport} connection before a final response"),
        ),
        _ => Failure::new(
            Outcome::Closed,
            format!("{transport} connection failed: {e}"),
        ),
    }
}

/// Opens a TCP connection within `timeout` (the phone's "approximately thirty seconds").
///
/// # Errors
/// `Refused` on a reset, `ConnectTimeout` when no answer came, `Unreachable` on ICMP errors.
pub async fn connect_tcp(remote: SocketAddr, timeout: Duration) -> Result<TcpStream, Failure> {
    match tokio::time::timeout(timeout, TcpStream::connect(remote)).await {
        Err(_) => Err(Failure::new(
            Outcome::ConnectTimeout,
            format!(
                "no answer to the TCP connect within {}",
                humantime::format_duration(timeout)
            ),
        )),
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => Err(Failure::new(
            Outcome::Refused,
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

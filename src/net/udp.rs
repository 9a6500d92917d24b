//! A connected UDP socket as a flow: ICMP errors end an attempt at once (RFC 3261 §18.4).

use std::io;
use std::net::SocketAddr;

use std::io::Read as _;

use tokio::io::Interest;
use tokio::net::UdpSocket;

use super::Frame;
use super::scratch::with_scratch;
use crate::model::{Failure, Outcome, Transport};
use crate::sip::MAX_MESSAGE;

/// A UDP socket connected to the registrar, and beside it on the same port an unconnected one.
///
/// The connected socket gets the registrar's answers and its ICMP errors, so a closed port ends the
/// attempt at once (RFC 3261 §18.4). A phone listening on its port also accepts an answer from
/// another address or port (§18.1.2 matches by Via branch, not by source); the second socket, which
/// shares the port through SO_REUSEPORT, receives exactly those datagrams: the kernel gives a
/// datagram to the connected socket when it comes from the registrar, to the other one otherwise.
pub struct UdpFlow {
    socket: UdpSocket,
    others: Option<UdpSocket>,
    pub(crate) local: SocketAddr,
    pub(crate) remote: SocketAddr,
    answered_from: Option<SocketAddr>,
}

/// A non-blocking UDP socket connected to `remote`, bound by the kernel at connect.
fn connected(remote: SocketAddr) -> io::Result<UdpSocket> {
    // Linux sets O_NONBLOCK in socket(2) itself; elsewhere it takes a call of its own.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let kind = socket2::Type::DGRAM.nonblocking();
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let kind = socket2::Type::DGRAM;
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(remote),
        kind,
        Some(socket2::Protocol::UDP),
    )?;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    socket.set_nonblocking(true)?;
    socket.connect(&remote.into())?;
    UdpSocket::from_std(socket.into())
}

/// A UDP socket with SO_REUSEPORT bound to `addr`.
fn reusable(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

impl UdpFlow {
    /// Opens a connected UDP socket to `remote`, and the unconnected one beside it when the
    /// platform allows (without it, answers from another address go unseen, as before).
    ///
    /// # Errors
    /// A [`Failure`] of kind `Unreachable` when no route exists.
    pub async fn connect(remote: SocketAddr, catch_others: bool) -> Result<Self, Failure> {
        let any: SocketAddr = if remote.is_ipv4() {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let fail = |e: io::Error| unreachable_error(&e, Transport::Udp, &remote.to_string());
        if !catch_others {
            // The kernel picks the port and source address at connect: no bind, no second lookup
            // (a storm opens thousands of these).
            let socket = connected(remote).map_err(fail)?;
            return Self::ready(socket, None, remote);
        }
        let socket = match reusable(any).ok() {
            Some(s) => s,
            None => UdpSocket::bind(any).await.map_err(fail)?,
        };
        let port = socket.local_addr().map_err(fail)?.port();
        let others = reusable(SocketAddr::new(any.ip(), port)).ok();
        socket.connect(remote).await.map_err(fail)?;
        Self::ready(socket, others, remote)
    }

    /// The flow over a connected socket, with its local address.
    fn ready(
        socket: UdpSocket,
        others: Option<UdpSocket>,
        remote: SocketAddr,
    ) -> Result<Self, Failure> {
        let local = socket.local_addr().map_err(|e| {
            Failure::new(Outcome::Closed, format!("socket has no local address: {e}"))
        })?;
        Ok(Self {
            socket,
            others,
            local,
            remote,
            answered_from: None,
        })
    }

    /// The address the last datagram came from, when it was not the registrar's.
    #[must_use]
    pub fn answered_from(&self) -> Option<SocketAddr> {
        self.answered_from
    }

    /// Sends one datagram.
    ///
    /// # Errors
    /// A [`Failure`] on an ICMP error.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        self.socket
            .send(bytes)
            .await
            .map(|_| ())
            .map_err(|e| self.error(&e))
    }

    /// Sends an answer to the last datagram received: back to where it came from (RFC 3261
    /// §18.2.2), through the unconnected socket when that was not the registrar.
    ///
    /// # Errors
    /// A [`Failure`] on an ICMP error.
    pub async fn reply(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        match (self.answered_from, &self.others) {
            (Some(to), Some(others)) => others
                .send_to(bytes, to)
                .await
                .map(|_| ())
                .map_err(|e| self.error(&e)),
            _ => self.send(bytes).await,
        }
    }

    /// Receives one datagram within the size limit, from the registrar or from any other address;
    /// larger ones are ignored. Cancel-safe.
    ///
    /// A flow holds no receive buffer: it waits for readiness and then reads into the thread's
    /// scratch buffer ([`super::scratch`]), copying out only the bytes that came.
    ///
    /// # Errors
    /// A [`Failure`] on an ICMP error.
    pub async fn recv(&mut self) -> Result<Vec<u8>, Failure> {
        loop {
            let read = match &self.others {
                Some(others) => tokio::select! {
                    r = take(&self.socket) => r,
                    r = others.readable() => match r.and_then(|()| take_from(others)) {
                        Ok(got) => Ok(got),
                        // The unconnected socket's errors are not the registrar's.
                        Err(_) => continue,
                    },
                },
                None => take(&self.socket).await,
            };
            let (bytes, from) = match read {
                Ok(got) => got,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(udp_error(self.remote, &e)),
            };
            if bytes.len() > MAX_MESSAGE {
                tracing::debug!(
                    "ignoring a datagram over the {} KiB limit",
                    MAX_MESSAGE / 1024
                );
                continue;
            }
            // A kernel may hand the registrar's own datagrams to the unconnected socket too.
            self.answered_from = from.filter(|f| *f != self.remote);
            return Ok(bytes);
        }
    }

    fn error(&self, e: &io::Error) -> Failure {
        udp_error(self.remote, e)
    }
}

/// One datagram from the connected socket, or its error, when either comes. An ICMP port unreachable
/// shows as an error, not as data: the readiness waited for includes errors, as tokio's own `recv`
/// does, so RFC 3261 §18.4's "at once" holds (not Timer F). The read goes through the thread's scratch
/// buffer; only the bytes that came are copied out.
async fn take(socket: &UdpSocket) -> io::Result<(Vec<u8>, Option<SocketAddr>)> {
    socket
        .async_io(Interest::READABLE | Interest::ERROR, || {
            with_scratch(|buf| {
                let sock = socket2::SockRef::from(socket);
                let mut reader: &socket2::Socket = &sock;
                reader.read(buf).map(|n| (buf[..n].to_vec(), None))
            })
        })
        .await
}

/// One datagram and its source from the unconnected socket, if one is there.
fn take_from(socket: &UdpSocket) -> io::Result<(Vec<u8>, Option<SocketAddr>)> {
    with_scratch(|buf| {
        socket
            .try_recv_from(buf)
            .map(|(n, from)| (buf[..n].to_vec(), Some(from)))
    })
}

/// An error on a UDP socket connected to `remote`: ICMP port unreachable, or another network error.
fn udp_error(remote: SocketAddr, e: &io::Error) -> Failure {
    let peer = remote.to_string();
    match e.kind() {
        io::ErrorKind::ConnectionRefused => Failure {
            port_unreachable: true,
            ..Failure::new(
                Outcome::Unreachable,
                format!("ICMP port unreachable: nothing listens on UDP {peer}"),
            )
        },
        _ => unreachable_error(e, Transport::Udp, &peer),
    }
}

/// A datagram as a frame: CRLFCRLF and CRLF are keep-alives (RFC 5626 §4.4.2 uses STUN on UDP, but
/// CRLF datagrams are common), anything else a message.
#[must_use]
pub fn frame(bytes: Vec<u8>) -> Frame {
    match bytes.as_slice() {
        b"\r\n\r\n" => Frame::Ping,
        b"\r\n" => Frame::Pong,
        _ => Frame::Message(bytes),
    }
}

/// An ICMP host/network unreachable (or another network error) as a failure.
pub(crate) fn unreachable_error(e: &io::Error, transport: Transport, peer: &str) -> Failure {
    let what = match e.raw_os_error() {
        Some(code) if code == errno::EHOSTUNREACH => "ICMP host unreachable",
        Some(code) if code == errno::ENETUNREACH => "network unreachable",
        _ => "network error",
    };
    Failure::new(
        Outcome::Unreachable,
        format!("{what} sending {transport} to {peer}: {e}"),
    )
}

/// The Linux errno values we classify (stable ABI; no libc crate needed for two numbers).
mod errno {
    pub const ENETUNREACH: i32 = 101;
    pub const EHOSTUNREACH: i32 = 113;
}

//! A connected UDP socket as a flow: ICMP errors end an attempt at once (RFC 3261 §18.4).

use std::io;
use std::net::SocketAddr;

use tokio::net::UdpSocket;

use super::Frame;
use crate::model::{Failure, Outcome, Transport};
use crate::sip::MAX_MESSAGE;

/// A UDP socket connected to the registrar.
pub struct UdpFlow {
    socket: UdpSocket,
    pub(crate) local: SocketAddr,
    pub(crate) remote: SocketAddr,
}

impl UdpFlow {
    /// Opens a connected UDP socket to `remote`.
    ///
    /// # Errors
    /// A [`Failure`] of kind `Unreachable` when no route exists.
    pub async fn connect(remote: SocketAddr) -> Result<Self, Failure> {
        let bind: SocketAddr = if remote.is_ipv4() {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let fail = |e: io::Error| unreachable_error(&e, Transport::Udp, &remote.to_string());
        let socket = UdpSocket::bind(bind).await.map_err(fail)?;
        socket.connect(remote).await.map_err(fail)?;
        let local = socket.local_addr().map_err(|e| {
            Failure::new(Outcome::Closed, format!("socket has no local address: {e}"))
        })?;
        Ok(Self {
            socket,
            local,
            remote,
        })
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

    /// Receives one datagram within the size limit; larger ones are ignored.
    ///
    /// # Errors
    /// A [`Failure`] on an ICMP error.
    pub async fn recv(&mut self) -> Result<Vec<u8>, Failure> {
        let mut buf = vec![0u8; MAX_MESSAGE + 1];
        loop {
            let n = self
                .socket
                .recv(&mut buf)
                .await
                .map_err(|e| self.error(&e))?;
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

    fn error(&self, e: &io::Error) -> Failure {
        let peer = self.remote.to_string();
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

//! HEPv3, the encapsulation Homer (sipcapture) collects: one UDP datagram per SIP message, `HEP3`, the
//! total length, then chunks of vendor 0 (type, length, value): address family, protocol, the real
//! addresses and ports, seconds and microseconds, protocol type SIP, the capture agent's id, an
//! optional authentication key, the message, and the Call-ID as correlation id.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{SystemTime, UNIX_EPOCH};

use super::frame::v6;

/// Where the packets go, and how they are labelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HepTarget {
    /// The collector (`--hep`).
    pub addr: SocketAddr,
    /// The capture agent id (`--hep-id`).
    pub id: u32,
    /// The collector's authentication key (`--hep-key`), never printed.
    pub key: Option<String>,
}

/// One message as HEP carries it.
pub struct Message<'a> {
    /// Who sent it.
    pub src: SocketAddr,
    /// To whom.
    pub dst: SocketAddr,
    /// True for a stream (TCP, TLS, WS, WSS): protocol 6, else 17.
    pub stream: bool,
    /// When.
    pub at: SystemTime,
    /// The SIP message.
    pub payload: &'a [u8],
}

/// The sender: a UDP socket to the collector.
pub struct Sender {
    socket: UdpSocket,
    target: HepTarget,
}

impl Sender {
    /// A socket towards `target`.
    ///
    /// # Errors
    /// One line when the socket cannot be opened.
    pub fn open(target: HepTarget) -> Result<Sender, String> {
        let any: SocketAddr = if target.addr.is_ipv4() {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(any)
            .and_then(|s| s.connect(target.addr).map(|()| s))
            .map_err(|e| format!("--hep {}: {e}", target.addr))?;
        Ok(Sender { socket, target })
    }

    /// The collector's address.
    #[must_use]
    pub fn collector(&self) -> SocketAddr {
        self.target.addr
    }

    /// Sends one message; a collector that is not there is not our failure (UDP).
    pub fn send(&self, m: &Message<'_>) {
        let _ = self.socket.send(&encode(m, &self.target));
    }
}

/// The HEPv3 packet of `m`.
#[must_use]
pub fn encode(m: &Message<'_>, target: &HepTarget) -> Vec<u8> {
    let mut body = Vec::with_capacity(m.payload.len() + 120);
    let v4 = matches!((m.src.ip(), m.dst.ip()), (IpAddr::V4(_), IpAddr::V4(_)));
    chunk(&mut body, 1, &[if v4 { 2 } else { 10 }]);
    chunk(&mut body, 2, &[if m.stream { 6 } else { 17 }]);
    match (m.src.ip(), m.dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            chunk(&mut body, 3, &s.octets());
            chunk(&mut body, 4, &d.octets());
        }
        (s, d) => {
            chunk(&mut body, 5, &v6(s).octets());
            chunk(&mut body, 6, &v6(d).octets());
        }
    }
    chunk(&mut body, 7, &m.src.port().to_be_bytes());
    chunk(&mut body, 8, &m.dst.port().to_be_bytes());
    let since = m.at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = u32::try_from(since.as_secs()).unwrap_or(u32::MAX);
    chunk(&mut body, 9, &secs.to_be_bytes());
    chunk(&mut body, 10, &since.subsec_micros().to_be_bytes());
    chunk(&mut body, 11, &[1]);
    chunk(&mut body, 12, &target.id.to_be_bytes());
    if let Some(key) = &target.key {
        chunk(&mut body, 14, key.as_bytes());
    }
    chunk(&mut body, 15, m.payload);
    if let Some(id) = crate::net::shared::call_id(m.payload) {
        chunk(&mut body, 17, id);
    }
    let total = u16::try_from(body.len() + 6).unwrap_or(u16::MAX);
    let mut packet = Vec::with_capacity(body.len() + 6);
    packet.extend_from_slice(b"HEP3");
    packet.extend_from_slice(&total.to_be_bytes());
    packet.extend_from_slice(&body);
    packet
}

/// One chunk of vendor 0: type, length (header included), value.
fn chunk(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    let len = u16::try_from(value.len() + 6).unwrap_or(u16::MAX);
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_carry_what_homer_reads() {
        let target = HepTarget {
            addr: "127.0.0.1:9060".parse().unwrap(),
            id: 2001,
            key: Some("k".into()),
        };
        let m = Message {
            src: "127.0.0.1:40000".parse().unwrap(),
            dst: "[::1]:5060".parse().unwrap(),
            stream: true,
            at: UNIX_EPOCH + std::time::Duration::from_micros(1_700_000_000_123_456),
            payload: b"REGISTER sip:h SIP/2.0\r\nCall-ID: abc\r\n\r\n",
        };
        let p = encode(&m, &target);
        assert_eq!(&p[..4], b"HEP3");
        assert_eq!(usize::from(u16::from_be_bytes([p[4], p[5]])), p.len());
        let mut chunks = std::collections::BTreeMap::new();
        let mut at = 6;
        while at < p.len() {
            let kind = u16::from_be_bytes([p[at + 2], p[at + 3]]);
            let len = usize::from(u16::from_be_bytes([p[at + 4], p[at + 5]]));
            chunks.insert(kind, p[at + 6..at + len].to_vec());
            at += len;
        }
        assert_eq!(chunks[&1], [10], "mixed families travel as IPv6");
        assert_eq!(chunks[&2], [6]);
        assert_eq!(chunks[&5].len(), 16);
        assert_eq!(chunks[&8], 5060u16.to_be_bytes());
        assert_eq!(chunks[&9], 1_700_000_000u32.to_be_bytes());
        assert_eq!(chunks[&10], 123_456u32.to_be_bytes());
        assert_eq!(chunks[&11], [1]);
        assert_eq!(chunks[&12], 2001u32.to_be_bytes());
        assert_eq!(chunks[&14], b"k");
        assert_eq!(chunks[&17], b"abc");
        assert!(chunks[&15].starts_with(b"REGISTER"));
    }
}

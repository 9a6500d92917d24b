//! Synthesized IP packets around a SIP message, on the real addresses and ports: UDP for UDP, and
//! TCP segments with running sequence numbers for the messages of a connection (TCP, TLS, WS, WSS:
//! their SIP in clear, as if carried bare).

use std::net::{IpAddr, SocketAddr};

/// IP protocol numbers.
const UDP: u8 = 17;
const TCP: u8 = 6;

/// The packet of `payload` from `src` to `dst`: UDP when `seq` is `None`, else a TCP segment
/// (PSH, ACK) with that sequence number and `ack`.
#[must_use]
pub fn packet(
    src: SocketAddr,
    dst: SocketAddr,
    seq: Option<(u32, u32)>,
    payload: &[u8],
) -> Vec<u8> {
    let transport = match seq {
        None => udp(src.port(), dst.port(), payload),
        Some((seq, ack)) => tcp(src.port(), dst.port(), seq, ack, payload),
    };
    let proto = if seq.is_some() { TCP } else { UDP };
    ip(src.ip(), dst.ip(), proto, &transport)
}

fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(payload.len() + 8).unwrap_or(u16::MAX);
    let mut v = Vec::with_capacity(payload.len() + 8);
    v.extend_from_slice(&sport.to_be_bytes());
    v.extend_from_slice(&dport.to_be_bytes());
    v.extend_from_slice(&len.to_be_bytes());
    // No checksum: allowed over IPv4, and Wireshark does not check it by default.
    v.extend_from_slice(&0u16.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn tcp(sport: u16, dport: u16, seq: u32, ack: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(payload.len() + 20);
    v.extend_from_slice(&sport.to_be_bytes());
    v.extend_from_slice(&dport.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&ack.to_be_bytes());
    // Header of 5 words; PSH and ACK.
    v.push(5 << 4);
    v.push(0x18);
    v.extend_from_slice(&u16::MAX.to_be_bytes());
    v.extend_from_slice(&[0; 4]);
    v.extend_from_slice(payload);
    v
}

fn ip(src: IpAddr, dst: IpAddr, proto: u8, body: &[u8]) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = u16::try_from(body.len() + 20).unwrap_or(u16::MAX);
            let mut h = vec![0x45, 0];
            h.extend_from_slice(&total.to_be_bytes());
            h.extend_from_slice(&[0, 0, 0x40, 0, 64, proto, 0, 0]);
            h.extend_from_slice(&s.octets());
            h.extend_from_slice(&d.octets());
            let sum = checksum(&h);
            h[10..12].copy_from_slice(&sum.to_be_bytes());
            h.extend_from_slice(body);
            h
        }
        (s, d) => {
            let (s, d) = (v6(s), v6(d));
            let len = u16::try_from(body.len()).unwrap_or(u16::MAX);
            let mut h = vec![0x60, 0, 0, 0];
            h.extend_from_slice(&len.to_be_bytes());
            h.extend_from_slice(&[proto, 64]);
            h.extend_from_slice(&s.octets());
            h.extend_from_slice(&d.octets());
            h.extend_from_slice(body);
            h
        }
    }
}

/// An address as IPv6 (IPv4 mapped), for a packet whose two ends are of different families.
pub(super) fn v6(ip: IpAddr) -> std::net::Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// The Internet checksum of an IPv4 header (RFC 791).
fn checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv4_udp_packet_has_a_valid_header() {
        let p = packet(
            "127.0.0.1:5060".parse().unwrap(),
            "127.0.0.2:40000".parse().unwrap(),
            None,
            b"SIP",
        );
        assert_eq!(p.len(), 20 + 8 + 3);
        assert_eq!(
            checksum(&p[..20]),
            0,
            "a header with its checksum sums to zero"
        );
        assert_eq!((p[9], &p[20..22]), (UDP, &5060u16.to_be_bytes()[..]));
        let t = packet(
            "[::1]:5061".parse().unwrap(),
            "[::1]:1234".parse().unwrap(),
            Some((7, 9)),
            b"x",
        );
        assert_eq!((t[0] >> 4, t[6], t.len()), (6, TCP, 40 + 20 + 1));
        assert_eq!(&t[44..48], &7u32.to_be_bytes());
    }
}

//! A pcapng file (the format Wireshark, tshark and libpcap read): one section, one interface of link
//! type RAW (each packet an IPv4 or IPv6 header first), enhanced packet blocks with a comment.

use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

/// LINKTYPE_RAW: the packet starts with its IP header.
const LINKTYPE_RAW: u16 = 101;

/// Writes the blocks; each packet is flushed at once, so that a run cut short leaves a whole file.
pub struct Writer<W: Write> {
    out: W,
}

impl<W: Write> Writer<W> {
    /// Writes the section header and the interface description.
    ///
    /// # Errors
    /// The writer's error.
    pub fn new(mut out: W) -> io::Result<Self> {
        // Section Header Block: byte-order magic, version 1.0, section length unknown.
        let mut shb = Vec::with_capacity(16);
        shb.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
        shb.extend_from_slice(&1u16.to_le_bytes());
        shb.extend_from_slice(&0u16.to_le_bytes());
        shb.extend_from_slice(&u64::MAX.to_le_bytes());
        block(&mut out, 0x0A0D_0D0A, &shb)?;
        // Interface Description Block: RAW, no snap length; timestamps in microseconds (the default).
        let mut idb = Vec::with_capacity(8);
        idb.extend_from_slice(&LINKTYPE_RAW.to_le_bytes());
        idb.extend_from_slice(&0u16.to_le_bytes());
        idb.extend_from_slice(&0u32.to_le_bytes());
        block(&mut out, 1, &idb)?;
        out.flush()?;
        Ok(Writer { out })
    }

    /// Writes one packet taken at `at`, with `comment` (empty: none).
    ///
    /// # Errors
    /// The writer's error.
    pub fn packet(&mut self, at: SystemTime, packet: &[u8], comment: &str) -> io::Result<()> {
        let us = at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        let len = u32::try_from(packet.len()).unwrap_or(u32::MAX);
        let mut epb = Vec::with_capacity(packet.len() + comment.len() + 40);
        epb.extend_from_slice(&0u32.to_le_bytes());
        epb.extend_from_slice(&((us >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(us as u32).to_le_bytes());
        epb.extend_from_slice(&len.to_le_bytes());
        epb.extend_from_slice(&len.to_le_bytes());
        epb.extend_from_slice(packet);
        pad(&mut epb);
        if !comment.is_empty() {
            // opt_comment (1), then opt_endofopt.
            epb.extend_from_slice(&1u16.to_le_bytes());
            epb.extend_from_slice(&u16::try_from(comment.len()).unwrap_or(0).to_le_bytes());
            epb.extend_from_slice(comment.as_bytes());
            pad(&mut epb);
            epb.extend_from_slice(&[0; 4]);
        }
        block(&mut self.out, 6, &epb)?;
        self.out.flush()
    }
}

fn pad(v: &mut Vec<u8>) {
    while v.len() % 4 != 0 {
        v.push(0);
    }
}

/// One block: type, total length, body (padded by the caller), total length again.
fn block(out: &mut impl Write, kind: u32, body: &[u8]) -> io::Result<()> {
    let total = u32::try_from(body.len() + 12).unwrap_or(u32::MAX);
    out.write_all(&kind.to_le_bytes())?;
    out.write_all(&total.to_le_bytes())?;
    out.write_all(body)?;
    out.write_all(&total.to_le_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_framed_and_padded() {
        let mut w = Writer::new(Vec::new()).unwrap();
        w.packet(UNIX_EPOCH, b"abcde", "hi").unwrap();
        let b = w.out;
        // SHB 28 bytes, IDB 20 bytes, EPB 32 + 8 (5 bytes padded) + 4 + 4 ("hi" padded) + 4.
        assert_eq!(&b[..4], &0x0A0D_0D0Au32.to_le_bytes());
        assert_eq!(u32::from_le_bytes(b[4..8].try_into().unwrap()), 28);
        assert_eq!(u32::from_le_bytes(b[28..32].try_into().unwrap()), 1);
        let epb = &b[48..];
        assert_eq!(u32::from_le_bytes(epb[..4].try_into().unwrap()), 6);
        let total = u32::from_le_bytes(epb[4..8].try_into().unwrap()) as usize;
        assert_eq!(total, epb.len());
        assert_eq!(total % 4, 0);
        assert_eq!(&epb[28..33], b"abcde");
    }
}

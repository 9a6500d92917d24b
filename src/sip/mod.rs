//! SIP messages: the REGISTER we send (built with rsip) and a tolerant reader for what servers answer.
//!
//! rsip 0.4 builds requests well but fails on several forms RFC 3261 allows in responses (compact header
//! names, folded lines, comma-separated Via values, IPv6 in Via, `algorithm=SHA-256`). Responses are
//! therefore read by our own tolerant parser in [`response`]; rsip stays behind this module.

pub mod digest;
pub mod framing;
pub mod header;
pub mod message;
pub mod request;
pub mod response;

/// The RFC 3261 §8.1.1.7 magic cookie that starts every branch we generate.
pub const BRANCH_COOKIE: &str = "z9hG4bK";

/// Largest SIP message sipreg accepts, on any transport.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// Most header lines sipreg accepts in one message.
pub const MAX_HEADERS: usize = 256;

/// The method of a request's start line (`OPTIONS sip:… SIP/2.0`), or `None` for a response or
/// anything else (RFC 3261 §7.1: Method SP Request-URI SP SIP-Version).
#[must_use]
pub fn request_method(bytes: &[u8]) -> Option<String> {
    let line = bytes.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?.trim_end_matches('\r');
    let mut words = line.split(' ');
    let method = words.next()?;
    let _uri = words.next()?;
    let version = words.next()?;
    let token = !method.is_empty()
        && method.len() <= 32
        && method
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b == b'-' || b.is_ascii_digit());
    (token && version.eq_ignore_ascii_case("SIP/2.0") && words.next().is_none())
        .then(|| method.to_string())
}

/// Random lowercase hex of `bytes` random bytes, for branches, tags and Call-IDs.
#[must_use]
pub fn random_hex(bytes: usize) -> String {
    let mut out = Vec::with_capacity(bytes * 2);
    put_random_hex(&mut out, bytes);
    ascii(out)
}

/// Appends lowercase hex of `bytes` random bytes to `out`.
pub fn put_random_hex(out: &mut Vec<u8>, bytes: usize) {
    use rand::RngCore;
    let mut rng = rand::rng();
    let mut left = bytes;
    while left > 0 {
        let word = rng.next_u64().to_le_bytes();
        let n = left.min(word.len());
        put_hex(out, &word[..n]);
        left -= n;
    }
}

/// Lowercase hex of `data`.
#[must_use]
pub fn hex(data: &[u8]) -> String {
    let mut out = Vec::with_capacity(data.len() * 2);
    put_hex(&mut out, data);
    ascii(out)
}

/// Appends lowercase hex of `data` to `out`.
pub fn put_hex(out: &mut Vec<u8>, data: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    // Through a buffer on the stack: one copy per 32 bytes rather than a push per digit.
    for chunk in data.chunks(32) {
        let mut buf = [0u8; 64];
        for (pair, b) in buf.chunks_exact_mut(2).zip(chunk) {
            pair[0] = DIGITS[usize::from(b >> 4)];
            pair[1] = DIGITS[usize::from(b & 0x0f)];
        }
        out.extend_from_slice(&buf[..2 * chunk.len()]);
    }
}

/// Appends `n` in decimal to `out`: what `write!(out, "{n}")` does, without the formatting
/// machinery (a storm writes tens of thousands of numbers a second).
pub fn put_decimal(out: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        // A remainder of 10 is one digit: the cast cannot truncate.
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Text written as bytes by the `put_` functions from text and ASCII (never lossy in practice;
/// checked once, where `String::push` would check every character).
#[must_use]
pub fn ascii(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// A fresh RFC 3261 §8.1.1.7 branch: the magic cookie and 64 random bits.
#[must_use]
pub fn new_branch() -> String {
    let mut out = Vec::with_capacity(BRANCH_COOKIE.len() + 16);
    out.extend_from_slice(BRANCH_COOKIE.as_bytes());
    put_random_hex(&mut out, 8);
    ascii(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_and_hex_are_written_as_format_writes_them() {
        for n in [
            0u64,
            7,
            10,
            99,
            100,
            3600,
            65_535,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut out = b"x".to_vec();
            put_decimal(&mut out, n);
            assert_eq!(ascii(out), format!("x{n}"));
        }
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        let long: Vec<u8> = (0..=255u8).collect();
        let expected: String = long.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex(&long), expected);
        for n in [0, 1, 6, 8, 9, 16, 17] {
            let h = random_hex(n);
            assert_eq!(h.len(), 2 * n);
            assert!(
                h.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            );
        }
        assert_ne!(random_hex(16), random_hex(16));
        let b = new_branch();
        assert!(b.starts_with(BRANCH_COOKIE) && b.len() == BRANCH_COOKIE.len() + 16);
    }

    #[test]
    fn request_lines_are_told_from_responses() {
        assert_eq!(
            request_method(b"OPTIONS sip:alice@10.0.0.5 SIP/2.0\r\nVia: x\r\n\r\n").as_deref(),
            Some("OPTIONS")
        );
        assert_eq!(request_method(b"SIP/2.0 200 OK\r\n\r\n"), None);
        assert_eq!(request_method(b"options sip:x SIP/2.0\r\n"), None);
        assert_eq!(request_method(b"\xff\xfe"), None);
    }
}

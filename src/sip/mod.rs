//! SIP messages: the REGISTER we send (built with rsip) and a tolerant reader for what servers answer.
//!
//! rsip 0.4 builds requests well but fails on several forms RFC 3261 allows in responses (compact header
//! names, folded lines, comma-separated Via values, IPv6 in Via, `algorithm=SHA-256`). Responses are
//! therefore read by our own tolerant parser in [`response`]; rsip stays behind this module.

pub mod digest;
pub mod framing;
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
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex(&buf)
}

/// Lowercase hex of `data`.
#[must_use]
pub fn hex(data: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(data.len() * 2);
    for b in data {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// A fresh RFC 3261 §8.1.1.7 branch: the magic cookie and 64 random bits.
#[must_use]
pub fn new_branch() -> String {
    format!("{BRANCH_COOKIE}{}", random_hex(8))
}

#[cfg(test)]
mod tests {
    use super::*;

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

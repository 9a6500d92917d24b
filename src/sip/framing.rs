//! Message framing on stream transports (RFC 3261 §18.3): headers up to the empty line, then exactly
//! Content-Length bytes of body; CRLF keep-alives between messages are frames of their own (RFC 5626
//! §3.5.1: a ping is CRLFCRLF, a pong is CRLF).

use super::{MAX_HEADERS, MAX_MESSAGE};

/// Why a stream could not be framed into messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// The headers or the whole message passed [`MAX_MESSAGE`].
    #[error("message larger than the {} KiB limit", MAX_MESSAGE / 1024)]
    TooLarge,
    /// More header lines than [`MAX_HEADERS`] before the empty line.
    #[error("more than {MAX_HEADERS} header lines")]
    TooManyHeaders,
    /// Content-Length is not a number.
    #[error("invalid Content-Length {0:?}")]
    BadContentLength(String),
}

/// Where the header block ends: `(end of headers, start of body)`. Accepts CRLF CRLF and bare LF LF,
/// whichever comes first. Two vector searches over the message (a storm reads every answer twice)
/// rather than a search per line.
#[must_use]
pub fn header_end(buf: &[u8]) -> Option<(usize, usize)> {
    static CRLF: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\n\r\n"));
    static LF: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\n\n"));
    let crlf = CRLF.find(buf);
    // A bare LF LF counts when its first LF comes before the CRLF CRLF's.
    let before = crlf.map_or(buf, |at| &buf[..at + 2]);
    match LF.find(before) {
        Some(at) => Some((at + 1, at + 2)),
        None => crlf.map(|at| (at + 1, at + 3)),
    }
}

/// Content-Length from a header block (`Content-Length` or compact `l`); `None` when absent.
fn content_length(head: &[u8]) -> Result<Option<usize>, FramingError> {
    // Every message on a stream passes here. Read from the end, since registrars write it last and a
    // message has one (§7.3.1: it is no list header); only a line that starts as `Content-Length` or
    // `l` is looked at (a folded continuation starts with whitespace).
    let mut rest = head;
    while !rest.is_empty() {
        let start = memchr::memrchr(b'\n', &rest[..rest.len() - 1]).map_or(0, |i| i + 1);
        let line = &rest[start..];
        rest = &rest[..start];
        if !matches!(line.first(), Some(b'c' | b'C' | b'l' | b'L')) {
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = line[..colon].trim_ascii();
        if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
            let value = line[colon + 1..].trim_ascii();
            return std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
                .map(Some)
                .ok_or_else(|| {
                    let text = String::from_utf8_lossy(value);
                    FramingError::BadContentLength(text.chars().take(32).collect())
                });
        }
    }
    Ok(None)
}

/// One unit read from a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A whole SIP message.
    Message(Vec<u8>),
    /// CRLFCRLF: the peer asks for a pong (RFC 5626 §4.4.1).
    Ping,
    /// CRLF: the answer to our ping.
    Pong,
}

/// Accumulates bytes from a stream and yields whole messages, within the size limits. Work per byte
/// is constant: the search for the end of the headers resumes where it stopped, so a server that
/// trickles bytes cannot make framing quadratic.
#[derive(Debug, Default)]
pub struct StreamFramer {
    buf: Vec<u8>,
    /// Bytes at the front of `buf` already returned: taking a message moves nothing, so a read that
    /// brings a hundred answers (a shared connection in a storm) costs no copying per message.
    start: usize,
    /// Bytes of `buf` already searched for the end of the headers.
    scanned: usize,
    /// Line feeds among the scanned bytes.
    newlines: usize,
    /// `(end of headers, whole message length)` once the headers are complete.
    head: Option<(usize, usize)>,
}

impl StreamFramer {
    /// An empty framer.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes read from the stream.
    pub fn push(&mut self, data: &[u8]) {
        if self.start > 0 {
            // What is left is at most one unfinished message.
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// The bytes not yet returned.
    fn data(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Marks `n` more bytes as returned.
    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start >= self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
    }

    /// Bytes buffered and not yet returned as a message.
    #[must_use]
    pub fn buffered(&self) -> usize {
        // A lone CR waiting for its LF is not an unfinished message.
        if self.data() == b"\r" {
            0
        } else {
            self.data().len()
        }
    }

    /// The next whole message, if the buffer holds one; keep-alives are skipped.
    ///
    /// # Errors
    /// A [`FramingError`] when the stream breaks a limit or sends a bad Content-Length; the stream
    /// cannot be framed after that.
    pub fn next_message(&mut self) -> Result<Option<Vec<u8>>, FramingError> {
        loop {
            match self.next_frame()? {
                Some(Frame::Message(m)) => return Ok(Some(m)),
                Some(Frame::Ping | Frame::Pong) => {}
                None => return Ok(None),
            }
        }
    }

    /// The next frame: a keep-alive between messages, or a whole message.
    ///
    /// Between messages, CRLFCRLF is a ping and a lone CRLF a pong (RFC 5626 §3.5.1); a CRLF at the
    /// end of what has arrived so far is read as a pong, since a client receives pongs. Stray CR or
    /// LF bytes that form neither are skipped.
    ///
    /// # Errors
    /// As [`StreamFramer::next_message`].
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FramingError> {
        if self.scanned == 0 {
            if let Some(frame) = self.keepalive() {
                return Ok(Some(frame));
            }
            if self.data().is_empty() || self.data() == b"\r" {
                // Nothing, or the first half of a CRLF: wait for more.
                return Ok(None);
            }
        }
        Ok(self.message()?.map(Frame::Message))
    }

    /// A keep-alive at the front of the buffer, removed from it.
    ///
    /// A ping split after its first CRLF reads as two pongs: a client receives pongs, so a lone CRLF
    /// is not held back waiting for a second one.
    fn keepalive(&mut self) -> Option<Frame> {
        loop {
            if self.data().starts_with(b"\r\n\r\n") {
                self.consume(4);
                return Some(Frame::Ping);
            }
            if self.data().starts_with(b"\r\n") {
                self.consume(2);
                return Some(Frame::Pong);
            }
            // A stray LF, or a CR that is not the start of a CRLF, belongs to nothing.
            let stray = match self.data() {
                [b'\n', ..] | [b'\r', _, ..] => 1,
                _ => return None,
            };
            self.consume(stray);
        }
    }

    fn message(&mut self) -> Result<Option<Vec<u8>>, FramingError> {
        let total = match self.head {
            Some((_, total)) => total,
            None => {
                let start = self.scanned.saturating_sub(3);
                let Some((head_end, body_start)) = header_end(&self.data()[start..]) else {
                    let fresh = &self.data()[self.scanned..];
                    self.newlines += fresh.iter().filter(|b| **b == b'\n').count();
                    self.scanned = self.data().len();
                    if self.data().len() > MAX_MESSAGE {
                        return Err(FramingError::TooLarge);
                    }
                    if self.newlines > MAX_HEADERS + 1 {
                        return Err(FramingError::TooManyHeaders);
                    }
                    return Ok(None);
                };
                let (head_end, body_start) = (head_end + start, body_start + start);
                // A message without Content-Length on a stream breaks §18.3; read it as an empty body.
                let body_len = content_length(&self.data()[..head_end])?.unwrap_or(0);
                let total = body_start
                    .checked_add(body_len)
                    .ok_or(FramingError::TooLarge)?;
                if total > MAX_MESSAGE {
                    return Err(FramingError::TooLarge);
                }
                self.head = Some((head_end, total));
                self.scanned = self.data().len();
                total
            }
        };
        if self.data().len() < total {
            return Ok(None);
        }
        let message = self.data()[..total].to_vec();
        self.consume(total);
        self.scanned = 0;
        self.newlines = 0;
        self.head = None;
        Ok(Some(message))
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_header_end_is_where_a_line_by_line_walk_finds_it() {
        /// The rule as a walk: the first LF followed by LF or by CRLF.
        fn walk(buf: &[u8]) -> Option<(usize, usize)> {
            (0..buf.len()).filter(|&i| buf[i] == b'\n').find_map(|at| {
                match (buf.get(at + 1), buf.get(at + 2)) {
                    (Some(b'\n'), _) => Some((at + 1, at + 2)),
                    (Some(b'\r'), Some(b'\n')) => Some((at + 1, at + 3)),
                    _ => None,
                }
            })
        }
        let pieces: [&[u8]; 5] = [b"a", b"\n", b"\r", b"\r\n", b"\n\r"];
        // Every sequence of up to six pieces: 5^6 buffers.
        for n in 0..5usize.pow(6) {
            let mut buf = Vec::new();
            let mut k = n;
            for _ in 0..6 {
                buf.extend_from_slice(pieces[k % 5]);
                k /= 5;
            }
            assert_eq!(
                header_end(&buf),
                walk(&buf),
                "{:?}",
                String::from_utf8_lossy(&buf)
            );
        }
        assert_eq!(
            header_end(b"SIP/2.0 200 OK\r\nA: b\r\n\r\nbody"),
            Some((22, 24))
        );
        assert_eq!(header_end(b"x\n\n"), Some((2, 3)));
    }

    use super::*;

    #[test]
    fn content_length_in_any_form_and_only_at_a_line_start() {
        type Case<'a> = (&'a [u8], Result<Option<usize>, FramingError>);
        let cases: [Case<'_>; 8] = [
            (b"SIP/2.0 200 OK\r\nContent-Length: 12\r\n", Ok(Some(12))),
            (
                b"SIP/2.0 200 OK\r\nCall-ID: a\r\nCONTENT-LENGTH :7 \r\n",
                Ok(Some(7)),
            ),
            (b"SIP/2.0 200 OK\nl:3\n", Ok(Some(3))),
            (
                b"SIP/2.0 200 OK\r\nSubject: x\r\n Content-Length: 9\r\n",
                Ok(None),
            ),
            (
                b"SIP/2.0 200 OK\r\nContact: <sip:a@b>;l=4\r\nCSeq: 1 X\r\n",
                Ok(None),
            ),
            (
                b"SIP/2.0 200 OK\r\nContent-Length: x1\r\n",
                Err(FramingError::BadContentLength("x1".into())),
            ),
            (
                b"SIP/2.0 200 OK\r\nl: \xff\r\n",
                Err(FramingError::BadContentLength("\u{fffd}".into())),
            ),
            (b"", Ok(None)),
        ];
        for (head, expected) in cases {
            assert_eq!(
                content_length(head),
                expected,
                "{}",
                String::from_utf8_lossy(head)
            );
        }
    }

    #[test]
    fn frames_two_messages_and_skips_keepalives() {
        let mut f = StreamFramer::new();
        f.push(b"\r\n\r\nSIP/2.0 100 Trying\r\nContent-Length: 0\r\n\r\nSIP/2.0 200 OK\r\nl: 3\r\n\r\nab");
        let first = f.next_message().unwrap().unwrap();
        assert!(first.starts_with(b"SIP/2.0 100"));
        assert_eq!(f.next_message().unwrap(), None, "body incomplete");
        f.push(b"c");
        let second = f.next_message().unwrap().unwrap();
        assert!(second.ends_with(b"\r\n\r\nabc"));
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn keepalives_are_frames() {
        let mut f = StreamFramer::new();
        f.push(b"\r\n\r\n\r\nSIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n\r\n");
        assert_eq!(f.next_frame().unwrap(), Some(Frame::Ping));
        assert_eq!(f.next_frame().unwrap(), Some(Frame::Pong));
        assert!(matches!(f.next_frame().unwrap(), Some(Frame::Message(_))));
        assert_eq!(f.next_frame().unwrap(), Some(Frame::Pong));
        assert_eq!(f.next_frame().unwrap(), None);
        let mut stray = StreamFramer::new();
        stray.push(b"\n\rSIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n");
        assert!(matches!(
            stray.next_frame().unwrap(),
            Some(Frame::Message(_))
        ));
        // A CRLF split across reads is still one pong; a lone CR is not counted as a message.
        let mut split = StreamFramer::new();
        split.push(b"\n\r");
        assert_eq!(split.next_frame().unwrap(), None);
        assert_eq!(split.buffered(), 0);
        split.push(b"\n");
        assert_eq!(split.next_frame().unwrap(), Some(Frame::Pong));
    }

    #[test]
    fn one_byte_at_a_time() {
        let msg = b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n";
        let mut f = StreamFramer::new();
        for (i, b) in msg.iter().enumerate() {
            f.push(&[*b]);
            let got = f.next_message().unwrap();
            assert_eq!(got.is_some(), i == msg.len() - 1);
        }
    }

    #[test]
    fn a_trickled_header_block_is_found_across_pushes() {
        let msg = b"SIP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok";
        for split in 1..msg.len() {
            let mut f = StreamFramer::new();
            f.push(&msg[..split]);
            assert_eq!(f.next_message().unwrap(), None, "split at {split}");
            f.push(&msg[split..]);
            assert_eq!(
                f.next_message().unwrap().as_deref(),
                Some(&msg[..]),
                "split at {split}"
            );
        }
    }

    #[test]
    fn limits() {
        let mut f = StreamFramer::new();
        f.push(b"SIP/2.0 200 OK\r\nContent-Length: 999999\r\n\r\n");
        assert_eq!(f.next_message(), Err(FramingError::TooLarge));
        let mut f = StreamFramer::new();
        f.push(b"SIP/2.0 200 OK\r\nContent-Length: -1\r\n\r\n");
        assert!(matches!(
            f.next_message(),
            Err(FramingError::BadContentLength(_))
        ));
        let mut f = StreamFramer::new();
        f.push(&vec![b'a'; MAX_MESSAGE + 1]);
        assert_eq!(f.next_message(), Err(FramingError::TooLarge));
        let mut f = StreamFramer::new();
        f.push(b"SIP/2.0 200 OK\r\n");
        f.push(&b"X: y\r\n".repeat(MAX_HEADERS + 2));
        assert_eq!(f.next_message(), Err(FramingError::TooManyHeaders));
    }
}

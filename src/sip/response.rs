//! A tolerant reader for SIP responses (RFC 3261 §7.2, §7.3): compact names, folded lines, bare LF,
//! comma-separated values and IPv6 hosts, which rsip 0.4 rejects or misreads.

use std::borrow::Cow;

use super::header::{Contact, Via, contact_host_port, param, split_params, split_top_level};
use super::{MAX_HEADERS, MAX_MESSAGE};

/// Why a message could not be read as a SIP response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The bytes before the first line break are not `SIP/2.0 NNN reason`.
    #[error("not a SIP response: bad status line")]
    StatusLine,
    /// The message is larger than [`MAX_MESSAGE`].
    #[error("message larger than the {} KiB limit", MAX_MESSAGE / 1024)]
    TooLarge,
    /// More header lines than [`MAX_HEADERS`].
    #[error("more than {MAX_HEADERS} header lines")]
    TooManyHeaders,
    /// A header line without a colon.
    #[error("malformed header line")]
    HeaderLine,
    /// The headers do not end with an empty line.
    #[error("truncated message: the headers do not end with an empty line")]
    Truncated,
}

/// One parsed response: status, reason phrase and headers with full lowercase names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code, 100–699.
    pub status: u16,
    /// Reason phrase exactly as the server wrote it.
    pub reason: String,
    /// The header values one after another: one buffer, not a string per value.
    values: String,
    /// Each header's full lowercase name and the span of its value in `values`.
    headers: Vec<(Cow<'static, str>, usize, usize)>,
    /// The first Via value that parses, read once: the transaction, the registration and the report
    /// each look at it.
    top_via: Option<Via>,
}

/// The header block as text. Servers do send Latin-1 reason phrases: read what can be read, and
/// replace control characters other than tab, CR and LF, so no server text can drive the user's
/// terminal. Plain ASCII, the common case, is borrowed as it is.
fn head_text(raw: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(raw) {
        Ok(text) if plain(raw) => std::borrow::Cow::Borrowed(text),
        _ => String::from_utf8_lossy(raw)
            .chars()
            .map(|c| {
                if c.is_control() && !matches!(c, '\t' | '\r' | '\n') {
                    '\u{fffd}'
                } else {
                    c
                }
            })
            .collect::<String>()
            .into(),
    }
}

/// True when `raw` is printable ASCII, tab, CR and LF only. Eight bytes at a time: a chunk is
/// looked at byte by byte only when it may hold a byte below 0x20 (the line ends), DEL or non-ASCII.
fn plain(raw: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let ok = |b: &u8| matches!(b, b'\t' | b'\r' | b'\n' | 0x20..=0x7e);
    let mut chunks = raw.chunks_exact(8);
    for chunk in chunks.by_ref() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let below_space = x.wrapping_sub(ONES * 0x20) & !x;
        let del = (x ^ (ONES * 0x7f)).wrapping_sub(ONES) & !(x ^ (ONES * 0x7f));
        if (x | below_space | del) & HIGHS != 0 && !chunk.iter().all(ok) {
            return false;
        }
    }
    chunks.remainder().iter().all(ok)
}

/// The lines of a header block, the CR of a CRLF removed (bare LF is accepted too).
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let r = rest?;
        let (line, next) = match memchr::memchr(b'\n', r.as_bytes()) {
            // A line feed is one byte: both cuts fall on character boundaries.
            Some(i) => (r.get(..i)?, r.get(i + 1..)),
            None => (r, None),
        };
        rest = next;
        Some(line.strip_suffix('\r').unwrap_or(line))
    })
}

/// Full header name for an RFC 3261 §7.3.3 compact form, lowercase. The names a registrar sends
/// come without an allocation.
pub(crate) fn expand_compact(name: &str) -> Cow<'static, str> {
    let mut buf = [0u8; 24];
    let Some(lower) = buf.get_mut(..name.len()) else {
        return Cow::Owned(name.to_ascii_lowercase());
    };
    lower.copy_from_slice(name.as_bytes());
    lower.make_ascii_lowercase();
    let full = match &*lower {
        b"i" | b"call-id" => "call-id",
        b"m" | b"contact" => "contact",
        b"e" | b"content-encoding" => "content-encoding",
        b"l" | b"content-length" => "content-length",
        b"c" | b"content-type" => "content-type",
        b"f" | b"from" => "from",
        b"s" | b"subject" => "subject",
        b"k" | b"supported" => "supported",
        b"t" | b"to" => "to",
        b"v" | b"via" => "via",
        b"cseq" => "cseq",
        b"www-authenticate" => "www-authenticate",
        b"proxy-authenticate" => "proxy-authenticate",
        b"authentication-info" => "authentication-info",
        b"expires" => "expires",
        b"min-expires" => "min-expires",
        b"server" => "server",
        b"user-agent" => "user-agent",
        b"date" => "date",
        b"allow" => "allow",
        b"require" => "require",
        b"retry-after" => "retry-after",
        b"flow-timer" => "flow-timer",
        b"path" => "path",
        b"service-route" => "service-route",
        _ => return Cow::Owned(name.to_ascii_lowercase()),
    };
    Cow::Borrowed(full)
}

/// Headers whose values may be comma lists (RFC 3261 §7.3.1). Authentication headers are not among
/// them: their parameters are comma-separated.
fn is_list_header(name: &str) -> bool {
    matches!(name, "via" | "contact" | "allow" | "supported" | "require")
}

/// The headers as [`Response::parse`] collects them: full names and spans into one buffer.
struct Fields {
    headers: Vec<(Cow<'static, str>, usize, usize)>,
    values: String,
    /// The header block holds a CR that does not end a line: values are checked for it.
    stray_cr: bool,
}

impl Fields {
    fn add(&mut self, name: Cow<'static, str>, value: &str) {
        let start = self.values.len();
        self.values.push_str(value);
        self.headers.push((name, start, self.values.len()));
    }

    /// One header line, unfolded: `name: value`, a list header split into its elements (§7.3.1).
    fn add_line(&mut self, line: &str) -> Result<(), ParseError> {
        // Header names are short: a walk finds the colon sooner than a vector search starts.
        let colon = line
            .bytes()
            .position(|b| b == b':')
            .ok_or(ParseError::HeaderLine)?;
        let name = expand_compact(line[..colon].trim_ascii());
        let value = line[colon + 1..].trim_ascii();
        let replaced;
        let value = if self.stray_cr && memchr::memchr(b'\r', value.as_bytes()).is_some() {
            replaced = value.replace('\r', "\u{fffd}");
            replaced.as_str()
        } else {
            value
        };
        if is_list_header(&name) {
            for part in split_top_level(value, ',') {
                self.add(name.clone(), part.trim_ascii());
            }
        } else {
            self.add(name, value);
        }
        Ok(())
    }
}

impl Response {
    /// Parses one complete message (headers and body) received from the network.
    ///
    /// # Errors
    /// A [`ParseError`] when the bytes are not a response or break a limit.
    pub fn parse(bytes: &[u8]) -> Result<Response, ParseError> {
        if bytes.len() > MAX_MESSAGE {
            return Err(ParseError::TooLarge);
        }
        // §7: the headers end with an empty line; a datagram without it was cut short.
        let (head_len, _) = super::framing::header_end(bytes).ok_or(ParseError::Truncated)?;
        let head = head_text(&bytes[..head_len]);
        let mut lines = lines(&head);
        let status_line = lines
            .by_ref()
            .find(|l| !l.trim().is_empty())
            .ok_or(ParseError::StatusLine)?;
        let (status, reason) = parse_status_line(status_line)?;
        let reason = if reason.contains('\r') {
            reason.replace('\r', "\u{fffd}")
        } else {
            reason
        };
        let bytes = head.as_bytes();
        let mut fields = Fields {
            headers: Vec::with_capacity(16),
            values: String::with_capacity(head_len),
            stray_cr: memchr::memchr_iter(b'\r', bytes).any(|i| bytes.get(i + 1) != Some(&b'\n')),
        };
        // §7.3.1: a line that starts with whitespace continues the previous header value.
        // Borrowed unless folded: most headers are one line.
        let mut pending: Option<Cow<'_, str>> = None;
        let mut count = 0usize;
        for line in lines {
            if line.is_empty() {
                break;
            }
            if matches!(line.as_bytes()[0], b' ' | b'\t') {
                let prev = pending.as_mut().ok_or(ParseError::HeaderLine)?.to_mut();
                prev.push(' ');
                prev.push_str(line.trim());
                continue;
            }
            if count >= MAX_HEADERS {
                return Err(ParseError::TooManyHeaders);
            }
            count += 1;
            if let Some(done) = pending.replace(Cow::Borrowed(line)) {
                fields.add_line(&done)?;
            }
        }
        if let Some(done) = pending {
            fields.add_line(&done)?;
        }
        let Fields {
            headers, values, ..
        } = fields;
        let mut response = Response {
            status,
            reason,
            values,
            headers,
            top_via: None,
        };
        let top_via = response.headers_named("via").find_map(Via::parse);
        response.top_via = top_via;
        Ok(response)
    }

    /// The first value of a header, by full or compact name, case-insensitive.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers_named(name).next()
    }

    /// Every value of a header, in order; list headers are split into their elements.
    pub fn headers_named(&self, name: &str) -> impl Iterator<Item = &str> {
        let name = expand_compact(name);
        self.headers
            .iter()
            .filter(move |(n, _, _)| *n == name)
            .map(|(_, start, end)| self.values.get(*start..*end).unwrap_or_default())
    }

    /// The Via values that parse, top first.
    #[must_use]
    pub fn vias(&self) -> Vec<Via> {
        self.headers_named("via").filter_map(Via::parse).collect()
    }

    /// The top Via value, the one that names us (the first that parses).
    #[must_use]
    pub fn top_via(&self) -> Option<&Via> {
        self.top_via.as_ref()
    }

    /// How many Via values the response carries, parseable or not (RFC 3261 §8.1.3.3).
    #[must_use]
    pub fn via_count(&self) -> usize {
        self.headers_named("via").count()
    }

    /// CSeq number and method (§20.16).
    #[must_use]
    pub fn cseq(&self) -> Option<(u32, String)> {
        let value = self.header("cseq")?;
        let mut it = value.split_whitespace();
        let num = it.next()?.parse().ok()?;
        let method = it.next()?.to_ascii_uppercase();
        Some((num, method))
    }

    /// Whether the CSeq is `number method` (method case-insensitive), without copying it.
    #[must_use]
    pub fn cseq_is(&self, number: u32, method: &str) -> bool {
        let Some(value) = self.header("cseq") else {
            return false;
        };
        let mut it = value.split_whitespace();
        it.next().and_then(|n| n.parse::<u32>().ok()) == Some(number)
            && it.next().is_some_and(|m| m.eq_ignore_ascii_case(method))
    }

    /// Whether a `Require` header names `option` (RFC 3261 §20.32): `outbound` when the registrar
    /// agreed to an RFC 5626 flow (§5.2).
    #[must_use]
    pub fn requires(&self, option: &str) -> bool {
        self.headers_named("require")
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(option))
    }

    /// A header holding a number of seconds (Expires, Min-Expires, Retry-After), comments ignored.
    #[must_use]
    pub fn seconds(&self, name: &str) -> Option<u32> {
        let value = self.header(name)?;
        let digits: String = value
            .trim()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    }

    /// The `expires` parameter of the Contact whose URI contains `our_contact` (`host:port` of our
    /// binding), as a registrar grants it (§10.3 step 8, §10.2.4).
    #[must_use]
    pub fn contact_expires(&self, our_host_port: &str) -> Option<u32> {
        self.headers_named("contact")
            .filter(|c| {
                contact_host_port(c).is_some_and(|hp| hp.eq_ignore_ascii_case(our_host_port))
            })
            .find_map(|c| {
                let after_uri = c.rsplit_once('>').map_or(c, |(_, rest)| rest);
                split_params(after_uri)
                    .map(param)
                    .find(|(n, _)| n.eq_ignore_ascii_case("expires"))
                    .and_then(|(_, v)| v?.parse().ok())
            })
    }

    /// The Contact values that parse, in order (RFC 3261 §10.3: a 2xx lists every binding).
    #[must_use]
    pub fn contacts(&self) -> Vec<Contact> {
        self.headers_named("contact")
            .filter_map(Contact::parse)
            .collect()
    }

    /// True for 1xx.
    #[must_use]
    pub fn is_provisional(&self) -> bool {
        self.status < 200
    }
}

fn parse_status_line(line: &str) -> Result<(u16, String), ParseError> {
    let rest = line
        .strip_prefix("SIP/2.0 ")
        .or_else(|| line.strip_prefix("sip/2.0 "))
        .ok_or(ParseError::StatusLine)?;
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    let status: u16 = code.trim().parse().map_err(|_| ParseError::StatusLine)?;
    if !(100..=699).contains(&status) {
        return Err(ParseError::StatusLine);
    }
    Ok((status, reason.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_via_params_are_what_param_reads() {
        for value in [
            "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;received=10.9.9.9;rport=5",
            "SIP/2.0/udp host ; RPORT ; Branch = \"z9hG4bKq\" ;received=[::1];rport=7;branch=second",
            "SIP/2.0/TCP h:1;received;rport=x;branch",
            "SIP/2.0/TLS h",
        ] {
            let via = Via::parse(value).unwrap();
            assert_eq!(via.branch(), via.param("branch").flatten(), "{value}");
            assert_eq!(via.received(), via.param("received").flatten(), "{value}");
            let rport = via.param("rport").flatten().and_then(|p| p.parse().ok());
            assert_eq!(via.rport(), rport, "{value}");
        }
        let via = Via::parse("SIP/2.0/udp host ; RPORT ; Branch = \"z9hG4bKq\";rport=7").unwrap();
        assert_eq!((via.transport(), via.sent_by()), ("UDP", "host"));
        assert_eq!((via.branch(), via.rport()), (Some("z9hG4bKq"), None));
    }

    #[test]
    fn header_names_expand_in_any_case_and_others_are_lowercased() {
        for full in [
            "via",
            "from",
            "to",
            "call-id",
            "cseq",
            "contact",
            "content-length",
            "content-type",
            "content-encoding",
            "subject",
            "supported",
            "www-authenticate",
            "proxy-authenticate",
            "authentication-info",
            "expires",
            "min-expires",
            "server",
            "user-agent",
            "date",
            "allow",
            "require",
            "retry-after",
            "flow-timer",
            "path",
            "service-route",
        ] {
            assert_eq!(expand_compact(full), full);
            assert_eq!(expand_compact(&full.to_ascii_uppercase()), full);
            assert!(matches!(expand_compact(full), Cow::Borrowed(_)), "{full}");
        }
        let compact = [
            ("i", "call-id"),
            ("M", "contact"),
            ("e", "content-encoding"),
            ("L", "content-length"),
            ("c", "content-type"),
            ("f", "from"),
            ("s", "subject"),
            ("k", "supported"),
            ("T", "to"),
            ("v", "via"),
        ];
        for (short, full) in compact {
            assert_eq!(expand_compact(short), full);
        }
        assert_eq!(expand_compact("X-Custom"), "x-custom");
        assert_eq!(expand_compact("x"), "x");
        assert_eq!(expand_compact("Via2"), "via2");
    }

    #[test]
    fn plain_is_the_bytewise_rule_for_every_byte_at_every_place() {
        for b in 0..=255u8 {
            let expected = matches!(b, b'\t' | b'\r' | b'\n' | 0x20..=0x7e);
            for at in 0..19 {
                let mut buf = vec![b'a'; 19];
                buf[at] = b;
                assert_eq!(plain(&buf), expected, "byte {b:#x} at {at}");
            }
        }
        assert!(plain(b""));
    }

    #[test]
    fn lines_drop_the_cr_of_crlf_only() {
        let got: Vec<&str> = lines("a\r\nb\nc\r\r\n\r\nd").collect();
        assert_eq!(got, ["a", "b", "c\r", "", "d"]);
    }

    #[test]
    fn top_level_splits_skip_quotes_brackets_and_empty_parts() {
        let split = |v, sep| split_top_level(v, sep).collect::<Vec<_>>();
        assert_eq!(
            split(r#"<sip:a;x=1>;q="a;b\";c";;e"#, ';'),
            ["<sip:a;x=1>", r#"q="a;b\";c""#, "e"]
        );
        assert_eq!(
            split("a, <sip:b,c>, \"d,e\",", ','),
            ["a", " <sip:b,c>", " \"d,e\""]
        );
        assert_eq!(split("plain", ';'), ["plain"]);
        assert_eq!(split("", ';'), Vec::<&str>::new());
        assert_eq!(split("a;b", 'é'), ["a;b"]);
    }

    const OK: &str = "SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 10.0.0.5:40000;branch=z9hG4bKabc;rport=40001;received=192.0.2.9\r\n\
From: <sip:alice@example.com>;tag=1\r\n\
To: <sip:alice@example.com>;tag=2\r\n\
Call-ID: x\r\n\
CSeq: 2 REGISTER\r\n\
Contact: <sip:alice@10.0.0.9:5060>;expires=100, <sip:alice@10.0.0.5:40000>;expires=3599\r\n\
Server: kamailio (5.6.3)\r\n\
Content-Length: 0\r\n\r\n";

    #[test]
    fn reads_a_plain_200() {
        let r = Response::parse(OK.as_bytes()).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.reason, "OK");
        assert_eq!(r.cseq(), Some((2, "REGISTER".into())));
        assert!(r.cseq_is(2, "register") && !r.cseq_is(1, "REGISTER") && !r.cseq_is(2, "INVITE"));
        let via = &r.vias()[0];
        assert_eq!(via.branch(), Some("z9hG4bKabc"));
        assert_eq!(via.received(), Some("192.0.2.9"));
        assert_eq!(via.rport(), Some(40001));
        assert_eq!(r.contact_expires("10.0.0.5:40000"), Some(3599));
        assert_eq!(r.header("SERVER"), Some("kamailio (5.6.3)"));
    }

    #[test]
    fn compact_names_folding_and_bare_lf() {
        let text = "SIP/2.0 200 OK\nv: SIP/2.0/TCP a;branch=z9hG4bK1\ni: c\nm: <sip:u@h:1>\n ;expires=5\nl: 0\n\n";
        let r = Response::parse(text.as_bytes()).unwrap();
        assert_eq!(r.vias()[0].branch(), Some("z9hG4bK1"));
        assert_eq!(r.header("call-id"), Some("c"));
        assert_eq!(r.contact_expires("h:1"), Some(5));
    }

    #[test]
    fn two_vias_on_one_line_are_both_kept() {
        let text = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2\r\n\r\n";
        let r = Response::parse(text.as_bytes()).unwrap();
        assert_eq!(r.vias().len(), 2);
        assert_eq!(r.vias()[1].branch(), Some("z9hG4bK2"));
    }

    #[test]
    fn ipv6_received_is_kept_whole() {
        let text = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP [2001:db8::10]:5060;branch=z9hG4bK1;received=2001:db8::7;rport=5\r\n\r\n";
        let r = Response::parse(text.as_bytes()).unwrap();
        let via = &r.vias()[0];
        assert_eq!(via.sent_by(), "[2001:db8::10]:5060");
        assert_eq!(via.received(), Some("2001:db8::7"));
    }

    #[test]
    fn space_before_colon_and_reason_kept() {
        let text = "SIP/2.0 423 Interval Too Brief\r\nMin-Expires : 60\r\n\r\n";
        let r = Response::parse(text.as_bytes()).unwrap();
        assert_eq!(r.reason, "Interval Too Brief");
        assert_eq!(r.seconds("min-expires"), Some(60));
    }

    #[test]
    fn www_authenticate_is_not_split_on_commas() {
        let text = "SIP/2.0 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"a\", nonce=\"b\", qop=\"auth,auth-int\"\r\n\r\n";
        let r = Response::parse(text.as_bytes()).unwrap();
        assert_eq!(r.headers_named("www-authenticate").count(), 1);
    }

    #[test]
    fn contact_expires_matches_host_and_port_exactly() {
        let text = "SIP/2.0 200 OK\r\nContact: <sip:alice@110.0.0.5:40000>;expires=10, <sip:alice@10.0.0.5:40000;transport=tcp>;expires=99\r\n\r\n";
        let r = Response::parse(text.as_bytes()).unwrap();
        assert_eq!(r.contact_expires("10.0.0.5:40000"), Some(99));
        assert_eq!(r.contact_expires("0.0.5:40000"), None);
    }

    #[test]
    fn latin1_and_control_characters_are_tamed() {
        let r = Response::parse(
            b"SIP/2.0 403 Verboten \xe4\x1b]52;c;x\x07\r\nServer: a\x1b[2Kb\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.status, 403);
        assert!(
            !r.reason.contains('\x1b') && !r.reason.contains('\x07'),
            "{:?}",
            r.reason
        );
        assert_eq!(r.header("server"), Some("a\u{fffd}[2Kb"));
        let cr = Response::parse(b"SIP/2.0 403 Forbidden\r  cycle 1 registered\r\n\r\n").unwrap();
        assert!(!cr.reason.contains('\r'));
        let cr =
            Response::parse(b"SIP/2.0 200 OK\r\nServer: a\rb\r\nTo: <sip:x@y>\r\n\r\n").unwrap();
        assert_eq!(cr.header("server"), Some("a\u{fffd}b"));
        assert_eq!(cr.header("to"), Some("<sip:x@y>"));
    }

    #[test]
    fn an_unparseable_second_via_still_counts() {
        let r = Response::parse(
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nVia: garbage\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.via_count(), 2);
    }

    #[test]
    fn rejects_garbage_and_requests() {
        assert_eq!(
            Response::parse(b"\x00\xff\r\n\r\n"),
            Err(ParseError::StatusLine)
        );
        assert_eq!(
            Response::parse(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n"),
            Err(ParseError::Truncated)
        );
        assert_eq!(
            Response::parse(b"REGISTER sip:a SIP/2.0\r\n\r\n"),
            Err(ParseError::StatusLine)
        );
        assert_eq!(
            Response::parse(b"SIP/2.0 999 Nope\r\n\r\n"),
            Err(ParseError::StatusLine)
        );
        assert_eq!(
            Response::parse(b"SIP/2.0 200 OK\r\nno colon here\r\n\r\n"),
            Err(ParseError::HeaderLine)
        );
    }
}

//! Requests that reach us from the network while we hold a binding, and our answers to them
//! (RFC 3261 §8.2): enough of the request to answer it, never more bytes than it had.

use super::framing::header_end;
use super::response::expand_compact;

/// The methods we know but do not serve: answered 405 with an Allow header (§8.2.1).
const KNOWN: &[&str] = &[
    "REGISTER",
    "SUBSCRIBE",
    "REFER",
    "INFO",
    "UPDATE",
    "PRACK",
    "PUBLISH",
    "MESSAGE",
];

/// What we accept (the Allow header of a 405).
const ALLOW: &str = "OPTIONS, NOTIFY, INVITE, ACK, BYE, CANCEL";

/// A request from the server: its method and the headers an answer echoes (§8.2.6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// The method.
    pub method: String,
    /// Via, From, To, Call-ID and CSeq lines as received (full names), in order.
    echo: Vec<(String, String)>,
    /// The size of the request, which bounds the size of our answer.
    size: usize,
}

impl Incoming {
    /// Reads a request; `None` when the bytes are not one.
    #[must_use]
    pub fn parse(bytes: &[u8]) -> Option<Incoming> {
        let method = super::request_method(bytes)?;
        let (head_end, _) = header_end(bytes)?;
        let head = String::from_utf8_lossy(&bytes[..head_end]);
        let mut echo = Vec::new();
        for line in head.lines().skip(1) {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let name = expand_compact(name.trim());
            if matches!(&*name, "via" | "from" | "to" | "call-id" | "cseq") {
                echo.push((name.into_owned(), value.trim().to_string()));
            }
        }
        Some(Incoming {
            method,
            echo,
            size: bytes.len(),
        })
    }

    /// The Call-ID, when the request has one.
    #[must_use]
    pub fn call_id(&self) -> Option<&str> {
        self.echo
            .iter()
            .find(|(name, _)| name == "call-id")
            .map(|(_, value)| value.as_str())
    }

    /// Our To tag for this request: random per request, the same for its retransmissions
    /// (§8.2.6.2, §19.3: 32 random bits), from a salt drawn once per process and what identifies
    /// the request (Via, From, To, Call-ID, CSeq).
    fn tag(&self) -> String {
        use std::hash::BuildHasher;
        static SALT: std::sync::OnceLock<std::collections::hash_map::RandomState> =
            std::sync::OnceLock::new();
        let hash = SALT
            .get_or_init(std::collections::hash_map::RandomState::new)
            .hash_one(&self.echo);
        // The low 32 bits of a keyed hash: as random as §19.3 asks.
        format!("{:08x}", hash & 0xffff_ffff)
    }

    /// The status we answer with (§8.2.1, §21): OPTIONS and NOTIFY 200; an INVITE 480 (the phone
    /// is a tester, it takes no calls); BYE and CANCEL 481; other known methods 405; unknown
    /// methods 501; an ACK gets no answer (§17.1.1.3).
    #[must_use]
    pub fn status(&self) -> Option<(u16, &'static str)> {
        Some(match self.method.as_str() {
            "ACK" => return None,
            "OPTIONS" | "NOTIFY" => (200, "OK"),
            "INVITE" => (480, "Temporarily Unavailable"),
            "BYE" | "CANCEL" => (481, "Call/Transaction Does Not Exist"),
            m if KNOWN.contains(&m) => (405, "Method Not Allowed"),
            _ => (501, "Not Implemented"),
        })
    }

    /// Our answer, or `None` for an ACK, for a request without the headers an answer needs, and
    /// when the answer would be larger than the request (no reflection amplification). It answers
    /// as a UA does: a To tag of its own per answer (§8.2.6.2), and what it allows, accepts and
    /// supports (§11.2), which are left out when they would make it larger than the request.
    #[must_use]
    pub fn answer(&self) -> Option<Vec<u8>> {
        let (status, reason) = self.status()?;
        let has = |n: &str| self.echo.iter().any(|(name, _)| name == n);
        if !["via", "from", "to", "call-id", "cseq"]
            .iter()
            .all(|n| has(n))
        {
            return None;
        }
        let tag = self.tag();
        let mut out = format!("SIP/2.0 {status} {reason}\r\n");
        for (name, value) in &self.echo {
            let name = match name.as_str() {
                "via" => "Via",
                "from" => "From",
                "to" if !value.contains(";tag=") => {
                    out.push_str(&format!("To: {value};tag={tag}\r\n"));
                    continue;
                }
                "to" => "To",
                "call-id" => "Call-ID",
                _ => "CSeq",
            };
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        let described = format!(
            "{out}Allow: {ALLOW}\r\nAccept: application/sdp\r\nSupported: \r\nContent-Length: 0\r\n\r\n"
        );
        if described.len() <= self.size {
            return Some(described.into_bytes());
        }
        if status == 405 {
            out.push_str(&format!("Allow: {ALLOW}\r\n"));
        }
        out.push_str("Content-Length: 0\r\n\r\n");
        (out.len() <= self.size).then(|| out.into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, extra: &str) -> Vec<u8> {
        format!(
            "{method} sip:alice@10.0.0.5:40000 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKs1\r\nMax-Forwards: 70\r\nFrom: <sip:pbx@example.com>;tag=p1\r\nTo: <sip:alice@example.com>\r\nCall-ID: c9@pbx\r\nCSeq: 5 {method}\r\n{extra}Content-Length: 0\r\n\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn answers_per_method() {
        for (method, status) in [
            ("OPTIONS", Some(200)),
            ("NOTIFY", Some(200)),
            ("INVITE", Some(480)),
            ("BYE", Some(481)),
            ("MESSAGE", Some(405)),
            ("FROB", Some(501)),
            ("ACK", None),
        ] {
            let r = Incoming::parse(&request(
                method,
                "User-Agent: a-pbx-with-a-long-name/1.0\r\n",
            ))
            .unwrap();
            assert_eq!(r.status().map(|s| s.0), status, "{method}");
            let answer = r.answer();
            assert_eq!(answer.is_some(), status.is_some(), "{method}");
            if let Some(a) = answer {
                let text = String::from_utf8(a).unwrap();
                assert!(
                    text.starts_with(&format!("SIP/2.0 {}", status.unwrap())),
                    "{text}"
                );
                assert!(text.contains("Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKs1\r\n"));
                assert!(text.contains("To: <sip:alice@example.com>;tag="), "{text}");
                assert!(!text.contains(";tag=sipreg"), "{text}");
                assert!(text.contains(&format!("CSeq: 5 {method}\r\n")));
            }
        }
    }

    #[test]
    fn answers_like_a_ua_with_a_tag_per_request() {
        let padding = format!("User-Agent: {}\r\n", "p".repeat(200));
        let r = Incoming::parse(&request("OPTIONS", &padding)).unwrap();
        let tag = |a: &str| {
            a.lines()
                .find(|l| l.starts_with("To:"))
                .and_then(|l| l.split(";tag=").nth(1))
                .map(str::to_string)
        };
        let one = String::from_utf8(r.answer().unwrap()).unwrap();
        let again = String::from_utf8(r.answer().unwrap()).unwrap();
        assert_eq!(tag(&one), tag(&again), "a retransmission gets the same tag");
        let changed = String::from_utf8(request("OPTIONS", &padding))
            .unwrap()
            .replace("c9@pbx", "c10@pbx");
        let other = Incoming::parse(changed.as_bytes())
            .unwrap()
            .answer()
            .unwrap();
        let other = String::from_utf8(other).unwrap();
        assert_ne!(tag(&one), tag(&other), "{one}\n{other}");
        assert_eq!(tag(&one).map(|t| t.len()), Some(8));
        for header in [
            "Allow: OPTIONS, NOTIFY, INVITE, ACK, BYE, CANCEL\r\n",
            "Accept: application/sdp\r\n",
            "Supported: \r\n",
        ] {
            assert!(one.contains(header), "{header} in {one}");
        }
    }

    #[test]
    fn never_more_bytes_than_the_request_and_nothing_for_a_fragment() {
        // A tiny request with every header compact: the answer with full names would be larger.
        let tiny = b"OPTIONS sip:a SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\nf: <sip:b>;tag=1\r\nt: <sip:a>\r\ni: c\r\nCSeq: 1 OPTIONS\r\n\r\n";
        let r = Incoming::parse(tiny).unwrap();
        assert_eq!(
            r.answer(),
            None,
            "an answer larger than the request is not sent"
        );
        let without_via = b"OPTIONS sip:a SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n";
        assert_eq!(Incoming::parse(without_via).unwrap().answer(), None);
        assert_eq!(Incoming::parse(b"SIP/2.0 200 OK\r\n\r\n"), None);
    }
}

//! The header values a response is read for beside its status: Via (RFC 3261 §20.42), Contact
//! (§20.10) and the splitting of list headers and parameters (§7.3.1).

/// One value of a Via header (RFC 3261 §20.42), in one buffer: a response's top Via is read for
/// every answer of a storm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// The transport token (upper case), the sent-by and the parameters, one after another.
    text: String,
    /// Where the transport token ends in `text`.
    transport_end: usize,
    /// Where the sent-by ends in `text`: the parameters follow.
    sent_by_end: usize,
    /// The spans in `text` of the values of `branch`, `received` and `rport`, found once: the
    /// transaction, the registration and the report each ask for them.
    known: [Option<(usize, usize)>; 3],
}

/// The parameters [`Via`] finds when it is parsed, in the order of its `known` spans.
const KNOWN_VIA_PARAMS: [&str; 3] = ["branch", "received", "rport"];

impl Via {
    /// Parses one Via value such as `SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;received=[::1];rport=5`.
    #[must_use]
    pub fn parse(value: &str) -> Option<Via> {
        // The sent-protocol and sent-by hold no quote or bracket: the first `;` ends them.
        let value = value.trim_ascii();
        // `;` is one byte: the cut falls on a character boundary.
        let (head, params) = match value.bytes().position(|b| b == b';') {
            Some(i) => (&value[..i], &value[i + 1..]),
            None => (value, ""),
        };
        let mut words = head.split_ascii_whitespace();
        let proto = words.next()?;
        let transport = proto.rsplit('/').next()?.trim();
        let mut text = String::with_capacity(value.len());
        text.push_str(transport);
        text.make_ascii_uppercase();
        let transport_end = text.len();
        words.for_each(|w| text.push_str(w));
        let sent_by_end = text.len();
        if sent_by_end == transport_end {
            return None;
        }
        text.push_str(params);
        let known = known_via_params(text.get(sent_by_end..).unwrap_or_default())
            .map(|span| span.map(|(start, end)| (sent_by_end + start, sent_by_end + end)));
        Some(Via {
            text,
            transport_end,
            sent_by_end,
            known,
        })
    }

    /// The value of one of [`KNOWN_VIA_PARAMS`] (by its index there).
    fn known(&self, i: usize) -> Option<&str> {
        let (start, end) = self.known.get(i).copied().flatten()?;
        self.text.get(start..end)
    }

    /// The transport token, upper case (`UDP`, `TCP`, `TLS`).
    #[must_use]
    pub fn transport(&self) -> &str {
        self.text.get(..self.transport_end).unwrap_or_default()
    }

    /// `host[:port]` as written.
    #[must_use]
    pub fn sent_by(&self) -> &str {
        self.text
            .get(self.transport_end..self.sent_by_end)
            .unwrap_or_default()
    }

    fn params(&self) -> &str {
        self.text.get(self.sent_by_end..).unwrap_or_default()
    }

    /// A parameter by name (case-insensitive); `Some(None)` for a flag such as a bare `rport`.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        split_params(self.params())
            .map(param)
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The `branch` parameter.
    #[must_use]
    pub fn branch(&self) -> Option<&str> {
        self.known(0)
    }

    /// The `received` parameter: the source address the server saw (RFC 3261 §18.2.1).
    #[must_use]
    pub fn received(&self) -> Option<&str> {
        self.known(1)
    }

    /// The `rport` value the server filled in: the source port it saw (RFC 3581 §4).
    #[must_use]
    pub fn rport(&self) -> Option<u16> {
        self.known(2).and_then(|p| p.parse().ok())
    }
}

/// The spans in `params` of the values of [`KNOWN_VIA_PARAMS`]: the first of each name counts, as
/// for [`Via::param`]; a flag has no value. Parameters without quotes or brackets, as registrars
/// write them, are cut by a byte walk; others by [`split_params`].
fn known_via_params(params: &str) -> [Option<(usize, usize)>; 3] {
    let (mut known, mut seen) = ([None; 3], [false; 3]);
    let base = params.as_ptr() as usize;
    let mut note = |name: &str, value: Option<&str>| {
        let Some(i) = KNOWN_VIA_PARAMS
            .iter()
            .position(|k| k.len() == name.len() && k.eq_ignore_ascii_case(name))
            .filter(|&i| !seen[i])
        else {
            return;
        };
        seen[i] = true;
        // `v` is a slice of `params`: its place is the distance between their starts.
        known[i] = value.map(|v| {
            let start = v.as_ptr() as usize - base;
            (start, start + v.len())
        });
    };
    if memchr::memchr2(b'"', b'<', params.as_bytes()).is_some() {
        for (name, value) in split_params(params).map(param) {
            note(name, value);
        }
        return known;
    }
    let mut rest = params;
    loop {
        let end = rest.bytes().position(|b| b == b';').unwrap_or(rest.len());
        // `;` is one byte: the cuts fall on character boundaries.
        let part = &rest[..end];
        if !part.trim_ascii().is_empty() {
            let (name, value) = match part.bytes().position(|b| b == b'=') {
                Some(eq) => (part[..eq].trim_ascii(), Some(part[eq + 1..].trim_ascii())),
                None => (part.trim_ascii(), None),
            };
            note(name, value);
        }
        match rest.get(end + 1..) {
            Some(next) => rest = next,
            None => return known,
        }
    }
}

/// One parameter as name and value (quotes removed); `None` for a flag.
pub(crate) fn param(raw: &str) -> (&str, Option<&str>) {
    match memchr::memchr(b'=', raw.as_bytes()) {
        // `=` is one byte: both cuts fall on character boundaries.
        Some(i) => (
            raw[..i].trim_ascii(),
            Some(raw[i + 1..].trim_ascii().trim_matches('"')),
        ),
        None => (raw.trim_ascii(), None),
    }
}

/// One value of a Contact header (RFC 3261 §20.10): the URI and the header parameters after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// The URI as written, without angle brackets.
    pub uri: String,
    /// The header parameters as written, read when asked for.
    params: String,
}

impl Contact {
    /// Parses `"name" <uri>;p=v` or `uri;p=v` (without brackets, parameters belong to the header).
    #[must_use]
    pub fn parse(value: &str) -> Option<Contact> {
        let value = value.trim();
        let (uri, params) = match value.split_once('<') {
            Some((_, rest)) => {
                let (uri, after) = rest.split_once('>')?;
                (uri.trim(), after)
            }
            None => match value.split_once(';') {
                Some((uri, after)) => (uri.trim(), after),
                None => (value, ""),
            },
        };
        if uri.is_empty() {
            return None;
        }
        Some(Contact {
            uri: uri.to_string(),
            params: params.to_string(),
        })
    }

    /// `host:port` of the URI, as written.
    #[must_use]
    pub fn host_port(&self) -> Option<&str> {
        contact_host_port(&self.uri)
    }

    /// A header parameter by name (case-insensitive), quotes removed.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<&str> {
        split_params(&self.params)
            .map(param)
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v)
    }

    /// The `expires` parameter (§10.2.4).
    #[must_use]
    pub fn expires(&self) -> Option<u32> {
        self.param("expires")?.trim().parse().ok()
    }
}

/// Splits `a;b=1;c="x;y"` at top-level semicolons, respecting quotes and angle brackets.
pub(crate) fn split_params(value: &str) -> impl Iterator<Item = &str> {
    split_top_level(value, ';')
}

/// Splits a header value at top-level `sep`, outside quotes and `<...>` (RFC 3261 §7.3.1); empty
/// parts are skipped. Lazy: nothing is collected.
pub fn split_top_level(value: &str, sep: char) -> impl Iterator<Item = &str> {
    TopLevel {
        value,
        // Every character that matters is ASCII, so a byte walk cuts only at character boundaries.
        sep: u8::try_from(sep).ok().filter(u8::is_ascii),
        pos: Some(0),
        // Most values (a Via, a plain parameter list) hold no quote or bracket: a plain search.
        plain: memchr::memchr2(b'"', b'<', value.as_bytes()).is_none(),
    }
    .filter(|s| !s.trim_ascii().is_empty())
}

/// The iterator of [`split_top_level`].
struct TopLevel<'a> {
    value: &'a str,
    sep: Option<u8>,
    /// Where the next part starts; `None` once the last part was given.
    pos: Option<usize>,
    /// No quote or bracket anywhere: every `sep` is top-level.
    plain: bool,
}

impl<'a> Iterator for TopLevel<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let start = self.pos?;
        let Some(sep) = self.sep else {
            self.pos = None;
            return self.value.get(start..);
        };
        if self.plain {
            let rest = self.value.get(start..)?;
            return Some(match memchr::memchr(sep, rest.as_bytes()) {
                Some(i) => {
                    self.pos = Some(start + i + 1);
                    &rest[..i]
                }
                None => {
                    self.pos = None;
                    rest
                }
            });
        }
        let (mut quoted, mut escaped, mut angle) = (false, false, false);
        for (i, &b) in self.value.as_bytes().iter().enumerate().skip(start) {
            if escaped {
                escaped = false;
                continue;
            }
            match b {
                b'\\' if quoted => escaped = true,
                b'"' => quoted = !quoted,
                b'<' if !quoted => angle = true,
                b'>' if !quoted => angle = false,
                b if b == sep && !quoted && !angle => {
                    self.pos = Some(i + 1);
                    return self.value.get(start..i);
                }
                _ => {}
            }
        }
        self.pos = None;
        self.value.get(start..)
    }
}

/// The `host:port` of a Contact value's URI: after the `@` (or the scheme), up to `;`, `?` or `>`.
pub(crate) fn contact_host_port(contact: &str) -> Option<&str> {
    let uri = match contact.split_once('<') {
        Some((_, rest)) => rest.split_once('>').map_or(rest, |(u, _)| u),
        None => contact.split(';').next().unwrap_or(contact),
    };
    let after_scheme = uri.split_once(':').map_or(uri, |(_, r)| r);
    let host_part = after_scheme
        .rsplit_once('@')
        .map_or(after_scheme, |(_, h)| h);
    host_part.split([';', '?', '>']).next().map(str::trim)
}

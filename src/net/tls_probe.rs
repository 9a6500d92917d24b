//! After a failed TLS handshake, one hand-built legacy ClientHello shows which old version or suite the server would pick.
//!
//! rustls speaks only TLS 1.2 and 1.3 with ECDHE and AEAD suites. Many desk phones still accept TLS 1.0
//! and `TLS_RSA_WITH_AES_128_CBC_SHA`, so a server configured for them fails sipreg's handshake while a
//! phone registers. The probe opens a new TCP connection, sends one ClientHello (RFC 5246 §7.4.1.2)
//! offering TLS 1.0 to 1.2 and the legacy suites a phone may use, reads the server's first answer (a
//! ServerHello, RFC 5246 §7.4.1.3, or an alert, §7.2) and closes. It sends nothing else: no key
//! exchange, no SIP.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::model::LegacyTls;

/// SSL 3.0's version number (RFC 6101 §5.2.1); TLS 1.0 is 0x0301, 1.1 0x0302, 1.2 0x0303, 1.3 0x0304.
pub const SSL30: u16 = 0x0300;
/// TLS 1.0 (RFC 2246): the record version of our ClientHello, as most clients send.
pub const TLS10: u16 = 0x0301;
/// TLS 1.2 (RFC 5246): the highest version we offer (`client_version`), so the server picks 1.0 to 1.2.
pub const TLS12: u16 = 0x0303;

/// The cipher suites offered, in order of preference. The suites rustls supports come first, so that a
/// server that has any of them picks one and the probe finds nothing legacy; then the legacy ones.
pub const OFFERED_SUITES: [u16; 17] = [
    0xC02B, // TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 (RFC 5289)
    0xC02F, // TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    0xC02C, // TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
    0xC030, // TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
    0xCCA9, // TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 (RFC 7905)
    0xCCA8, // TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    0xC027, // TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256 (RFC 5289)
    0xC023, // TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256
    0xC013, // TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA (RFC 4492)
    0xC009, // TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA
    0xC014, // TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA
    0x009C, // TLS_RSA_WITH_AES_128_GCM_SHA256 (RFC 5288)
    0x009D, // TLS_RSA_WITH_AES_256_GCM_SHA384
    0x003C, // TLS_RSA_WITH_AES_128_CBC_SHA256 (RFC 5246 Appendix A.5)
    0x002F, // TLS_RSA_WITH_AES_128_CBC_SHA: the phone's minimum
    0x0035, // TLS_RSA_WITH_AES_256_CBC_SHA
    0x000A, // TLS_RSA_WITH_3DES_EDE_CBC_SHA
];

/// TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746 §3.3): some servers refuse a hello without it.
const RENEGOTIATION_SCSV: u16 = 0x00FF;

/// At most this many bytes of the server's answer are read.
pub const READ_LIMIT: usize = 4096;

/// The longest wait of a probe: it runs after a failed handshake and must not hold a run up.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Record content types (RFC 5246 §6.2.1).
const ALERT: u8 = 21;
const HANDSHAKE: u8 = 22;
/// Handshake message types (RFC 5246 §7.4).
const CLIENT_HELLO: u8 = 1;
const SERVER_HELLO: u8 = 2;
/// The largest record fragment a TLS 1.2 peer may send (RFC 5246 §6.2.3: 2^14 + 2048).
const MAX_FRAGMENT: usize = 16_384 + 2048;

/// The server name for SNI (RFC 6066 §3): a DNS name without a trailing dot; none for an IP address.
#[must_use]
pub fn sni(server_name: &str) -> Option<String> {
    let name = server_name.trim_matches(['[', ']']).trim_end_matches('.');
    (!name.is_empty() && name.parse::<IpAddr>().is_err()).then(|| name.to_ascii_lowercase())
}

/// Builds the whole ClientHello record (RFC 5246 §6.2.1 record, §7.4.1.2 ClientHello): record version
/// TLS 1.0, `client_version` TLS 1.2, `random`, an empty session id, [`OFFERED_SUITES`] and the
/// renegotiation SCSV, null compression, and the extensions server_name (unless `sni` is `None`),
/// supported_groups, ec_point_formats and signature_algorithms.
#[must_use]
pub fn client_hello(sni: Option<&str>, random: [u8; 32]) -> Vec<u8> {
    let mut body = Vec::with_capacity(256);
    body.extend_from_slice(&TLS12.to_be_bytes()); // client_version
    body.extend_from_slice(&random);
    body.push(0); // session_id: empty
    let suites: Vec<u16> = OFFERED_SUITES
        .iter()
        .copied()
        .chain([RENEGOTIATION_SCSV])
        .collect();
    put_u16(&mut body, suites.len() * 2);
    for s in suites {
        body.extend_from_slice(&s.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]); // compression_methods: null only (§7.4.1.2)
    let ext = extensions(sni);
    put_u16(&mut body, ext.len());
    body.extend_from_slice(&ext);

    let mut handshake = Vec::with_capacity(body.len() + 4);
    handshake.push(CLIENT_HELLO);
    put_u24(&mut handshake, body.len());
    handshake.extend_from_slice(&body);

    let mut record = Vec::with_capacity(handshake.len() + 5);
    record.push(HANDSHAKE);
    record.extend_from_slice(&TLS10.to_be_bytes());
    put_u16(&mut record, handshake.len());
    record.extend_from_slice(&handshake);
    record
}

/// The ClientHello extensions (RFC 5246 §7.4.1.4).
fn extensions(sni: Option<&str>) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(name) = sni {
        // server_name (RFC 6066 §3): a list of one host_name entry.
        let mut list = vec![0]; // name_type host_name
        put_u16(&mut list, name.len());
        list.extend_from_slice(name.as_bytes());
        let mut data = Vec::new();
        put_u16(&mut data, list.len());
        data.extend_from_slice(&list);
        put_extension(&mut out, 0x0000, &data);
    }
    // supported_groups (RFC 8422 §5.1.1): x25519, secp256r1, secp384r1.
    put_extension(&mut out, 0x000A, &[0, 6, 0, 29, 0, 23, 0, 24]);
    // ec_point_formats (RFC 8422 §5.1.2): uncompressed.
    put_extension(&mut out, 0x000B, &[1, 0]);
    // signature_algorithms (RFC 5246 §7.4.1.4.1, code points of RFC 8446 §4.2.3).
    let schemes: [u16; 9] = [
        0x0403, // ecdsa_secp256r1_sha256
        0x0804, // rsa_pss_rsae_sha256
        0x0401, // rsa_pkcs1_sha256
        0x0503, // ecdsa_secp384r1_sha384
        0x0805, // rsa_pss_rsae_sha384
        0x0501, // rsa_pkcs1_sha384
        0x0601, // rsa_pkcs1_sha512
        0x0201, // rsa_pkcs1_sha1
        0x0203, // ecdsa_sha1
    ];
    let mut data = Vec::new();
    put_u16(&mut data, schemes.len() * 2);
    for s in schemes {
        data.extend_from_slice(&s.to_be_bytes());
    }
    put_extension(&mut out, 0x000D, &data);
    out
}

fn put_extension(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    put_u16(out, data.len());
    out.extend_from_slice(data);
}

fn put_u16(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes());
}

fn put_u24(out: &mut Vec<u8>, n: usize) {
    let n = u32::try_from(n).unwrap_or(0x00FF_FFFF).min(0x00FF_FFFF);
    out.extend_from_slice(&n.to_be_bytes()[1..]);
}

/// What the server answered to the probe's ClientHello.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeResult {
    /// A ServerHello (RFC 5246 §7.4.1.3): the version and cipher suite the server picked.
    Hello {
        /// The negotiated version: `server_version`, or the supported_versions extension (RFC 8446
        /// §4.2.1) when the server sent one.
        version: u16,
        /// The chosen cipher suite.
        suite: u16,
    },
    /// An alert (RFC 5246 §7.2): the server refused the hello.
    Alert {
        /// 1 warning, 2 fatal.
        level: u8,
        /// The alert description (§7.2.2), e.g. 40 handshake_failure, 70 protocol_version.
        description: u8,
    },
    /// Not enough bytes yet for a whole answer.
    Incomplete,
    /// Bytes that are neither a ServerHello nor an alert.
    Unrecognized,
}

/// Reads the server's first answer from `bytes`: the records (RFC 5246 §6.2.1) up to a whole
/// ServerHello, or a leading alert. Never panics and never reads out of bounds, whatever the input.
#[must_use]
pub fn parse_server_answer(bytes: &[u8]) -> ProbeResult {
    let mut rest = Reader(bytes);
    let mut handshake = Vec::new();
    loop {
        let Some(&[kind, major, _minor, high, low]) = rest.take(5) else {
            return ProbeResult::Incomplete;
        };
        let len = u16::from_be_bytes([high, low]);
        // Every TLS record version has major 3 (SSL 3.0 to TLS 1.3); anything else is not TLS.
        if major != 3 || usize::from(len) > MAX_FRAGMENT {
            return ProbeResult::Unrecognized;
        }
        let Some(fragment) = rest.take(usize::from(len)) else {
            return ProbeResult::Incomplete;
        };
        match kind {
            ALERT if handshake.is_empty() => {
                return match fragment {
                    [level, description, ..] => ProbeResult::Alert {
                        level: *level,
                        description: *description,
                    },
                    _ => ProbeResult::Unrecognized,
                };
            }
            HANDSHAKE => {
                handshake.extend_from_slice(fragment);
                if let Some(answer) = server_hello(&handshake) {
                    return answer;
                }
            }
            _ => return ProbeResult::Unrecognized,
        }
    }
}

/// The ServerHello at the start of the handshake bytes; `None` while it is incomplete.
fn server_hello(bytes: &[u8]) -> Option<ProbeResult> {
    let mut r = Reader(bytes);
    let kind = r.u8()?;
    if kind != SERVER_HELLO {
        return Some(ProbeResult::Unrecognized);
    }
    let len = r.u24()?;
    let mut body = Reader(r.take(len)?);
    let hello = (|| {
        let server_version = body.u16()?;
        body.skip(32)?; // random
        let session_id = usize::from(body.u8()?);
        if session_id > 32 {
            return None;
        }
        body.skip(session_id)?;
        let suite = body.u16()?;
        body.skip(1)?; // compression_method
        let version = supported_version(&mut body).unwrap_or(server_version);
        Some(ProbeResult::Hello { version, suite })
    })();
    Some(hello.unwrap_or(ProbeResult::Unrecognized))
}

/// The version in a supported_versions extension (RFC 8446 §4.2.1), if the extensions hold one.
fn supported_version(body: &mut Reader<'_>) -> Option<u16> {
    let len = usize::from(body.u16()?);
    let mut ext = Reader(body.take(len)?);
    while let Some(kind) = ext.u16() {
        let len = usize::from(ext.u16()?);
        let data = ext.take(len)?;
        if kind == 0x002B {
            return Reader(data).u16();
        }
    }
    None
}

/// A bounds-checked reader over bytes: every read returns `None` past the end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }

    fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(|_| ())
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }

    fn u24(&mut self) -> Option<usize> {
        self.take(3)
            .map(|b| usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]))
    }
}

/// A protocol version in words: "TLS 1.0".
#[must_use]
pub fn version_name(version: u16) -> String {
    match version {
        SSL30 => "SSL 3.0".into(),
        0x0301 => "TLS 1.0".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        v => format!("version 0x{v:04X}"),
    }
}

/// A cipher suite by its IANA name: "TLS_RSA_WITH_AES_128_CBC_SHA".
#[must_use]
pub fn suite_name(suite: u16) -> String {
    let name = match suite {
        0x000A => "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        0x002F => "TLS_RSA_WITH_AES_128_CBC_SHA",
        0x0035 => "TLS_RSA_WITH_AES_256_CBC_SHA",
        0x003C => "TLS_RSA_WITH_AES_128_CBC_SHA256",
        0x009C => "TLS_RSA_WITH_AES_128_GCM_SHA256",
        0x009D => "TLS_RSA_WITH_AES_256_GCM_SHA384",
        0xC009 => "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        0xC013 => "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        0xC014 => "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        0xC023 => "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        0xC027 => "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        0xC02B => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        0xC02C => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        0xC02F => "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        0xC030 => "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        0xCCA8 => "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        0xCCA9 => "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        s => return format!("cipher suite 0x{s:04X}"),
    };
    name.into()
}

/// What rustls lacks for `version` and `suite`, in words; empty when rustls supports both.
#[must_use]
pub fn weaknesses(version: u16, suite: u16) -> Vec<String> {
    let mut out = Vec::new();
    if version < TLS12 {
        out.push("older than TLS 1.2, the oldest version rustls speaks".into());
    }
    if rustls_has_suite(suite) {
        return out;
    }
    let name = suite_name(suite);
    if name.starts_with("TLS_RSA_") {
        out.push("RSA key exchange, no forward secrecy".into());
    }
    if name.contains("_CBC_") {
        out.push("CBC mode".into());
    }
    if name.contains("3DES") {
        out.push("3DES, 64-bit blocks".into());
    }
    if out.is_empty() || !name.starts_with("TLS_") {
        out.push("a cipher suite rustls does not implement".into());
    }
    out
}

/// True when rustls (the ring provider sipreg uses) implements `suite`.
fn rustls_has_suite(suite: u16) -> bool {
    rustls::crypto::ring::default_provider()
        .cipher_suites
        .iter()
        .any(|s| u16::from(s.suite()) == suite)
}

/// The finding for a ServerHello: `None` when rustls supports the version and suite the server picked.
#[must_use]
pub fn legacy(version: u16, suite: u16) -> Option<LegacyTls> {
    let why = weaknesses(version, suite);
    (!why.is_empty()).then(|| LegacyTls {
        version: version_name(version),
        suite: suite_name(suite),
        why,
    })
}

/// Probes `remote` with one legacy ClientHello (SNI `server_name` unless it is an IP address) on a new
/// TCP connection, reads at most [`READ_LIMIT`] bytes of the answer and closes, all within `timeout`.
/// Returns the finding when the server would pick a version or suite rustls does not support; `None`
/// when it picks one rustls supports, refuses, does not answer in TLS, or does not answer in time.
pub async fn probe(remote: SocketAddr, server_name: &str, timeout: Duration) -> Option<LegacyTls> {
    let answer = tokio::time::timeout(timeout, ask(remote, server_name))
        .await
        .ok()
        .flatten();
    tracing::debug!(%remote, ?answer, "legacy TLS probe");
    match answer? {
        ProbeResult::Hello { version, suite } => legacy(version, suite),
        _ => None,
    }
}

/// Sends the ClientHello and reads until the answer is whole, the server closes, or the limit.
async fn ask(remote: SocketAddr, server_name: &str) -> Option<ProbeResult> {
    let mut tcp = TcpStream::connect(remote).await.ok()?;
    let hello = client_hello(sni(server_name).as_deref(), rand::random());
    tcp.write_all(&hello).await.ok()?;
    let mut buf = Vec::with_capacity(READ_LIMIT);
    let mut chunk = [0u8; 1024];
    loop {
        match parse_server_answer(&buf) {
            ProbeResult::Incomplete if buf.len() < READ_LIMIT => {}
            answer => return Some(answer),
        }
        let n = tcp.read(&mut chunk).await.ok()?;
        if n == 0 {
            return Some(parse_server_answer(&buf));
        }
        let room = READ_LIMIT - buf.len();
        buf.extend_from_slice(chunk.get(..n.min(room))?);
    }
    // Dropping `tcp` closes the connection: nothing else is sent.
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ServerHello record as a server would send it.
    fn server_hello_record(version: u16, suite: u16, extensions: Option<&[u8]>) -> Vec<u8> {
        let mut body = version.to_be_bytes().to_vec();
        body.extend_from_slice(&[7; 32]);
        body.push(32);
        body.extend_from_slice(&[9; 32]);
        body.extend_from_slice(&suite.to_be_bytes());
        body.push(0);
        if let Some(ext) = extensions {
            put_u16(&mut body, ext.len());
            body.extend_from_slice(ext);
        }
        let mut hs = vec![SERVER_HELLO];
        put_u24(&mut hs, body.len());
        hs.extend_from_slice(&body);
        let mut rec = vec![HANDSHAKE, 3, 1];
        put_u16(&mut rec, hs.len());
        rec.extend_from_slice(&hs);
        rec
    }

    #[test]
    fn client_hello_is_well_formed() {
        let random = [0xAB; 32];
        let rec = client_hello(Some("pbx.example.com"), random);
        assert_eq!(&rec[..3], &[HANDSHAKE, 3, 1], "record: handshake, TLS 1.0");
        let len = usize::from(u16::from_be_bytes([rec[3], rec[4]]));
        assert_eq!(len, rec.len() - 5);
        assert_eq!(rec[5], CLIENT_HELLO);
        let hs_len = usize::from(rec[6]) << 16 | usize::from(rec[7]) << 8 | usize::from(rec[8]);
        assert_eq!(hs_len, rec.len() - 9);
        let body = &rec[9..];
        assert_eq!(&body[..2], &[3, 3], "client_version TLS 1.2");
        assert_eq!(&body[2..34], &random);
        assert_eq!(body[34], 0, "empty session id");
        let suites_len = usize::from(u16::from_be_bytes([body[35], body[36]]));
        assert_eq!(suites_len, (OFFERED_SUITES.len() + 1) * 2);
        let suites: Vec<u16> = body[37..37 + suites_len]
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        for s in [
            0x002F, 0x0035, 0x003C, 0x009C, 0x009D, 0x000A, 0xC013, 0xC009,
        ] {
            assert!(suites.contains(&s), "{s:04X} offered");
        }
        let mut r = Reader(&body[37 + suites_len..]);
        assert_eq!(r.take(2), Some(&[1, 0][..]), "null compression");
        let ext_len = usize::from(r.u16().unwrap());
        let mut ext = Reader(r.take(ext_len).unwrap());
        assert!(r.0.is_empty(), "nothing after the extensions");
        let mut kinds = Vec::new();
        while let Some(kind) = ext.u16() {
            let len = usize::from(ext.u16().unwrap());
            let data = ext.take(len).unwrap();
            if kind == 0 {
                assert!(data.ends_with(b"pbx.example.com"));
            }
            kinds.push(kind);
        }
        assert_eq!(kinds, [0x0000, 0x000A, 0x000B, 0x000D]);
    }

    #[test]
    fn no_sni_for_an_ip_address() {
        assert_eq!(sni("192.0.2.7"), None);
        assert_eq!(sni("[2001:db8::1]"), None);
        assert_eq!(sni("PBX.example.com."), Some("pbx.example.com".into()));
        let rec = client_hello(None, [0; 32]);
        let with = client_hello(Some("a.example"), [0; 32]);
        assert!(with.len() > rec.len());
        assert!(!rec.windows(2).any(|w| w == b"a."));
    }

    #[test]
    fn reads_a_server_hello() {
        let rec = server_hello_record(0x0301, 0x002F, None);
        assert_eq!(
            parse_server_answer(&rec),
            ProbeResult::Hello {
                version: 0x0301,
                suite: 0x002F
            }
        );
        // A certificate record after it changes nothing.
        let mut more = rec.clone();
        more.extend_from_slice(&[HANDSHAKE, 3, 1, 0, 2, 11, 0]);
        assert_eq!(parse_server_answer(&more), parse_server_answer(&rec));
        // supported_versions wins over server_version.
        let ext = [0x00, 0x2B, 0, 2, 3, 4];
        assert_eq!(
            parse_server_answer(&server_hello_record(0x0303, 0x1301, Some(&ext))),
            ProbeResult::Hello {
                version: 0x0304,
                suite: 0x1301
            }
        );
    }

    #[test]
    fn reads_a_server_hello_split_over_records() {
        let rec = server_hello_record(0x0303, 0x002F, Some(&[0xFF, 0x01, 0, 1, 0]));
        let hs = &rec[5..];
        let mut split = Vec::new();
        for part in hs.chunks(10) {
            split.extend_from_slice(&[HANDSHAKE, 3, 3]);
            put_u16(&mut split, part.len());
            split.extend_from_slice(part);
        }
        assert_eq!(
            parse_server_answer(&split),
            ProbeResult::Hello {
                version: 0x0303,
                suite: 0x002F
            }
        );
    }

    #[test]
    fn reads_an_alert_and_rejects_other_bytes() {
        assert_eq!(
            parse_server_answer(&[ALERT, 3, 3, 0, 2, 2, 70]),
            ProbeResult::Alert {
                level: 2,
                description: 70
            }
        );
        assert_eq!(
            parse_server_answer(&[ALERT, 3, 3, 0, 0]),
            ProbeResult::Unrecognized
        );
        assert_eq!(
            parse_server_answer(b"SIP/2.0 400 Bad Request\r\n"),
            ProbeResult::Unrecognized
        );
        assert_eq!(
            parse_server_answer(b"HTTP/1.1 400"),
            ProbeResult::Unrecognized
        );
        assert_eq!(
            parse_server_answer(&[HANDSHAKE, 3, 3, 0xFF, 0xFF]),
            ProbeResult::Unrecognized
        );
        assert_eq!(
            parse_server_answer(&[HANDSHAKE, 3, 3, 0, 4, 11, 0, 0, 0]),
            ProbeResult::Unrecognized
        );
        assert_eq!(parse_server_answer(&[]), ProbeResult::Incomplete);
    }

    #[test]
    fn truncations_and_random_bytes_never_panic() {
        let good = server_hello_record(0x0303, 0xC02F, Some(&[0x00, 0x2B, 0, 2, 3, 3]));
        for n in 0..good.len() {
            assert_eq!(
                parse_server_answer(&good[..n]),
                ProbeResult::Incomplete,
                "{n}"
            );
        }
        // Corrupt each byte in turn, and feed random garbage.
        for i in 0..good.len() {
            for b in [0x00, 0x01, 0x7F, 0xFF] {
                let mut bad = good.clone();
                bad[i] = b;
                let _ = parse_server_answer(&bad);
            }
        }
        for _ in 0..20_000 {
            let len = rand::random_range(0..96);
            let mut bytes: Vec<u8> = (0..len).map(|_| rand::random()).collect();
            if rand::random() {
                bytes.splice(0..0, [HANDSHAKE, 3, 3, 0, rand::random_range(0..80)]);
            }
            let _ = parse_server_answer(&bytes);
        }
    }

    #[test]
    fn names_and_findings() {
        assert_eq!(version_name(0x0301), "TLS 1.0");
        assert_eq!(version_name(0x0999), "version 0x0999");
        assert_eq!(suite_name(0x002F), "TLS_RSA_WITH_AES_128_CBC_SHA");
        assert_eq!(suite_name(0x1234), "cipher suite 0x1234");
        assert_eq!(legacy(0x0303, 0xC02F), None, "rustls has it");
        let l = legacy(0x0303, 0x002F).unwrap();
        assert_eq!(
            (l.version.as_str(), l.suite.as_str()),
            ("TLS 1.2", "TLS_RSA_WITH_AES_128_CBC_SHA")
        );
        assert_eq!(l.why, ["RSA key exchange, no forward secrecy", "CBC mode"]);
        let l = legacy(0x0301, 0xC013).unwrap();
        assert_eq!(l.why.len(), 2, "{:?}", l.why);
        assert!(l.why[0].starts_with("older than TLS 1.2"));
        assert_eq!(
            legacy(0x0303, 0x009C).unwrap().why,
            ["RSA key exchange, no forward secrecy"]
        );
        assert_eq!(
            legacy(0x0303, 0x1234).unwrap().why,
            ["a cipher suite rustls does not implement"]
        );
    }

    #[test]
    fn every_offered_suite_has_a_name() {
        for s in OFFERED_SUITES {
            assert!(suite_name(s).starts_with("TLS_"), "{s:04X}");
        }
    }
}

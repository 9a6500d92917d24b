//! Hostile and broken servers over real sockets (UDP, TCP, TLS): every case ends in bounded time, with no
//! panic, with the documented exit code and a reason.
//!
//! The servers here are scripted byte by byte: for each request they run a list of steps (send bytes,
//! drip them, sleep, close, reset), so each case is exactly the misbehaviour it names.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use sipreg::registrar::Canned;

/// The parts of a request a script needs.
#[derive(Clone)]
struct Req {
    via: String,
    from: String,
    to: String,
    call_id: String,
    cseq: String,
}

impl Req {
    fn parse(text: &str) -> Option<Req> {
        let get = |name: &str| {
            text.lines().find_map(|l| {
                l.split_once(':')
                    .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.trim().to_string())
            })
        };
        Some(Req {
            via: get("via")?,
            from: get("from")?,
            to: get("to")?,
            call_id: get("call-id")?,
            cseq: get("cseq")?,
        })
    }
}

/// A response to `req`, with parts that a case may spoil.
struct Reply {
    status: String,
    vias: Vec<String>,
    call_id: String,
    cseq: String,
    extra: Vec<String>,
    content_length: Option<String>,
}

impl Reply {
    fn ok(req: &Req) -> Reply {
        Reply {
            status: "SIP/2.0 200 OK".into(),
            vias: vec![req.via.clone()],
            call_id: req.call_id.clone(),
            cseq: req.cseq.clone(),
            extra: vec![],
            content_length: Some("0".into()),
        }
    }

    fn bytes(&self, req: &Req) -> Vec<u8> {
        let mut out = format!("{}\r\n", self.status);
        for v in &self.vias {
            out.push_str(&format!("Via: {v}\r\n"));
        }
        out.push_str(&format!(
            "From: {}\r\nTo: {};tag=h\r\nCall-ID: {}\r\nCSeq: {}\r\n",
            req.from, req.to, self.call_id, self.cseq
        ));
        for e in &self.extra {
            out.push_str(e);
            out.push_str("\r\n");
        }
        if let Some(cl) = &self.content_length {
            out.push_str(&format!("Content-Length: {cl}\r\n"));
        }
        out.push_str("\r\n");
        out.into_bytes()
    }
}

enum Step {
    Send(Vec<u8>),
    Drip(Vec<u8>, Duration),
    Close,
    Reset,
}

type Script = Arc<dyn Fn(&Req) -> Vec<Step> + Send + Sync>;

fn ok(req: &Req) -> Vec<u8> {
    Reply::ok(req).bytes(req)
}

fn spoiled(req: &Req, spoil: impl Fn(&mut Reply)) -> Vec<u8> {
    let mut r = Reply::ok(req);
    spoil(&mut r);
    r.bytes(req)
}

/// Deterministic noise (xorshift), so a failure can be reproduced.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed & 0xff) as u8
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Udp,
    Tcp,
    Tls,
}

/// Starts a scripted server; returns its address. Threads end with the test process.
fn serve(kind: Kind, script: Script, tls: Option<Arc<rustls::ServerConfig>>) -> SocketAddr {
    match kind {
        Kind::Udp => {
            let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
            let addr = sock.local_addr().unwrap();
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 65536];
                while let Ok((n, peer)) = sock.recv_from(&mut buf) {
                    let Some(req) = Req::parse(&String::from_utf8_lossy(&buf[..n])) else {
                        continue;
                    };
                    for step in script(&req) {
                        match step {
                            Step::Send(b) | Step::Drip(b, _) => {
                                let _ = sock.send_to(&b, peer);
                            }
                            Step::Close | Step::Reset => {}
                        }
                    }
                }
            });
            addr
        }
        Kind::Tcp | Kind::Tls => {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let script = script.clone();
                    let tls = tls.clone();
                    std::thread::spawn(move || match tls {
                        Some(cfg) => {
                            let Ok(conn) = rustls::ServerConnection::new(cfg) else {
                                return;
                            };
                            let raw = stream.try_clone().unwrap();
                            serve_stream(rustls::StreamOwned::new(conn, stream), raw, &script);
                        }
                        None => {
                            let raw = stream.try_clone().unwrap();
                            serve_stream(stream, raw, &script);
                        }
                    });
                }
            });
            addr
        }
    }
}

fn serve_stream<S: Read + Write>(mut io: S, raw: TcpStream, script: &Script) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let text = String::from_utf8_lossy(&buf[..end + 4]).into_owned();
            buf.drain(..end + 4);
            let Some(req) = Req::parse(&text) else {
                continue;
            };
            for step in script(&req) {
                match step {
                    Step::Send(b) => {
                        if io.write_all(&b).and_then(|()| io.flush()).is_err() {
                            return;
                        }
                    }
                    Step::Drip(b, pause) => {
                        for byte in b {
                            if io.write_all(&[byte]).and_then(|()| io.flush()).is_err() {
                                return;
                            }
                            std::thread::sleep(pause);
                        }
                    }
                    Step::Close => {
                        let _ = raw.shutdown(std::net::Shutdown::Both);
                        return;
                    }
                    Step::Reset => {
                        let socket = tokio::net::TcpSocket::from_std_stream(raw);
                        let _ = socket.set_zero_linger();
                        drop(socket);
                        return;
                    }
                }
            }
        }
        match io.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A server that answers the first bytes it gets (a ClientHello) with `reply`, for TLS-level cases.
fn raw_reply_server(reply: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf);
            let _ = s.write_all(reply);
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    addr
}

fn flags(kind: Kind) -> &'static str {
    match kind {
        Kind::Udp => "--udp",
        Kind::Tcp => "--tcp",
        Kind::Tls => "--tls",
    }
}

struct Case {
    name: &'static str,
    kinds: &'static [Kind],
    script: Script,
    code: i32,
    outcome: &'static str,
    reason: &'static str,
}

fn case(
    name: &'static str,
    kinds: &'static [Kind],
    code: i32,
    outcome: &'static str,
    reason: &'static str,
    script: impl Fn(&Req) -> Vec<Step> + Send + Sync + 'static,
) -> Case {
    Case {
        name,
        kinds,
        script: Arc::new(script),
        code,
        outcome,
        reason,
    }
}

const ALL: &[Kind] = &[Kind::Udp, Kind::Tcp, Kind::Tls];
const STREAMS: &[Kind] = &[Kind::Tcp, Kind::Tls];

#[test]
fn hostile_server_matrix() {
    use Step::*;
    let cases = vec![
        case("random bytes", ALL, 3, "timeout", "Timer F", |_| {
            vec![Send(noise(300, 7))]
        }),
        case(
            "wrong branch, then the answer",
            ALL,
            0,
            "registered",
            "200 OK",
            |r| {
                vec![
                    Send(spoiled(r, |p| {
                        p.vias = vec![p.vias[0].replace("branch=z9hG4bK", "branch=z9hG4bKx")]
                    })),
                    Send(ok(r)),
                ]
            },
        ),
        case("only a wrong branch", ALL, 3, "timeout", "Timer F", |r| {
            vec![Send(spoiled(r, |p| {
                p.vias = vec![p.vias[0].replace("branch=z9hG4bK", "branch=z9hG4bKx")]
            }))]
        }),
        case(
            "wrong Call-ID, then the answer",
            ALL,
            0,
            "registered",
            "200 OK",
            |r| {
                vec![
                    Send(spoiled(r, |p| p.call_id = "someone-else".into())),
                    Send(ok(r)),
                ]
            },
        ),
        case(
            "wrong CSeq number, then the answer",
            ALL,
            0,
            "registered",
            "200 OK",
            |r| {
                vec![
                    Send(spoiled(r, |p| p.cseq = "99 REGISTER".into())),
                    Send(ok(r)),
                ]
            },
        ),
        case(
            "two Via values, then the answer",
            ALL,
            0,
            "registered",
            "200 OK",
            |r| {
                vec![
                    Send(spoiled(r, |p| {
                        p.vias
                            .push("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKproxy".into())
                    })),
                    Send(ok(r)),
                ]
            },
        ),
        case("two Via values only", ALL, 3, "timeout", "Timer F", |r| {
            vec![Send(spoiled(r, |p| {
                p.vias
                    .push("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKproxy".into())
            }))]
        }),
        case(
            "a 200 to another method, then the answer",
            ALL,
            0,
            "registered",
            "200 OK",
            |r| {
                vec![
                    Send(spoiled(r, |p| {
                        p.cseq = p.cseq.replace("REGISTER", "OPTIONS")
                    })),
                    Send(ok(r)),
                ]
            },
        ),
        case(
            "truncated headers",
            &[Kind::Udp],
            3,
            "timeout",
            "Timer F",
            |r| {
                let b = ok(r);
                vec![Send(b[..b.len() - 30].to_vec())]
            },
        ),
        case(
            "truncated headers, then close",
            STREAMS,
            3,
            "closed",
            "closed",
            |r| {
                let b = ok(r);
                vec![Send(b[..b.len() - 30].to_vec()), Close]
            },
        ),
        case(
            "missing Content-Length",
            STREAMS,
            0,
            "registered",
            "200 OK",
            |r| vec![Send(spoiled(r, |p| p.content_length = None))],
        ),
        case(
            "negative Content-Length",
            STREAMS,
            3,
            "closed",
            "invalid Content-Length",
            |r| vec![Send(spoiled(r, |p| p.content_length = Some("-5".into())))],
        ),
        case(
            "huge Content-Length",
            STREAMS,
            3,
            "closed",
            "64 KiB limit",
            |r| {
                vec![Send(spoiled(r, |p| {
                    p.content_length = Some("999999999999".into())
                }))]
            },
        ),
        case(
            "one byte at a time",
            STREAMS,
            0,
            "registered",
            "200 OK",
            |r| vec![Drip(ok(r), Duration::from_millis(1))],
        ),
        case(
            "CRLF keep-alives before the answer",
            ALL,
            0,
            "registered",
            "200 OK",
            |r| {
                vec![
                    Send(b"\r\n\r\n".to_vec()),
                    Send(b"\r\n".to_vec()),
                    Send(ok(r)),
                ]
            },
        ),
        case(
            "an endless header",
            STREAMS,
            3,
            "closed",
            "64 KiB limit",
            |_| {
                let mut b = b"SIP/2.0 200 OK\r\nX-Endless: ".to_vec();
                b.extend(std::iter::repeat_n(b'a', 70_000));
                vec![Send(b)]
            },
        ),
        case(
            "too many headers",
            STREAMS,
            3,
            "closed",
            "header lines",
            |_| {
                let mut b = b"SIP/2.0 200 OK\r\n".to_vec();
                for _ in 0..400 {
                    b.extend_from_slice(b"X: y\r\n");
                }
                vec![Send(b)]
            },
        ),
        case(
            "a datagram over the limit",
            &[Kind::Udp],
            3,
            "timeout",
            "Timer F",
            |_| vec![Send(noise(65_000, 3))],
        ),
        case(
            "slow drip",
            STREAMS,
            3,
            "timeout",
            "bytes of an unfinished message",
            |r| vec![Drip(ok(r), Duration::from_millis(100))],
        ),
        case(
            "reset in the middle of the answer",
            &[Kind::Tcp],
            3,
            "closed",
            "reset",
            |r| {
                let b = ok(r);
                vec![Send(b[..40].to_vec()), Reset]
            },
        ),
        case(
            "close without an answer",
            STREAMS,
            3,
            "closed",
            "closed",
            |_| vec![Close],
        ),
    ];
    let pki = Pki::new();
    let tls_cfg = pki.server_config();
    let ca = pki.ca_pem.to_str().unwrap().to_string();
    let mut ran = 0;
    for c in &cases {
        for &kind in c.kinds {
            let addr = serve(
                kind,
                c.script.clone(),
                (kind == Kind::Tls).then(|| tls_cfg.clone()),
            );
            let server = addr.to_string();
            let started = Instant::now();
            // A case that should register gets a generous Timer F (it returns as soon as it is
            // answered); a case that should time out gets a short one.
            let timer_f = if c.code == 0 { "10s" } else { "600ms" };
            let out = run(&[
                "--json",
                "--keep",
                "--t1",
                "20ms",
                "--timeout",
                timer_f,
                "--ca-file",
                &ca,
                flags(kind),
                &server,
            ]);
            let took = started.elapsed();
            let what = format!("{} over {kind:?}", c.name);
            assert!(took < Duration::from_secs(10), "{what}: took {took:?}");
            assert!(!out.stderr.contains("panicked"), "{what}: {}", out.stderr);
            assert_eq!(out.code, c.code, "{what}: {}", out.stdout);
            let j = out.json();
            let a = &j["attempts"][0];
            assert_eq!(a["outcome"], c.outcome, "{what}: {a}");
            let reason = a["reason"].as_str().unwrap();
            assert!(
                reason.contains(c.reason),
                "{what}: reason {reason:?} lacks {:?}",
                c.reason
            );
            let _ = attempts(&j); // every failed attempt carries a hint
            ran += 1;
        }
    }
    eprintln!("hostile transport cases: {ran}");
    assert!(ran >= 45);
}

#[test]
fn hostile_tls_servers() {
    let plaintext = raw_reply_server(b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n");
    let alert = raw_reply_server(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);
    let pki = Pki::new();
    let ca = pki.ca_pem.to_str().unwrap().to_string();
    let expired = registrar(Options {
        tls: Some(pki.leaf_config(&["127.0.0.1"], (2000, 1, 1), (2001, 1, 1))),
        ..Options::default()
    });
    let future = registrar(Options {
        tls: Some(pki.leaf_config(&["127.0.0.1"], (2090, 1, 1), (2099, 1, 1))),
        ..Options::default()
    });
    let wrong = registrar(Options {
        tls: Some(pki.leaf_config(&["pbx.example.com"], (2020, 1, 1), (2099, 1, 1))),
        ..Options::default()
    });
    let cases = [
        (
            "plaintext on the TLS port",
            plaintext.to_string(),
            "did not answer in TLS",
            "TLS",
        ),
        ("a TLS alert", alert.to_string(), "HandshakeFailure", "TLS"),
        (
            "an expired certificate",
            expired.tls_addr.unwrap().to_string(),
            "expired on 2001-01-01",
            "renew",
        ),
        (
            "a not-yet-valid certificate",
            future.tls_addr.unwrap().to_string(),
            "not valid before 2090-01-01",
            "clocks",
        ),
        (
            "a wrong-name certificate",
            wrong.tls_addr.unwrap().to_string(),
            "pbx.example.com",
            "--tls-server-name",
        ),
    ];
    for (name, server, reason, hint) in cases {
        let started = Instant::now();
        let out = run(&[
            "--json",
            "--tls",
            "--connect-timeout",
            "2s",
            "--ca-file",
            &ca,
            &server,
        ]);
        assert!(started.elapsed() < Duration::from_secs(5), "{name}");
        assert_eq!(out.code, 3, "{name}: {}", out.stdout);
        let j = out.json();
        assert_eq!(attempts(&j), ["tls:tls_failed"], "{name}");
        let a = &j["attempts"][0];
        assert!(
            a["reason"].as_str().unwrap().contains(reason),
            "{name}: {a}"
        );
        assert!(a["hint"].as_str().unwrap().contains(hint), "{name}: {a}");
    }
}

#[test]
fn hostile_answers_to_the_register() {
    let scripted = |replies: Vec<Canned>| {
        registrar(Options {
            behaviour: Behaviour::Script(replies),
            ..Options::default()
        })
    };
    let www = |v: &str| Canned::new(401, "Unauthorized", &[&format!("WWW-Authenticate: {v}")]);
    let ok = Canned::new(200, "OK", &[]);
    let cases: Vec<(&str, Vec<Canned>, i32, &str)> = vec![
        (
            "401 without a nonce",
            vec![www("Digest realm=\"r\"")],
            4,
            "no nonce",
        ),
        (
            "401 with an unknown algorithm",
            vec![www("Digest realm=\"r\", nonce=\"n\", algorithm=ROT13")],
            4,
            "ROT13",
        ),
        (
            "401 with an empty realm",
            vec![www("Digest realm=\"\", nonce=\"n\""), ok.clone()],
            0,
            "200 OK",
        ),
        (
            "401 loop",
            vec![www("Digest realm=\"r\", nonce=\"n\"")],
            4,
            "challenged again",
        ),
        (
            "401 without WWW-Authenticate",
            vec![Canned::new(401, "Unauthorized", &[])],
            4,
            "not a digest",
        ),
        (
            "423 without Min-Expires",
            vec![Canned::new(423, "Interval Too Brief", &[])],
            1,
            "without Min-Expires",
        ),
        (
            "423 loop",
            vec![Canned::new(
                423,
                "Interval Too Brief",
                &["Min-Expires: 7200"],
            )],
            1,
            "423",
        ),
        (
            "Retry-After of ten years",
            vec![Canned::new(
                503,
                "Service Unavailable",
                &["Retry-After: 315360000"],
            )],
            1,
            "Retry-After 315360000",
        ),
        (
            "a 6xx",
            vec![Canned::new(603, "Decline", &[])],
            1,
            "603 Decline",
        ),
        ("an unknown 4xx", vec![Canned::new(499, "", &[])], 1, "499"),
    ];
    for (name, replies, code, reason) in cases {
        let reg = scripted(replies);
        let started = Instant::now();
        let out = run_cmd(
            sipreg()
                .args([
                    "--json",
                    "--udp",
                    "--keep",
                    "--retries",
                    "1",
                    "--retry-interval",
                    "50ms",
                    "--retry-max",
                    "200ms",
                    &reg.sip_addr.to_string(),
                ])
                .env("SIPREG_PASSWORD", "pw"),
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{name}: bounded time"
        );
        assert_eq!(out.code, code, "{name}: {}", out.stdout);
        let j = out.json();
        let last = j["attempts"].as_array().unwrap().last().unwrap().clone();
        assert!(
            last["reason"].as_str().unwrap().contains(reason),
            "{name}: {last}"
        );
        let _ = attempts(&j);
    }
}

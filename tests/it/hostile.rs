//! Hostile and broken servers over real sockets (UDP, TCP, TLS): every case ends in bounded time, with no
//! panic, with the documented exit code and a reason.
//!
//! The test server is scripted byte by byte here: for each request it runs a list of steps (send bytes,
//! drip them, close, reset), so each case is exactly the misbehaviour it names.

use std::time::{Duration, Instant};

use crate::common::*;

/// A 200 OK with a wrong branch in the top Via.
fn wrong_branch(r: &Incoming) -> Vec<u8> {
    r.spoiled("via", |v| {
        Some(v.replace("branch=z9hG4bK", "branch=z9hG4bKx"))
    })
}

/// A 200 OK with a second Via value.
fn two_vias(r: &Incoming) -> Vec<u8> {
    r.spoiled("via", |v| {
        Some(format!(
            "{v}\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKproxy"
        ))
    })
}

/// A 200 OK with its Content-Length replaced (`None`: left out).
fn content_length(r: &Incoming, value: Option<&str>) -> Vec<u8> {
    r.spoiled("content-length", |_| value.map(str::to_string))
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
    behaviour: Behaviour,
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
    script: impl Fn(&Incoming) -> Vec<Step> + Send + Sync + 'static,
) -> Case {
    Case {
        name,
        kinds,
        behaviour: Behaviour::raw(script),
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
            |r| vec![Send(wrong_branch(r)), Send(r.ok())],
        ),
        case("only a wrong branch", ALL, 3, "timeout", "Timer F", |r| {
            vec![Send(wrong_branch(r))]
        }),
        case(
            "wrong Call-ID, then the answer",
            ALL,
            0,
            "registered",
            "200 OK",
            |r| {
                vec![
                    Send(r.spoiled("call-id", |_| Some("someone-else".into()))),
                    Send(r.ok()),
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
                    Send(r.spoiled("cseq", |_| Some("99 REGISTER".into()))),
                    Send(r.ok()),
                ]
            },
        ),
        case(
            "two Via values, then the answer",
            ALL,
            0,
            "registered",
            "200 OK",
            |r| vec![Send(two_vias(r)), Send(r.ok())],
        ),
        case("two Via values only", ALL, 3, "timeout", "Timer F", |r| {
            vec![Send(two_vias(r))]
        }),
        case(
            "a 200 to another method, then the answer",
            ALL,
            0,
            "registered",
            "200 OK",
            |r| {
                vec![
                    Send(r.spoiled("cseq", |c| Some(c.replace("REGISTER", "OPTIONS")))),
                    Send(r.ok()),
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
                let b = r.ok();
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
                let b = r.ok();
                vec![Send(b[..b.len() - 30].to_vec()), Close]
            },
        ),
        case(
            "missing Content-Length",
            STREAMS,
            0,
            "registered",
            "200 OK",
            |r| vec![Send(content_length(r, None))],
        ),
        case(
            "negative Content-Length",
            STREAMS,
            3,
            "closed",
            "invalid Content-Length",
            |r| vec![Send(content_length(r, Some("-5")))],
        ),
        case(
            "huge Content-Length",
            STREAMS,
            3,
            "closed",
            "64 KiB limit",
            |r| vec![Send(content_length(r, Some("999999999999")))],
        ),
        case(
            "one byte at a time",
            STREAMS,
            0,
            "registered",
            "200 OK",
            |r| vec![Drip(r.ok(), Duration::from_millis(1))],
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
                    Send(r.ok()),
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
            |r| vec![Drip(r.ok(), Duration::from_millis(100))],
        ),
        case(
            "reset in the middle of the answer",
            &[Kind::Tcp],
            3,
            "closed",
            "reset",
            |r| {
                let b = r.ok();
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
            let reg = registrar(Options {
                tls: (kind == Kind::Tls).then(|| tls_cfg.clone()),
                behaviour: c.behaviour.clone(),
                ..Options::default()
            });
            let addr = match kind {
                Kind::Tls => reg.tls_addr.unwrap(),
                Kind::Udp | Kind::Tcp => reg.sip_addr,
            };
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
    let greeting = |bytes: &[u8]| {
        registrar(Options {
            behaviour: Behaviour::Greet(bytes.to_vec()),
            ..Options::default()
        })
    };
    let plaintext = greeting(b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n");
    let alert = greeting(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);
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
            plaintext.sip_addr.to_string(),
            "did not answer in TLS",
            "TLS",
        ),
        (
            "a TLS alert",
            alert.sip_addr.to_string(),
            "HandshakeFailure",
            "TLS",
        ),
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

//! End-to-end: the real binary against the in-process registrar over loopback UDP and TCP.

use crate::common::*;
use std::net::UdpSocket;

fn addr(r: &Server) -> String {
    r.sip_addr.to_string()
}

#[test]
fn tcp_refused_falls_back_to_udp_at_once() {
    let reg = registrar(Options {
        tcp: TcpMode::Refuse,
        ..Options::default()
    });
    let out = run(&["--json", &addr(&reg)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let j = out.json();
    assert_eq!(attempts(&j), ["tcp:refused", "udp:registered"]);
    assert_eq!(j["transport"], "udp");
    let tcp_ms = j["attempts"][0]["elapsed_ms"].as_f64().unwrap();
    assert!(
        tcp_ms < 1000.0,
        "a refused connect falls back at once, took {tcp_ms} ms"
    );
    assert!(
        j["attempts"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("refused")
    );
}

#[test]
fn tcp_not_answered_falls_back_after_connect_timeout() {
    let reg = registrar(Options {
        tcp: TcpMode::Blackhole,
        ..Options::default()
    });
    let out = run(&["--json", "--connect-timeout", "300ms", &addr(&reg)]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let j = out.json();
    assert_eq!(attempts(&j), ["tcp:connect_timeout", "udp:registered"]);
    let tcp_ms = j["attempts"][0]["elapsed_ms"].as_f64().unwrap();
    assert!(
        (290.0..5000.0).contains(&tcp_ms),
        "TCP gave up after {tcp_ms} ms, want about 300"
    );
    let udp_start = j["attempts"][1]["started_ms"].as_f64().unwrap();
    assert!(
        udp_start >= 290.0,
        "UDP started at {udp_start} ms, before the connect timeout"
    );
}

#[test]
fn closed_udp_port_fails_after_one_send() {
    // Held and connected elsewhere: it answers with ICMP port unreachable, and no one can take it.
    let closed = UdpSocket::bind("127.0.0.1:0").unwrap();
    closed.connect("127.0.0.1:9").unwrap();
    let port = closed.local_addr().unwrap().port();
    let out = run(&[
        "--json",
        "--udp",
        "--t1",
        "5s",
        &format!("127.0.0.1:{port}"),
    ]);
    assert_eq!(out.code, 3);
    let j = out.json();
    assert_eq!(attempts(&j), ["udp:unreachable"]);
    let a = &j["attempts"][0];
    assert_eq!(a["retransmissions"], 0);
    assert!(
        a["elapsed_ms"].as_f64().unwrap() < 3000.0,
        "must not wait for Timer E (5 s), let alone F: {a}"
    );
    assert!(
        a["reason"].as_str().unwrap().contains("port unreachable"),
        "{a}"
    );
}

#[test]
fn silent_udp_server_gets_retransmissions_then_timer_f() {
    let reg = registrar(Options {
        behaviour: Behaviour::Silent,
        ..Options::default()
    });
    let out = run(&[
        "--json",
        "--udp",
        "--t1",
        "100ms",
        "--timeout",
        "2s",
        &addr(&reg),
    ]);
    assert_eq!(out.code, 3);
    let j = out.json();
    assert_eq!(attempts(&j), ["udp:timeout"]);
    let a = &j["attempts"][0];
    let elapsed = a["elapsed_ms"].as_f64().unwrap();
    assert!(
        (1950.0..8000.0).contains(&elapsed),
        "Timer F of 2 s fired after {elapsed} ms"
    );
    // Timer E with T1 = 100 ms, T2 = 800 ms: sends at 0, 100, 300, 700, 1500 ms.
    let retx = a["retransmissions"].as_u64().unwrap();
    assert!((2..=5).contains(&retx), "retransmissions: {retx}");
    // The registrar thread may log the last datagram a moment after the binary exits.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while (reg.seen_all().len() as u64) < retx + 1 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let seen = reg.seen_all();
    assert_eq!(seen.len() as u64, retx + 1, "the server saw every send");
    assert!(
        seen.iter().all(|s| s.cseq == seen[0].cseq),
        "retransmissions reuse the request"
    );
    assert_eq!(reg.seen().len(), 1, "and are one request");
}

#[test]
fn a_403_ends_the_cycle_without_fallback() {
    let reg = registrar(Options {
        behaviour: Behaviour::Reject(403),
        ..Options::default()
    });
    let out = run(&["--json", &addr(&reg)]);
    assert_eq!(out.code, 1);
    let j = out.json();
    assert_eq!(attempts(&j), ["tcp:rejected"]);
    assert_eq!(j["attempts"][0]["status"], 403);
    assert_eq!(j["verdict"], "rejected");
    assert!(
        reg.seen()
            .iter()
            .all(|s| s.transport == sipreg::model::Transport::Tcp)
    );
}

#[test]
fn a_closed_connection_falls_back() {
    let reg = registrar(Options {
        behaviour: Behaviour::Close,
        ..Options::default()
    });
    let out = run(&["--json", "--t1", "20ms", "--timeout", "300ms", &addr(&reg)]);
    assert_eq!(out.code, 3);
    assert_eq!(attempts(&out.json()), ["tcp:closed", "udp:timeout"]);
}

#[test]
fn retries_run_a_second_cycle_after_the_interval() {
    let reg = registrar(Options {
        tcp: TcpMode::Refuse,
        udp: false,
        ..Options::default()
    });
    let out = run(&[
        "--json",
        "--retries",
        "1",
        "--retry-interval",
        "200ms",
        &addr(&reg),
    ]);
    assert_eq!(out.code, 3);
    let j = out.json();
    assert_eq!(
        attempts(&j),
        [
            "tcp:refused",
            "udp:unreachable",
            "tcp:refused",
            "udp:unreachable"
        ]
    );
    let cycles: Vec<u64> = j["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["cycle"].as_u64().unwrap())
        .collect();
    assert_eq!(cycles, [1, 1, 2, 2]);
    let end_of_first = j["attempts"][1]["started_ms"].as_f64().unwrap()
        + j["attempts"][1]["elapsed_ms"].as_f64().unwrap();
    let second = j["attempts"][2]["started_ms"].as_f64().unwrap();
    assert!(
        second - end_of_first >= 190.0,
        "waited only {} ms",
        second - end_of_first
    );
}

#[test]
fn the_binding_is_removed_after_success_unless_keep() {
    let reg = registrar(Options::default());
    let out = run(&["--json", "--udp", "--user", "alice", &addr(&reg)]);
    assert_eq!(out.code, 0);
    assert_eq!(out.json()["unregister"]["done"], true);
    let seen = reg.seen();
    assert_eq!(seen.len(), 2, "REGISTER then unregister: {seen:?}");
    assert_eq!(seen[0].expires, Some(3600));
    assert_eq!(seen[1].expires, Some(0));
    assert!(
        seen[1].contact.contains(";expires=0"),
        "{}",
        seen[1].contact
    );
    assert_eq!(seen[0].call_id, seen[1].call_id);
    assert_eq!(seen[1].cseq, seen[0].cseq + 1);

    let reg = registrar(Options::default());
    let out = run(&["--json", "--udp", "--keep", &addr(&reg)]);
    assert_eq!(out.code, 0);
    assert!(out.json()["unregister"].is_null());
    assert_eq!(reg.seen().len(), 1, "--keep sends no unregister");
}

#[test]
fn json_has_the_spec_fields() {
    let reg = registrar(Options::default());
    let out = run(&["--json", "--tcp", "--expires", "120", &addr(&reg)]);
    assert_eq!(out.code, 0);
    let j = out.json();
    for key in [
        "registered",
        "transport",
        "secure",
        "downgraded",
        "server",
        "aor",
        "elapsed_ms",
        "expires",
        "attempts",
    ] {
        assert!(j.get(key).is_some(), "missing {key}");
    }
    assert_eq!(j["registered"], true);
    assert_eq!(j["secure"], false);
    assert_eq!(j["expires"], 120);
    assert_eq!(j["aor"], "sip:sipreg@127.0.0.1");
    let a = &j["attempts"][0];
    for key in [
        "cycle",
        "transport",
        "remote",
        "started_ms",
        "elapsed_ms",
        "outcome",
        "status",
        "reason",
        "phases",
    ] {
        assert!(a.get(key).is_some(), "attempt is missing {key}");
    }
    assert_eq!(a["remote"], addr(&reg));
    assert_eq!(a["status"], 200);
    assert_eq!(
        a["seen_as"].as_str().unwrap().split(':').next(),
        Some("127.0.0.1")
    );
    let p = &a["phases"];
    for key in [
        "dns_ms",
        "connect_ms",
        "tls_ms",
        "first_response_ms",
        "final_ms",
    ] {
        assert!(p.get(key).is_some(), "phases is missing {key}");
    }
    assert!(p["connect_ms"].as_f64().is_some());
    assert!(p["tls_ms"].is_null(), "no TLS on a TCP attempt");
    assert!(p["final_ms"].as_f64().unwrap() >= p["first_response_ms"].as_f64().unwrap());
}

#[test]
fn exit_codes() {
    let ok = registrar(Options::default());
    assert_eq!(run(&["--udp", &addr(&ok)]).code, 0);
    let rejecting = registrar(Options {
        behaviour: Behaviour::Reject(404),
        ..Options::default()
    });
    assert_eq!(run(&["--udp", &addr(&rejecting)]).code, 1);
    let usage = run(&["--udp", "--tls", &addr(&ok)]);
    assert_eq!(usage.code, 2);
    assert_eq!(
        usage.stderr.trim(),
        "sipreg: error: unsupported transport set: UDP + TLS"
    );
    assert!(ok.seen().len() == 2, "a refused flag set sends nothing");
    let dead = registrar(Options {
        tcp: TcpMode::Refuse,
        udp: false,
        ..Options::default()
    });
    assert_eq!(run(&[&addr(&dead)]).code, 3);
    let challenging = registrar(Options {
        behaviour: Behaviour::Challenge {
            user: "alice".into(),
            password: "s3cret".into(),
        },
        ..Options::default()
    });
    let out = run(&["--json", "--udp", "--user", "alice", &addr(&challenging)]);
    assert_eq!(out.code, 4);
    assert!(
        out.json()["attempts"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("no password")
    );
}

#[test]
fn digest_registration_and_wrong_password() {
    let reg = registrar(Options {
        behaviour: Behaviour::Challenge {
            user: "alice".into(),
            password: "s3cret".into(),
        },
        ..Options::default()
    });
    let out = run_cmd(
        sipreg()
            .args(["--json", "--udp", "--user", "alice", &addr(&reg)])
            .env("SIPREG_PASSWORD", "s3cret"),
    );
    assert_eq!(out.code, 0, "{}", out.stdout);
    let j = out.json();
    assert_eq!(
        j["attempts"][0]["requests"], 2,
        "REGISTER, 401, REGISTER with credentials"
    );
    assert_eq!(
        j["unregister"]["done"], true,
        "the unregister answers the challenge too"
    );
    assert!(!out.stdout.contains("s3cret"));

    let out = run_cmd(
        sipreg()
            .args(["--json", "--user", "alice", &addr(&reg)])
            .env("SIPREG_PASSWORD", "wrong"),
    );
    assert_eq!(out.code, 4);
    let j = out.json();
    assert_eq!(
        attempts(&j),
        ["tcp:unauthorized"],
        "no fallback after an authentication failure"
    );
}

#[test]
fn human_output_names_the_fallback_and_the_verdict() {
    let reg = registrar(Options {
        tcp: TcpMode::Refuse,
        ..Options::default()
    });
    let out = run(&[&addr(&reg)]);
    assert_eq!(out.code, 0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines[0].starts_with("registering sip:sipreg@127.0.0.1 at "),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("TCP") && out.stdout.contains("refused"));
    let verdict = lines.last().unwrap();
    assert!(verdict.starts_with("registered over UDP in "), "{verdict}");
    assert!(verdict.contains("after TCP failed"), "{verdict}");
    let quiet = run(&["-q", &addr(&reg)]);
    assert_eq!(quiet.stdout.lines().count(), 1, "{}", quiet.stdout);
    assert!(quiet.stdout.starts_with("registered over UDP"));
}

#[test]
fn demo_shows_a_tcp_to_udp_fallback() {
    let out = run(&["demo", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let j = out.json();
    assert_eq!(attempts(&j), ["tcp:refused", "udp:registered"]);
}

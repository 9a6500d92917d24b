//! `sipreg watch` end to end: the real binary holding a binding at the scripted server over real
//! sockets — refreshes on one connection, pongs, drops and recovery, answers to the network,
//! SIGTERM. Short timers and generous bounds.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::Value;

/// Runs `sipreg watch --json` with `args` and returns its event lines (the summary last) and code.
fn watch(args: &[&str]) -> (Vec<Value>, i32) {
    let mut all = vec!["watch", "--json"];
    all.extend_from_slice(args);
    let out = run(&all);
    let lines = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}\n{}", out.stderr)))
        .collect();
    (lines, out.code)
}

fn named<'a>(events: &'a [Value], name: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == name).collect()
}

fn summary(events: &[Value]) -> &Value {
    let last = events.last().expect("a summary line");
    &last["summary"]
}

#[test]
fn tcp_refreshes_on_one_connection_with_pongs_and_removes_the_binding() {
    let reg = registrar(Options::default());
    let server = reg.sip_addr.to_string();
    let (events, code) = watch(&[
        "--tcp",
        "--expires",
        "2",
        "--keepalive",
        "300ms",
        "--duration",
        "4s",
        &server,
    ]);
    assert_eq!(code, 0, "{events:?}");
    assert_eq!(events[0]["event"], "registered", "{events:?}");
    assert_eq!(events[0]["transport"], "tcp");
    let refreshed = named(&events, "refreshed");
    assert!(refreshed.len() >= 2, "refreshes at 90 % of 2 s: {events:?}");
    let first = refreshed[0]["t_ms"].as_f64().unwrap() - events[0]["t_ms"].as_f64().unwrap();
    assert!(
        (1700.0..2300.0).contains(&first),
        "refresh at 1.8 s, was {first} ms"
    );
    let pongs = named(&events, "keepalive");
    assert!(pongs.len() >= 5, "{events:?}");
    assert!(
        pongs
            .iter()
            .all(|p| p["rtt_ms"].as_f64().is_some_and(|r| r < 1000.0))
    );
    assert!(reg.pings() >= 5);
    let seen = reg.seen();
    assert!(
        seen.iter().all(|s| s.peer == seen[0].peer),
        "one connection: {seen:?}"
    );
    let cseqs: Vec<u32> = seen.iter().map(|s| s.cseq).collect();
    assert!(
        cseqs.windows(2).all(|w| w[1] == w[0] + 1),
        "CSeq + 1: {cseqs:?}"
    );
    assert!(
        seen.iter().all(|s| s.call_id == seen[0].call_id),
        "one Call-ID"
    );
    assert_eq!(
        seen.last().and_then(|s| s.expires),
        Some(0),
        "the binding is removed"
    );
    let s = summary(&events);
    assert_eq!(
        (s["drops"].as_u64(), s["exit_code"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(s["registered_pct"], 100.0);
    assert!(s["keepalive_rtt_ms"]["p50"].as_f64().is_some());
}

#[test]
fn a_connection_closed_at_once_is_a_drop_retried_after_a_backoff_not_a_storm() {
    let reg = registrar(Options {
        behaviour: Behaviour::close_after(0),
        ..Options::default()
    });
    let server = reg.sip_addr.to_string();
    let (events, code) = watch(&[
        "--tcp",
        "--keepalive",
        "0",
        "--retry-interval",
        "300ms",
        "--duration",
        "2s",
        &server,
    ]);
    assert_eq!(code, 6, "registered, but dropped: {events:?}");
    let names: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    // A binding lost at once counts as a failed try: a backoff (150–300 ms here), not a storm.
    assert_eq!(
        &names[..5],
        [
            "registered",
            "flow_lost",
            "registration_lost",
            "waiting",
            "registered"
        ],
        "{events:?}"
    );
    let wait = events[3]["wait_ms"].as_f64().unwrap();
    assert!((150.0..=300.0).contains(&wait), "{wait}");
    let lost = events[2]["t_ms"].as_f64().unwrap();
    let again = events[4]["t_ms"].as_f64().unwrap();
    assert!(again - lost < 1000.0, "registered again: {lost} -> {again}");
    let s = summary(&events);
    assert_eq!(s["drops"], 1);
    assert!(s["longest_gap_ms"].as_f64().unwrap() < 1000.0);
    // Each re-registration came from a new connection and removed the Contact before it.
    assert_eq!(reg.bindings(), Vec::<String>::new(), "{:?}", reg.seen());
}

#[test]
fn a_flow_that_answered_pongs_and_goes_silent_is_lost_and_its_contact_removed() {
    // The registrar answers the first ping only: from then on a missing pong means a dead flow.
    let reg = registrar(Options {
        pong_limit: Some(1),
        ..Options::default()
    });
    let server = reg.sip_addr.to_string();
    let started = Instant::now();
    // The binding lasted longer than --retry-interval: registered again at once.
    let (events, code) = watch(&[
        "--tcp",
        "--keepalive",
        "1s",
        "--retry-interval",
        "1s",
        "--duration",
        "14s",
        &server,
    ]);
    assert!(started.elapsed() < Duration::from_secs(21));
    assert_eq!(code, 6, "{events:?}");
    assert!(
        named(&events, "keepalive_unanswered").is_empty(),
        "{events:?}"
    );
    let missed = named(&events, "keepalive_missed");
    assert_eq!(missed.len(), 1, "{events:?}");
    let at = missed[0]["t_ms"].as_f64().unwrap();
    assert!(
        (11_500.0..13_500.0).contains(&at),
        "pong at 1 s, ping at 2 s, pong due 10 s later: {at}"
    );
    let registered = named(&events, "registered");
    assert_eq!(
        registered.len(),
        2,
        "registered again after the loss: {events:?}"
    );
    // The new REGISTER removed the Contact of the dead connection, and the end removed the new one.
    let seen = reg.seen();
    let again = seen
        .iter()
        .find(|s| s.peer != seen[0].peer)
        .expect("a REGISTER from the new connection");
    assert!(again.contact.contains(";expires=0"), "{again:?}");
    assert_eq!(reg.bindings(), Vec::<String>::new(), "{seen:?}");
    assert_eq!(summary(&events)["unregistered"], true);
}

#[test]
fn a_registrar_that_agreed_to_outbound_owes_the_first_pong_too() {
    // RFC 5626 §4.4.1: inside an agreed flow (Require: outbound) the first missing pong loses it.
    let reg = registrar(Options {
        behaviour: Behaviour::Script(vec![Canned::new(
            200,
            "OK",
            &["Require: outbound", "Flow-Timer: 1"],
        )]),
        pong: false,
        ..Options::default()
    });
    let server = reg.sip_addr.to_string();
    let (events, code) = watch(&["--tcp", "--duration", "12500ms", &server]);
    assert_eq!(code, 6, "{events:?}");
    assert!(
        named(&events, "keepalive_unanswered").is_empty(),
        "{events:?}"
    );
    let missed = named(&events, "keepalive_missed");
    assert_eq!(missed.len(), 1, "{events:?}");
    let at = missed[0]["t_ms"].as_f64().unwrap();
    assert!(
        (10_500.0..11_500.0).contains(&at),
        "ping at 0.8–1 s, pong due 10 s later: {at}"
    );
    assert_eq!(named(&events, "registration_lost").len(), 1, "{events:?}");
    assert_eq!(reg.bindings(), Vec::<String>::new());
}

#[test]
fn a_registrar_that_never_answers_keep_alives_is_said_once_and_the_binding_held() {
    // Outside an RFC 5626 flow a registrar owes no pong: the connection stays up and works.
    let reg = registrar(Options {
        pong: false,
        ..Options::default()
    });
    let server = reg.sip_addr.to_string();
    let (events, code) = watch(&["--tcp", "--keepalive", "1s", "--duration", "13s", &server]);
    assert_eq!(code, 0, "{events:?}");
    let told = named(&events, "keepalive_unanswered");
    assert_eq!(told.len(), 1, "said once: {events:?}");
    let at = told[0]["t_ms"].as_f64().unwrap();
    assert!((10_500.0..12_500.0).contains(&at), "{at}");
    assert!(named(&events, "keepalive_missed").is_empty(), "{events:?}");
    assert!(named(&events, "registration_lost").is_empty(), "{events:?}");
    let s = summary(&events);
    assert_eq!(
        (s["drops"].as_u64(), s["registered_pct"].as_f64()),
        (Some(0), Some(100.0)),
        "{s}"
    );
    assert_eq!(s["keepalive_answered"], false, "{s}");
    // Pings went on after the note (one at 1 s, unanswered until 11 s; then every second), on the
    // one connection.
    assert!(reg.pings() >= 3, "{}", reg.pings());
    let seen = reg.seen();
    assert!(seen.iter().all(|x| x.peer == seen[0].peer), "{seen:?}");
    assert_eq!(reg.bindings(), Vec::<String>::new());
}

#[test]
fn a_watch_that_ends_while_waiting_to_retry_still_removes_its_contacts() {
    // The first registration's connection closes at once; every later REGISTER but a removal is
    // refused, so the watch is waiting to retry when --duration ends.
    let reg = registrar(Options {
        behaviour: Behaviour::raw(
            |r: &Incoming| match (r.index, r.request.header("expires")) {
                (0, _) => vec![Step::Send(r.ok()), Step::Close],
                (_, Some("0")) => vec![Step::Send(r.ok())],
                _ => vec![Step::Send(r.reply(503, "Service Unavailable", &[]))],
            },
        ),
        ..Options::default()
    });
    let server = reg.sip_addr.to_string();
    let (events, code) = watch(&[
        "--tcp",
        "--keepalive",
        "0",
        "--retry-interval",
        "10s",
        "--duration",
        "1500ms",
        &server,
    ]);
    assert_eq!(code, 6, "{events:?}");
    assert!(!named(&events, "waiting").is_empty(), "{events:?}");
    let s = summary(&events);
    assert_eq!(s["unregistered"], true, "{events:?}");
    assert_eq!(s["not_removed"], serde_json::json!([]), "{s}");
    assert_eq!(reg.bindings(), Vec::<String>::new(), "{:?}", reg.seen());
}

#[test]
fn requests_from_the_network_are_answered_and_reported() {
    let reg = registrar(Options {
        behaviour: Behaviour::raw(|r: &Incoming| {
            let mut steps = vec![Step::Send(r.ok())];
            if r.index == 0 {
                for method in ["OPTIONS", "INVITE", "NOTIFY"] {
                    steps.push(Step::Send(request(method)));
                }
            }
            steps
        }),
        ..Options::default()
    });
    let server = reg.sip_addr.to_string();
    let (events, code) = watch(&["--tcp", "--duration", "1s", &server]);
    assert_eq!(code, 0, "{events:?}");
    let got: Vec<(String, u64)> = named(&events, "request_received")
        .iter()
        .map(|e| {
            (
                e["method"].as_str().unwrap_or_default().to_string(),
                e["answered"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("OPTIONS".to_string(), 200),
            ("INVITE".to_string(), 480),
            ("NOTIFY".to_string(), 200)
        ]
    );
    assert_eq!(summary(&events)["requests_received"], 3);
}

#[test]
fn a_watch_stopped_during_its_first_register_still_removes_that_contact() {
    // The registrar takes its time with the first REGISTER (no answer): the watch ends meanwhile,
    // and the Contact that REGISTER asked for may be bound all the same.
    let reg = registrar(Options {
        behaviour: Behaviour::raw(|r: &Incoming| match r.request.header("expires") {
            Some("0") => vec![Step::Send(r.ok())],
            _ => Vec::new(),
        }),
        ..Options::default()
    });
    let server = reg.sip_addr.to_string();
    let (events, code) = watch(&["--udp", "--duration", "1s", &server]);
    assert_eq!(code, 3, "never registered: {events:?}");
    let seen = reg.seen();
    let first = seen.first().expect("the first REGISTER");
    let removal = seen
        .iter()
        .find(|s| s.expires == Some(0))
        .expect("a removal at the end");
    let asked = first.contact.split(';').next().unwrap_or_default();
    assert!(
        removal.contact.contains(asked),
        "{removal:?} removes {asked}"
    );
    let s = summary(&events);
    assert_eq!(s["unregistered"], true, "{s}");
}

#[test]
fn a_check_the_registrar_refuses_is_reported_and_the_registration_held() {
    // A registrar only: it refuses to route anything but REGISTER (403), as many do for OPTIONS.
    let reg = registrar(Options {
        behaviour: Behaviour::raw(|r: &Incoming| {
            if r.request.method == "REGISTER" {
                vec![Step::Send(r.ok())]
            } else {
                vec![Step::Send(r.reply(403, "Forbidden", &[]))]
            }
        }),
        ..Options::default()
    });
    let server = reg.sip_addr.to_string();
    let (events, code) = watch(&[
        "--udp",
        "--check-inbound=300ms",
        "--duration",
        "1500ms",
        &server,
    ]);
    assert_eq!(code, 5, "held, but the check failed: {events:?}");
    let failed = named(&events, "inbound_failed");
    assert_eq!(
        failed.len(),
        1,
        "said once, then no more checks: {events:?}"
    );
    let reason = failed[0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("403") && reason.contains("refused"),
        "{reason}"
    );
    assert_eq!(named(&events, "inbound").len(), 1, "{events:?}");
    assert!(named(&events, "registration_lost").is_empty(), "{events:?}");
    let s = summary(&events);
    assert_eq!(
        (s["drops"].as_u64(), s["registered_pct"].as_f64()),
        (Some(0), Some(100.0)),
        "{s}"
    );
    assert_eq!(reg.bindings(), Vec::<String>::new());
}

#[test]
fn the_trace_shows_a_request_from_the_network_and_our_answer_in_full() {
    let reg = registrar(Options {
        behaviour: Behaviour::raw(|r: &Incoming| {
            let mut steps = vec![Step::Send(r.ok())];
            if r.index == 0 {
                steps.push(Step::Send(request("OPTIONS")));
            }
            steps
        }),
        ..Options::default()
    });
    let out = run(&[
        "watch",
        "-vv",
        "--tcp",
        "--duration",
        "1s",
        &reg.sip_addr.to_string(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let trace = &out.stderr;
    assert!(
        trace.contains("the server sent OPTIONS over TCP; answering 200"),
        "{trace}"
    );
    assert!(
        trace.contains("Call-ID: OPTIONS@pbx"),
        "the request in full: {trace}"
    );
    let answer = trace
        .split("answering over TCP:")
        .nth(1)
        .and_then(|a| a.split("Content-Length").next())
        .unwrap_or_default();
    assert!(
        answer.contains("SIP/2.0 200 OK"),
        "our answer in full: {trace}"
    );
    assert!(
        !answer.contains("tag=sipreg"),
        "a To tag of its own: {answer}"
    );
}

/// A request from the registrar to the phone.
fn request(method: &str) -> Vec<u8> {
    format!(
        "{method} sip:alice@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK{method}\r\nMax-Forwards: 70\r\nFrom: <sip:pbx@127.0.0.1>;tag=p\r\nTo: <sip:alice@127.0.0.1>\r\nCall-ID: {method}@pbx\r\nCSeq: 1 {method}\r\nContact: <sip:pbx@127.0.0.1:5060;transport=tcp>\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

#[test]
fn sigterm_removes_the_binding_and_prints_the_summary() {
    let reg = registrar(Options::default());
    let server = reg.sip_addr.to_string();
    let mut child = sipreg()
        .args(["watch", "--json", "--tcp", &server])
        .stdout(Stdio::piped())
        .spawn()
        .expect("sipreg runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    assert!(first.contains("\"registered\""), "{first}");
    signal(&child, "TERM");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let code = child.wait().expect("sipreg ends").code();
    assert_eq!(code, Some(0), "{rest:?}");
    assert!(
        rest.iter().any(|l| l.contains("\"unregistered\"")),
        "{rest:?}"
    );
    assert!(
        rest.last().is_some_and(|l| l.starts_with("{\"summary\"")),
        "{rest:?}"
    );
    assert_eq!(
        reg.seen().last().and_then(|s| s.expires),
        Some(0),
        "no binding left"
    );
    assert_eq!(reg.bindings(), Vec::<String>::new());
}

#[test]
fn a_second_sigint_skips_the_removal_and_still_prints_the_summary() {
    // The registrar never answers the removal: without a second signal, Timer F would take 32 s.
    let reg = registrar(Options {
        behaviour: Behaviour::raw(|r: &Incoming| {
            if r.request.header("expires") == Some("0") {
                Vec::new()
            } else {
                vec![Step::Send(r.ok())]
            }
        }),
        ..Options::default()
    });
    let server = reg.sip_addr.to_string();
    let mut child = sipreg()
        .args(["watch", "--json", "--udp", &server])
        .stdout(Stdio::piped())
        .spawn()
        .expect("sipreg runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    assert!(first.contains("\"registered\""), "{first}");
    signal(&child, "INT");
    // The second signal comes while the removal waits for its answer.
    wait_until("the removal to be sent", Duration::from_secs(5), || {
        reg.seen().iter().any(|s| s.expires == Some(0))
    });
    let second = Instant::now();
    signal(&child, "INT");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let code = child.wait().expect("sipreg ends").code();
    assert!(second.elapsed() < Duration::from_secs(5), "exits at once");
    assert_eq!(code, Some(0), "{rest:?}");
    let last: Value = serde_json::from_str(rest.last().expect("a summary")).unwrap();
    assert_eq!(last["summary"]["unregistered"], false, "{last}");
    let left = last["summary"]["not_removed"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        left.len(),
        1,
        "the Contact it could not remove is named: {last}"
    );
    assert_eq!(reg.bindings().len(), 1, "left behind, as the summary says");
    assert_eq!(
        reg.seen().last().and_then(|s| s.expires),
        Some(0),
        "the removal was tried"
    );
}

#[test]
fn an_inbound_check_that_finds_no_binding_triggers_a_new_registration() {
    // The registrar forwards the first check, then (as after a restart that lost its location
    // table, which UDP cannot notice) answers 404 for our AOR.
    let checks = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = checks.clone();
    let binding = std::sync::Arc::new(std::sync::Mutex::new(None));
    let reg = registrar(Options {
        behaviour: Behaviour::raw(move |r: &Incoming| {
            if r.request.method == "REGISTER" {
                *binding.lock().unwrap() = r.contact_addr();
                return vec![Step::Send(r.ok())];
            }
            let to = binding.lock().unwrap().unwrap_or(r.source);
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if n == 0 {
                let h = |name: &str| r.request.header(name).unwrap_or_default().to_string();
                let forwarded = format!(
                    "OPTIONS {} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKfwd\r\nVia: {}\r\nMax-Forwards: 69\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {}\r\nContent-Length: 0\r\n\r\n",
                    r.request.uri,
                    h("via"),
                    h("from"),
                    h("to"),
                    h("call-id"),
                    h("cseq")
                );
                vec![
                    Step::SendTo(to, forwarded.into_bytes()),
                    Step::Send(r.reply(200, "OK", &[])),
                ]
            } else {
                vec![Step::Send(r.reply(404, "Not Found", &[]))]
            }
        }),
        ..Options::default()
    });
    let server = reg.sip_addr.to_string();
    let (events, code) = watch(&[
        "--udp",
        "--check-inbound=400ms",
        "--retry-interval",
        "100ms",
        "--duration",
        "1500ms",
        &server,
    ]);
    assert_eq!(code, 6, "{events:?}");
    // The forwarded OPTIONS itself shows as request_received: left out here. A failed check always
    // waits the backoff before registering again.
    let checks_and_registrations: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] != "request_received")
        .collect();
    let names: Vec<&str> = checks_and_registrations
        .iter()
        .filter_map(|e| e["event"].as_str())
        .collect();
    assert_eq!(
        &names[..6],
        [
            "registered",
            "inbound",
            "inbound",
            "binding_lost",
            "registration_lost",
            "waiting"
        ],
        "{events:?}"
    );
    assert_eq!(checks_and_registrations[1]["arrived"], true);
    assert_eq!(checks_and_registrations[2]["arrived"], false);
    assert_eq!(checks_and_registrations[2]["status"], 404);
    let s = summary(&events);
    assert!(s["inbound_failures"].as_u64().unwrap_or(0) >= 1, "{s}");
    assert!(checks.load(std::sync::atomic::Ordering::SeqCst) >= 2);
}

#[test]
fn the_flow_timer_of_a_refresh_sets_the_keep_alives() {
    // RFC 5626 §4.4.1: Flow-Timer 120 in the first 2xx (no ping within the run), 1 from the first
    // refresh on (pings about every second from then).
    let reg = registrar(Options {
        behaviour: Behaviour::Script(vec![
            Canned::new(200, "OK", &["Flow-Timer: 120"]),
            Canned::new(200, "OK", &["Flow-Timer: 1"]),
        ]),
        ..Options::default()
    });
    let server = reg.sip_addr.to_string();
    let (events, code) = watch(&["--tcp", "--expires", "2", "--duration", "4s", &server]);
    assert_eq!(code, 0, "{events:?}");
    let refreshed = named(&events, "refreshed");
    let pongs = named(&events, "keepalive");
    assert!(!refreshed.is_empty() && !pongs.is_empty(), "{events:?}");
    let t = |e: &Value| e["t_ms"].as_f64().unwrap_or_default();
    assert!(
        t(pongs[0]) > t(refreshed[0]),
        "no ping before the refresh brought Flow-Timer 1: {events:?}"
    );
    assert!(reg.pings() >= 1);
}

#[test]
fn a_retry_after_lengthens_the_backoff_and_never_registered_keeps_the_one_shot_code() {
    let reg = registrar(Options {
        behaviour: Behaviour::Script(vec![Canned::new(
            503,
            "Service Unavailable",
            &["Retry-After: 2"],
        )]),
        ..Options::default()
    });
    let server = reg.sip_addr.to_string();
    let (events, code) = watch(&[
        "--udp",
        "--retry-interval",
        "100ms",
        "--duration",
        "1s",
        &server,
    ]);
    assert_eq!(code, 1, "never registered, rejected: {events:?}");
    assert_eq!(events[0]["event"], "attempt_failed", "{events:?}");
    assert_eq!(events[0]["status"], 503);
    let waiting = named(&events, "waiting");
    assert!(
        waiting[0]["wait_ms"].as_f64().unwrap_or(0.0) >= 2000.0,
        "at least the Retry-After: {events:?}"
    );
}

#[test]
fn bad_watch_flags_are_usage_errors_naming_the_value() {
    for (args, needle) in [
        (
            vec!["watch", "--keepalive", "30000d", "127.0.0.1"],
            "--keepalive",
        ),
        (vec!["watch", "--refresh", "150%", "127.0.0.1"], "150%"),
        (vec!["watch", "--check-inbound=soon", "127.0.0.1"], "soon"),
        (vec!["watch", "--count", "2", "127.0.0.1"], "--count"),
    ] {
        let out = run(&args);
        assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
        let err = out.stderr.trim_end();
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("sipreg: error: ") && err.contains(needle),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

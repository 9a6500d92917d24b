//! `sipreg storm` with the real binary against the test server: many digest accounts at once, per
//! account and shared sockets, holding with refreshes, nothing left behind (also on SIGINT), shards
//! merged exactly, and bad input.

use std::collections::{HashMap, HashSet};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::*;

fn accounts(dir: &std::path::Path, n: usize) -> String {
    let mut text = String::from("user,password\n");
    for i in 0..n {
        text.push_str(&format!("u{i:04},pw-u{i:04}\n"));
    }
    let path = dir.join("accounts.csv");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn digest_server() -> Server {
    registrar(Options {
        behaviour: Behaviour::ChallengeAll {
            prefix: "pw-".into(),
        },
        ..Options::default()
    })
}

/// `sipreg storm --json --accounts FILE FLAGS... SERVER`: its summary.
fn storm_json(file: &str, flags: &[&str], server: &str) -> serde_json::Value {
    let mut args = vec!["storm", "--json", "--accounts", file];
    args.extend_from_slice(flags);
    args.push(server);
    run(&args).json()
}

/// Per user: registered (a REGISTER with credentials and Expires > 0) and removed (Expires 0) last.
fn bindings_left(seen: &[Seen]) -> Vec<String> {
    left_by_user(seen.iter().filter(|s| s.authorization.is_some()))
}

/// The users whose last REGISTER of these did not remove the binding (Expires 0).
fn left_by_user<'a>(seen: impl Iterator<Item = &'a Seen>) -> Vec<String> {
    let mut last: HashMap<String, Option<u32>> = HashMap::new();
    for s in seen {
        let user = s
            .contact
            .split("sip:")
            .nth(1)
            .and_then(|r| r.split('@').next())
            .unwrap_or_default()
            .to_string();
        last.insert(user, s.expires);
    }
    let mut left: Vec<String> = last
        .into_iter()
        .filter(|(_, e)| *e != Some(0))
        .map(|(u, _)| u)
        .collect();
    left.sort();
    left
}

#[test]
fn a_storm_registers_every_account_and_removes_every_binding() {
    let reg = digest_server();
    let dir = tempfile::tempdir().unwrap();
    let file = accounts(dir.path(), 200);
    let server = reg.sip_addr.to_string();
    // Every engine: lanes (a socket per account, by default on this machine's cores, or 3), one
    // thread, one shared socket on one thread, and on a runtime of 2 workers.
    for (socket, transport, threads) in [
        ("per-account", "--udp", None),
        ("per-account", "--tcp", Some("3")),
        ("per-account", "--udp", Some("1")),
        ("shared", "--udp", None),
        ("shared", "--tcp", Some("2")),
    ] {
        let before = reg.seen().len();
        let mut args = vec![
            "storm",
            "--json",
            "--accounts",
            &file,
            "--socket",
            socket,
            transport,
            "--t1",
            "100ms",
            &server,
        ];
        if let Some(n) = threads {
            args.extend(["--threads", n]);
        }
        let out = run(&args);
        assert_eq!(
            out.code, 0,
            "{socket} {transport}: {}{}",
            out.stdout, out.stderr
        );
        let j = out.json();
        assert_eq!(j["registered"], 200, "{socket} {transport}: {j}");
        assert_eq!(j["failed"], 0);
        assert_eq!(j["unregistered"], 200);
        // One challenge per account: the removal answers the same nonce with the next nc.
        assert_eq!(j["statuses"]["401"], 200, "{j}");
        assert_eq!(j["statuses"]["200"], 400, "{j}");
        assert_eq!(j["outcomes"]["registered"], 200, "{j}");
        assert!(j["registrations_per_s"].as_f64().unwrap() > 0.0);
        assert!(
            j["requests_per_s"].as_f64().unwrap() >= j["registrations_per_s"].as_f64().unwrap()
        );
        let l = &j["latency_ms"];
        assert_eq!(l["count"], 200);
        for (a, b) in [
            ("p50", "p90"),
            ("p90", "p99"),
            ("p99", "p999"),
            ("p999", "max"),
        ] {
            assert!(l[a].as_f64().unwrap() <= l[b].as_f64().unwrap(), "{l}");
        }
        assert!(j["phases_ms"]["final"]["count"] == 200, "{j}");
        let seen = reg.seen()[before..].to_vec();
        assert_eq!(
            bindings_left(&seen),
            Vec::<String>::new(),
            "{socket} {transport}"
        );
        assert_eq!(reg.bindings(), Vec::<String>::new(), "{socket} {transport}");
        let peers: HashSet<_> = seen.iter().map(|s| s.peer).collect();
        if socket == "shared" {
            assert_eq!(peers.len(), 1, "one socket for all: {peers:?}");
        } else {
            assert!(peers.len() >= 200, "a socket per account: {}", peers.len());
        }
    }
}

#[test]
fn a_held_storm_refreshes_and_the_human_summary_says_so() {
    let reg = digest_server();
    let dir = tempfile::tempdir().unwrap();
    let file = accounts(dir.path(), 20);
    let out = run(&[
        "storm",
        "--accounts",
        &file,
        "--udp",
        "--expires",
        "2",
        "--duration",
        "3s",
        "--rate",
        "50",
        &reg.sip_addr.to_string(),
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.starts_with("storm: 20 accounts at "),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("registered 20 of 20 accounts"),
        "{}",
        out.stdout
    );
    // Granted 2 s, refreshed at 90 %: at least one refresh each within 3 s.
    let refreshes: u64 = out
        .stdout
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("held: ")?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0);
    assert!(refreshes >= 20, "{}", out.stdout);
    assert!(
        out.stdout
            .contains("bindings removed: 20 (0 removals failed)"),
        "{}",
        out.stdout
    );
    assert_eq!(bindings_left(&reg.seen()), Vec::<String>::new());
    assert_eq!(reg.bindings(), Vec::<String>::new());
}

#[test]
fn sigint_ends_a_storm_with_every_binding_removed_and_the_summary() {
    let reg = digest_server();
    let dir = tempfile::tempdir().unwrap();
    let file = accounts(dir.path(), 50);
    let child = sipreg()
        .args([
            "storm",
            "--json",
            "--accounts",
            &file,
            "--tcp",
            "--duration",
            "1h",
            &reg.sip_addr.to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("sipreg runs");
    let deadline = Instant::now() + Duration::from_secs(20);
    while reg
        .seen()
        .iter()
        .filter(|s| s.authorization.is_some())
        .count()
        < 50
    {
        assert!(
            Instant::now() < deadline,
            "the storm never registered everyone"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    signal(&child, "INT");
    let (stdout, code) = finish(child);
    assert_eq!(code, Some(0), "{stdout}");
    let j: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(j["unregistered"], 50, "{j}");
    assert_eq!(bindings_left(&reg.seen()), Vec::<String>::new());
    assert_eq!(reg.bindings(), Vec::<String>::new());
}

#[test]
fn bindings_lost_while_held_are_removed_at_the_end_too() {
    // The registrar keeps each binding but closes the TCP connection after the 200, and answers a
    // UDP refresh with 500: neither tells that the binding is gone, so the storm still removes it.
    let refreshed = std::sync::Mutex::new(HashSet::new());
    let reg = registrar(Options {
        behaviour: Behaviour::raw(move |r: &Incoming| {
            let removal = r.request.header("expires") == Some("0");
            let call_id = r.request.header("call-id").unwrap_or_default().to_string();
            let again = !removal && !refreshed.lock().unwrap().insert(call_id);
            match (removal, again) {
                // A close is nothing on UDP.
                (false, false) => vec![Step::Send(r.ok()), Step::Close],
                (false, true) => vec![Step::Send(r.reply(500, "Server Error", &[]))],
                (true, _) => vec![Step::Send(r.ok())],
            }
        }),
        ..Options::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let file = accounts(dir.path(), 10);
    for (transport, expires) in [("--tcp", "3600"), ("--udp", "2")] {
        let before = reg.seen().len();
        let j = storm_json(
            &file,
            &[transport, "--expires", expires, "--duration", "2500ms"],
            &reg.sip_addr.to_string(),
        );
        assert_eq!(j["registered"], 10, "{transport}: {j}");
        assert_eq!(j["lost"], 10, "{transport}: {j}");
        assert_eq!(j["unregistered"], 10, "{transport}: {j}");
        let seen = &reg.seen()[before..];
        assert_eq!(
            left_by_user(seen.iter()),
            Vec::<String>::new(),
            "{transport}"
        );
        assert_eq!(reg.bindings(), Vec::<String>::new(), "{transport}");
    }
}

#[test]
fn removals_over_a_shared_connection_that_closed_fail_at_once() {
    // The registrar closes the one shared TCP connection after the last registration's 200: every
    // binding is lost, and the removals at the end fail at once instead of waiting for Timer F.
    let reg = registrar(Options {
        behaviour: Behaviour::close_after(4),
        ..Options::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let file = accounts(dir.path(), 5);
    let started = Instant::now();
    let j = storm_json(
        &file,
        &["--socket", "shared", "--tcp", "--duration", "1s"],
        &reg.sip_addr.to_string(),
    );
    assert_eq!(j["registered"], 5, "{j}");
    assert_eq!(j["lost"], 5, "{j}");
    assert_eq!(j["unregister_failed"], 5, "{j}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the removals waited: {:?}",
        started.elapsed()
    );
}

#[test]
fn shards_merge_into_the_whole_storm() {
    let reg = digest_server();
    let dir = tempfile::tempdir().unwrap();
    let file = accounts(dir.path(), 90);
    let server = reg.sip_addr.to_string();
    let mut files = Vec::new();
    let mut users = HashSet::new();
    for k in 0..3 {
        let before = reg.seen().len();
        let shard = format!("{k}/3");
        let out = run(&[
            "storm",
            "--json",
            "--udp",
            "--accounts",
            &file,
            "--shard",
            &shard,
            &server,
        ]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(out.json()["registered"], 30);
        for s in &reg.seen()[before..] {
            users.insert(
                s.contact
                    .clone()
                    .split('@')
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
        let path = dir.path().join(format!("shard{k}.json"));
        std::fs::write(&path, &out.stdout).unwrap();
        files.push(path.display().to_string());
    }
    assert_eq!(users.len(), 90, "the shards took every account once");
    let mut args = vec!["storm", "merge", "--json"];
    args.extend(files.iter().map(String::as_str));
    let merged = run(&args);
    assert_eq!(merged.code, 0, "{}", merged.stderr);
    let m = merged.json();
    assert_eq!(m["registered"], 90);
    assert_eq!(m["accounts"], 90);
    assert_eq!(m["latency_ms"]["count"], 90);
    assert_eq!(m["statuses"]["200"], 180, "registrations and removals: {m}");
    let human = run(&["storm", "merge", &files[0], &files[1]]);
    assert!(
        human.stdout.contains("registered 60 of 60 accounts"),
        "{}",
        human.stdout
    );
    let bad = run(&["storm", "merge", &file]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("not a `sipreg storm --json` result"),
        "{}",
        bad.stderr
    );
}

#[test]
fn bad_storms_are_one_line_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let good = accounts(dir.path(), 3);
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "user,password\n1001,a\n1002\n").unwrap();
    let bad = bad.display().to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--accounts", &bad],
            "bad.csv line 3: 1 fields where the header has 2",
        ),
        (
            vec!["--accounts", "/nonexistent.csv"],
            "--accounts /nonexistent.csv",
        ),
        (
            vec!["--accounts", &good, "--socket", "shared"],
            "--socket shared needs exactly one of --udp or --tcp",
        ),
        (
            vec!["--accounts", &good, "--password", "x"],
            "each account's password comes from the accounts file",
        ),
        (
            vec!["--accounts", &good, "--keep"],
            "--keep does not apply to storm",
        ),
        (vec!["--accounts", &good, "--rate", "0"], "is not a rate"),
        (vec!["--accounts", &good, "--shard", "3/3"], "is not K/N"),
        (vec!["--accounts", &good, "--udp", "--tls"], "UDP + TLS"),
    ];
    for (args, words) in cases {
        let mut all = vec!["storm"];
        all.extend(args.iter().copied());
        all.push("127.0.0.1:9");
        let out = run(&all);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(words), "{args:?}: {}", out.stderr);
    }
}

#[test]
fn accounts_that_fail_make_exit_5_and_are_counted() {
    let reg = digest_server();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.csv");
    std::fs::write(&path, "user,password\nu1,pw-u1\nu2,wrong\nu3,pw-u3\n").unwrap();
    let out = run(&[
        "storm",
        "--json",
        "--udp",
        "--accounts",
        path.to_str().unwrap(),
        &reg.sip_addr.to_string(),
    ]);
    assert_eq!(out.code, 5, "{}", out.stdout);
    let j = out.json();
    assert_eq!(
        (j["registered"].as_u64(), j["failed"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(j["outcomes"]["unauthorized"], 1, "{j}");
}

#[test]
fn a_second_signal_abandons_registrations_under_way() {
    let silent = registrar(Options {
        behaviour: Behaviour::Silent,
        ..Options::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let file = accounts(dir.path(), 20);
    let started = Instant::now();
    let child = sipreg()
        .args([
            "storm",
            "--json",
            "--accounts",
            &file,
            "--udp",
            &silent.sip_addr.to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("sipreg runs");
    // Registrations under way at the silent registrar, then two signals: the first waits for them,
    // the second abandons them.
    wait_until("registrations under way", Duration::from_secs(5), || {
        !silent.seen().is_empty()
    });
    for _ in 0..2 {
        signal(&child, "INT");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (stdout, code) = finish(child);
    // Timer F is 32 s: only abandoning the registrations ends the storm this soon.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(code, Some(3), "nothing registered: {stdout}");
    let j: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(j["registered"], 0);
    assert_eq!(j["accounts"], 20);
}

/// When the registrar first heard from each account, in ms from the first of them, sorted.
fn first_heard(arrivals: &std::sync::Mutex<HashMap<String, Instant>>) -> Vec<u128> {
    let all = arrivals.lock().unwrap();
    let first = all.values().min().copied().unwrap();
    let mut ms: Vec<u128> = all.values().map(|t| (*t - first).as_millis()).collect();
    ms.sort_unstable();
    ms
}

#[test]
fn a_burst_starts_its_accounts_together_and_the_groups_keep_the_rate() {
    let arrivals = std::sync::Arc::new(std::sync::Mutex::new(HashMap::new()));
    let seen = arrivals.clone();
    let reg = registrar(Options {
        behaviour: Behaviour::raw(move |r: &Incoming| {
            let call_id = r.request.header("call-id").unwrap_or_default().to_string();
            seen.lock()
                .unwrap()
                .entry(call_id)
                .or_insert_with(Instant::now);
            vec![Step::Send(r.ok())]
        }),
        ..Options::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let file = accounts(dir.path(), 8);
    let server = reg.sip_addr.to_string();
    // 20/s in groups of 4: four at once, four more 200 ms later.
    let j = storm_json(&file, &["--udp", "--rate", "20", "--burst", "4"], &server);
    assert_eq!(j["registered"], 8, "{j}");
    let ms = first_heard(&arrivals);
    assert_eq!(ms.len(), 8, "{ms:?}");
    assert!(ms[3] < 80 && ms[4] > 120 && ms[7] - ms[4] < 80, "{ms:?}");
    // One by one (the default), the same rate spreads them 50 ms apart.
    arrivals.lock().unwrap().clear();
    let j = storm_json(&file, &["--udp", "--rate", "20"], &server);
    assert_eq!(j["registered"], 8, "{j}");
    let ms = first_heard(&arrivals);
    assert!(ms[3] > 120 && ms[7] > 300, "{ms:?}");
    // A burst needs a rate.
    let out = run(&["storm", "--accounts", &file, "--burst", "4", &server]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--rate"), "{}", out.stderr);
}

#[test]
fn removals_keep_the_rate_and_the_groups_of_the_starts() {
    // When each removal (Expires: 0) reached the registrar.
    let removals = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = removals.clone();
    let reg = registrar(Options {
        behaviour: Behaviour::raw(move |r: &Incoming| {
            if r.request.header("expires") == Some("0") {
                seen.lock().unwrap().push(Instant::now());
            }
            vec![Step::Send(r.ok())]
        }),
        ..Options::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let file = accounts(dir.path(), 8);
    let server = reg.sip_addr.to_string();
    // 20/s in groups of 4: the removals come as the registrations did, four, then four 200 ms later,
    // not eight at once.
    let j = storm_json(&file, &["--udp", "--rate", "20", "--burst", "4"], &server);
    assert_eq!(j["unregistered"], 8, "{j}");
    let mut at = removals.lock().unwrap().clone();
    at.sort_unstable();
    let ms: Vec<u128> = at.iter().map(|t| (*t - at[0]).as_millis()).collect();
    assert_eq!(ms.len(), 8, "{ms:?}");
    assert!(ms[3] < 80 && ms[4] > 120 && ms[7] - ms[4] < 80, "{ms:?}");
}

#[test]
fn a_registrar_that_falls_behind_slows_the_starts_instead_of_dropping_them() {
    // The registrar answers 500 requests a second, one after another; sipreg is asked for 5,000. Without
    // the window, 400 REGISTERs queue at once and the last wait 800 ms: retransmitted at 500 ms. With it,
    // at most about 150 wait (300 ms), and the starts follow the answers.
    let reg = registrar(Options {
        behaviour: Behaviour::raw(move |r: &Incoming| {
            std::thread::sleep(Duration::from_millis(2));
            vec![Step::Send(r.ok())]
        }),
        ..Options::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let file = accounts(dir.path(), 400);
    let j = storm_json(
        &file,
        &["--udp", "--rate", "5000"],
        &reg.sip_addr.to_string(),
    );
    assert_eq!(
        (j["registered"].as_u64(), j["unregistered"].as_u64()),
        (Some(400), Some(400)),
        "{j}"
    );
    assert_eq!(j["retransmissions"], 0, "{j}");
    let warnings = j["warnings"].to_string();
    assert!(warnings.contains("the registrar fell behind"), "{warnings}");
}

#[test]
fn the_rate_is_judged_by_the_starts_not_by_slow_answers() {
    // Every answer takes about 0.2 s (dripped a byte every half millisecond over TCP).
    let slow = registrar(Options {
        behaviour: Behaviour::raw(|r: &Incoming| {
            vec![Step::Drip(r.ok(), Duration::from_micros(500))]
        }),
        ..Options::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let file = accounts(dir.path(), 5);
    let server = slow.sip_addr.to_string();
    let storm = |extra: &[&str]| {
        let mut args = vec!["storm", "--json", "--tcp", "--accounts", &file];
        args.extend_from_slice(extra);
        args.push(&server);
        let out = run(&args);
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        out.json()["warnings"].to_string()
    };
    // Five starts in 40 ms keep a rate of 100/s, however slowly the registrar answers.
    let kept = storm(&["--rate", "100"]);
    assert!(!kept.contains("was not reached"), "{kept}");
    // One at a time, each start waits for the previous registration: the rate falls behind.
    let held_back = storm(&["--rate", "100", "--concurrency", "1"]);
    assert!(
        held_back.contains("--rate 100/s was not reached"),
        "{held_back}"
    );
    assert!(
        held_back.contains("--concurrency 1 was full"),
        "{held_back}"
    );
}

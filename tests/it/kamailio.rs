//! Interop against a real Kamailio registrar on loopback: digest over UDP, TCP, TLS and mutual TLS, the
//! phone's default flags against a UDP-only port, and the failures a real server produces.
//!
//! Each test writes a Kamailio config into a temp dir (from `fixtures/kamailio/`), starts Kamailio,
//! waits until it answers OPTIONS, runs the sipreg binary against it and stops it (the harness is in
//! `tests/it/common/kamailio.rs`). `tests/run.sh` installs Kamailio; under `CI=true` a missing Kamailio
//! fails the run instead of skipping it.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::kamailio::{self, Kamailio, PASSWORD, USER};
use crate::common::*;

fn local_of(run: &Run) -> String {
    let j = run.json();
    let attempts = j["attempts"].as_array().expect("attempts").clone();
    attempts
        .last()
        .and_then(|a| a["local"].as_str().map(str::to_string))
        .expect("local address")
}

#[test]
fn digest_registration_over_udp_tcp_tls_and_mutual_tls() {
    let Some(k) = Kamailio::start("MD5") else {
        return;
    };
    let ca = k.pki.ca_pem.to_str().unwrap().to_string();
    let cert = k.pki.client_cert.to_str().unwrap().to_string();
    let key = k.pki.client_key.to_str().unwrap().to_string();
    let tls = format!("127.0.0.1:{}", k.tls);
    let mtls = format!("127.0.0.1:{}", k.mtls);
    let udp = k.udp_server();
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        ("UDP", vec!["--udp", &udp], "udp"),
        ("TCP", vec!["--tcp", &udp], "tcp"),
        ("TLS", vec!["--tls", "--ca-file", &ca, &tls], "tls"),
        (
            "mutual TLS",
            vec![
                "--tls",
                "--ca-file",
                &ca,
                "--cert",
                &cert,
                "--key",
                &key,
                &mtls,
            ],
            "tls",
        ),
    ];
    for (name, args, transport) in cases {
        let mut all = vec!["--json", "--user", USER];
        all.extend(args);
        let out = k.sipreg(&all);
        assert_eq!(out.code, 0, "{name}: {}\n{}", out.stdout, k.log());
        let j = out.json();
        assert_eq!(j["transport"], transport, "{name}");
        assert_eq!(
            j["attempts"][0]["requests"], 2,
            "{name}: REGISTER, 401, REGISTER"
        );
        assert_eq!(j["unregister"]["done"], true, "{name}");
        assert_eq!(j["expires"], 3600, "{name}");
        assert_eq!(
            j["attempts"][0]["binding"]["matched"], "exact",
            "{name}: Kamailio lists our Contact as sent"
        );
        assert_eq!(j["warnings"], serde_json::json!([]), "{name}");
        let local = local_of(&out);
        assert!(
            !k.ul_dump().contains(&format!("sip:{USER}@{local}")),
            "{name}: the binding is gone after the run"
        );
    }
}

#[test]
fn keep_leaves_the_binding_in_kamailio() {
    let Some(k) = Kamailio::start("MD5") else {
        return;
    };
    let out = k.sipreg(&[
        "--json",
        "--udp",
        "--keep",
        "--user",
        USER,
        "--expires",
        "300",
        &k.udp_server(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(out.json()["expires"], 300);
    let dump = k.ul_dump();
    assert!(
        dump.contains(&format!("Address: sip:{USER}@{}", local_of(&out))),
        "binding missing:\n{dump}"
    );
}

#[test]
fn default_flags_fall_back_from_refused_tcp_to_udp() {
    let Some(k) = Kamailio::start("MD5") else {
        return;
    };
    let out = k.sipreg(&[
        "--json",
        "--user",
        USER,
        &format!("127.0.0.1:{}", k.udp_only),
    ]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(attempts(&out.json()), ["tcp:refused", "udp:registered"]);
}

#[test]
fn wrong_password_unknown_user_and_missing_device_certificate() {
    let Some(k) = Kamailio::start("MD5") else {
        return;
    };
    let wrong = run_cmd(
        sipreg()
            .args(["--json", "--user", USER, &k.udp_server()])
            .env("SIPREG_PASSWORD", "wrong"),
    );
    assert_eq!(wrong.code, 4, "{}", wrong.stdout);
    assert_eq!(
        attempts(&wrong.json()),
        ["tcp:unauthorized"],
        "no fallback after a failed authentication"
    );

    let unknown = k.sipreg(&["--json", "--user", "mallory", &k.udp_server()]);
    assert_eq!(unknown.code, 1, "{}", unknown.stdout);
    let j = unknown.json();
    assert_eq!(attempts(&j), ["tcp:rejected"], "403 ends the cycle");
    assert_eq!(j["attempts"][0]["status"], 403);

    let ca = k.pki.ca_pem.to_str().unwrap();
    let no_cert = k.sipreg(&[
        "--json",
        "--tls",
        "--ca-file",
        ca,
        "--user",
        USER,
        &format!("127.0.0.1:{}", k.mtls),
    ]);
    assert_eq!(no_cert.code, 3, "{}", no_cert.stdout);
    let j = no_cert.json();
    assert_eq!(attempts(&j), ["tls:tls_failed"]);
    let reason = j["attempts"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("certificate"), "{reason}");
}

#[test]
fn sha256_digest_and_interval_too_brief() {
    let Some(k) = Kamailio::start("SHA-256") else {
        return;
    };
    let out = k.sipreg(&[
        "--json",
        "--udp",
        "--user",
        USER,
        "--expires",
        "5",
        &k.udp_server(),
    ]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, k.log());
    let j = out.json();
    assert_eq!(j["expires"], 10, "423 answered with Min-Expires 10");
    assert_eq!(j["attempts"][0]["requests"], 3, "401, then 423, then 200");
}

/// Reads the JSON event lines of a running watch on a thread of their own.
fn event_lines(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<serde_json::Value> {
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Ok(v) = serde_json::from_str(&line) {
                if tx.send(v).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

/// The next event named `name` within `wait`, skipping others (which are returned too).
fn next_named(
    rx: &std::sync::mpsc::Receiver<serde_json::Value>,
    name: &str,
    wait: Duration,
    seen: &mut Vec<serde_json::Value>,
) -> Option<serde_json::Value> {
    let deadline = Instant::now() + wait;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let v = rx.recv_timeout(left).ok()?;
        seen.push(v.clone());
        if v["event"] == name {
            return Some(v);
        }
    }
    None
}

#[test]
fn watch_holds_the_binding_with_pongs_and_survives_a_restart() {
    let Some(mut k) = Kamailio::start("MD5") else {
        return;
    };
    let server = k.udp_server();
    let mut child = sipreg()
        .args([
            "watch",
            "--json",
            "--tcp",
            "--keepalive",
            "500ms",
            "--retry-interval",
            "500ms",
            "--retry-max",
            "1s",
            "--user",
            USER,
            &server,
        ])
        .env("SIPREG_PASSWORD", PASSWORD)
        .stdout(Stdio::piped())
        .spawn()
        .expect("sipreg runs");
    let rx = event_lines(&mut child);
    let mut child = Reap(child);
    let mut seen = Vec::new();
    let wait = Duration::from_secs(10);
    assert!(
        next_named(&rx, "registered", wait, &mut seen).is_some(),
        "{seen:?}\n{}",
        k.log()
    );
    let pong = next_named(&rx, "keepalive", wait, &mut seen).expect("Kamailio answers pings");
    assert!(pong["rtt_ms"].as_f64().is_some(), "{pong}");
    let restarted = Instant::now();
    k.restart();
    assert!(
        next_named(&rx, "registration_lost", wait, &mut seen).is_some(),
        "{seen:?}"
    );
    assert!(
        next_named(&rx, "registered", wait, &mut seen).is_some(),
        "{seen:?}"
    );
    // Kamailio is back within a few seconds; with a 0.5–1 s backoff the phone follows within one or
    // two more.
    let took = restarted.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "registered again {took:?} after the restart began"
    );
    assert!(
        k.ul_dump().contains(&format!("sip:{USER}@")),
        "bound at the new Kamailio"
    );
    let _ = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status();
    let summary = next_named(&rx, "", Duration::from_secs(10), &mut seen);
    assert!(summary.is_none());
    let code = child.0.wait().expect("sipreg ends").code();
    assert_eq!(code, Some(6), "registered, but dropped: {seen:?}");
    let last = seen.last().expect("a summary");
    assert_eq!(last["summary"]["drops"], 1, "{last}");
    assert!(
        !k.ul_dump().contains(&format!("sip:{USER}@")),
        "the binding is removed at the end: {}\n{seen:?}\n{}",
        k.ul_dump(),
        k.log()
    );
}

/// A child process killed when the test ends, however it ends.
struct Reap(std::process::Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_storm_of_digest_accounts_registers_at_kamailio_and_leaves_nothing() {
    let setup = crate::common::kamailio::Setup {
        defines: vec!["WITH_MANY_USERS".into()],
        ..crate::common::kamailio::Setup::loopback("MD5")
    };
    let Some(k) = Kamailio::start_with(setup) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("accounts.csv");
    let mut text = String::from("user,password\n");
    for i in 0..300 {
        text.push_str(&format!("u{i},pw-u{i}\n"));
    }
    text.push_str("u999,wrong\n");
    std::fs::write(&path, text).unwrap();
    let accounts = path.to_str().unwrap();
    for (socket, transport) in [
        ("per-account", "--udp"),
        ("shared", "--udp"),
        ("per-account", "--tcp"),
        ("shared", "--tcp"),
    ] {
        let out = run(&[
            "storm",
            "--json",
            "--accounts",
            accounts,
            "--socket",
            socket,
            transport,
            &k.udp_server(),
        ]);
        assert_eq!(
            out.code, 5,
            "{socket} {transport}: {}{}",
            out.stdout, out.stderr
        );
        let j = out.json();
        assert_eq!(j["registered"], 300, "{socket} {transport}: {j}");
        assert_eq!(j["failed"], 1, "{socket} {transport}");
        assert_eq!(
            j["outcomes"]["unauthorized"], 1,
            "{socket} {transport}: {j}"
        );
        assert_eq!(j["unregistered"], 300, "{socket} {transport}");
        let left = k.ul_dump();
        assert!(
            !left.contains("Address: sip:u"),
            "{socket} {transport}: bindings left:\n{left}"
        );
    }
}

/// A one-shot case of the oracle: its name, baresip's transport, registrar, password and Expires,
/// and sipreg's flags.
type OneShot<'a> = (&'static str, &'a str, &'a str, &'a str, u32, Vec<&'a str>);

/// One case of the oracle: what the reference phone and sipreg concluded.
struct Row {
    case: &'static str,
    baresip: String,
    sipreg: String,
}

/// The oracle's table, as the closing note and a failing assertion show it.
fn table(rows: &[Row]) -> String {
    let mut out = String::from("| case | baresip | sipreg |\n|---|---|---|\n");
    for r in rows {
        out.push_str(&format!("| {} | {} | {} |\n", r.case, r.baresip, r.sipreg));
    }
    out
}

/// baresip's first verdict within 10 s, in the oracle's words.
fn phone_verdict(phone: &baresip::Baresip) -> String {
    match phone.wait_verdict(Duration::from_secs(10)) {
        Some(baresip::Verdict::Registered) => "registered".into(),
        Some(baresip::Verdict::Failed(line)) => format!("not registered ({})", line.trim()),
        None => "no verdict in 10 s".into(),
    }
}

/// Whether `dump` (`kamcmd ul.dump`) holds a Contact of sipreg's (baresip's user part is
/// `alice-0x…`, ours is `alice`).
fn holds_ours(dump: &str) -> bool {
    dump.contains(&format!("sip:{USER}@"))
}

#[test]
fn baresip_and_sipreg_agree_at_a_registrar_like_the_others() {
    // Kamailio as other deployed registrars behave: no pongs outside an RFC 5626 flow, bindings by
    // Contact URI that outlive their connection, 407 for requests to users, Min-Expires 60.
    let Some(k) = Kamailio::start_with(kamailio::Setup::strict("MD5")) else {
        return;
    };
    let udp = k.udp_server();
    let tls = format!("127.0.0.1:{}", k.tls);
    let ca = k.pki.ca_pem.to_str().unwrap().to_string();
    let mut rows = Vec::new();
    // One-shot: registered or not.
    let one_shot: Vec<OneShot> = vec![
        ("UDP", "udp", &udp, PASSWORD, 3600, vec!["--udp", &udp]),
        ("TCP", "tcp", &udp, PASSWORD, 3600, vec!["--tcp", &udp]),
        (
            "TLS",
            "tls",
            &tls,
            PASSWORD,
            3600,
            vec!["--tls", "--ca-file", &ca, &tls],
        ),
        (
            "TCP, wrong password",
            "tcp",
            &udp,
            "wrong",
            3600,
            vec!["--tcp", &udp],
        ),
        (
            "UDP, Expires 30 (Min-Expires 60)",
            "udp",
            &udp,
            PASSWORD,
            30,
            vec!["--udp", "--expires", "30", &udp],
        ),
    ];
    for (case, transport, registrar, password, regint, args) in one_shot {
        let Some(mut phone) = baresip::Baresip::start(registrar, transport, USER, password, regint)
        else {
            return;
        };
        let phone_says = phone_verdict(&phone);
        phone.stop();
        let mut all = vec!["--json", "--user", USER];
        all.extend(args);
        let out = run_cmd(sipreg().args(&all).env("SIPREG_PASSWORD", password));
        let j = out.json();
        let sipreg_says = if j["registered"] == true {
            "registered".to_string()
        } else {
            format!("not registered ({})", j["verdict"].as_str().unwrap_or("?"))
        };
        rows.push(Row {
            case,
            baresip: phone_says,
            sipreg: sipreg_says,
        });
    }
    // Watch: stays registered or drops, side by side for 14 s over TCP and TLS, with sipreg's
    // keep-alives every second (the registrar answers none).
    let mut phones = Vec::new();
    for transport in ["tcp", "tls"] {
        let registrar = if transport == "tls" { &tls } else { &udp };
        let Some(phone) = baresip::Baresip::start(registrar, transport, USER, PASSWORD, 60) else {
            return;
        };
        phones.push(phone);
    }
    let watches: Vec<_> = [
        vec!["--tcp", udp.as_str()],
        vec!["--tls", "--ca-file", &ca, &tls],
    ]
    .into_iter()
    .map(|args| {
        let mut all = vec!["watch", "--json", "--keepalive", "1s", "--duration", "14s"];
        all.extend(args);
        all.extend(["--user", USER]);
        let all: Vec<String> = all.into_iter().map(str::to_string).collect();
        std::thread::spawn(move || run_cmd(sipreg().args(&all).env("SIPREG_PASSWORD", PASSWORD)))
    })
    .collect();
    for (case, (phone, watch)) in ["TCP watch, 14 s", "TLS watch, 14 s"]
        .into_iter()
        .zip(phones.iter_mut().zip(watches))
    {
        let out = watch.join().expect("the watch thread");
        let summary: serde_json::Value = out
            .stdout
            .lines()
            .last()
            .and_then(|l| serde_json::from_str(l).ok())
            .unwrap_or_default();
        let s = &summary["summary"];
        let sipreg_says = match (out.code, s["drops"].as_u64()) {
            (0, Some(0)) => "stays registered".to_string(),
            (code, drops) => format!("dropped (exit {code}, {drops:?} drops)"),
        };
        let phone_says = match (
            phone.registered_throughout(),
            phone.wait_dropped(Duration::ZERO),
        ) {
            (true, _) => "stays registered".to_string(),
            (false, Some(line)) => format!("dropped ({})", line.trim()),
            (false, None) => "never registered".to_string(),
        };
        assert_eq!(s["keepalive_answered"], false, "{}", out.stdout);
        phone.stop();
        rows.push(Row {
            case,
            baresip: phone_says,
            sipreg: sipreg_says,
        });
    }
    let table = table(&rows);
    eprintln!("{table}");
    for r in &rows {
        let agree = r.baresip.split(' ').next() == r.sipreg.split(' ').next()
            && r.baresip.starts_with("not") == r.sipreg.starts_with("not");
        assert!(
            agree,
            "baresip and sipreg disagree on {:?}:\n{table}\n{}",
            r.case,
            k.log()
        );
    }
    assert!(
        !holds_ours(&k.ul_dump()),
        "no binding of sipreg's is left: {}",
        k.ul_dump()
    );
}

#[test]
fn the_inbound_check_answers_a_proxy_challenge_and_a_watch_holds() {
    let Some(k) = Kamailio::start_with(kamailio::Setup::strict("MD5")) else {
        return;
    };
    let udp = k.udp_server();
    for transport in ["--udp", "--tcp"] {
        let out = k.sipreg(&["--json", transport, "--check-inbound", "--user", USER, &udp]);
        let j = out.json();
        let inbound = &j["inbound"];
        assert_eq!(out.code, 0, "{transport}: {}\n{}", out.stdout, k.log());
        assert_eq!(
            (inbound["arrived"].as_bool(), inbound["status"].as_u64()),
            (Some(true), Some(200)),
            "{transport}: {inbound}\n{}",
            k.log()
        );
    }
    // The first OPTIONS got 407 and the second carried Proxy-Authorization.
    assert!(k.log().contains("relaying OPTIONS"), "{}", k.log());
    let out = k.sipreg(&[
        "watch",
        "--json",
        "--tcp",
        "--keepalive",
        "1s",
        "--check-inbound=2s",
        "--duration",
        "5s",
        "--user",
        USER,
        &udp,
    ]);
    let lines: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let arrived: Vec<bool> = lines
        .iter()
        .filter(|e| e["event"] == "inbound")
        .map(|e| e["arrived"] == true)
        .collect();
    assert!(
        arrived.len() >= 2 && arrived.iter().all(|a| *a),
        "{}",
        out.stdout
    );
    let s = &lines.last().expect("a summary")["summary"];
    assert_eq!(
        (
            s["exit_code"].as_u64(),
            s["drops"].as_u64(),
            s["unregistered"].as_bool()
        ),
        (Some(0), Some(0), Some(true)),
        "{s}"
    );
    assert!(!holds_ours(&k.ul_dump()), "{}", k.ul_dump());
}

//! The help-desk and CI front end: narration, live progress under a pseudo-terminal, colour, hints,
//! CI assertions, repeat mode, and snapshots of the human output.

use crate::common::*;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_sipreg")
}

/// Runs a shell command line under a pseudo-terminal (util-linux `script`); returns what the terminal showed.
fn under_pty(cmdline: &str, envs: &[(&str, &str)]) -> (i32, String) {
    let mut c = Command::new("script");
    c.args(["-qefc", cmdline, "/dev/null"])
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG");
    for (k, v) in envs {
        c.env(k, v);
    }
    let out = c.output().expect("script(1) runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn progress_line_during_a_long_tcp_connect_on_a_terminal_only() {
    let reg = registrar(Options {
        tcp: TcpMode::Blackhole,
        ..Options::default()
    });
    let server = reg.sip_addr.to_string();
    let (code, screen) = under_pty(
        &format!("{} --connect-timeout 2500ms {server}", bin()),
        &[("TERM", "xterm")],
    );
    assert_eq!(code, 0, "{screen}");
    let want = format!("TCP connect to {server} — 1 s of 2.5 s, then UDP");
    assert!(
        screen.contains(&want),
        "no progress line {want:?} in:\n{screen:?}"
    );
    assert!(
        screen.contains("\r\x1b[2K"),
        "the line is redrawn in place and cleared"
    );

    // Not with --json, not with -q, and not when stderr is not a terminal.
    for flag in ["--json", "-q"] {
        let (_, screen) = under_pty(
            &format!("{} {flag} --connect-timeout 1500ms {server}", bin()),
            &[],
        );
        assert!(!screen.contains("TCP connect to"), "{flag}: {screen:?}");
    }
    let piped = run(&["--connect-timeout", "1500ms", &server]);
    assert!(!piped.stderr.contains("TCP connect to"), "{}", piped.stderr);
}

#[test]
fn colour_on_a_terminal_and_off_otherwise() {
    let reg = registrar(Options::default());
    let server = reg.sip_addr.to_string();
    let esc = "\x1b[";
    let (_, screen) = under_pty(&format!("{} --udp {server}", bin()), &[("TERM", "xterm")]);
    assert!(screen.contains(esc), "colour on a terminal: {screen:?}");
    let (_, screen) = under_pty(
        &format!("{} --udp {server}", bin()),
        &[("TERM", "xterm"), ("NO_COLOR", "1")],
    );
    assert!(!screen.contains(esc), "NO_COLOR: {screen:?}");
    let (_, screen) = under_pty(&format!("{} --udp {server}", bin()), &[("TERM", "dumb")]);
    assert!(!screen.contains(esc), "TERM=dumb: {screen:?}");
    let (_, screen) = under_pty(
        &format!("{} --udp --color never {server}", bin()),
        &[("TERM", "xterm")],
    );
    assert!(!screen.contains(esc), "--color never: {screen:?}");
    let (_, screen) = under_pty(
        &format!("{} --udp --json --color always {server}", bin()),
        &[("TERM", "xterm")],
    );
    assert!(!screen.contains(esc), "JSON is never coloured: {screen:?}");
    assert!(
        !run(&["--udp", &server]).stdout.contains(esc),
        "not a terminal"
    );
    assert!(
        run(&["--udp", "--color", "always", &server])
            .stdout
            .contains(esc)
    );
}

#[test]
fn verbose_narrates_and_rust_log_still_works() {
    let reg = registrar(Options::default());
    let server = reg.sip_addr.to_string();
    let v = run(&["-v", "--tcp", &server]);
    for needle in [
        "connecting over TCP",
        "TCP connected in",
        "sending REGISTER (CSeq 1",
        "received 200 OK after",
        "removing our binding",
    ] {
        assert!(
            v.stderr.contains(needle),
            "-v lacks {needle:?}:\n{}",
            v.stderr
        );
    }
    assert!(
        !v.stderr.contains("REGISTER sip:"),
        "-v does not print messages"
    );
    let vv = run(&["-vv", "--tcp", &server]);
    assert!(
        vv.stderr.contains("REGISTER sip:127.0.0.1 SIP/2.0")
            && vv.stderr.contains("SIP/2.0 200 OK"),
        "{}",
        vv.stderr
    );
    let env = run_cmd(
        sipreg()
            .args(["--tcp", &server])
            .env("RUST_LOG", "sipreg=info"),
    );
    assert!(env.stderr.contains("sending REGISTER"), "{}", env.stderr);
    let quiet = run(&["-q", "--tcp", &server]);
    assert!(quiet.stderr.is_empty());
    assert_eq!(quiet.stdout.lines().count(), 1);
}

#[test]
fn hints_are_in_the_text_and_the_json() {
    let reg = registrar(Options {
        tcp: TcpMode::Refuse,
        ..Options::default()
    });
    let server = reg.sip_addr.to_string();
    let port = reg.sip_addr.port();
    let j = run(&["--json", &server]).json();
    assert_eq!(
        j["attempts"][0]["hint"],
        format!(
            "nothing listens on TCP {port} at 127.0.0.1: is TCP enabled on the server, or does a firewall reject it?"
        )
    );
    let text = run(&[&server]).stdout;
    assert!(text.contains("hint: nothing listens on TCP"), "{text}");

    let reg = registrar(Options {
        behaviour: Behaviour::Reject(403),
        ..Options::default()
    });
    let j = run(&["--json", "--udp", &reg.sip_addr.to_string()]).json();
    assert!(
        j["attempts"][0]["hint"]
            .as_str()
            .unwrap()
            .contains("--user"),
        "{j}"
    );
}

#[test]
fn nat_note_when_the_server_saw_another_address() {
    let nat: SocketAddr = "198.51.100.7:61000".parse().unwrap();
    let reg = registrar(Options {
        nat: Some(nat),
        ..Options::default()
    });
    let j = run(&["--json", "--udp", &reg.sip_addr.to_string()]).json();
    let a = &j["attempts"][0];
    assert_eq!(a["seen_as"], "198.51.100.7:61000");
    assert!(
        a["hint"]
            .as_str()
            .unwrap()
            .starts_with("NAT: the server saw us as 198.51.100.7:61000"),
        "{a}"
    );
    let plain = registrar(Options::default());
    let j = run(&["--json", "--udp", &plain.sip_addr.to_string()]).json();
    assert!(j["attempts"][0]["hint"].is_null(), "no NAT, no note");
}

#[test]
fn expect_transport_and_max_time_exit_5() {
    let reg = registrar(Options {
        tcp: TcpMode::Refuse,
        ..Options::default()
    });
    let server = reg.sip_addr.to_string();
    assert_eq!(run(&["--expect-transport", "udp", &server]).code, 0);
    let out = run(&["--json", "--expect-transport", "tcp", &server]);
    assert_eq!(out.code, 5);
    let j = out.json();
    assert_eq!(j["registered"], true);
    assert_eq!(j["exit_code"], 5);
    assert!(
        j["expectations_failed"][0]
            .as_str()
            .unwrap()
            .contains("expected a registration over TCP, got UDP")
    );
    let text = run(&["--expect-transport", "tcp", &server]).stdout;
    assert!(text.contains("EXPECTATION FAILED"), "{text}");
    assert_eq!(run(&["--max-time", "0s", &server]).code, 5);
    assert_eq!(run(&["--max-time", "1m", &server]).code, 0);
    let bad = run(&["--udp", "--expect-transport", "tls", &server]);
    assert_eq!(
        bad.code, 2,
        "expecting a transport that is not enabled is a usage error"
    );
}

#[test]
fn repeat_mode_prints_a_line_per_run_and_a_summary() {
    let reg = registrar(Options::default());
    let server = reg.sip_addr.to_string();
    let out = run(&["--udp", "--count", "3", "--interval", "50ms", &server]);
    assert_eq!(out.code, 0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", out.stdout);
    assert!(lines[0].starts_with("run 1/3: registered over UDP"));
    assert!(
        lines[3].starts_with("registered 3/3 runs; transports: UDP 3; min/median/max "),
        "{}",
        lines[3]
    );

    let flaky = registrar(Options {
        behaviour: Behaviour::Script(vec![
            Canned::new(200, "OK", &[]),
            Canned::new(503, "Service Unavailable", &[]),
        ]),
        ..Options::default()
    });
    let out = run(&[
        "--json",
        "--udp",
        "--keep",
        "--count",
        "3",
        "--interval",
        "10ms",
        &flaky.sip_addr.to_string(),
    ]);
    assert_eq!(out.code, 1, "not every run registered");
    let lines: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["registered"], true);
    assert_eq!(lines[1]["registered"], false);
    let s = &lines[3]["summary"];
    assert_eq!(
        (s["runs"].as_u64(), s["registered"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(s["exit_code"], 1);
}

/// The human output with ports, durations and local addresses replaced, spaces squeezed.
fn normalise(text: &str) -> String {
    let rules = [
        (r"127\.0\.0\.1:\d+", "127.0.0.1:PORT"),
        (r"\b(TCP|UDP|TLS) \d{2,5}([^.\d]|$)", "$1 PORT$2"),
        (r"\d+ (UDP )?retransmissions", "N ${1}retransmissions"),
        (r"\d+(\.\d+)? (ms|s)\b", "T"),
        (r"TLSv1_\d \S+", "TLS-PARAMS"),
        (r" +", " "),
    ];
    let mut out = text.to_string();
    for (pattern, with) in rules {
        out = regex::Regex::new(pattern)
            .unwrap()
            .replace_all(&out, with)
            .into_owned();
    }
    out.replace("expires in T", "expires in 3600 s")
}

fn snapshot(name: &str, text: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}.txt"));
    let got = normalise(text);
    if std::env::var_os("SIPREG_UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        got, want,
        "snapshot {name} differs; SIPREG_UPDATE_SNAPSHOTS=1 cargo test --test it frontend:: rewrites it"
    );
}

#[test]
fn snapshots_of_the_human_output() {
    snapshot("demo", &run(&["demo"]).stdout);

    let rejecting = registrar(Options {
        behaviour: Behaviour::Reject(403),
        ..Options::default()
    });
    snapshot(
        "rejected-403",
        &run(&["--user", "alice", &rejecting.sip_addr.to_string()]).stdout,
    );

    let downgrade = registrar(Options::default());
    let refusing = refusing_tcp_port();
    let closed = refusing.port.to_string();
    snapshot(
        "tls-downgrade",
        &run(&[
            "--tcp",
            "--tls",
            "--tls-port",
            &closed,
            "--keep",
            &downgrade.sip_addr.to_string(),
        ])
        .stdout,
    );

    let challenging = registrar(Options {
        behaviour: Behaviour::Challenge {
            user: "alice".into(),
            password: "pw".into(),
        },
        ..Options::default()
    });
    snapshot(
        "no-password",
        &run(&[
            "--udp",
            "--user",
            "alice",
            &challenging.sip_addr.to_string(),
        ])
        .stdout,
    );

    let silent = registrar(Options {
        behaviour: Behaviour::Silent,
        ..Options::default()
    });
    snapshot(
        "udp-timeout",
        &run(&[
            "--udp",
            "--t1",
            "50ms",
            "--timeout",
            "1s",
            &silent.sip_addr.to_string(),
        ])
        .stdout,
    );
}

#[test]
fn watch_shows_a_live_status_line_on_a_terminal_only() {
    let reg = registrar(Options::default());
    let server = reg.sip_addr.to_string();
    let cmd = format!(
        "{} watch --udp --expires 60 --duration 2500ms {server}",
        bin()
    );
    let (code, screen) = under_pty(&cmd, &[("TERM", "xterm")]);
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen.contains("registered over UDP since ") && screen.contains("next refresh in 5"),
        "no live line in:\n{screen:?}"
    );
    assert!(screen.contains("0 drops"), "{screen:?}");
    let piped = run(&["watch", "--udp", "--duration", "1500ms", &server]);
    assert!(!piped.stderr.contains("since"), "{}", piped.stderr);
    assert!(
        piped.stdout.contains("registered over UDP"),
        "{}",
        piped.stdout
    );
}

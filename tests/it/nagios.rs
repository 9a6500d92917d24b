//! `--nagios`: the Monitoring Plugins line, perfdata and exit codes, with the real binary.

use crate::common::*;

#[test]
fn ok_warning_and_critical_by_the_registration_time() {
    let reg = registrar(Options::default());
    let server = reg.sip_addr.to_string();
    let ok = run(&["--nagios", "--udp", "-w", "5", "-c", "10", &server]);
    assert_eq!(ok.code, 0, "{}", ok.stdout);
    assert_eq!(ok.stdout.lines().count(), 1, "one line: {}", ok.stdout);
    assert!(
        ok.stdout.starts_with("SIPREG OK - registered over UDP in "),
        "{}",
        ok.stdout
    );
    let perf = ok.stdout.split(" | ").nth(1).unwrap_or_default();
    assert!(
        perf.starts_with("time=") && perf.contains("s;5;10;0"),
        "{perf}"
    );
    assert!(
        perf.contains(" first_response=") && perf.contains(" final="),
        "{perf}"
    );
    // Any real registration takes longer than a microsecond: outside 0–0.000001 s.
    let warn = run(&["--nagios", "--udp", "-w", "0.000001", &server]);
    assert_eq!(warn.code, 1, "{}", warn.stdout);
    assert!(
        warn.stdout.starts_with("SIPREG WARNING - "),
        "{}",
        warn.stdout
    );
    let crit = run(&[
        "--nagios", "--udp", "-w", "0.000001", "-c", "0.000001", &server,
    ]);
    assert_eq!(crit.code, 2, "{}", crit.stdout);
    assert!(
        crit.stdout.starts_with("SIPREG CRITICAL - "),
        "{}",
        crit.stdout
    );
    // An alert-inside range: @0:60 alerts for every realistic time.
    let inside = run(&["--nagios", "--udp", "-c", "@0:60", &server]);
    assert_eq!(inside.code, 2, "{}", inside.stdout);
}

#[test]
fn not_registered_is_critical_and_a_usage_error_unknown() {
    let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    closed.connect("127.0.0.1:9").unwrap();
    let port = closed.local_addr().unwrap().port();
    let down = run(&["--nagios", "--udp", &format!("127.0.0.1:{port}")]);
    assert_eq!(down.code, 2, "{}", down.stdout);
    assert!(
        down.stdout
            .starts_with("SIPREG CRITICAL - not registered, unreachable: UDP unreachable"),
        "{}",
        down.stdout
    );
    for args in [
        vec!["--nagios", "--udp", "--tls", "127.0.0.1"],
        vec!["--nagios", "-w", "20:10", "127.0.0.1"],
        vec!["--nagios", "--no-such-flag", "127.0.0.1"],
        vec!["--nagios", "--count", "2", "127.0.0.1"],
    ] {
        let out = run(&args);
        assert_eq!(out.code, 3, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stdout.starts_with("SIPREG UNKNOWN - "),
            "{args:?}: {}",
            out.stdout
        );
    }
}

//! End-to-end over TLS and mutual TLS, and every row of spec §1 against a server with all three transports.

use crate::common::*;

fn full_server(pki: &Pki) -> Server {
    registrar(Options {
        tls: Some(pki.server_config()),
        ..Options::default()
    })
}

#[test]
fn every_row_of_the_transport_table() {
    let pki = Pki::new();
    let reg = full_server(&pki);
    let sip = reg.sip_addr.to_string();
    let tls_port = reg.tls_addr.unwrap().port().to_string();
    let ca = pki.ca_pem.to_str().unwrap();
    let tls_only = format!("127.0.0.1:{tls_port}");
    let rows: [(&[&str], &str, &str); 7] = [
        (&[], sip.as_str(), "tcp"),
        (&["--udp"], sip.as_str(), "udp"),
        (&["--tcp"], sip.as_str(), "tcp"),
        (&["--tls"], tls_only.as_str(), "tls"),
        (&["--udp", "--tcp"], sip.as_str(), "tcp"),
        (&["--tcp", "--tls"], sip.as_str(), "tls"),
        (&["--udp", "--tcp", "--tls"], sip.as_str(), "tls"),
    ];
    for (flags, server, want) in rows {
        let mut args = vec!["--json", "--keep", "--ca-file", ca, "--tls-port", &tls_port];
        args.extend_from_slice(flags);
        args.push(server);
        let out = run(&args);
        assert_eq!(out.code, 0, "{flags:?}: {}", out.stdout);
        let j = out.json();
        assert_eq!(attempts(&j), [format!("{want}:registered")], "{flags:?}");
        assert_eq!(j["secure"], want == "tls", "{flags:?}");
        assert_eq!(j["downgraded"], false, "{flags:?}");
    }
    let refused = run(&["--udp", "--tls", &sip]);
    assert_eq!(refused.code, 2);
    assert!(
        refused
            .stderr
            .contains("unsupported transport set: UDP + TLS")
    );
}

#[test]
fn tls_with_server_authentication() {
    let pki = Pki::new();
    let reg = full_server(&pki);
    let server = reg.tls_addr.unwrap().to_string();
    let out = run(&[
        "--json",
        "--tls",
        "--ca-file",
        pki.ca_pem.to_str().unwrap(),
        &server,
    ]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let j = out.json();
    assert_eq!(j["transport"], "tls");
    assert_eq!(j["secure"], true);
    let p = &j["attempts"][0]["phases"];
    assert!(p["tls_ms"].as_f64().is_some() && p["connect_ms"].as_f64().is_some());
    let seen = reg.seen();
    assert!(
        seen[0].contact.contains(";transport=tls"),
        "{}",
        seen[0].contact
    );
}

#[test]
fn untrusted_and_wrong_name_certificates_fail_with_a_reason() {
    let pki = Pki::new();
    let reg = full_server(&pki);
    let server = reg.tls_addr.unwrap().to_string();
    let out = run(&["--json", "--tls", &server]);
    assert_eq!(out.code, 3);
    let j = out.json();
    assert_eq!(attempts(&j), ["tls:tls_failed"]);
    assert!(
        j["attempts"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("unknown CA"),
        "{}",
        j["attempts"][0]
    );

    let ca = pki.ca_pem.to_str().unwrap();
    let out = run(&[
        "--json",
        "--tls",
        "--ca-file",
        ca,
        "--tls-server-name",
        "wrong.example",
        &server,
    ]);
    assert_eq!(out.code, 3);
    let reason = out.json()["attempts"][0]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        reason.contains("does not match") && reason.contains("wrong.example"),
        "{reason}"
    );
}

#[test]
fn insecure_registers_and_says_so() {
    let pki = Pki::new();
    let reg = full_server(&pki);
    let server = reg.tls_addr.unwrap().to_string();
    let out = run(&["--json", "--tls", "--insecure", &server]);
    assert_eq!(out.code, 0);
    let j = out.json();
    assert_eq!(j["insecure"], true);
    assert!(j["warnings"][0].as_str().unwrap().contains("NOT verified"));
    let human = run(&["--tls", "--insecure", &server]);
    assert!(
        human.stdout.lines().last().unwrap().contains("INSECURE"),
        "{}",
        human.stdout
    );
}

#[test]
fn mutual_tls_with_and_without_a_device_certificate() {
    let pki = Pki::new();
    let reg = registrar(Options {
        tls: Some(pki.mtls_config()),
        ..Options::default()
    });
    let server = reg.tls_addr.unwrap().to_string();
    let ca = pki.ca_pem.to_str().unwrap();
    let with = run(&[
        "--json",
        "--tls",
        "--ca-file",
        ca,
        "--cert",
        pki.client_cert.to_str().unwrap(),
        "--key",
        pki.client_key.to_str().unwrap(),
        &server,
    ]);
    assert_eq!(with.code, 0, "{}", with.stdout);
    assert_eq!(with.json()["transport"], "tls");

    // TLS 1.3 finishes the client side of the handshake; the refusal arrives on the first read.
    let without = run(&["--json", "--tls", "--ca-file", ca, &server]);
    assert_eq!(without.code, 3, "{}", without.stdout);
    let j = without.json();
    assert_eq!(attempts(&j), ["tls:tls_failed"]);
    assert!(
        j["attempts"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("client certificate"),
        "{}",
        j["attempts"][0]
    );
}

#[test]
fn tls_refused_falls_back_to_tcp_as_a_downgrade() {
    let reg = registrar(Options::default());
    let refusing = refusing_tcp_port();
    let closed = refusing.port.to_string();
    let out = run(&[
        "--json",
        "--tcp",
        "--tls",
        "--tls-port",
        &closed,
        &reg.sip_addr.to_string(),
    ]);
    assert_eq!(out.code, 0);
    let j = out.json();
    assert_eq!(attempts(&j), ["tls:refused", "tcp:registered"]);
    assert_eq!(j["downgraded"], true);
    assert_eq!(j["secure"], false);
    let human = run(&[
        "--tcp",
        "--tls",
        "--tls-port",
        &closed,
        &reg.sip_addr.to_string(),
    ]);
    assert!(
        human.stdout.lines().last().unwrap().contains("DOWNGRADED"),
        "{}",
        human.stdout
    );
}

#[test]
fn strict_tls_makes_a_certificate_failure_final() {
    let pki = Pki::new();
    let reg = full_server(&pki);
    let tls_port = reg.tls_addr.unwrap().port().to_string();
    let sip = reg.sip_addr.to_string();
    let out = run(&[
        "--json",
        "--tcp",
        "--tls",
        "--strict-tls",
        "--tls-port",
        &tls_port,
        &sip,
    ]);
    assert_eq!(out.code, 3);
    assert_eq!(attempts(&out.json()), ["tls:tls_failed"]);
    // The same without --strict-tls falls back, reported as a downgrade.
    let out = run(&["--json", "--tcp", "--tls", "--tls-port", &tls_port, &sip]);
    assert_eq!(out.code, 0);
    let j = out.json();
    assert_eq!(attempts(&j), ["tls:tls_failed", "tcp:registered"]);
    assert_eq!(j["downgraded"], true);
}

#[test]
fn insecure_and_downgrade_are_visible_in_every_output_format() {
    let pki = Pki::new();
    let reg = full_server(&pki);
    let tls_only = reg.tls_addr.unwrap().to_string();
    let refusing = refusing_tcp_port();
    let closed = refusing.port.to_string();
    let sip = reg.sip_addr.to_string();
    let formats: [&[&str]; 5] = [
        &[],
        &["-q"],
        &["--json"],
        &["--count", "2", "--interval", "10ms"],
        &["--json", "--count", "2", "--interval", "10ms"],
    ];
    for format in formats {
        let mut insecure = vec!["--tls", "--insecure"];
        insecure.extend_from_slice(format);
        insecure.push(&tls_only);
        let out = run(&insecure);
        assert_eq!(out.code, 0, "{format:?}");
        assert!(
            out.stdout.contains("INSECURE")
                || out.stdout.contains("\"insecure\":true")
                || out.stdout.contains("\"insecure\": true"),
            "--insecure invisible with {format:?}:\n{}",
            out.stdout
        );
        let mut downgrade = vec!["--tcp", "--tls", "--tls-port", &closed];
        downgrade.extend_from_slice(format);
        downgrade.push(&sip);
        let out = run(&downgrade);
        assert_eq!(out.code, 0, "{format:?}");
        assert!(
            out.stdout.contains("DOWNGRADED")
                || out.stdout.contains("\"downgraded\":true")
                || out.stdout.contains("\"downgraded\": true"),
            "downgrade invisible with {format:?}:\n{}",
            out.stdout
        );
    }
}

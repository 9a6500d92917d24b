//! SIP over WebSocket (RFC 7118) against Kamailio's websocket module (`-A WITH_WEBSOCKET`, on its TCP
//! and TLS ports), and a scripted WebSocket server for what Kamailio cannot play: a 101 without the
//! `sip` subprotocol, and a close frame in the middle of a transaction.

use std::net::TcpListener;
use std::time::Duration;

use crate::common::kamailio::{Kamailio, Setup, USER};
use crate::common::*;

fn websocket_kamailio() -> Option<Kamailio> {
    Kamailio::start_with(Setup {
        defines: vec!["WITH_WEBSOCKET".to_string()],
        ..Setup::loopback("MD5")
    })
}

#[test]
fn digest_registration_and_the_inbound_check_over_ws_and_wss() {
    let Some(k) = websocket_kamailio() else {
        return;
    };
    let ca = k.pki.ca_pem.to_str().unwrap().to_string();
    let ws = format!("127.0.0.1:{}", k.udp);
    let wss = format!("wss://127.0.0.1:{}/", k.tls);
    let cases: Vec<(Vec<&str>, &str, bool)> = vec![
        (vec!["--ws", &ws], "ws", false),
        (vec!["--ca-file", &ca, &wss], "wss", true),
    ];
    for (args, transport, secure) in cases {
        let mut all = vec!["--json", "--check-inbound", "--user", USER];
        all.extend(args);
        let out = k.sipreg(&all);
        assert_eq!(out.code, 0, "{transport}: {}\n{}", out.stdout, k.log());
        let j = out.json();
        assert_eq!(j["transport"], transport);
        assert_eq!(j["secure"], secure, "{transport}");
        assert_eq!(
            j["attempts"][0]["requests"], 2,
            "{transport}: REGISTER, 401, REGISTER"
        );
        // The OPTIONS came back through Kamailio over our own WebSocket connection.
        assert_eq!(j["inbound"]["arrived"], true, "{transport}: {j}");
        assert_eq!(j["unregister"]["done"], true, "{transport}");
        if secure {
            assert!(
                j["attempts"][0]["tls"]["earliest_cert_expiry"].is_number(),
                "{j}"
            );
        }
    }
    // In the human report: the transport and the path of the inbound check.
    let out = k.sipreg(&["--ws", "--check-inbound", "--user", USER, &ws]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(out.stdout.contains("registered over WS"), "{}", out.stdout);
    assert!(out.stdout.contains("reached us over WS"), "{}", out.stdout);
}

#[test]
fn a_wrong_password_and_a_refused_upgrade_are_told_apart() {
    let Some(k) = websocket_kamailio() else {
        return;
    };
    let ws = format!("127.0.0.1:{}", k.udp);
    let wrong = run_cmd(
        sipreg()
            .args(["--json", "--ws", "--user", USER, &ws])
            .env("SIPREG_PASSWORD", "not-it"),
    );
    assert_eq!(wrong.code, 4, "{}", wrong.stdout);
    assert_eq!(wrong.json()["attempts"][0]["outcome"], "unauthorized");
    // Kamailio answers any path but / with 404.
    let out = k.sipreg(&["--ws", "--ws-path", "/nope", "--user", USER, &ws]);
    assert_eq!(out.code, 3, "{}", out.stdout);
    assert!(
        out.stdout.contains("WebSocket upgrade at ws://127.0.0.1:")
            && out.stdout.contains("/nope with HTTP 404 Not Found"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("check --ws-path"), "{}", out.stdout);
}

#[test]
fn a_watch_over_wss_holds_the_binding_with_websocket_pings() {
    let Some(k) = websocket_kamailio() else {
        return;
    };
    let (out, summary) = k.wss_watch(&["--duration", "1500ms"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(summary["drops"], 0, "{summary}");
    assert_eq!(summary["keepalive_answered"], true, "{summary}");
    assert!(summary["keepalives"].as_u64().unwrap() >= 3, "{summary}");
    assert_eq!(summary["unregistered"], true, "{summary}");
}

#[test]
fn websocket_flags_do_not_mix_with_the_phones_transports() {
    for args in [
        vec!["--ws", "--udp", "127.0.0.1"],
        vec!["--wss", "--tls", "127.0.0.1"],
        vec!["--tcp", "ws://127.0.0.1"],
        vec!["--ws", "sips:127.0.0.1"],
    ] {
        let out = run(&args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    }
    // A bad path names itself and where it came from.
    for (args, said) in [
        (
            vec!["--ws", "--ws-path", "nope", "127.0.0.1"],
            "--ws-path \"nope\"",
        ),
        (vec!["wss://127.0.0.1/a#b"], "the path of SERVER"),
    ] {
        let out = run(&args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(said), "{}", out.stderr);
    }
    let dir = tempfile::tempdir().unwrap();
    let accounts = dir.path().join("a.csv");
    std::fs::write(&accounts, "user,password\nu1,x\n").unwrap();
    let accounts = accounts.to_str().unwrap();
    let out = run(&[
        "storm",
        "--accounts",
        accounts,
        "--socket",
        "shared",
        "--ws",
        "127.0.0.1",
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("--socket shared needs exactly one of --udp or --tcp"),
        "{}",
        out.stderr
    );
}

/// A WebSocket server on a thread: accepts one connection, answers the upgrade (with the sip
/// subprotocol when `with_sip`), then runs `then` on the socket.
#[allow(clippy::result_large_err)] // tungstenite's callback type, not ours
fn scripted_ws(
    with_sip: bool,
    then: impl FnOnce(&mut tokio_tungstenite::tungstenite::WebSocket<std::net::TcpStream>)
    + Send
    + 'static,
) -> u16 {
    use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        let answer = move |_req: &Request, mut resp: Response| {
            if with_sip {
                resp.headers_mut()
                    .insert("Sec-WebSocket-Protocol", "sip".parse().unwrap());
            }
            Ok(resp)
        };
        if let Ok(mut ws) = tokio_tungstenite::tungstenite::accept_hdr(stream, answer) {
            then(&mut ws);
        }
    });
    port
}

#[test]
fn a_switch_without_the_sip_subprotocol_is_named() {
    let port = scripted_ws(false, |_| {});
    let out = run(&[
        "--ws",
        "--connect-timeout",
        "2s",
        &format!("127.0.0.1:{port}"),
    ]);
    assert_eq!(out.code, 3, "{}", out.stdout);
    assert!(
        out.stdout
            .contains("switched to WebSocket without the sip subprotocol"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("not SIP over it"), "{}", out.stdout);
}

#[test]
fn a_close_frame_before_the_answer_names_its_code() {
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    let port = scripted_ws(true, |ws| {
        // The REGISTER arrives as one text message; the server closes instead of answering.
        if let Ok(Message::Text(register)) = ws.read() {
            assert!(register.starts_with("REGISTER sip:"), "{register}");
            assert!(register.contains("SIP/2.0/WS "), "{register}");
            assert!(register.contains(";transport=ws>"), "{register}");
            let _ = ws.close(Some(CloseFrame {
                code: CloseCode::Policy,
                reason: "no SIP today".into(),
            }));
            let _ = ws.flush();
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let out = run(&["--ws", "--json", &format!("127.0.0.1:{port}")]);
    assert_eq!(out.code, 3, "{}", out.stdout);
    let j = out.json();
    assert_eq!(j["attempts"][0]["outcome"], "closed", "{j}");
    let reason = j["attempts"][0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("closed the WebSocket with close code 1008 (no SIP today)"),
        "{reason}"
    );
}

#[test]
fn the_exporter_probes_over_wss_with_the_certificate_expiry() {
    use crate::common::http::{exporter, get, sample};
    let Some(k) = websocket_kamailio() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("pw");
    std::fs::write(&password, crate::common::kamailio::PASSWORD).unwrap();
    let target = format!("127.0.0.1:{}", k.tls);
    // A module with a password probes only its own targets.
    let config = format!(
        "[modules.webrtc]\nwss = true\nuser = {USER:?}\nca_file = {:?}\npassword_file = {:?}\ntargets = [{target:?}]\n",
        k.pki.ca_pem.display().to_string(),
        password.display().to_string()
    );
    let e = exporter(dir.path(), &config, &[]);
    let a = get(
        e.addr,
        &format!("/probe?target={target}&module=webrtc"),
        &[],
    );
    assert_eq!(sample(&a.body, "probe_success"), Some(1.0), "{}", a.body);
    assert_eq!(
        sample(&a.body, "probe_sip_transport{transport=\"wss\"}"),
        Some(1.0),
        "{}",
        a.body
    );
    assert!(
        sample(&a.body, "probe_ssl_earliest_cert_expiry").is_some_and(|t| t > 1.7e9),
        "{}",
        a.body
    );
}

#[test]
fn a_websocket_message_that_is_not_sip_is_not_an_answer() {
    use tokio_tungstenite::tungstenite::Message;
    let port = scripted_ws(true, |ws| {
        if let Ok(Message::Text(_)) = ws.read() {
            let _ = ws.send(Message::Text("hello, browser".into()));
            std::thread::sleep(Duration::from_millis(1500));
        }
    });
    let out = run(&[
        "--ws",
        "--json",
        "--timeout",
        "500ms",
        &format!("127.0.0.1:{port}"),
    ]);
    assert_eq!(out.code, 3, "{}", out.stdout);
    let j = out.json();
    assert_eq!(j["attempts"][0]["outcome"], "timeout", "{j}");
}

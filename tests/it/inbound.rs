//! `--check-inbound` end to end: an OPTIONS to our own AOR through a scripted registrar that
//! forwards it to our binding (as a proxy forwards a call), answers 404, stays silent or answers
//! itself. (Behind a real NAT: tests/it/nat.rs.)

use crate::common::*;
use serde_json::Value;

/// What the registrar does with the OPTIONS to our AOR.
#[derive(Clone, Copy)]
enum Proxy {
    /// Forwards it to us on the same flow, then relays a 200.
    Forward,
    /// Answers this status itself.
    Answer(u16),
    /// Never answers.
    Silent,
    /// Demands proxy authentication (407) first, then forwards what carries Proxy-Authorization.
    Challenge,
}

fn registrar_that(proxy: Proxy) -> Server {
    // The binding of the last REGISTER: where a proxy forwards requests for our AOR.
    let binding = std::sync::Arc::new(std::sync::Mutex::new(None));
    registrar(Options {
        behaviour: Behaviour::raw(move |r: &Incoming| {
            if r.request.method == "REGISTER" {
                *binding.lock().unwrap() = r.contact_addr();
                return vec![Step::Send(r.ok())];
            }
            let to = binding.lock().unwrap().unwrap_or(r.source);
            match proxy {
                Proxy::Forward => vec![
                    Step::SendTo(to, forwarded(&r.request)),
                    Step::Send(r.reply(200, "OK", &[])),
                ],
                Proxy::Challenge if r.request.header("proxy-authorization").is_none() => {
                    let challenge = "Proxy-Authenticate: Digest realm=\"pbx\", nonce=\"n0nce\", qop=\"auth\", algorithm=MD5".to_string();
                    vec![Step::Send(r.reply(
                        407,
                        "Proxy Authentication Required",
                        &[challenge],
                    ))]
                }
                Proxy::Challenge => vec![
                    Step::SendTo(to, forwarded(&r.request)),
                    Step::Send(r.reply(200, "OK", &[])),
                ],
                Proxy::Answer(status) => vec![Step::Send(r.reply(status, "Answer", &[]))],
                Proxy::Silent => Vec::new(),
            }
        }),
        ..Options::default()
    })
}

/// The OPTIONS as a proxy forwards it: its own Via on top, the same Call-ID.
fn forwarded(r: &sipreg::registrar::Request) -> Vec<u8> {
    let h = |n: &str| r.header(n).unwrap_or_default().to_string();
    format!(
        "OPTIONS sip:{} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKproxy\r\nVia: {}\r\nMax-Forwards: 69\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {}\r\nContent-Length: 0\r\n\r\n",
        r.uri.trim_start_matches("sip:"),
        h("via"),
        h("from"),
        h("to"),
        h("call-id"),
        h("cseq")
    )
    .into_bytes()
}

fn check(reg: &Server, flag: &str) -> (i32, Value) {
    let out = run(&[
        "--json",
        "--check-inbound",
        "--timeout",
        "1s",
        flag,
        &reg.sip_addr.to_string(),
    ]);
    (out.code, out.json())
}

#[test]
fn a_registrar_that_forwards_reaches_us_on_our_flow() {
    for (flag, transport) in [("--udp", "udp"), ("--tcp", "tcp")] {
        let reg = registrar_that(Proxy::Forward);
        let (code, j) = check(&reg, flag);
        assert_eq!(code, 0, "{flag}: {j}");
        let i = &j["inbound"];
        assert_eq!(i["arrived"], true, "{flag}: {i}");
        assert_eq!(i["transport"], transport);
        assert_eq!(i["same_flow"], true);
        assert_eq!(i["status"], 200);
        assert!(i["rtt_ms"].as_f64().is_some_and(|r| r < 1000.0));
        assert_eq!(j["expectations_failed"], serde_json::json!([]));
        assert_eq!(
            j["unregister"]["done"], true,
            "the removal follows the check"
        );
    }
}

#[test]
fn a_registrar_without_our_binding_answers_404_and_the_check_fails() {
    let reg = registrar_that(Proxy::Answer(404));
    let (code, j) = check(&reg, "--udp");
    assert_eq!(code, 5, "{j}");
    let i = &j["inbound"];
    assert_eq!(
        (i["arrived"].clone(), i["status"].clone()),
        (Value::Bool(false), Value::from(404))
    );
    assert!(
        i["hint"]
            .as_str()
            .unwrap_or_default()
            .contains("no binding"),
        "{i}"
    );
    assert!(
        j["expectations_failed"][0]
            .as_str()
            .unwrap_or_default()
            .contains("--check-inbound")
    );
}

#[test]
fn a_silent_registrar_and_one_that_answers_itself_are_told_apart() {
    let silent = registrar_that(Proxy::Silent);
    let (code, j) = check(&silent, "--udp");
    assert_eq!(code, 5, "{j}");
    assert_eq!(j["inbound"]["status"], Value::Null);
    assert!(
        j["inbound"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("Timer F")
    );
    assert!(
        j["inbound"]["hint"]
            .as_str()
            .unwrap_or_default()
            .contains("did not reach us")
    );
    let itself = registrar_that(Proxy::Answer(200));
    let (code, j) = check(&itself, "--udp");
    assert_eq!(code, 5, "{j}");
    assert!(
        j["inbound"]["hint"]
            .as_str()
            .unwrap_or_default()
            .contains("answered the OPTIONS itself"),
        "{j}"
    );
}

#[test]
fn a_proxy_challenge_is_answered_once_with_the_accounts_credentials() {
    for flag in ["--udp", "--tcp"] {
        let reg = registrar_that(Proxy::Challenge);
        let out = run_cmd(
            sipreg()
                .args(["--json", "--check-inbound", "--timeout", "1s", flag])
                .arg(reg.sip_addr.to_string())
                .env("SIPREG_PASSWORD", "s3cret-pw"),
        );
        let j = out.json();
        assert_eq!(out.code, 0, "{flag}: {j}");
        assert_eq!(
            (
                j["inbound"]["arrived"].as_bool(),
                j["inbound"]["status"].as_u64()
            ),
            (Some(true), Some(200)),
            "{flag}: {j}"
        );
        let options: Vec<Seen> = reg
            .seen()
            .into_iter()
            // Our requests, not our answer to the forwarded one (it has no Contact).
            .filter(|s| s.call_id.starts_with("inbound-") && !s.contact.is_empty())
            .collect();
        assert_eq!(options.len(), 2, "{flag}: {options:?}");
        assert_eq!((options[0].cseq, options[1].cseq), (1, 2), "{options:?}");
        let answer = options[1].proxy_authorization.clone().unwrap_or_default();
        for part in [
            "realm=\"pbx\"",
            "nonce=\"n0nce\"",
            "nc=00000001",
            "qop=auth",
        ] {
            assert!(answer.contains(part), "{part} in {answer}");
        }
        assert!(!out.stdout.contains("s3cret-pw") && !out.stderr.contains("s3cret-pw"));
    }
}

#[test]
fn a_proxy_challenge_without_a_password_says_the_check_needs_one() {
    let reg = registrar_that(Proxy::Challenge);
    let (code, j) = check(&reg, "--udp");
    assert_eq!(code, 5, "{j}");
    let i = &j["inbound"];
    assert_eq!(i["status"], 407, "{i}");
    let hint = i["hint"].as_str().unwrap_or_default();
    assert!(hint.contains("password"), "{hint}");
    assert!(!hint.contains("firewall"), "{hint}");
}

#[test]
fn the_trace_shows_the_check_on_either_transport() {
    for (flag, transport) in [("--udp", "UDP"), ("--tcp", "TCP")] {
        let reg = registrar_that(Proxy::Forward);
        let out = run(&["-vv", "--check-inbound", flag, &reg.sip_addr.to_string()]);
        assert_eq!(out.code, 0, "{flag}: {}", out.stderr);
        let trace = &out.stderr;
        assert!(
            trace.contains(&format!(
                "sending OPTIONS (CSeq 1) to our own AOR through the registrar over {transport}"
            )),
            "{flag}: {trace}"
        );
        assert!(
            trace.contains(&format!("sending OPTIONS over {transport}:")),
            "{flag}: the request itself: {trace}"
        );
        // Once the OPTIONS (CSeq 1, no Expires) was told as a REGISTER removing the binding.
        assert!(
            !trace.contains("sending REGISTER (CSeq 1, Expires 0)"),
            "{flag}: {trace}"
        );
        assert!(trace.contains("the server sent OPTIONS over"), "{trace}");
        assert!(
            trace.contains("answering over"),
            "our answer in full: {trace}"
        );
    }
}

#[test]
fn without_the_flag_there_is_no_inbound_check() {
    let reg = registrar_that(Proxy::Forward);
    let out = run(&["--json", "--udp", &reg.sip_addr.to_string()]);
    assert_eq!(out.code, 0);
    let j = out.json();
    assert_eq!(j["inbound"], Value::Null);
    assert_eq!(reg.seen().len(), 2, "REGISTER and its removal only");
}

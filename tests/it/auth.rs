//! Digest authentication and the rest of the REGISTER transaction (423, 3xx, 503 Retry-After, 407,
//! stale nonces), end to end against the in-process registrar; and no secret in any output.

use crate::common::*;

fn scripted(replies: Vec<Canned>) -> Server {
    registrar(Options {
        behaviour: Behaviour::Script(replies),
        ..Options::default()
    })
}

fn ok() -> Canned {
    Canned::new(200, "OK", &[])
}

fn with_password(args: &[&str]) -> Run {
    run_cmd(sipreg().args(args).env("SIPREG_PASSWORD", "pw"))
}

#[test]
fn a_423_is_retried_once_with_min_expires() {
    let reg = scripted(vec![
        Canned::new(423, "Interval Too Brief", &["Min-Expires: 7200"]),
        ok(),
    ]);
    let out = run(&[
        "--json",
        "--udp",
        "--keep",
        "--expires",
        "60",
        &reg.sip_addr.to_string(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let j = out.json();
    assert_eq!(j["expires"], 7200);
    assert_eq!(j["attempts"][0]["requests"], 2);
    let seen = reg.seen();
    assert_eq!((seen[0].expires, seen[1].expires), (Some(60), Some(7200)));
    assert_eq!(seen[1].cseq, seen[0].cseq + 1);
}

#[test]
fn a_423_loop_or_one_without_min_expires_is_a_rejection() {
    let looping = scripted(vec![Canned::new(
        423,
        "Interval Too Brief",
        &["Min-Expires: 7200"],
    )]);
    let out = run(&["--json", "--udp", &looping.sip_addr.to_string()]);
    assert_eq!(out.code, 1);
    assert_eq!(out.json()["attempts"][0]["requests"], 2, "one retry only");
    let bare = scripted(vec![Canned::new(423, "Interval Too Brief", &[])]);
    let out = run(&["--json", "--udp", &bare.sip_addr.to_string()]);
    assert_eq!(out.code, 1);
    let a = &out.json()["attempts"][0];
    assert_eq!(a["requests"], 1);
    assert!(
        a["reason"]
            .as_str()
            .unwrap()
            .contains("without Min-Expires"),
        "{a}"
    );
}

#[test]
fn a_redirect_is_reported_with_its_contact() {
    let reg = scripted(vec![Canned::new(
        302,
        "Moved Temporarily",
        &["Contact: <sip:pbx2.example.com:5070>"],
    )]);
    let out = run(&["--json", &reg.sip_addr.to_string()]);
    assert_eq!(out.code, 1);
    let j = out.json();
    assert_eq!(attempts(&j), ["tcp:rejected"], "a redirect ends the cycle");
    assert!(
        j["attempts"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("sip:pbx2.example.com:5070")
    );
}

#[test]
fn a_503_retry_after_lengthens_the_wait_up_to_retry_max() {
    let reg = scripted(vec![
        Canned::new(503, "Service Unavailable", &["Retry-After: 1"]),
        ok(),
    ]);
    let out = run(&[
        "--json",
        "--udp",
        "--retries",
        "1",
        "--retry-interval",
        "50ms",
        &reg.sip_addr.to_string(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let j = out.json();
    assert_eq!(attempts(&j), ["udp:rejected", "udp:registered"]);
    let first_end = j["attempts"][0]["started_ms"].as_f64().unwrap()
        + j["attempts"][0]["elapsed_ms"].as_f64().unwrap();
    let gap = j["attempts"][1]["started_ms"].as_f64().unwrap() - first_end;
    assert!(gap >= 990.0, "Retry-After 1 s, waited {gap} ms");

    let decade = scripted(vec![
        Canned::new(503, "Service Unavailable", &["Retry-After: 315360000"]),
        ok(),
    ]);
    let out = run(&[
        "--json",
        "--udp",
        "--retries",
        "1",
        "--retry-interval",
        "50ms",
        "--retry-max",
        "300ms",
        &decade.sip_addr.to_string(),
    ]);
    assert_eq!(out.code, 0);
    let j = out.json();
    let gap = j["attempts"][1]["started_ms"].as_f64().unwrap()
        - j["attempts"][0]["started_ms"].as_f64().unwrap();
    assert!(
        (290.0..3000.0).contains(&gap),
        "ten years of Retry-After bounded by --retry-max: {gap} ms"
    );
}

#[test]
fn a_407_is_answered_with_proxy_authorization() {
    let reg = scripted(vec![
        Canned::new(
            407,
            "Proxy Authentication Required",
            &["Proxy-Authenticate: Digest realm=\"proxy\", nonce=\"n1\", qop=\"auth\""],
        ),
        ok(),
    ]);
    let out = with_password(&[
        "--json",
        "--udp",
        "--keep",
        "--user",
        "alice",
        &reg.sip_addr.to_string(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let seen = reg.seen();
    let pa = seen[1]
        .proxy_authorization
        .as_deref()
        .expect("Proxy-Authorization sent");
    assert!(
        pa.starts_with("Digest username=\"alice\", realm=\"proxy\", nonce=\"n1\""),
        "{pa}"
    );
    assert!(
        pa.contains("qop=auth") && pa.contains("nc=00000001"),
        "{pa}"
    );
    assert!(seen[1].authorization.is_none());
}

#[test]
fn stale_nonce_is_retried_without_counting_a_failure() {
    let challenge = |nonce: &str, stale: bool| {
        let h = format!(
            "WWW-Authenticate: Digest realm=\"r\", nonce=\"{nonce}\", algorithm=MD5{}",
            if stale { ", stale=true" } else { "" }
        );
        Canned {
            status: 401,
            reason: "Unauthorized".into(),
            headers: vec![h],
        }
    };
    let reg = scripted(vec![challenge("a", false), challenge("b", true), ok()]);
    let out = with_password(&["--json", "--udp", "--keep", &reg.sip_addr.to_string()]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(out.json()["attempts"][0]["requests"], 3);
    assert!(
        reg.seen()[2]
            .authorization
            .as_deref()
            .unwrap()
            .contains("nonce=\"b\"")
    );

    let reg = scripted(vec![challenge("a", false), challenge("b", false)]);
    let out = with_password(&["--json", "--udp", &reg.sip_addr.to_string()]);
    assert_eq!(out.code, 4);
    let a = &out.json()["attempts"][0];
    assert_eq!(a["requests"], 2);
    assert_eq!(a["outcome"], "unauthorized");
}

#[test]
fn the_strongest_of_several_challenges_is_answered() {
    let reg = scripted(vec![
        Canned::new(
            401,
            "Unauthorized",
            &[
                "WWW-Authenticate: Digest realm=\"r\", nonce=\"m\", algorithm=MD5, qop=\"auth\"",
                "WWW-Authenticate: Digest realm=\"r\", nonce=\"s\", algorithm=SHA-256, qop=\"auth,auth-int\"",
            ],
        ),
        ok(),
    ]);
    let out = with_password(&["--json", "--udp", "--keep", &reg.sip_addr.to_string()]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let auth = reg.seen()[1].authorization.clone().unwrap();
    assert!(
        auth.contains("algorithm=SHA-256") && auth.contains("nonce=\"s\""),
        "{auth}"
    );
}

#[test]
fn an_unusable_challenge_is_unauthorized_with_a_reason() {
    let cases = [
        ("WWW-Authenticate: Digest realm=\"r\"", "nonce"),
        (
            "WWW-Authenticate: Digest realm=\"r\", nonce=\"n\", algorithm=SHA-1024",
            "SHA-1024",
        ),
        ("WWW-Authenticate: Basic realm=\"r\"", "not a digest"),
    ];
    for (header, needle) in cases {
        let reg = scripted(vec![Canned::new(401, "Unauthorized", &[header])]);
        let out = with_password(&["--json", "--udp", &reg.sip_addr.to_string()]);
        assert_eq!(out.code, 4, "{header}");
        let reason = out.json()["attempts"][0]["reason"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(reason.contains(needle), "{header}: {reason}");
    }
}

#[test]
fn no_password_or_digest_response_in_any_output() {
    let password = "Tr0ub4dor-and-3";
    let reg = registrar(Options {
        behaviour: Behaviour::Challenge {
            user: "alice".into(),
            password: password.into(),
        },
        ..Options::default()
    });
    let server = reg.sip_addr.to_string();
    let mut outputs = Vec::new();
    let variants: [&[&str]; 6] = [
        &[],
        &["-v"],
        &["-vv"],
        &["-q"],
        &["--json"],
        &["--json", "-vv"],
    ];
    for extra in variants {
        let mut args = vec!["--udp", "--user", "alice"];
        args.extend_from_slice(extra);
        args.push(&server);
        let out = run_cmd(sipreg().args(&args).env("SIPREG_PASSWORD", password));
        assert_eq!(out.code, 0, "{extra:?}: {}", out.stderr);
        outputs.push(format!("{}{}", out.stdout, out.stderr));
    }
    let trace = run_cmd(
        sipreg()
            .args(["--udp", "--user", "alice", &server])
            .env("SIPREG_PASSWORD", password)
            .env("RUST_LOG", "trace"),
    );
    outputs.push(format!("{}{}", trace.stdout, trace.stderr));
    let with_flag = run(&[
        "-vv",
        "--udp",
        "--user",
        "alice",
        "--password",
        password,
        &server,
    ]);
    outputs.push(format!("{}{}", with_flag.stdout, with_flag.stderr));
    let responses: Vec<String> = reg
        .seen()
        .iter()
        .filter_map(|s| s.authorization.as_deref())
        .filter_map(|a| {
            a.split("response=\"")
                .nth(1)?
                .split('"')
                .next()
                .map(str::to_string)
        })
        .collect();
    assert!(
        responses.len() >= 8,
        "every run sent credentials: {}",
        responses.len()
    );
    assert!(
        outputs[2].contains("response=<redacted>") && outputs[2].contains("nc=00000001"),
        "-vv shows the digest parameters, the response redacted:\n{}",
        outputs[2]
    );
    for (i, text) in outputs.iter().enumerate() {
        assert!(
            !text.contains(password),
            "output {i} leaks the password:\n{text}"
        );
        for r in &responses {
            assert!(
                !text.contains(r.as_str()),
                "output {i} leaks a digest response"
            );
        }
    }
}

#[test]
fn a_423_to_the_unregister_is_not_answered_with_a_new_registration() {
    let reg = scripted(vec![
        ok(),
        Canned::new(423, "Interval Too Brief", &["Min-Expires: 600"]),
    ]);
    let out = run(&["--json", "--udp", &reg.sip_addr.to_string()]);
    assert_eq!(out.code, 0, "the registration itself worked");
    let j = out.json();
    assert_eq!(j["unregister"]["done"], false);
    assert!(
        j["warnings"][0]
            .as_str()
            .unwrap()
            .contains("binding may remain"),
        "{j}"
    );
    let seen = reg.seen();
    assert_eq!(
        seen.len(),
        2,
        "no re-registration with Min-Expires: {seen:?}"
    );
}

#[test]
fn the_verdict_time_is_the_registration_not_the_unregister() {
    // The registrar answers the REGISTER and ignores the unregister: the run waits out Timer F,
    // but the registration took milliseconds.
    let reg = scripted(vec![ok(), Canned::new(100, "Trying", &[])]);
    let out = run(&[
        "--json",
        "--udp",
        "--t1",
        "20ms",
        "--timeout",
        "3s",
        "--max-time",
        "2s",
        &reg.sip_addr.to_string(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let j = out.json();
    assert!(j["registered_ms"].as_f64().unwrap() < 2000.0);
    assert!(
        j["elapsed_ms"].as_f64().unwrap() >= 3000.0,
        "the unregister timed out"
    );
    assert_eq!(j["unregister"]["done"], false);
}

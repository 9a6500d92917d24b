//! Registrars as deployed ones behave (issue 11): rewritten Contacts, 2xx without our binding,
//! answers from another address, 401 then close. The real binary against the scripted server.

use crate::common::*;
use serde_json::Value;

/// A registrar whose 2xx carries `contact` (built from our request's Contact) and `extra` lines.
fn answering(
    contact: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    extra: &'static [&'static str],
) -> Server {
    registrar(Options {
        behaviour: Behaviour::raw(move |r: &Incoming| {
            let sent = r.request.header("contact").unwrap_or_default().to_string();
            let mut lines: Vec<String> = contact(&sent).into_iter().collect();
            lines.extend(extra.iter().map(ToString::to_string));
            vec![Step::Send(r.reply(200, "OK", &lines))]
        }),
        ..Options::default()
    })
}

fn registered(reg: &Server) -> Value {
    let out = run(&["--udp", "--json", &reg.sip_addr.to_string()]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    out.json()
}

/// The `+sip.instance` parameter of our Contact, with its quotes.
fn instance(contact: &str) -> String {
    contact
        .split(';')
        .find(|p| p.starts_with("+sip.instance="))
        .unwrap_or_default()
        .to_string()
}

fn warnings(j: &Value) -> String {
    j["warnings"].to_string()
}

#[test]
fn a_nat_fixing_registrar_rewrites_our_contact_and_we_still_find_it() {
    // Kamailio's fix_nated_contact and add_rcv_param, Asterisk's rewrite_contact: host and port
    // replaced, received= added, header parameters kept.
    let reg = answering(
        |sent| {
            Some(format!(
                "Contact: <sip:alice@203.0.113.7:61000>;expires=120;received=\"sip:203.0.113.7:61000\";{}",
                instance(sent)
            ))
        },
        &[
            "Contact: <sip:bob@198.51.100.2:5060>;expires=3000",
            "Expires: 3600",
        ],
    );
    let j = registered(&reg);
    let binding = &j["attempts"][0]["binding"];
    assert_eq!(binding["matched"], "instance", "{j}");
    assert_eq!(binding["stored"], "sip:alice@203.0.113.7:61000");
    assert_eq!(
        j["expires"], 120,
        "our binding's lifetime, not bob's nor the header's"
    );
    assert!(warnings(&j).contains("rewrites Contacts"), "{j}");
}

#[test]
fn a_lone_rewritten_contact_is_taken_as_ours() {
    let reg = answering(
        |_| Some("Contact: <sip:alice@203.0.113.7:61000>;expires=250".into()),
        &["Expires: 3600"],
    );
    let j = registered(&reg);
    assert_eq!(j["attempts"][0]["binding"]["matched"], "only_contact");
    assert_eq!(j["expires"], 250);
    assert!(warnings(&j).contains("not the one we sent"), "{j}");
}

#[test]
fn a_2xx_without_our_binding_is_a_warning_not_a_silent_null() {
    let header_only = answering(|_| None, &["Expires: 600"]);
    let j = registered(&header_only);
    assert_eq!(j["attempts"][0]["binding"]["matched"], "expires_header");
    assert_eq!(j["expires"], 600);
    assert!(warnings(&j).contains("lists no binding of ours"), "{j}");
    let bare = answering(|_| None, &[]);
    let j = registered(&bare);
    assert_eq!(j["attempts"][0]["binding"]["matched"], "none");
    assert_eq!(j["expires"], Value::Null);
    assert!(warnings(&j).contains("granted lifetime is unknown"), "{j}");
    let others = answering(
        |_| None,
        &["Contact: <sip:a@192.0.2.1:5060>;expires=60, <sip:b@192.0.2.2:5060>;expires=60"],
    );
    let j = registered(&others);
    assert_eq!(j["attempts"][0]["binding"]["matched"], "none");
    assert!(warnings(&j).contains("2 Contacts"), "{j}");
}

#[test]
fn an_answer_from_another_port_registers_with_a_warning() {
    // A cluster answering from another port (RFC 3261 §18.1.2 matches by branch, not by source).
    let reg = registrar(Options {
        behaviour: Behaviour::raw(|r: &Incoming| vec![Step::SendFromElsewhere(r.ok())]),
        ..Options::default()
    });
    let started = std::time::Instant::now();
    let j = registered(&reg);
    assert!(started.elapsed().as_secs() < 5, "no Timer F wait");
    let attempt = &j["attempts"][0];
    assert_eq!(attempt["outcome"], "registered", "{j}");
    let from = attempt["answered_from"].as_str().unwrap_or_default();
    assert!(
        from.starts_with("127.0.0.1:") && from != reg.sip_addr.to_string(),
        "{j}"
    );
    let w = warnings(&j);
    assert!(
        w.contains(from) && w.contains(&reg.sip_addr.to_string()),
        "names both: {w}"
    );
    assert!(w.contains("RFC 3581"), "{w}");
    assert_eq!(
        j["unregister"]["done"], true,
        "the removal is answered the same way"
    );
}

#[test]
fn a_server_that_closes_after_its_401_gets_the_next_request_on_a_new_connection() {
    // Seen with registrars that close a connection after every final answer: the phone opens a
    // new one for the authenticated request (RFC 3261 §18.1.1), and so does sipreg.
    let challenge =
        "WWW-Authenticate: Digest realm=\"example.com\", nonce=\"n1\", qop=\"auth\"".to_string();
    let pki = Pki::new();
    let ca = pki.ca_pem.to_str().unwrap().to_string();
    for (flag, tls) in [("--tcp", None), ("--tls", Some(pki.server_config()))] {
        let challenge = challenge.clone();
        let reg = registrar(Options {
            tls,
            behaviour: Behaviour::raw(move |r: &Incoming| {
                if r.request.header("authorization").is_none() {
                    vec![
                        Step::Send(r.reply(401, "Unauthorized", std::slice::from_ref(&challenge))),
                        Step::Close,
                    ]
                } else {
                    vec![Step::Send(r.ok()), Step::Close]
                }
            }),
            ..Options::default()
        });
        let server = match flag {
            "--tls" => reg.tls_addr.unwrap(),
            _ => reg.sip_addr,
        }
        .to_string();
        let out = run_cmd(
            sipreg()
                .args(["--json", flag, "--user", "alice", "--ca-file", &ca, &server])
                .env("SIPREG_PASSWORD", "secret"),
        );
        assert_eq!(out.code, 0, "{flag}: {}{}", out.stdout, out.stderr);
        let j = out.json();
        assert_eq!(attempts(&j).len(), 1, "{flag}: no fallback: {j}");
        let a = &j["attempts"][0];
        assert_eq!(a["outcome"], "registered", "{flag}: {a}");
        // The 200 closed the second connection too: the removal went over a third.
        assert_eq!(a["reconnects"], 2, "{flag}: {a}");
        assert_eq!(j["unregister"]["done"], true, "{flag}: {j}");
        let seen = reg.seen();
        assert_eq!(
            seen.len(),
            3,
            "{flag}: REGISTER, REGISTER with credentials, removal"
        );
        let ports: std::collections::BTreeSet<u16> = seen.iter().map(|s| s.peer.port()).collect();
        assert_eq!(
            ports.len(),
            3,
            "{flag}: one connection per request: {ports:?}"
        );
        assert!(seen[1].authorization.is_some() && seen[2].authorization.is_some());
        // A request written into the closed connection never arrived: its CSeq is skipped.
        let cseqs: Vec<u32> = seen.iter().map(|s| s.cseq).collect();
        assert!(
            cseqs.windows(2).all(|w| w[0] < w[1]),
            "{flag}: CSeq rises: {cseqs:?}"
        );
        assert!(
            seen.iter().all(|s| s.call_id == seen[0].call_id),
            "{flag}: one Call-ID"
        );
    }
}

#[test]
fn a_connection_closed_before_any_answer_is_still_a_failure() {
    let reg = registrar(Options {
        behaviour: Behaviour::Close,
        ..Options::default()
    });
    let out = run(&["--json", "--tcp", &reg.sip_addr.to_string()]);
    assert_eq!(out.code, 3);
    let j = out.json();
    assert_eq!(attempts(&j), ["tcp:closed"]);
    assert_eq!(j["attempts"][0]["reconnects"], 0);
}

#[test]
fn a_contact_rewritten_to_the_address_the_registrar_saw_is_ours() {
    // Asterisk's rewrite_contact echoes only the URI and expires: no +sip.instance to go by, but
    // the Contact names the address in Via received/rport (the test server fills them in).
    let reg = registrar(Options {
        behaviour: Behaviour::raw(|r: &Incoming| {
            let seen = r.source;
            let contacts = vec![
                "Contact: <sip:phone@10.9.9.9:5060>;expires=90".to_string(),
                format!("Contact: <sip:alice@{seen}>;expires=300"),
            ];
            vec![Step::Send(r.reply(200, "OK", &contacts))]
        }),
        nat: Some("203.0.113.7:61000".parse().unwrap()),
        ..Options::default()
    });
    let j = registered(&reg);
    let binding = &j["attempts"][0]["binding"];
    assert_eq!(binding["matched"], "received", "{j}");
    assert_eq!(binding["stored"], "sip:alice@203.0.113.7:61000");
    assert_eq!(j["expires"], 300);
    assert!(warnings(&j).contains("the address it saw us as"), "{j}");
}

#[test]
fn our_binding_listed_with_expires_0_is_a_warning() {
    let reg = answering(
        |sent| {
            let uri = sent.split(';').next().unwrap_or_default().to_string();
            Some(format!("Contact: {uri};expires=0"))
        },
        &[],
    );
    let j = registered(&reg);
    assert_eq!(j["attempts"][0]["binding"]["matched"], "exact", "{j}");
    assert_eq!(j["expires"], 0);
    assert!(warnings(&j).contains("expires=0"), "{j}");
}

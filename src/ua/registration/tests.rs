//! Unit tests of the registration state machine: challenges, stale nonces, 423, refresh, removal.

use super::*;

fn account(password: Option<&str>) -> Account {
    Account {
        user: "alice".into(),
        domain: "example.com".into(),
        auth_user: "alice".into(),
        password: password.map(Secret::new),
    }
}

fn flow() -> FlowInfo {
    FlowInfo {
        transport: Transport::Udp,
        local: "10.0.0.5:40000".parse().unwrap(),
    }
}

fn reply(status: u16, extra: &str) -> Response {
    let text = format!(
        "SIP/2.0 {status} Reason\r\nVia: SIP/2.0/UDP 10.0.0.5:40000;branch=z9hG4bKx\r\n{extra}Content-Length: 0\r\n\r\n"
    );
    Response::parse(text.as_bytes()).unwrap()
}

fn challenge(stale: bool) -> Response {
    let stale = if stale { ", stale=true" } else { "" };
    reply(
        401,
        &format!(
            "WWW-Authenticate: Digest realm=\"example.com\", nonce=\"n1\", qop=\"auth\"{stale}\r\n"
        ),
    )
}

fn text(r: &Request) -> String {
    String::from_utf8_lossy(&r.bytes).into_owned()
}

fn header<'a>(r: &'a str, name: &str) -> Option<&'a str> {
    r.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(": ")))
}

fn send(next: Next) -> (Request, Retry) {
    match next {
        Next::Send(r, why) => (r, why),
        Next::Done(a) => panic!("expected a request, got {a:?}"),
    }
}

#[test]
fn a_challenge_is_answered_on_the_same_call_id_with_cseq_plus_one() {
    let mut reg = Registration::with_ids(account(Some("pw")), "cid@sipreg".into(), "tag".into());
    let first = reg.begin(flow(), 300);
    let t = text(&first);
    assert_eq!(header(&t, "CSeq"), Some("1 REGISTER"));
    assert_eq!(header(&t, "Call-ID"), Some("cid@sipreg"));
    assert_eq!(header(&t, "Expires"), Some("300"));
    assert!(header(&t, "Authorization").is_none());
    let (second, why) = send(reg.on_final(flow(), challenge(false)));
    assert!(matches!(
        why,
        Retry::Challenge {
            status: 401,
            stale: false,
            ..
        }
    ));
    let t = text(&second);
    assert_eq!(header(&t, "CSeq"), Some("2 REGISTER"));
    assert_eq!(header(&t, "Call-ID"), Some("cid@sipreg"));
    assert!(header(&t, "Authorization").is_some_and(|a| a.contains("nc=00000001")));
    assert_ne!(first.key.branch, second.key.branch, "a new transaction");
    assert!(matches!(
        reg.on_final(flow(), reply(200, "")),
        Next::Done(Answer::Success(_))
    ));
}

#[test]
fn a_second_challenge_is_a_wrong_password_unless_the_nonce_was_stale() {
    let mut reg = Registration::new(account(Some("pw")));
    reg.begin(flow(), 300);
    send(reg.on_final(flow(), challenge(false)));
    match reg.on_final(flow(), challenge(false)) {
        Next::Done(Answer::Unauthorized(_, why)) => {
            assert!(why.contains("wrong password"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    let mut stale = Registration::new(account(Some("pw")));
    stale.begin(flow(), 300);
    send(stale.on_final(flow(), challenge(false)));
    let (_, why) = send(stale.on_final(flow(), challenge(true)));
    assert!(matches!(why, Retry::Challenge { stale: true, .. }));
    assert!(matches!(
        stale.on_final(flow(), challenge(true)),
        Next::Done(Answer::Unauthorized(..))
    ));
}

#[test]
fn a_challenge_without_a_password_is_unauthorized() {
    let mut reg = Registration::new(account(None));
    reg.begin(flow(), 300);
    match reg.on_final(flow(), challenge(false)) {
        Next::Done(Answer::Unauthorized(_, why)) => assert!(why.contains("SIPREG_PASSWORD")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn interval_too_brief_is_retried_once_with_min_expires() {
    let mut reg = Registration::new(account(None));
    reg.begin(flow(), 60);
    let (again, why) = send(reg.on_final(flow(), reply(423, "Min-Expires: 3600\r\n")));
    assert_eq!(why, Retry::IntervalTooBrief { min_expires: 3600 });
    assert_eq!(again.expires, 3600);
    assert_eq!(header(&text(&again), "Expires"), Some("3600"));
    assert!(matches!(
        reg.on_final(flow(), reply(423, "Min-Expires: 7200\r\n")),
        Next::Done(Answer::Final(_))
    ));
    // §10.3 step 7: a removal is not retried after a 423.
    reg.begin(flow(), 0);
    assert!(matches!(
        reg.on_final(flow(), reply(423, "Min-Expires: 3600\r\n")),
        Next::Done(Answer::Final(_))
    ));
}

#[test]
fn refresh_and_removal_reuse_call_id_and_known_credentials() {
    let mut reg = Registration::with_ids(account(Some("pw")), "cid@sipreg".into(), "tag".into());
    reg.begin(flow(), 300);
    send(reg.on_final(flow(), challenge(false)));
    reg.on_final(flow(), reply(200, ""));
    let refresh = text(&reg.begin(flow(), 300));
    assert_eq!(header(&refresh, "CSeq"), Some("3 REGISTER"));
    assert_eq!(header(&refresh, "Call-ID"), Some("cid@sipreg"));
    assert!(header(&refresh, "Authorization").is_some_and(|a| a.contains("nc=00000002")));
    let removal = reg.begin(flow(), 0);
    let t = text(&removal);
    assert_eq!(header(&t, "CSeq"), Some("4 REGISTER"));
    assert_eq!(header(&t, "Expires"), Some("0"));
    assert!(header(&t, "Authorization").is_some_and(|a| a.contains("nc=00000003")));
    assert_eq!(reg.cseq(), 4);
}

const ME: &str = "urn:uuid:11111111-2222-4333-8444-555555555555";

fn found(extra: &str) -> Binding {
    binding(&reply(200, extra), "10.0.0.5:40000".parse().unwrap(), ME)
}

#[test]
fn our_binding_is_found_exactly_then_by_instance_then_alone_then_by_expires() {
    let exact = found(
        "Contact: <sip:bob@10.0.0.9:5060>;expires=99\r\nContact: <sip:alice@10.0.0.5:40000>;expires=120\r\nExpires: 600\r\n",
    );
    assert_eq!(
        (exact.matched, exact.expires, exact.stored),
        (BindingMatch::Exact, Some(120), None)
    );
    // A NAT-fixing registrar rewrote host and port and added received=; the instance survives.
    let rewritten = found(&format!(
        "Contact: <sip:bob@10.0.0.9:5060>;expires=99, <sip:alice@203.0.113.7:61000>;expires=300;received=\"sip:203.0.113.7:61000\";+sip.instance=\"<{ME}>\"\r\n"
    ));
    assert_eq!(rewritten.matched, BindingMatch::Instance);
    assert_eq!(rewritten.expires, Some(300));
    assert_eq!(
        rewritten.stored.as_deref(),
        Some("sip:alice@203.0.113.7:61000")
    );
    let via =
        "Via: SIP/2.0/UDP 10.0.0.5:40000;branch=z9hG4bKx;received=203.0.113.7;rport=61000\r\n";
    let response = Response::parse(
        format!("SIP/2.0 200 OK\r\n{via}Contact: <sip:phone@10.9.9.9:5060>;expires=90, <sip:alice@203.0.113.7:61000>;expires=300\r\nContent-Length: 0\r\n\r\n").as_bytes(),
    )
    .unwrap();
    let seen = binding(&response, "10.0.0.5:40000".parse().unwrap(), ME);
    assert_eq!(
        (seen.matched, seen.expires),
        (BindingMatch::Received, Some(300))
    );
    let alone = found("m: <sip:alice@203.0.113.7:61000>;expires=250\r\n");
    assert_eq!(
        (alone.matched, alone.expires),
        (BindingMatch::OnlyContact, Some(250))
    );
    let header = found(
        "Contact: <sip:a@1.2.3.4:5>;expires=9, <sip:b@1.2.3.4:6>;expires=8\r\nExpires: 600\r\n",
    );
    assert_eq!(
        (header.matched, header.expires, header.listed),
        (BindingMatch::ExpiresHeader, Some(600), 2)
    );
    let nothing = found("");
    assert_eq!(
        (nothing.matched, nothing.expires),
        (BindingMatch::None, None)
    );
    // An exact Contact without its own expires takes the Expires header (§10.2.4).
    let bare = found("Contact: <sip:alice@10.0.0.5:40000>\r\nExpires: 60\r\n");
    assert_eq!(
        (bare.matched, bare.expires),
        (BindingMatch::Exact, Some(60))
    );
}

#[test]
fn requests_carry_our_instance() {
    let mut reg = Registration::new(account(None));
    let t = text(&reg.begin(flow(), 300));
    let contact = header(&t, "Contact").unwrap();
    assert!(
        contact.contains(&format!("+sip.instance=\"<{}>\"", reg.instance())),
        "{contact}"
    );
    let id = reg.instance().strip_prefix("urn:uuid:").unwrap();
    let parts: Vec<usize> = id.split('-').map(str::len).collect();
    assert_eq!(parts, [8, 4, 4, 4, 12]);
    assert!(id.as_bytes()[14] == b'4', "version 4: {id}");
}

#[test]
fn every_request_of_a_round_raises_the_nonce_count() {
    let mut reg = Registration::new(account(Some("pw")));
    reg.begin(flow(), 60);
    let (answered, _) = send(reg.on_final(flow(), challenge(false)));
    let (longer, _) = send(reg.on_final(flow(), reply(423, "Min-Expires: 3600\r\n")));
    let nc = |r: &Request| {
        header(&text(r), "Authorization")
            .and_then(|a| a.split("nc=").nth(1))
            .map(|v| v[..8].to_string())
    };
    assert_eq!(nc(&answered).as_deref(), Some("00000001"));
    assert_eq!(
        nc(&longer).as_deref(),
        Some("00000002"),
        "RFC 7616 §3.4: nc rises"
    );
    let cnonce = |r: &Request| {
        header(&text(r), "Authorization")
            .and_then(|a| a.split("cnonce=").nth(1))
            .map(str::to_string)
    };
    assert_ne!(cnonce(&answered), cnonce(&longer));
}

#[test]
fn a_new_nonce_after_a_423_is_answered_not_taken_for_a_wrong_password() {
    // Seen with OpenScape Voice: 401, credentials, 423, the same credentials (nc 2), 401 new nonce.
    let mut reg = Registration::new(account(Some("pw")));
    reg.begin(flow(), 60);
    send(reg.on_final(flow(), challenge(false)));
    let (reused, _) = send(reg.on_final(flow(), reply(423, "Min-Expires: 3600\r\n")));
    assert!(header(&text(&reused), "Authorization").is_some_and(|a| a.contains("nc=00000002")));
    let renewed = reply(
        401,
        "WWW-Authenticate: Digest realm=\"example.com\", nonce=\"n2\", qop=\"auth\"\r\n",
    );
    let (answered, why) = send(reg.on_final(flow(), renewed));
    assert!(matches!(why, Retry::Challenge { stale: false, .. }));
    let auth = header(&text(&answered), "Authorization")
        .unwrap()
        .to_string();
    assert!(
        auth.contains("nonce=\"n2\"") && auth.contains("nc=00000001"),
        "{auth}"
    );
    assert_eq!(header(&text(&answered), "Expires"), Some("3600"));
    // Fresh credentials challenged again are still a wrong password.
    assert!(matches!(
        reg.on_final(flow(), challenge(false)),
        Next::Done(Answer::Unauthorized(..))
    ));
}

fn flow_at(port: u16) -> FlowInfo {
    FlowInfo {
        transport: Transport::Udp,
        local: format!("10.0.0.5:{port}").parse().unwrap(),
    }
}

fn contacts(r: &Request) -> Vec<String> {
    text(r)
        .lines()
        .filter_map(|l| l.strip_prefix("Contact: "))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_new_flow_removes_the_contact_it_replaces_until_a_2xx_confirms_it() {
    let mut reg = Registration::new(account(None));
    reg.begin(flow_at(40000), 300);
    assert!(matches!(
        reg.on_final(flow_at(40000), reply(200, "")),
        Next::Done(Answer::Success(_))
    ));
    // The flow was lost: the next REGISTER comes from another port and removes the old Contact.
    let again = reg.begin(flow_at(40001), 300);
    let listed = contacts(&again);
    assert!(
        listed[0].starts_with("<sip:alice@10.0.0.5:40001>;expires=300"),
        "{listed:?}"
    );
    assert_eq!(listed[1], "<sip:alice@10.0.0.5:40000>;expires=0");
    assert_eq!(reg.left().len(), 2);
    // No answer (a timeout): the next try still carries the removal.
    let third = reg.begin(flow_at(40002), 300);
    assert_eq!(contacts(&third).len(), 3, "{:?}", contacts(&third));
    assert!(matches!(
        reg.on_final(flow_at(40002), reply(200, "")),
        Next::Done(Answer::Success(_))
    ));
    assert_eq!(reg.left(), ["sip:alice@10.0.0.5:40002"]);
    assert_eq!(
        contacts(&reg.begin(flow_at(40002), 300)).len(),
        1,
        "removed: not sent again"
    );
}

#[test]
fn a_rejected_contact_is_not_held_and_the_removals_stay_bounded() {
    let mut reg = Registration::new(account(None));
    reg.begin(flow_at(40000), 300);
    assert!(matches!(
        reg.on_final(flow_at(40000), reply(403, "")),
        Next::Done(Answer::Final(_))
    ));
    assert!(!reg.holds_any(), "a 403 bound nothing: {:?}", reg.left());
    // A day of unanswered tries from new ports carries at most MAX_STALE removals, each once.
    for port in 41000..41050 {
        reg.begin(flow_at(port), 300);
    }
    let last = reg.begin(flow_at(41050), 300);
    assert_eq!(
        contacts(&last).len(),
        1 + MAX_STALE,
        "{:?}",
        contacts(&last)
    );
    // A port used again is never removed by the request that binds it.
    let reused = reg.begin(flow_at(41049), 300);
    let listed = contacts(&reused);
    assert_eq!(
        listed.iter().filter(|c| c.contains(":41049>")).count(),
        1,
        "{listed:?}"
    );
    assert!(listed[0].contains(":41049>;expires=300"), "{listed:?}");
}

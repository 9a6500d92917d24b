//! The agent over in-memory flows on tokio's paused clock: event order, Timer E/F, fallback and
//! waits, with minutes of timers in milliseconds.

use std::net::SocketAddr;
use std::time::Duration;

use super::*;
use crate::config::{ConfigBuilder, Secret};
use crate::event::Recorder;
use crate::net::Frame;
use crate::net::memory::{MemoryConnector, Peer, pair};

/// Alice at 192.0.2.10:5060, with what `set` changes.
fn config(set: impl FnOnce(ConfigBuilder) -> ConfigBuilder) -> Config {
    set(Config::builder("192.0.2.10:5060").user("alice"))
        .build()
        .expect("valid config")
}

fn local() -> SocketAddr {
    "10.0.0.5:40000".parse().unwrap()
}

fn remote() -> SocketAddr {
    "192.0.2.10:5060".parse().unwrap()
}

/// A response to `request` echoing its Via, From, To, Call-ID and CSeq (RFC 3261 §8.2.6.2).
fn answer(request: &[u8], status: u16, extra: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(request);
    let mut out = format!("SIP/2.0 {status} Reason\r\n");
    for line in text.lines() {
        let name = line.split(':').next().unwrap_or("");
        if ["Via", "From", "To", "Call-ID", "CSeq"].contains(&name) {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str(extra);
    out.push_str("Content-Length: 0\r\n\r\n");
    out.into_bytes()
}

async fn run(cfg: &Config, connector: &MemoryConnector) -> (Verdict, Vec<Stamped>) {
    let resolver = Resolver::new(cfg.dns.clone());
    let mut recorder = Recorder::default();
    let verdict = Agent::new(cfg, connector, &resolver, &mut recorder)
        .run()
        .await;
    (verdict, recorder.0)
}

fn names(events: &[Stamped]) -> Vec<String> {
    events
        .iter()
        .map(|e| match &e.event {
            Event::RequestSent {
                cseq,
                expires,
                retransmission,
                ..
            } => format!(
                "sent {cseq}/{expires}{}",
                if retransmission.is_some() {
                    " again"
                } else {
                    ""
                }
            ),
            Event::ResponseReceived { status, .. } => format!("got {status}"),
            Event::AttemptEnded(e) => format!("ended {}", e.outcome.as_str()),
            Event::Finished(v) => format!("finished {}", v.as_str()),
            other => format!("{other:?}")
                .split(|c: char| !c.is_alphanumeric())
                .next()
                .unwrap_or("")
                .to_string(),
        })
        .collect()
}

/// A registrar that challenges once, then accepts, then confirms the removal.
async fn challenging_registrar(mut peer: Peer) {
    let challenge = "WWW-Authenticate: Digest realm=\"r\", nonce=\"n\", qop=\"auth\"\r\n";
    let replies = [
        (401, challenge.to_string()),
        (
            200,
            format!("Contact: <sip:alice@{}>;expires=120\r\n", local()),
        ),
        (200, String::new()),
    ];
    for (status, extra) in replies {
        let Some(request) = peer.recv().await else {
            return;
        };
        peer.send(answer(&request, status, &extra));
    }
}

#[tokio::test(start_paused = true)]
async fn a_challenged_registration_emits_every_step_in_order() {
    let cfg = config(|b| b.udp(true).password(Secret::new("pw")));
    let (flow, peer) = pair(Transport::Udp, local(), remote());
    tokio::spawn(challenging_registrar(peer));
    let connector = MemoryConnector::new(vec![Ok(flow)]);
    let (verdict, events) = run(&cfg, &connector).await;
    assert_eq!(verdict, Verdict::Registered);
    assert_eq!(
        names(&events),
        [
            "RunStarted",
            "Resolved",
            "AttemptStarted",
            "Connected",
            "sent 1/3600",
            "PhaseStarted",
            "got 401",
            "PhaseEnded",
            "Retrying",
            "sent 2/3600",
            "PhaseStarted",
            "got 200",
            "PhaseEnded",
            "Registered",
            "ended registered",
            "Unregistering",
            "sent 3/0",
            "PhaseStarted",
            "got 200",
            "PhaseEnded",
            "Unregistered",
            "finished registered",
        ]
    );
    let registered = events.iter().find_map(|e| match &e.event {
        Event::Registered { expires, .. } => Some(*expires),
        _ => None,
    });
    assert_eq!(
        registered,
        Some(Some(120)),
        "the granted lifetime, not the asked one"
    );
}

/// A recorder that asks for no detail, as a storm's account does.
struct Lean(Vec<Stamped>);

impl Sink for Lean {
    fn event(&mut self, e: &Stamped) {
        self.0.push(e.clone());
    }

    fn detail(&self) -> bool {
        false
    }
}

/// The texts and copies of one run's events: trace bytes sent, reasons, the server's header, the
/// address it saw, the candidates, the server and AOR announced.
fn texts(events: &[Stamped]) -> Vec<String> {
    let mut out = Vec::new();
    for e in events {
        match &e.event {
            Event::RunStarted { server, aor, .. } => out.extend([server.clone(), aor.clone()]),
            Event::Resolved(list) => out.push(format!("{} candidates", list.len())),
            Event::RequestSent { bytes, .. } => out.push(format!("{} bytes", bytes.len())),
            Event::AttemptEnded(end) => out.extend([
                end.reason.clone(),
                end.server_header.clone().unwrap_or_default(),
                end.seen_as.clone().unwrap_or_default(),
            ]),
            _ => {}
        }
    }
    out.retain(|t| !t.is_empty() && !t.starts_with("0 "));
    out
}

#[tokio::test(start_paused = true)]
async fn a_sink_without_detail_gets_the_same_steps_without_texts() {
    let cfg = config(|b| b.udp(true).password(Secret::new("pw")));
    let mut runs = Vec::new();
    for detail in [true, false] {
        let (flow, peer) = pair(Transport::Udp, local(), remote());
        tokio::spawn(challenging_registrar(peer));
        let connector = MemoryConnector::new(vec![Ok(flow)]);
        let resolver = Resolver::new(cfg.dns.clone());
        let events = if detail {
            let mut sink = Recorder::default();
            Agent::new(&cfg, &connector, &resolver, &mut sink)
                .run()
                .await;
            sink.0
        } else {
            let mut sink = Lean(Vec::new());
            Agent::new(&cfg, &connector, &resolver, &mut sink)
                .run()
                .await;
            sink.0
        };
        runs.push(events);
    }
    assert_eq!(names(&runs[0]), names(&runs[1]));
    let full = texts(&runs[0]);
    assert!(full.len() >= 6, "{full:?}");
    assert_eq!(texts(&runs[1]), Vec::<String>::new());
}

#[tokio::test(start_paused = true)]
async fn timer_e_retransmits_on_simulated_time_until_timer_f() {
    let cfg = config(|b| b.udp(true));
    let (flow, peer) = pair(Transport::Udp, local(), remote());
    let connector = MemoryConnector::new(vec![Ok(flow)]);
    let started = tokio::time::Instant::now();
    let (verdict, events) = run(&cfg, &connector).await;
    drop(peer);
    assert_eq!(verdict, Verdict::Unreachable);
    let first = events
        .iter()
        .find(|e| matches!(e.event, Event::RequestSent { .. }))
        .map(|e| e.at)
        .unwrap();
    let resent: Vec<u128> = events
        .iter()
        .filter(|e| {
            matches!(
                e.event,
                Event::RequestSent {
                    retransmission: Some(_),
                    ..
                }
            )
        })
        .map(|e| (e.at - first).as_millis())
        .collect();
    // T1 = 500 ms doubling to T2 = 4 s (RFC 3261 §17.1.2.2), Timer F = 64·T1 = 32 s.
    assert_eq!(
        resent,
        [
            500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500
        ]
    );
    let ended = events.iter().find_map(|e| match &e.event {
        Event::AttemptEnded(end) => Some((e.at - first, end.outcome, end.reason.clone())),
        _ => None,
    });
    let (after, outcome, reason) = ended.unwrap();
    assert_eq!(
        (after, outcome),
        (Duration::from_secs(32), Outcome::Timeout)
    );
    assert!(reason.contains("after 10 retransmissions"), "{reason}");
    assert!(
        started.elapsed() >= Duration::from_secs(32),
        "simulated time passed"
    );
}

#[tokio::test(start_paused = true)]
async fn refused_tcp_falls_back_to_udp() {
    let cfg = config(|b| b);
    let (flow, peer) = pair(Transport::Udp, local(), remote());
    tokio::spawn(challenging_registrar(peer));
    let refused = Failure::new(Outcome::Refused, "connection refused (TCP reset)");
    let connector = MemoryConnector::new(vec![Err(refused), Ok(flow)]);
    let (verdict, events) = run(&cfg, &connector).await;
    assert_eq!(
        verdict,
        Verdict::Unauthorized,
        "no password for the challenge"
    );
    let ends: Vec<(Transport, Outcome)> = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::AttemptEnded(end) => Some(end.outcome),
            _ => None,
        })
        .zip([Transport::Tcp, Transport::Udp])
        .map(|(o, t)| (t, o))
        .collect();
    assert_eq!(
        ends,
        [
            (Transport::Tcp, Outcome::Refused),
            (Transport::Udp, Outcome::Unauthorized)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_broken_flow_ends_the_attempt_as_closed() {
    let cfg = config(|b| b.tcp(true));
    let (flow, mut peer) = pair(Transport::Tcp, local(), remote());
    tokio::spawn(async move {
        let _ = peer.recv().await;
        peer.fail(Failure::new(
            Outcome::Closed,
            "the server closed the TCP connection",
        ));
        std::future::pending::<()>().await;
    });
    let connector = MemoryConnector::new(vec![Ok(flow)]);
    let (verdict, events) = run(&cfg, &connector).await;
    assert_eq!(verdict, Verdict::Unreachable);
    assert!(names(&events).contains(&"ended closed".to_string()));
}

#[tokio::test(start_paused = true)]
async fn failed_cycles_wait_with_doubling_over_simulated_minutes() {
    let cfg = config(|b| b.tcp(true).retries(5).retry_max(Duration::from_secs(240)));
    let refusals = (0..6)
        .map(|_| Err(Failure::new(Outcome::Refused, "refused")))
        .collect();
    let connector = MemoryConnector::new(refusals);
    let started = tokio::time::Instant::now();
    let (verdict, events) = run(&cfg, &connector).await;
    assert_eq!(verdict, Verdict::Unreachable);
    let waits: Vec<u64> = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::WaitStarted { wait, .. } => Some(wait.as_secs()),
            _ => None,
        })
        .collect();
    assert_eq!(waits, [30, 60, 120, 240, 240]);
    assert_eq!(started.elapsed(), Duration::from_secs(690));
}

#[tokio::test(start_paused = true)]
async fn requests_and_keepalives_from_the_server_reach_the_core() {
    let cfg = config(|b| b.tcp(true).keep(true));
    let (flow, mut peer) = pair(Transport::Tcp, local(), remote());
    tokio::spawn(async move {
        let Some(request) = peer.recv().await else {
            return;
        };
        peer.frame(Frame::Ping);
        peer.send(
            b"OPTIONS sip:alice@10.0.0.5:40000 SIP/2.0\r\nContent-Length: 0\r\n\r\n".to_vec(),
        );
        peer.send(answer(&request, 200, ""));
        std::future::pending::<()>().await;
    });
    let connector = MemoryConnector::new(vec![Ok(flow)]);
    let (verdict, events) = run(&cfg, &connector).await;
    assert_eq!(verdict, Verdict::Registered);
    assert!(
        events.iter().any(
            |e| matches!(&e.event, Event::RequestReceived { method, .. } if method == "OPTIONS")
        )
    );
    assert!(
        events
            .iter()
            .any(|e| e.event == Event::KeepAlive { ping: true })
    );
}

#[tokio::test(start_paused = true)]
async fn a_connection_closed_after_an_answer_is_replaced_for_the_next_request() {
    let cfg = config(|b| b.tcp(true).password(Secret::new("pw")).keep(true));
    let (first, mut peer1) = pair(Transport::Tcp, local(), remote());
    let second_local: SocketAddr = "10.0.0.5:40002".parse().unwrap();
    let (second, peer2) = pair(Transport::Tcp, second_local, remote());
    tokio::spawn(async move {
        let challenge = "WWW-Authenticate: Digest realm=\"r\", nonce=\"n\", qop=\"auth\"\r\n";
        let Some(request) = peer1.recv().await else {
            return;
        };
        peer1.send(answer(&request, 401, challenge));
        let _ = peer1.recv().await;
        peer1.fail(Failure::new(
            Outcome::Closed,
            "the server closed the TCP connection",
        ));
        std::future::pending::<()>().await;
    });
    tokio::spawn(challenging_registrar_tail(peer2));
    let connector = MemoryConnector::new(vec![Ok(first), Ok(second)]);
    let (verdict, events) = run(&cfg, &connector).await;
    assert_eq!(verdict, Verdict::Registered);
    let reconnected = events.iter().find_map(|e| match &e.event {
        Event::Reconnected { local, .. } => Some(*local),
        _ => None,
    });
    assert_eq!(reconnected, Some(second_local));
    let sent: Vec<u32> = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::RequestSent { cseq, .. } => Some(*cseq),
            _ => None,
        })
        .collect();
    assert_eq!(
        sent,
        [1, 2, 3],
        "the lost request is sent again as a new transaction"
    );
}

/// The second connection of a registrar: it accepts whatever comes.
async fn challenging_registrar_tail(mut peer: Peer) {
    while let Some(request) = peer.recv().await {
        peer.send(answer(&request, 200, ""));
    }
}

/// A registrar on an in-memory flow that grants `expires`, answers every request and pongs.
async fn holding_registrar(mut peer: Peer, expires: u32) {
    while let Some(bytes) = peer.recv().await {
        if bytes == b"\r\n\r\n" {
            peer.frame(Frame::Pong);
            continue;
        }
        let contact = format!("Contact: <sip:alice@{}>;expires={expires}\r\n", local());
        peer.send(answer(&bytes, 200, &contact));
    }
}

#[tokio::test(start_paused = true)]
async fn three_hours_of_watch_in_milliseconds() {
    use crate::ua::binding::RefreshPolicy;
    use crate::ua::watch::WatchSettings;
    let cfg = config(|b| b.tcp(true));
    let (flow, peer) = pair(Transport::Tcp, local(), remote());
    tokio::spawn(holding_registrar(peer, 3600));
    let connector = MemoryConnector::new(vec![Ok(flow)]);
    let resolver = Resolver::new(cfg.dns.clone());
    let mut recorder = Recorder::default();
    let settings = WatchSettings {
        keepalive: Duration::from_secs(30),
        refresh: RefreshPolicy::default(),
        duration: Some(Duration::from_secs(3 * 3600)),
        inbound_every: None,
    };
    let (_tx, stop) = tokio::sync::watch::channel(0u32);
    let started = std::time::Instant::now();
    let verdict = Agent::new(&cfg, &connector, &resolver, &mut recorder)
        .watch(&settings, stop)
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "simulated, not waited"
    );
    assert_eq!(verdict, Verdict::Registered);
    let events = recorder.0;
    let t0 = events[0].at;
    let refreshes: Vec<u64> = events
        .iter()
        .filter(|e| matches!(e.event, Event::Registered { refresh: true, .. }))
        .map(|e| (e.at - t0).as_secs())
        .collect();
    // 90 % of 3600 s: every 54 min, on the same flow and Call-ID.
    assert_eq!(refreshes, [3240, 6480, 9720]);
    let pongs = events
        .iter()
        .filter(|e| matches!(e.event, Event::KeepAliveAnswered { .. }))
        .count();
    assert_eq!(pongs, 3 * 3600 / 30 - 1, "a ping every 30 s, each answered");
    assert!(
        !events
            .iter()
            .any(|e| matches!(e.event, Event::RegistrationLost { .. }))
    );
    assert!(matches!(
        events.iter().rev().nth(1).map(|e| &e.event),
        Some(Event::Unregistered { done: true, .. })
    ));
}

//! Runs the fallback engine over real sockets: resolve, connect, the REGISTER transactions with their
//! timers (RFC 3261 §17.1.2), digest answers, the unregister, and the timing of every phase.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tracing::{debug, info};

use crate::config::Config;
use crate::engine::{Action, AttemptEnd, Engine, Plan, Verdict};
use crate::hint;
use crate::render::progress::Progress;
use crate::report::{Attempt, Outcome, Phases, Report, TlsInfo, Unregister, ms};
use crate::resolve::{self, Candidate, Source};
use crate::sip::digest::{self, Challenge, Credentials};
use crate::sip::message::{AuthHeader, Register, bracket_host, host_port};
use crate::sip::response::Response;
use crate::sip::{new_branch, random_hex};
use crate::transport::{self, Connection, Failure, FailureKind, Stream, TlsProblem, Transport};

/// Most challenges answered in one registration, so a server that challenges forever cannot loop us.
const MAX_AUTH_ROUNDS: u32 = 3;

/// Dialog-wide identifiers: one Call-ID and From tag per run, CSeq rising (RFC 3261 §10.2, §8.1.1.5).
struct Session {
    call_id: String,
    from_tag: String,
    cseq: u32,
    /// The challenges answered so far, with the last nonce count used: later requests (the
    /// unregister) send credentials at once, with the count raised (RFC 7616 §3.4).
    challenges: Vec<(AuthHeader, Challenge, u32)>,
    /// When the registrar accepted us: the time the verdict and `--max-time` count.
    registered_at: Option<Instant>,
}

/// Counters and instants of the requests of one attempt.
#[derive(Default)]
struct Stats {
    requests: u32,
    retransmissions: u32,
    first_sent: Option<Instant>,
    first_response: Option<Instant>,
    last_final: Option<Instant>,
}

/// How a registration (or unregistration) ended once the server answered.
enum Answer {
    /// 2xx.
    Success(Response),
    /// A final non-2xx answer after the in-transaction retries.
    Final(Response),
    /// Authentication failed; the reason says why.
    Unauthorized(Response, String),
}

/// Runs a whole registration test and returns its report.
pub async fn run(cfg: &Config) -> Report {
    run_with(cfg, &Progress::disabled()).await
}

/// Runs a whole registration test, reporting long waits to `progress`.
pub async fn run_with(cfg: &Config, progress: &Progress) -> Report {
    let run_start = Instant::now();
    let mut session = Session {
        call_id: format!("{}@sipreg", random_hex(12)),
        from_tag: random_hex(6),
        cseq: 0,
        challenges: Vec::new(),
        registered_at: None,
    };
    if cfg.server.host.parse::<IpAddr>().is_err() {
        info!("resolving {}", cfg.server.host);
    }
    let candidates = resolve::candidates(cfg, &cfg.dns).await;
    for c in &candidates {
        match &c.addr {
            Ok(a) => info!("candidate: {} {}:{} -> {a}", c.transport, c.target, c.port),
            Err(f) => info!("candidate: {} {}: {}", c.transport, c.target, f.reason),
        }
    }
    let mut engine = Engine::new(Plan {
        order: candidates.iter().map(|c| c.transport).collect(),
        retries: cfg.retries,
        retry_interval: cfg.retry_interval,
        retry_max: cfg.retry_max,
        strict_tls: cfg.tls.as_ref().is_some_and(|t| t.strict),
    });
    let mut attempts = Vec::new();
    let mut unregister = None;
    let mut warnings = Vec::new();
    if cfg.tls.as_ref().is_some_and(|t| t.insecure) {
        warnings.push("--insecure: the TLS server certificate is NOT verified".to_string());
    }
    let mut action = engine.start();
    let verdict = loop {
        match action {
            Action::Attempt {
                cycle,
                transport,
                index,
            } => {
                let Some(candidate) = candidates.get(index) else {
                    break Verdict::Unreachable;
                };
                let then = next_step(cfg, &candidates, cycle, index);
                let (attempt, end, unreg) = run_attempt(
                    cfg,
                    &mut session,
                    Step {
                        cycle,
                        transport,
                        candidate,
                        then: &then,
                    },
                    run_start,
                    progress,
                )
                .await;
                if let Some(u) = unreg {
                    if !u.done {
                        warnings.push(format!(
                            "the unregister failed ({}): the binding may remain until it expires",
                            u.reason
                        ));
                    }
                    unregister = Some(u);
                }
                attempts.push(attempt);
                action = engine.on_attempt(&end);
            }
            Action::Wait(wait) => {
                info!(
                    "cycle failed; waiting {} before the next cycle",
                    humantime::format_duration(wait)
                );
                let first = cfg.order.first().map_or("", |t| t.via_name());
                progress.begin("waiting before the next cycle", wait, first);
                tokio::time::sleep(wait).await;
                progress.end();
                action = engine.resume();
            }
            Action::Finish(verdict) => break verdict,
        }
    };
    let last = attempts.last();
    let registered = verdict == Verdict::Registered;
    let transport = if registered {
        last.map(|a| a.transport)
    } else {
        None
    };
    let downgraded =
        registered && transport != Some(Transport::Tls) && cfg.order.contains(&Transport::Tls);
    if downgraded {
        warnings.push(format!(
            "DOWNGRADE: TLS failed and the registration fell back to {}",
            transport.map_or("another transport", Transport::via_name)
        ));
    }
    let mut report = Report {
        registered,
        transport,
        secure: transport == Some(Transport::Tls),
        downgraded,
        insecure: cfg.tls.as_ref().is_some_and(|t| t.insecure),
        server: cfg.server_display(),
        aor: cfg.aor(),
        order: cfg.order.clone(),
        elapsed_ms: ms(run_start.elapsed()),
        registered_ms: if registered {
            session.registered_at.map(|t| ms(t - run_start))
        } else {
            None
        },
        expires: if registered {
            last.and_then(|a| a.expires)
        } else {
            None
        },
        verdict: verdict.as_str(),
        exit_code: verdict.exit_code(),
        unregister,
        warnings,
        expectations_failed: Vec::new(),
        attempts,
    };
    report.check_expectations(cfg.expect_transport, cfg.max_time);
    report
}

/// Which transport comes after `transport` in this cycle, for the progress line.
fn next_step(cfg: &Config, candidates: &[Candidate], cycle: u32, index: usize) -> String {
    let current = candidates.get(index).map(|c| c.transport);
    match candidates.get(index + 1) {
        Some(next) if Some(next.transport) == current => {
            format!("{} to {}", next.transport, next.target)
        }
        Some(next) => next.transport.via_name().to_string(),
        None if cycle <= cfg.retries => "the next cycle".to_string(),
        None => "give up".to_string(),
    }
}

/// One attempt to make: the cycle, the transport, and what comes after it.
struct Step<'a> {
    cycle: u32,
    transport: Transport,
    candidate: &'a Candidate,
    then: &'a str,
}

async fn connect(
    cfg: &Config,
    step: &Step<'_>,
    remote: SocketAddr,
    phases: &mut Phases,
    progress: &Progress,
) -> Result<Connection, Failure> {
    let transport = step.transport;
    if transport == Transport::Udp {
        return transport::connect_udp(remote).await;
    }
    let t0 = Instant::now();
    info!("connecting over TCP to {remote}");
    progress.begin(
        format!("TCP connect to {remote}"),
        cfg.timers.connect,
        step.then,
    );
    let tcp = transport::connect_tcp(remote, cfg.timers.connect).await;
    progress.end();
    phases.connect_ms = Some(ms(t0.elapsed()));
    let tcp = tcp?;
    info!(
        "TCP connected in {}",
        crate::render::human_ms(ms(t0.elapsed()))
    );
    if transport == Transport::Tcp {
        return Ok(Connection::Tcp(Stream::new(tcp, remote)));
    }
    let Some(tls) = &cfg.tls else {
        return Err(Failure::new(
            FailureKind::TlsFailed,
            "TLS is not configured",
        ));
    };
    let t1 = Instant::now();
    info!(
        "TLS handshake with {remote}, verifying {:?}",
        tls.server_name
    );
    progress.begin(
        format!("TLS handshake with {remote}"),
        cfg.timers.connect,
        step.then,
    );
    let conn = transport::tls::handshake(
        tcp,
        tls.client.clone(),
        &tls.server_name,
        remote,
        cfg.timers.connect,
    )
    .await;
    progress.end();
    phases.tls_ms = Some(ms(t1.elapsed()));
    if let Some((version, cipher)) = conn.as_ref().ok().and_then(Connection::tls_info) {
        info!(
            "TLS handshake done in {}: {version} {cipher}",
            crate::render::human_ms(ms(t1.elapsed()))
        );
    }
    conn
}

/// One transport in one cycle: returns the attempt record, its end for the engine, and the unregister.
async fn run_attempt(
    cfg: &Config,
    session: &mut Session,
    step: Step<'_>,
    run_start: Instant,
    progress: &Progress,
) -> (Attempt, AttemptEnd, Option<Unregister>) {
    let (mut attempt, end, unregister, cx) =
        attempt_inner(cfg, session, &step, run_start, progress).await;
    let host = cfg.server.host.as_str();
    let context = hint::Context {
        host,
        tls_name: cfg.tls.as_ref().map(|t| t.server_name.as_str()),
        tls: cx.tls,
        has_client_cert: cfg.tls.as_ref().is_some_and(|t| t.has_client_cert),
        has_password: cfg.password.is_some(),
        retry_after: cx.retry_after,
        min_expires: cx.min_expires,
    };
    attempt.hint = hint::for_attempt(&attempt, &context);
    (attempt, end, unregister)
}

/// Facts of an attempt the hint needs that the report does not keep.
#[derive(Default)]
struct HintFacts {
    tls: Option<TlsProblem>,
    retry_after: Option<u32>,
    min_expires: Option<u32>,
}

async fn attempt_inner(
    cfg: &Config,
    session: &mut Session,
    step: &Step<'_>,
    run_start: Instant,
    progress: &Progress,
) -> (Attempt, AttemptEnd, Option<Unregister>, HintFacts) {
    let (cycle, transport) = (step.cycle, step.transport);
    let started = Instant::now();
    let candidate = step.candidate;
    let mut attempt = Attempt {
        cycle,
        transport,
        remote: match &candidate.addr {
            Ok(a) => a.to_string(),
            Err(_) => format!("{}:{}", bracket_host(&candidate.target), candidate.port),
        },
        target: (candidate.source != Source::Literal).then(|| candidate.target.clone()),
        family: candidate
            .addr
            .as_ref()
            .ok()
            .map(|a| resolve::family_name(*a)),
        local: None,
        started_ms: ms(started - run_start),
        elapsed_ms: 0.0,
        outcome: Outcome::Timeout,
        status: None,
        reason: String::new(),
        hint: None,
        phases: Phases::default(),
        requests: 0,
        retransmissions: 0,
        server_header: None,
        seen_as: None,
        expires: None,
        tls: None,
    };
    info!("cycle {cycle}: trying {transport} to {}", attempt.remote);
    let failed = |mut attempt: Attempt, f: Failure| {
        info!("{transport} failed: {}", f.reason);
        attempt.outcome = f.kind.into();
        attempt.reason = f.reason;
        attempt.elapsed_ms = ms(started.elapsed());
        let end = AttemptEnd::TransportFailed {
            kind: f.kind,
            certificate: f.certificate,
        };
        let facts = HintFacts {
            tls: f.tls,
            ..HintFacts::default()
        };
        (attempt, end, None, facts)
    };
    attempt.phases.dns_ms = candidate.dns_ms;
    let remote = match &candidate.addr {
        Ok(r) => *r,
        Err(f) => return failed(attempt, f.clone()),
    };
    let mut conn = match connect(cfg, step, remote, &mut attempt.phases, progress).await {
        Ok(c) => c,
        Err(f) => return failed(attempt, f),
    };
    let local = match conn.local_addr() {
        Ok(l) => l,
        Err(e) => {
            return failed(
                attempt,
                Failure::new(
                    FailureKind::Closed,
                    format!("socket has no local address: {e}"),
                ),
            );
        }
    };
    attempt.local = Some(local.to_string());
    attempt.tls = conn.tls_info().map(|(version, cipher)| TlsInfo {
        version,
        cipher,
        client_cert: cfg.tls.as_ref().is_some_and(|t| t.has_client_cert),
    });
    let mut stats = Stats::default();
    let answer = register(
        &mut conn,
        &Tx {
            cfg,
            progress,
            then: step.then,
        },
        session,
        local,
        cfg.expires,
        &mut stats,
    )
    .await;
    attempt.requests = stats.requests;
    attempt.retransmissions = stats.retransmissions;
    if let Some(first) = stats.first_sent {
        attempt.phases.first_response_ms = stats.first_response.map(|t| ms(t - first));
        attempt.phases.final_ms = stats.last_final.map(|t| ms(t - first));
    }
    let answer = match answer {
        Ok(a) => a,
        Err(f) => {
            let mut out = failed(attempt, f);
            out.0.requests = stats.requests;
            return out;
        }
    };
    let (response, end) = match answer {
        Answer::Success(r) => {
            attempt.outcome = Outcome::Registered;
            let granted = r
                .contact_expires(&host_port(local))
                .or_else(|| r.seconds("expires"));
            attempt.expires = granted;
            attempt.reason = match granted {
                Some(s) => format!("{} {}, expires in {s} s", r.status, r.reason),
                None => format!("{} {}", r.status, r.reason),
            };
            (r, AttemptEnd::Registered)
        }
        Answer::Unauthorized(r, reason) => {
            attempt.outcome = Outcome::Unauthorized;
            attempt.reason = reason;
            (r, AttemptEnd::Unauthorized)
        }
        Answer::Final(r) => {
            attempt.outcome = Outcome::Rejected;
            attempt.reason = rejection_reason(&r);
            let retry_after = r
                .seconds("retry-after")
                .map(|s| Duration::from_secs(s.into()));
            (
                r.clone(),
                AttemptEnd::Rejected {
                    status: r.status,
                    retry_after,
                },
            )
        }
    };
    attempt.status = Some(response.status);
    attempt.server_header = response
        .header("server")
        .map(|s| s.chars().take(200).collect());
    attempt.seen_as = seen_as(&response, local);
    let facts = HintFacts {
        tls: None,
        retry_after: response.seconds("retry-after"),
        min_expires: response.seconds("min-expires"),
    };
    let mut unregister = None;
    if end == AttemptEnd::Registered && !cfg.keep {
        let tx = Tx {
            cfg,
            progress,
            then: "finish",
        };
        unregister = Some(unregister_binding(&mut conn, &tx, session, local).await);
    }
    attempt.elapsed_ms = ms(started.elapsed());
    (attempt, end, unregister, facts)
}

/// What a transaction needs besides the connection.
struct Tx<'a> {
    cfg: &'a Config,
    progress: &'a Progress,
    then: &'a str,
}

fn rejection_reason(r: &Response) -> String {
    let mut reason = format!("{} {}", r.status, r.reason);
    if (300..400).contains(&r.status) {
        let contacts: Vec<&str> = r.headers_named("contact").collect();
        if !contacts.is_empty() {
            reason.push_str(&format!(": redirected to {}", contacts.join(", ")));
        }
    }
    if let Some(s) = r.seconds("retry-after") {
        reason.push_str(&format!(" (Retry-After {s} s)"));
    }
    if r.status == 423 {
        match r.seconds("min-expires") {
            Some(m) => reason.push_str(&format!(" (Min-Expires {m} s)")),
            None => reason.push_str(" (without Min-Expires)"),
        }
    }
    reason
}

/// The address the server saw, from `received` and `rport` in the top Via (RFC 3261 §18.2.1,
/// RFC 3581 §4), when it says anything.
fn seen_as(r: &Response, local: SocketAddr) -> Option<String> {
    let via = r.vias().into_iter().next()?;
    let received = via.received().map(str::to_string);
    let rport = via.rport();
    if received.is_none() && rport.is_none() {
        return None;
    }
    let ip = received.unwrap_or_else(|| local.ip().to_string());
    let port = rport.unwrap_or(local.port());
    Some(match ip.parse::<IpAddr>() {
        Ok(addr) => SocketAddr::new(addr, port).to_string(),
        Err(_) => format!("{ip}:{port}"),
    })
}

async fn unregister_binding(
    conn: &mut Connection,
    tx: &Tx<'_>,
    session: &mut Session,
    local: SocketAddr,
) -> Unregister {
    info!("removing our binding (Expires: 0)");
    let mut stats = Stats::default();
    match register(conn, tx, session, local, 0, &mut stats).await {
        Ok(Answer::Success(r)) => Unregister {
            done: true,
            status: Some(r.status),
            reason: format!("{} {}", r.status, r.reason),
        },
        Ok(Answer::Final(r) | Answer::Unauthorized(r, _)) => Unregister {
            done: false,
            status: Some(r.status),
            reason: format!("{} {}", r.status, r.reason),
        },
        Err(f) => Unregister {
            done: false,
            status: None,
            reason: f.reason,
        },
    }
}

/// One registration: REGISTER, answering challenges (RFC 3261 §22.2) and one 423 (§10.2.8) with new
/// transactions on the same connection: CSeq + 1, a new branch, the same Call-ID.
async fn register(
    conn: &mut Connection,
    tx: &Tx<'_>,
    session: &mut Session,
    local: SocketAddr,
    expires: u32,
    stats: &mut Stats,
) -> Result<Answer, Failure> {
    let cfg = tx.cfg;
    let mut expires = expires;
    let mut auth_rounds = 0u32;
    let mut answered: Vec<AuthHeader> = Vec::new();
    let mut stale_used = false;
    let mut answered_423 = false;
    let request_uri = format!("sip:{}", cfg.domain);
    let credentials = cfg.password.as_ref().map(|p| Credentials {
        username: &cfg.auth_user,
        password: p.expose(),
    });
    // Credentials for the challenges this run already answered, sent without waiting to be asked.
    let mut auth: Vec<(AuthHeader, String)> = Vec::new();
    if let Some(cred) = &credentials {
        for (kind, challenge, nc) in &mut session.challenges {
            *nc += 1;
            let value = digest::authorization(
                challenge,
                cred,
                "REGISTER",
                &request_uri,
                *nc,
                &digest::new_cnonce(),
            );
            auth.push((*kind, value));
        }
    }
    loop {
        session.cseq += 1;
        let branch = new_branch();
        let request = Register {
            transport: conn.transport(),
            domain: &cfg.domain,
            user: &cfg.user,
            local,
            call_id: &session.call_id,
            from_tag: &session.from_tag,
            cseq: session.cseq,
            branch: &branch,
            expires,
            authorization: &auth,
        }
        .build();
        info!(
            "sending REGISTER (CSeq {}, Expires {expires}) over {}",
            session.cseq,
            conn.transport()
        );
        let expect = Expect {
            branch: &branch,
            call_id: &session.call_id,
            cseq: session.cseq,
        };
        let response = transaction(conn, &request, &expect, tx, stats).await?;
        match response.status {
            200..=299 => {
                if expires > 0 {
                    session.registered_at = Some(Instant::now());
                }
                return Ok(Answer::Success(response));
            }
            401 | 407 => {
                let (header, kind) = if response.status == 401 {
                    ("www-authenticate", AuthHeader::Authorization)
                } else {
                    ("proxy-authenticate", AuthHeader::ProxyAuthorization)
                };
                let Some(password) = &cfg.password else {
                    let reason = format!(
                        "{} {}: the server wants credentials and no password was given (set SIPREG_PASSWORD or use --password-file)",
                        response.status, response.reason
                    );
                    return Ok(Answer::Unauthorized(response, reason));
                };
                let values: Vec<&str> = response.headers_named(header).collect();
                let challenge = match digest::choose(&values) {
                    Ok(c) => c,
                    Err(e) => {
                        let reason = format!(
                            "{} {}: cannot answer the challenge: {e}",
                            response.status, response.reason
                        );
                        return Ok(Answer::Unauthorized(response, reason));
                    }
                };
                let already = answered.contains(&kind);
                let stale_retry = already && challenge.stale && !stale_used;
                if (already && !stale_retry) || auth_rounds >= MAX_AUTH_ROUNDS {
                    let reason = format!(
                        "{} {}: challenged again after credentials were sent: wrong password or user {:?}",
                        response.status, response.reason, cfg.auth_user
                    );
                    return Ok(Answer::Unauthorized(response, reason));
                }
                auth_rounds += 1;
                stale_used |= stale_retry;
                answered.push(kind);
                info!(
                    "{} challenge ({}, realm {:?}{}): answering with digest",
                    response.status,
                    challenge.algorithm,
                    challenge.realm,
                    if challenge.stale { ", stale nonce" } else { "" }
                );
                let value = digest::authorization(
                    &challenge,
                    &Credentials {
                        username: &cfg.auth_user,
                        password: password.expose(),
                    },
                    "REGISTER",
                    &request_uri,
                    1,
                    &digest::new_cnonce(),
                );
                auth.retain(|(k, _)| *k != kind);
                auth.push((kind, value));
                session.challenges.retain(|(k, _, _)| *k != kind);
                session.challenges.push((kind, challenge, 1));
            }
            // §10.3 step 7: a 423 only answers a registration; a removal (Expires 0) is not retried.
            423 if !answered_423 && expires > 0 => match response.seconds("min-expires") {
                Some(min) if min > expires => {
                    info!("423 Interval Too Brief: retrying with Expires {min}");
                    answered_423 = true;
                    expires = min;
                }
                _ => return Ok(Answer::Final(response)),
            },
            _ => return Ok(Answer::Final(response)),
        }
    }
}

/// What identifies the answer to our request (RFC 3261 §17.1.3): the top Via branch and the CSeq
/// method; the Call-ID and CSeq number are checked too, so a stray answer from an older run is ignored.
struct Expect<'a> {
    branch: &'a str,
    call_id: &'a str,
    cseq: u32,
}

impl Expect<'_> {
    fn matches(&self, response: &Response, top_via: &crate::sip::response::Via) -> bool {
        top_via.branch() == Some(self.branch)
            && response.cseq() == Some((self.cseq, "REGISTER".to_string()))
            && response.header("call-id") == Some(self.call_id)
    }
}

/// Text of a request with the Authorization values hidden, for `-vv`.
fn redacted(message: &[u8]) -> String {
    String::from_utf8_lossy(message)
        .lines()
        .map(|l| {
            let lower = l.to_ascii_lowercase();
            if lower.starts_with("authorization:") || lower.starts_with("proxy-authorization:") {
                let name = l.split(':').next().unwrap_or("Authorization");
                format!("{name}: <redacted>")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A non-INVITE client transaction (RFC 3261 §17.1.2): send, retransmit on UDP with Timer E (T1
/// doubling to T2, T2 after a 1xx), give up at Timer F; match the answer by top Via branch and CSeq
/// method (§17.1.3), ignoring others and responses with more than one Via (§8.1.3.3).
async fn transaction(
    conn: &mut Connection,
    request: &[u8],
    expect: &Expect<'_>,
    tx: &Tx<'_>,
    stats: &mut Stats,
) -> Result<Response, Failure> {
    let timers = tx.cfg.timers;
    let transport = conn.transport();
    debug!("sending over {transport}:\n{}", redacted(request));
    let sent = Instant::now();
    conn.send(request).await?;
    tx.progress.begin(
        format!("waiting for an answer over {transport}"),
        timers.timer_f,
        tx.then,
    );
    let result = receive(conn, request, expect, sent, &timers, stats).await;
    tx.progress.end();
    result
}

/// The receiving half of [`transaction`]: Timer E retransmissions, Timer F, response matching.
async fn receive(
    conn: &mut Connection,
    request: &[u8],
    expect: &Expect<'_>,
    sent: Instant,
    timers: &crate::config::Timers,
    stats: &mut Stats,
) -> Result<Response, Failure> {
    let transport = conn.transport();
    let timer_f = sent + timers.timer_f;
    stats.requests += 1;
    stats.first_sent.get_or_insert(sent);
    let mut interval = timers.t1;
    let mut next_send = sent + interval;
    let mut sent_again = 0u32;
    loop {
        let wake = if transport.is_reliable() {
            timer_f
        } else {
            next_send.min(timer_f)
        };
        match tokio::time::timeout_at(wake.into(), conn.recv()).await {
            Err(_) if Instant::now() >= timer_f || transport.is_reliable() => {
                let retx = if sent_again > 0 {
                    format!(" after {sent_again} retransmissions")
                } else {
                    String::new()
                };
                let partial = match conn.buffered() {
                    0 => String::new(),
                    n => format!("; {n} bytes of an unfinished message received"),
                };
                return Err(Failure::new(
                    FailureKind::Timeout,
                    format!(
                        "no final response within {} (Timer F){retx}{partial}",
                        humantime::format_duration(timers.timer_f)
                    ),
                ));
            }
            Err(_) => {
                // Timer E (§17.1.2.2).
                debug!(
                    "Timer E: retransmitting after {}",
                    humantime::format_duration(interval)
                );
                conn.send(request).await?;
                stats.retransmissions += 1;
                sent_again += 1;
                interval = interval.saturating_mul(2).min(timers.t2);
                next_send = Instant::now() + interval;
            }
            Ok(Err(f)) => return Err(f),
            Ok(Ok(bytes)) => {
                let response = match Response::parse(&bytes) {
                    Ok(r) => r,
                    Err(e) => {
                        debug!("ignoring an unreadable message ({e})");
                        continue;
                    }
                };
                debug!(
                    "received over {transport}:\n{}",
                    String::from_utf8_lossy(&bytes)
                );
                let vias = response.vias();
                if response.via_count() != 1 || vias.len() != 1 {
                    debug!(
                        "ignoring a response with {} Via values (§8.1.3.3)",
                        response.via_count()
                    );
                    continue;
                }
                if !expect.matches(&response, &vias[0]) {
                    debug!("ignoring a response to another transaction");
                    continue;
                }
                let now = Instant::now();
                stats.first_response.get_or_insert(now);
                if response.is_provisional() {
                    // Proceeding: Timer E continues at T2 (§17.1.2.2).
                    interval = timers.t2;
                    next_send = now + interval;
                    continue;
                }
                stats.last_final = Some(now);
                info!(
                    "received {} {} after {}",
                    response.status,
                    response.reason,
                    crate::render::human_ms(ms(now - sent))
                );
                return Ok(response);
            }
        }
    }
}

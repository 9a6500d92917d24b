//! The report as a fold of the event stream: attempts, phases, hints, warnings, the downgrade and the
//! verdict are all computed here from what the user agent emitted.

use std::net::SocketAddr;
use std::time::Instant;

use crate::config::Config;
use crate::event::{Ended, Event, Phase, Purpose, Sink, Stamped};
use crate::model::{Binding, BindingMatch, Transport, Verdict};
use crate::net::TlsParams;
use crate::net::resolve::{self, Candidate, Source};
use crate::observe::hint::{self, Context, Facts};
use crate::observe::report::{Attempt, Inbound, Report, TlsInfo, Unregister};
use crate::sip::message::bracket_host;
use crate::units::ms;

/// The instants of one attempt that its phases are computed from.
#[derive(Debug, Default, Clone, Copy)]
struct Marks {
    started: Option<Instant>,
    first_sent: Option<Instant>,
    first_response: Option<Instant>,
    last_final: Option<Instant>,
}

/// A sink that folds events into a [`Report`].
#[derive(Debug, Clone)]
pub struct Collector {
    context: Context,
    start: Option<Instant>,
    report: Report,
    marks: Marks,
    candidate: Option<Candidate>,
    registered_at: Option<Instant>,
    unregistering_at: Option<Instant>,
    user: String,
}

impl Collector {
    /// A collector for a run of `cfg` (the hints need some of its settings).
    #[must_use]
    pub fn new(cfg: &Config) -> Self {
        Self {
            context: Context::of(cfg),
            start: None,
            report: Report {
                capture: None,
                registered: false,
                transport: None,
                secure: false,
                downgraded: false,
                insecure: false,
                server: cfg.server_display(),
                aor: cfg.aor(),
                order: cfg.order.clone(),
                elapsed_ms: 0.0,
                registered_ms: None,
                expires: None,
                verdict: Verdict::Unreachable.as_str(),
                exit_code: Verdict::Unreachable.exit_code(),
                unregister: None,
                inbound: None,
                warnings: Vec::new(),
                expectations_failed: Vec::new(),
                attempts: Vec::new(),
            },
            marks: Marks::default(),
            candidate: None,
            registered_at: None,
            unregistering_at: None,
            user: cfg.user.clone(),
        }
    }

    /// A 2xx registered us (the binding may still be held).
    #[must_use]
    pub fn registered(&self) -> bool {
        self.registered_at.is_some()
    }

    /// The report, with `--expect-transport` and `--max-time` applied.
    #[must_use]
    pub fn finish(mut self, cfg: &Config) -> Report {
        self.report
            .check_expectations(cfg.expect_transport, cfg.max_time);
        self.report
    }

    fn since_start(&self, at: Instant) -> f64 {
        self.start.map_or(0.0, |s| ms(at - s))
    }

    fn attempt(&mut self) -> Option<&mut Attempt> {
        self.report.attempts.last_mut()
    }

    fn started(&mut self, at: Instant, cycle: u32, c: &Candidate) {
        self.marks = Marks {
            started: Some(at),
            ..Marks::default()
        };
        self.candidate = Some(c.clone());
        let remote = match &c.addr {
            Ok(a) => a.to_string(),
            Err(_) => format!("{}:{}", bracket_host(&c.target), c.port),
        };
        let mut attempt = Attempt::new(cycle, c.transport, remote);
        attempt.target = (c.source != Source::Literal).then(|| c.target.clone());
        attempt.family = c.addr.as_ref().ok().map(|a| resolve::family_name(*a));
        attempt.started_ms = self.since_start(at);
        attempt.phases.dns_ms = c.dns_ms;
        self.report.attempts.push(attempt);
    }

    fn ended(&mut self, at: Instant, e: &Ended) {
        let marks = self.marks;
        let facts = Facts::of(self.candidate.as_ref(), e);
        let context = self.context.clone();
        let user = self.user.clone();
        let Some(a) = self.attempt() else { return };
        a.outcome = e.outcome;
        a.status = e.status;
        a.reason = e.reason.clone();
        a.server_header = e.server_header.clone();
        a.seen_as = e.seen_as.clone();
        a.expires = e.expires;
        a.binding = e.binding.clone();
        let sent = a.local.as_ref().map(|l| format!("sip:{user}@{l}"));
        if let Some(first) = marks.first_sent {
            a.phases.first_response_ms = marks.first_response.map(|t| ms(t - first));
            a.phases.final_ms = marks.last_final.map(|t| ms(t - first));
        }
        if let Some(s) = marks.started {
            a.elapsed_ms = ms(at - s);
        }
        a.hint = hint::for_attempt(a, &facts, &context);
        if let (Some(b), Some(sent)) = (&e.binding, sent) {
            self.report.warnings.extend(binding_warning(b, &sent));
        }
    }

    fn sent(&mut self, at: Instant, purpose: Purpose, retransmission: bool) {
        if purpose != Purpose::Register {
            return;
        }
        self.marks.first_sent.get_or_insert(at);
        if let Some(a) = self.attempt() {
            if retransmission {
                a.retransmissions += 1;
            } else {
                a.requests += 1;
            }
        }
    }

    fn received(&mut self, at: Instant, purpose: Purpose, status: u16) {
        if purpose != Purpose::Register {
            return;
        }
        self.marks.first_response.get_or_insert(at);
        if status >= 200 {
            self.marks.last_final = Some(at);
        }
    }

    /// An answer came from another address than the request went to: accepted, as a phone does
    /// (RFC 3261 §18.1.2), and warned about once per attempt.
    fn answered_from(&mut self, from: std::net::SocketAddr) {
        let Some(a) = self.report.attempts.last_mut() else {
            return;
        };
        if a.answered_from.is_some() {
            return;
        }
        a.answered_from = Some(from.to_string());
        let warning = format!(
            "the answer came from {from}, not from {} where the REGISTER went: a phone behind NAT or a firewall would never see it (answers must come back from where the request went: symmetric response routing, RFC 3581)",
            a.remote
        );
        self.report.warnings.push(warning);
    }

    fn unregistered(
        &mut self,
        at: Instant,
        done: bool,
        status: Option<u16>,
        reason: &str,
        left: &[String],
    ) {
        if !done {
            self.report.warnings.push(format!(
                "the unregister failed ({reason}): the binding may remain until it expires"
            ));
        }
        self.report.unregister = Some(Unregister {
            done,
            status,
            reason: reason.to_string(),
            not_removed: left.to_vec(),
            // The removal's own time: the attempt's ends with its registration, so that the
            // cycle line and the verdict line tell the same registration time.
            elapsed_ms: self.unregistering_at.map(|u| ms(at - u)),
        });
    }

    fn finished(&mut self, at: Instant, verdict: Verdict) {
        let r = &mut self.report;
        r.registered = verdict == Verdict::Registered;
        r.transport = if r.registered {
            r.attempts.last().map(|a| a.transport)
        } else {
            None
        };
        r.secure = r.transport.is_some_and(Transport::is_secure);
        r.downgraded = r.registered && !r.secure && r.order.iter().any(|t| t.is_secure());
        if r.downgraded {
            r.warnings.push(format!(
                "DOWNGRADE: TLS failed and the registration fell back to {}",
                r.transport.map_or("another transport", Transport::via_name)
            ));
        }
        r.expires = if r.registered {
            r.attempts.last().and_then(|a| a.expires)
        } else {
            None
        };
        r.registered_ms = match (r.registered, self.registered_at, self.start) {
            (true, Some(t), Some(s)) => Some(ms(t - s)),
            _ => None,
        };
        r.elapsed_ms = self.start.map_or(0.0, |s| ms(at - s));
        r.verdict = verdict.as_str();
        r.exit_code = verdict.exit_code();
    }
}

impl Collector {
    /// The inbound check: its hint, and an expectation failed (exit 5) when it did not arrive.
    fn inbound(&mut self, mut inbound: Inbound) {
        let attempt = self.report.attempts.last();
        let seen = attempt.and_then(|a| a.seen_as.clone());
        let local = attempt.and_then(|a| a.local.clone());
        inbound.hint = hint::inbound(
            &inbound,
            seen.as_deref(),
            local.as_deref(),
            self.context.has_password,
        );
        if !inbound.arrived {
            self.report.expectations_failed.push(format!(
                "--check-inbound: an OPTIONS to our AOR through the registrar did not reach us ({})",
                inbound.reason
            ));
        }
        self.report.inbound = Some(inbound);
    }

    fn run_started(&mut self, at: Instant, insecure: bool) {
        self.start = Some(at);
        self.report.insecure = insecure;
        if insecure {
            self.report
                .warnings
                .push("--insecure: the TLS server certificate is NOT verified".into());
        }
    }

    /// A timed phase ended; the phases are those of the attempt's first connection.
    fn phase(&mut self, phase: Phase, elapsed: std::time::Duration) {
        let took = Some(ms(elapsed));
        if let Some(a) = self.attempt().filter(|a| a.reconnects == 0) {
            match phase {
                Phase::Connect => a.phases.connect_ms = took,
                Phase::Tls => a.phases.tls_ms = took,
                Phase::Answer => {}
            }
        }
    }

    /// The attempt's flow is open (again, after a reconnect): our address and the TLS parameters.
    fn connected(&mut self, local: SocketAddr, tls: Option<&TlsParams>, reconnect: bool) {
        let client_cert = self.context.has_client_cert;
        if let Some(a) = self.attempt() {
            a.reconnects += u32::from(reconnect);
            a.local = Some(local.to_string());
            a.tls = tls.cloned().map(|p| TlsInfo {
                version: p.version,
                cipher: p.cipher,
                earliest_cert_expiry: p.earliest_cert_expiry,
                client_cert,
            });
        }
    }
}

/// A warning when the 2xx did not list our binding as we sent it (RFC 3261 §10.3).
fn binding_warning(b: &Binding, sent: &str) -> Option<String> {
    let stored = b.stored.as_deref().unwrap_or("");
    let text = match b.matched {
        BindingMatch::Exact if b.expires == Some(0) => {
            "the registrar listed our binding with expires=0 in its 2xx: it did not keep it".into()
        }
        BindingMatch::Exact => return None,
        BindingMatch::Received => format!(
            "the registrar stored our Contact as {stored}, the address it saw us as, not as we sent it ({sent}): it rewrites Contacts behind NAT (Kamailio's fix_nated_contact, Asterisk's rewrite_contact)"
        ),
        BindingMatch::Instance => format!(
            "the registrar stored our Contact as {stored}, not as we sent it ({sent}): it rewrites Contacts (a NAT fix such as Asterisk's rewrite_contact or Kamailio's fix_nated_contact); our binding was found by its +sip.instance"
        ),
        BindingMatch::OnlyContact => format!(
            "the registrar's answer lists one Contact, {stored}, which is not the one we sent ({sent}): taken as ours, as the registrar probably rewrote it"
        ),
        BindingMatch::ExpiresHeader | BindingMatch::None => {
            let lifetime = match b.expires {
                Some(s) => format!("the lifetime ({s} s) comes from its Expires header"),
                None => {
                    "it gives no Expires header either, so the granted lifetime is unknown".into()
                }
            };
            format!(
                "the registrar's 2xx lists no binding of ours ({} Contacts; RFC 3261 §10.3 says a 2xx lists every current binding): {lifetime}",
                b.listed
            )
        }
    };
    Some(text)
}

impl Sink for Collector {
    fn event(&mut self, e: &Stamped) {
        let at = e.at;
        match &e.event {
            Event::RunStarted { insecure, .. } => self.run_started(at, *insecure),
            Event::AttemptStarted {
                cycle, candidate, ..
            } => self.started(at, *cycle, candidate),
            Event::PhaseEnded { phase, elapsed, .. } => self.phase(*phase, *elapsed),
            Event::Connected { local, tls } => self.connected(*local, tls.as_ref(), false),
            Event::Reconnected { local, tls, .. } => self.connected(*local, tls.as_ref(), true),
            Event::RequestSent {
                purpose,
                retransmission,
                ..
            } => self.sent(at, *purpose, retransmission.is_some()),
            Event::ResponseReceived {
                purpose,
                status,
                from,
                ..
            } => {
                self.received(at, *purpose, *status);
                if let Some(from) = from {
                    self.answered_from(*from);
                }
            }
            Event::AttemptEnded(ended) => self.ended(at, ended),
            Event::Registered { .. } => self.registered_at = Some(at),
            Event::Unregistering => self.unregistering_at = Some(at),
            Event::Unregistered {
                done,
                status,
                reason,
                left,
            } => self.unregistered(at, *done, *status, reason, left),
            Event::Finished(verdict) => self.finished(at, *verdict),
            Event::InboundChecked {
                arrived,
                transport,
                same_flow,
                rtt,
                status,
                reason,
            } => self.inbound(Inbound {
                arrived: *arrived,
                transport: *transport,
                same_flow: *same_flow,
                rtt_ms: rtt.map(ms),
                status: *status,
                reason: reason.clone(),
                hint: None,
            }),
            _ => {}
        }
    }
}

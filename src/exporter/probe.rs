//! One `/probe` request: its checks (module, target, scrape timeout) before anything is sent, and the
//! registration itself, cut at the scrape deadline.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::{DEFAULT_TIMEOUT, Module};
use crate::config::Config;
use crate::event::Fanout;
use crate::http::Get;
use crate::net::resolve::Resolver;
use crate::observe::collect::Collector;
use crate::observe::narration::Narration;
use crate::observe::report::Report;
use crate::render::{self, Detail, Palette, prometheus};

/// The longest target accepted.
const MAX_TARGET: usize = 300;

/// A checked probe request.
#[derive(Debug)]
pub struct Request {
    /// The module.
    pub module: Module,
    /// The target as asked.
    pub target: String,
    /// The module's flags for the target.
    pub config: Config,
    /// When the probe must end, from its start.
    pub deadline: Duration,
    /// `debug=true`: answer with the human report.
    pub debug: bool,
}

/// A request refused before anything was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// HTTP status (400 or 403).
    pub status: u16,
    /// The reason label of `sipreg_exporter_probes_refused_total`.
    pub reason: &'static str,
    /// One line for the client.
    pub text: String,
}

fn refusal(status: u16, reason: &'static str, text: String) -> Refusal {
    Refusal {
        status,
        reason,
        text,
    }
}

impl Request {
    /// Checks a `/probe` request against the modules.
    ///
    /// # Errors
    /// A [`Refusal`]: 400 for an unknown module, a bad target or scrape timeout, 403 for a target a
    /// module may not probe.
    pub fn of(
        get: &Get,
        modules: &BTreeMap<String, Module>,
        offset: Duration,
    ) -> Result<Request, Refusal> {
        let module = module(get, modules)?;
        let target = target(get, module)?;
        let config = module
            .builder
            .clone()
            .server(target.clone())
            .build()
            .map_err(|e| config_refusal(module, &target, &e))?;
        Ok(Request {
            module: module.clone(),
            target,
            config,
            deadline: deadline(get.scrape_timeout.as_deref(), offset)?,
            debug: get.param("debug").is_some_and(|v| v == "true"),
        })
    }
}

/// A target the module's flags refuse is the client's error (400); a module that no longer builds
/// at all (an unreadable password or CA file) is the exporter's (500), logged, not shown.
fn config_refusal(module: &Module, target: &str, e: &crate::config::ConfigError) -> Refusal {
    let placeholder = module
        .targets
        .as_ref()
        .and_then(|t| t.first().cloned())
        .unwrap_or_else(|| "localhost".into());
    if module.builder.clone().server(placeholder).build().is_err() {
        tracing::warn!("module {}: {e}", module.name);
        return refusal(
            500,
            "config",
            format!(
                "module {} cannot be used now (a file it reads?): see the exporter's log",
                module.name
            ),
        );
    }
    refusal(400, "bad_target", format!("target {:?}: {e}", clip(target)))
}

fn module<'a>(get: &Get, modules: &'a BTreeMap<String, Module>) -> Result<&'a Module, Refusal> {
    let names = || modules.keys().cloned().collect::<Vec<_>>().join(", ");
    let Some(name) = get
        .param("module")
        .or_else(|| modules.contains_key("default").then_some("default"))
    else {
        return Err(refusal(
            400,
            "bad_request",
            format!("module is missing: add &module=NAME (modules: {})", names()),
        ));
    };
    modules.get(name).ok_or_else(|| {
        refusal(
            400,
            "unknown_module",
            format!("unknown module {:?} (modules: {})", clip(name), names()),
        )
    })
}

fn target(get: &Get, module: &Module) -> Result<String, Refusal> {
    let target = get.param("target").unwrap_or("").trim();
    if target.is_empty() {
        return Err(refusal(
            400,
            "bad_target",
            "target is missing: add ?target=HOST[:PORT]".into(),
        ));
    }
    if target.len() > MAX_TARGET || target.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(refusal(
            400,
            "bad_target",
            format!("target {:?} is not HOST[:PORT]", clip(target)),
        ));
    }
    if let Some(list) = &module.targets {
        if !list.iter().any(|t| t.eq_ignore_ascii_case(target)) {
            let why = if module.has_credentials {
                "a module with a password probes only its listed targets"
            } else {
                "the module lists its targets"
            };
            return Err(refusal(
                403,
                "target_not_allowed",
                format!(
                    "target {:?} is not in module {}'s targets: {why}; nothing was sent",
                    clip(target),
                    module.name
                ),
            ));
        }
    }
    Ok(target.to_string())
}

/// The first 60 characters, for echoing what a client sent.
fn clip(s: &str) -> String {
    s.chars().take(60).collect()
}

/// `X-Prometheus-Scrape-Timeout-Seconds` minus the offset, as blackbox_exporter does.
fn deadline(header: Option<&str>, offset: Duration) -> Result<Duration, Refusal> {
    let Some(text) = header else {
        return Ok(DEFAULT_TIMEOUT);
    };
    let seconds: f64 = text.trim().parse().map_err(|_| {
        refusal(
            400,
            "bad_request",
            format!(
                "X-Prometheus-Scrape-Timeout-Seconds {:?} is not a number",
                clip(text)
            ),
        )
    })?;
    let left = seconds - offset.as_secs_f64();
    if !left.is_finite() || left <= 0.0 {
        return Err(refusal(
            400,
            "bad_request",
            format!(
                "the scrape timeout {seconds} s leaves no time after the offset of {} s (--timeout-offset)",
                offset.as_secs_f64()
            ),
        ));
    }
    Ok(Duration::from_secs_f64(
        left.min(DEFAULT_TIMEOUT.as_secs_f64()),
    ))
}

/// A finished probe.
#[derive(Debug)]
pub struct Done {
    /// What happened.
    pub report: Report,
    /// The probe succeeded.
    pub success: bool,
    /// The probe's metrics page.
    pub metrics: String,
    /// The deadline ended it.
    pub cut_short: bool,
}

/// The collector of a probe, shared between the registration's task and the request that waits.
#[derive(Clone)]
struct Shared(Arc<Mutex<Collector>>);

impl crate::event::Sink for Shared {
    fn event(&mut self, e: &crate::event::Stamped) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .event(e);
    }
}

/// Runs the registration of `req` in a task of its own, which holds `slot` until it ends; answers
/// after `left` at the latest. At the deadline the task is stopped, unless a binding was made: then
/// it runs on in the background until the binding is removed (so does it when the client goes away).
/// With `capture`, its messages go to the exporter's HEP collector.
pub async fn run<G: Send + 'static>(
    req: &Request,
    left: Duration,
    slot: G,
    narrate: bool,
    mut capture: Option<crate::capture::Capture>,
) -> Done {
    let cfg = req.config.clone();
    let started = Instant::now();
    let shared = Shared(Arc::new(Mutex::new(Collector::new(&cfg))));
    let (ended, done) = tokio::sync::oneshot::channel();
    let mut sink = shared.clone();
    let task = tokio::spawn(async move {
        let _slot = slot;
        let resolver = Resolver::new(cfg.dns.clone());
        let mut narration = Narration::new(&cfg);
        let mut sinks: Vec<&mut dyn crate::event::Sink> = vec![&mut sink];
        if narrate {
            sinks.push(&mut narration);
        }
        if let Some(c) = capture.as_mut() {
            sinks.push(c);
        }
        let mut fan = Fanout(sinks);
        crate::session::with_agent(&cfg, &resolver, &mut fan, async |agent| agent.run().await)
            .await;
        let _ = ended.send(());
    });
    let mut guard = AbortUnlessBound {
        task: Some(task),
        shared: shared.clone(),
    };
    let finished = matches!(tokio::time::timeout(left, done).await, Ok(Ok(())));
    let collector = shared
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    guard.release();
    let mut report = collector.finish(&req.config);
    if !finished {
        cut_short(&mut report, left);
    }
    let took = started.elapsed().as_secs_f64();
    let expiry = report
        .attempts
        .iter()
        .filter_map(|a| a.tls.as_ref().and_then(|t| t.earliest_cert_expiry))
        .min();
    let metrics = prometheus::probe(&report, took, expiry);
    Done {
        success: finished && report.exit_code == crate::exit::OK,
        report,
        metrics,
        cut_short: !finished,
    }
}

/// Stops a probe's task when the probe ends early (deadline, or the client went away), unless it
/// holds a binding that it must still remove.
struct AbortUnlessBound {
    task: Option<tokio::task::JoinHandle<()>>,
    shared: Shared,
}

impl AbortUnlessBound {
    fn release(&mut self) {
        let Some(task) = self.task.take() else {
            return;
        };
        let bound = {
            let c = self.shared.0.lock().unwrap_or_else(PoisonError::into_inner);
            c.registered()
        };
        if !bound {
            task.abort();
        }
    }
}

impl Drop for AbortUnlessBound {
    fn drop(&mut self) {
        self.release();
    }
}

/// Marks a report whose run the deadline ended.
fn cut_short(report: &mut Report, deadline: Duration) {
    let why = format!(
        "the probe ran out of time: the scrape deadline of {} ended it (a binding made is still removed)",
        render::human_ms(crate::units::ms(deadline))
    );
    if let Some(a) = report
        .attempts
        .last_mut()
        .filter(|a| a.reason.is_empty() && a.outcome != crate::model::Outcome::Registered)
    {
        a.reason.clone_from(&why);
    }
    report.exit_code = crate::exit::UNREACHABLE;
    report.warnings.push(why);
}

/// The `debug=true` page: the module (no secrets), the human report and the metrics.
#[must_use]
pub fn debug_text(req: &Request, done: &Done) -> String {
    let shown = if req.module.shown.is_empty() {
        "(the defaults)".to_string()
    } else {
        req.module.shown.clone()
    };
    format!(
        "Module: {}\n{shown}\n\nTarget: {}\nDeadline: {}{}\n\n{}\nMetrics that would have been returned:\n{}",
        req.module.name,
        req.target,
        render::human_ms(crate::units::ms(req.deadline)),
        if done.cut_short { " (reached)" } else { "" },
        render::human(&done.report, Detail::Normal, &Palette::plain()),
        done.metrics
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modules() -> BTreeMap<String, Module> {
        let text = "[modules.open]\nudp = true\n[modules.alice]\nudp = true\npassword_env = \"PW\"\ntargets = [\"127.0.0.1:5060\"]\n";
        super::super::config::parse(text, |_| Some("pw".into())).unwrap()
    }

    fn get(query: &str, timeout: Option<&str>) -> Get {
        Get {
            path: "/probe".into(),
            query: crate::http::parse_query(query),
            scrape_timeout: timeout.map(str::to_string),
            is_get: true,
        }
    }

    fn refused(query: &str, timeout: Option<&str>) -> Refusal {
        Request::of(&get(query, timeout), &modules(), Duration::from_millis(500)).unwrap_err()
    }

    #[test]
    fn requests_are_checked_before_anything_is_sent() {
        let r = refused("target=127.0.0.1:5060&module=nope", None);
        assert_eq!((r.status, r.reason), (400, "unknown_module"));
        assert!(r.text.contains("alice, open"), "{}", r.text);
        let r = refused("module=open", None);
        assert_eq!((r.status, r.reason), (400, "bad_target"));
        let r = refused("target=10.0.0.9:5060&module=alice", None);
        assert_eq!((r.status, r.reason), (403, "target_not_allowed"));
        assert!(r.text.contains("nothing was sent"), "{}", r.text);
        let r = refused("target=a%20b&module=open", None);
        assert_eq!(r.status, 400);
        let r = refused("target=host:99999&module=open", None);
        assert_eq!((r.status, r.reason), (400, "bad_target"));
        let r = refused("target=h&module=open", Some("0.4"));
        assert_eq!((r.status, r.reason), (400, "bad_request"));
        let r = refused("target=h&module=open", Some("soon"));
        assert_eq!(r.status, 400);
        let r = refused("target=h", None);
        assert!(r.text.contains("module is missing"), "{}", r.text);
    }

    #[test]
    fn the_deadline_is_the_scrape_timeout_less_the_offset() {
        let ok = |q: &str, t: Option<&str>| {
            Request::of(&get(q, t), &modules(), Duration::from_millis(500)).unwrap()
        };
        assert_eq!(
            ok("target=h&module=open", Some("10")).deadline,
            Duration::from_millis(9500)
        );
        assert_eq!(ok("target=h&module=open", None).deadline, DEFAULT_TIMEOUT);
        let listed = ok("target=127.0.0.1:5060&module=alice&debug=true", Some("2.5"));
        assert_eq!(listed.deadline, Duration::from_secs(2));
        assert!(listed.debug);
    }
}

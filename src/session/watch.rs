//! `sipreg watch` with real sockets: the agent's watch, the event lines, the tally and the
//! narration wired together.

use tokio::sync::watch::Receiver;

use crate::config::Config;
use crate::event::Fanout;
use crate::net::resolve::Resolver;
use crate::observe::narration::Narration;
use crate::observe::tally::{Tally, WatchSummary};
use crate::render::events::EventLines;
use crate::ua::watch::WatchSettings;

/// The `/metrics` page of `watch --metrics-listen` (404 elsewhere).
#[must_use]
pub fn metrics_page(
    get: &crate::http::Get,
    shared: &crate::observe::tally::Shared,
) -> crate::http::Reply {
    use crate::http::{PROMETHEUS_TEXT, Reply};
    if get.path != "/metrics" {
        return Reply::error(404, "not found: try /metrics");
    }
    let (summary, live) = shared.read(tokio::time::Instant::now().into_std());
    Reply::ok(
        PROMETHEUS_TEXT,
        crate::render::prometheus::watch(&summary, &live),
    )
}

/// Watches the registration of `cfg` until the duration ends or `stop` counts a signal, printing
/// events as they happen (JSON lines with `json`) and feeding `status` (the live line); returns the
/// summary.
pub async fn watch(
    cfg: &Config,
    settings: &WatchSettings,
    stop: Receiver<u32>,
    json: bool,
    status: &mut dyn crate::event::Sink,
) -> WatchSummary {
    let resolver = Resolver::new(cfg.dns.clone());
    let mut lines = EventLines::new(json);
    let mut tally = Tally::default();
    let mut narration = Narration::new(cfg);
    {
        // The live line first: it clears itself before an event line is printed.
        let mut sinks = Fanout(vec![status, &mut lines, &mut tally, &mut narration]);
        super::with_agent(cfg, &resolver, &mut sinks, async |agent| {
            agent.watch(settings, stop).await
        })
        .await;
    }
    tally.summary(tokio::time::Instant::now().into_std())
}

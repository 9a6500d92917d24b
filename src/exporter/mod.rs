//! `sipreg exporter`: a Prometheus probe exporter modelled on blackbox_exporter. `GET /probe?target=…
//! &module=…` runs one registration and answers with `probe_*` metrics; `/metrics` has the exporter's
//! own. Modules with credentials probe only their listed targets; probes at once are bounded.

pub mod config;
pub mod probe;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Semaphore;

pub use self::config::Module;
use crate::http::{Get, PROMETHEUS_TEXT, Reply, TEXT};
use crate::render::prometheus::{self, ExporterStats};

/// Without `X-Prometheus-Scrape-Timeout-Seconds`, a probe may take this long (as blackbox).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// The exporter's settings and state, shared by every request.
#[derive(Debug)]
pub struct Exporter {
    modules: BTreeMap<String, Module>,
    slots: Semaphore,
    offset: Duration,
    stats: Mutex<ExporterStats>,
}

impl Exporter {
    /// An exporter for these modules, running at most `max_concurrent` probes at once and ending each
    /// probe `offset` before Prometheus's scrape timeout.
    #[must_use]
    pub fn new(modules: BTreeMap<String, Module>, max_concurrent: usize, offset: Duration) -> Self {
        let stats = ExporterStats {
            max_concurrent,
            modules: modules.len(),
            start_time: unix_now(),
            ..ExporterStats::default()
        };
        Exporter {
            modules,
            slots: Semaphore::new(max_concurrent),
            offset,
            stats: Mutex::new(stats),
        }
    }

    /// Answers one request.
    pub async fn handle(self: Arc<Self>, get: Get) -> Reply {
        if !get.is_get {
            return Reply::error(405, "only GET is served");
        }
        match get.path.as_str() {
            "/probe" => self.probe(&get).await,
            "/metrics" => Reply::ok(PROMETHEUS_TEXT, self.metrics()),
            "/-/healthy" => Reply::ok(TEXT, "Healthy\n".into()),
            "/" => Reply::ok(TEXT, self.index()),
            _ => Reply::error(
                404,
                "not found: try /probe?target=HOST:PORT&module=NAME or /metrics",
            ),
        }
    }

    fn index(&self) -> String {
        let names: Vec<&str> = self.modules.keys().map(String::as_str).collect();
        format!(
            "sipreg exporter\n\n/probe?target=HOST[:PORT]&module=NAME[&debug=true]  one registration, as Prometheus metrics\n/metrics  the exporter's own metrics\n\nmodules: {}\n",
            names.join(", ")
        )
    }

    fn metrics(&self) -> String {
        let mut stats = self.stats().clone();
        stats.rss_bytes = rss_bytes();
        prometheus::exporter(&stats)
    }

    fn stats(&self) -> std::sync::MutexGuard<'_, ExporterStats> {
        self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn refuse(&self, status: u16, reason: &'static str, text: &str) -> Reply {
        tracing::info!("probe refused ({status}): {text}");
        *self.stats().refused.entry(reason).or_default() += 1;
        Reply::error(status, text)
    }

    async fn probe(&self, get: &Get) -> Reply {
        let request = match probe::Request::of(get, &self.modules, self.offset) {
            Ok(r) => r,
            Err(refusal) => return self.refuse(refusal.status, refusal.reason, &refusal.text),
        };
        let Ok(permit) = tokio::time::timeout(request.deadline, self.slots.acquire()).await else {
            return self.refuse(
                503,
                "busy",
                &format!(
                    "{} probes are running (--max-concurrent) and none ended within the scrape timeout",
                    self.stats().max_concurrent
                ),
            );
        };
        self.stats().in_flight += 1;
        let done = probe::run(&request).await;
        drop(permit);
        tracing::info!(
            "probe module={} target={} success={} took={}",
            request.module.name,
            request.target,
            u8::from(done.success),
            crate::render::human_ms(done.report.elapsed_ms)
        );
        {
            let mut stats = self.stats();
            stats.in_flight -= 1;
            let result = if done.success { "success" } else { "failure" };
            *stats
                .probes
                .entry((request.module.name.clone(), result))
                .or_default() += 1;
        }
        if request.debug {
            Reply::ok(TEXT, probe::debug_text(&request, &done))
        } else {
            Reply::ok(PROMETHEUS_TEXT, done.metrics)
        }
    }
}

/// Serves the exporter on `listener` until the task ends.
pub async fn serve(listener: tokio::net::TcpListener, exporter: Arc<Exporter>) {
    crate::http::serve(listener, move |get| exporter.clone().handle(get)).await;
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Resident memory from `/proc/self/status` (Linux); `None` elsewhere.
fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

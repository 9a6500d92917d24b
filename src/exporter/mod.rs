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
    slots: Arc<Semaphore>,
    offset: Duration,
    stats: Mutex<ExporterStats>,
    /// `-vv`: narrate each probe's SIP exchange.
    narrate: bool,
    /// The HTTP server's own figures.
    http: Arc<crate::http::HttpStats>,
    /// `--hep`: every probe's messages to a Homer collector.
    capture: Option<crate::capture::Capture>,
}

/// A probe running: counted in `sipreg_exporter_probes_in_flight` until its task ends.
struct InFlight(Arc<Exporter>);

impl InFlight {
    fn new(exporter: Arc<Exporter>) -> InFlight {
        exporter.stats().in_flight += 1;
        InFlight(exporter)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut stats = self.0.stats();
        stats.in_flight = stats.in_flight.saturating_sub(1);
    }
}

/// A probe's count in `sipreg_exporter_probes_total`: a failure unless it answered with success,
/// also when the client went away before the answer.
struct Tally {
    exporter: Arc<Exporter>,
    module: String,
    success: bool,
}

impl Drop for Tally {
    fn drop(&mut self) {
        let result = if self.success { "success" } else { "failure" };
        *self
            .exporter
            .stats()
            .probes
            .entry((std::mem::take(&mut self.module), result))
            .or_default() += 1;
    }
}

impl Exporter {
    /// An exporter for these modules, running at most `max_concurrent` probes at once and ending each
    /// probe `offset` before Prometheus's scrape timeout.
    #[must_use]
    pub fn new(
        modules: BTreeMap<String, Module>,
        max_concurrent: usize,
        offset: Duration,
        narrate: bool,
    ) -> Self {
        Exporter::with_capture(modules, max_concurrent, offset, narrate, None)
    }

    /// As [`Exporter::new`], with every probe's SIP messages captured into `capture` (`--hep`).
    #[must_use]
    pub fn with_capture(
        modules: BTreeMap<String, Module>,
        max_concurrent: usize,
        offset: Duration,
        narrate: bool,
        capture: Option<crate::capture::Capture>,
    ) -> Self {
        let stats = ExporterStats {
            max_concurrent,
            modules: modules.len(),
            start_time: unix_now(),
            ..ExporterStats::default()
        };
        Exporter {
            modules,
            slots: Arc::new(Semaphore::new(max_concurrent)),
            offset,
            stats: Mutex::new(stats),
            narrate,
            http: Arc::default(),
            capture,
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
        stats.open_fds = open_fds();
        stats.http = self.http.figures();
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

    async fn probe(self: Arc<Self>, get: &Get) -> Reply {
        let arrived = std::time::Instant::now();
        let request = match probe::Request::of(get, &self.modules, self.offset) {
            Ok(r) => r,
            Err(refusal) => return self.refuse(refusal.status, refusal.reason, &refusal.text),
        };
        let slot = self.slots.clone().acquire_owned();
        let Ok(Ok(slot)) = tokio::time::timeout(request.deadline, slot).await else {
            return self.refuse(
                503,
                "busy",
                &format!(
                    "{} probes are running (--max-concurrent) and none ended within the scrape timeout",
                    self.stats().max_concurrent
                ),
            );
        };
        // The wait for a slot counts against the scrape deadline.
        let left = request.deadline.saturating_sub(arrived.elapsed());
        let mut tally = Tally {
            exporter: self.clone(),
            module: request.module.name.clone(),
            success: false,
        };
        let busy = (slot, InFlight::new(self.clone()));
        let tap = self.capture.as_ref().map(crate::capture::Capture::tap);
        let done = probe::run(&request, left, busy, self.narrate, tap).await;
        tally.success = done.success;
        drop(tally);
        tracing::info!(
            "probe module={} target={} success={} took={}",
            request.module.name,
            request.target,
            u8::from(done.success),
            crate::render::human_ms(done.report.elapsed_ms)
        );
        if request.debug {
            Reply::ok(TEXT, probe::debug_text(&request, &done))
        } else {
            Reply::ok(PROMETHEUS_TEXT, done.metrics)
        }
    }
}

/// Serves the exporter on `listener` until the task ends.
pub async fn serve(listener: tokio::net::TcpListener, exporter: Arc<Exporter>) {
    let stats = exporter.http.clone();
    crate::http::serve(listener, stats, move |get| exporter.clone().handle(get)).await;
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

/// Open file descriptors, from `/proc/self/fd` (Linux); `None` elsewhere.
fn open_fds() -> Option<u64> {
    let entries = std::fs::read_dir("/proc/self/fd").ok()?;
    Some(entries.count() as u64)
}

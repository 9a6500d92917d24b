//! The Prometheus text format (version 0.0.4): a probe's report as blackbox-style `probe_*` metrics,
//! the exporter's own metrics, and a held registration's `sipreg_*` metrics.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::model::Transport;
use crate::observe::report::{Attempt, Report};
use crate::observe::tally::{Live, WatchSummary};

/// A metrics page being written: `# HELP`, `# TYPE` and samples.
#[derive(Debug, Default)]
pub struct Page(String);

impl Page {
    /// Starts a metric family.
    pub fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    /// One sample.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"{}\"", escape_label(v));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {}", number(value));
    }

    /// A family with one unlabelled sample.
    pub fn single(&mut self, name: &str, kind: &str, help: &str, value: f64) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }

    /// The page's text.
    #[must_use]
    pub fn finish(self) -> String {
        self.0
    }
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

const TRANSPORTS: [Transport; 3] = [Transport::Udp, Transport::Tcp, Transport::Tls];
/// A WebSocket probe's series instead of the phone's.
const WEBSOCKETS: [Transport; 2] = [Transport::Ws, Transport::Wss];

fn label(t: Transport) -> &'static str {
    match t {
        Transport::Udp => "udp",
        Transport::Tcp => "tcp",
        Transport::Tls => "tls",
        Transport::Ws => "ws",
        Transport::Wss => "wss",
    }
}

/// The attempt the phase metrics describe: the one that registered, else the last one.
fn main_attempt(r: &Report) -> Option<&Attempt> {
    r.attempts
        .iter()
        .rev()
        .find(|a| a.status.is_some_and(|s| (200..300).contains(&s)))
        .or_else(|| r.attempts.last())
}

/// The metrics of one probe, as blackbox_exporter names them where it has a name for them.
#[must_use]
pub fn probe(r: &Report, duration_s: f64, earliest_cert_expiry: Option<i64>) -> String {
    let mut p = Page::default();
    p.single(
        "probe_success",
        "gauge",
        "Whether the registration succeeded and met its expectations (1) or not (0).",
        flag(r.exit_code == crate::exit::OK),
    );
    p.single(
        "probe_duration_seconds",
        "gauge",
        "How long the probe took, removal of the binding included.",
        duration_s,
    );
    phases(&mut p, main_attempt(r));
    p.single(
        "probe_sip_status_code",
        "gauge",
        "The final SIP status of the attempt that registered (else of the last attempt); 0 without one.",
        main_attempt(r).and_then(|a| a.status).map_or(0.0, f64::from),
    );
    p.family(
        "probe_sip_transport",
        "gauge",
        "The transport that registered (1), one series per transport.",
    );
    let websocket = r.attempts.iter().any(|a| a.transport.is_websocket());
    let series: &[Transport] = if websocket { &WEBSOCKETS } else { &TRANSPORTS };
    for &t in series {
        p.sample(
            "probe_sip_transport",
            &[("transport", label(t))],
            flag(r.transport == Some(t)),
        );
    }
    p.single(
        "probe_sip_downgraded",
        "gauge",
        "Registered over a weaker transport after TLS failed.",
        flag(r.downgraded),
    );
    p.single(
        "probe_sip_expiry_seconds",
        "gauge",
        "The registration lifetime the registrar granted; 0 when not registered.",
        r.expires.map_or(0.0, f64::from),
    );
    attempts(&mut p, r);
    extras(&mut p, r, earliest_cert_expiry);
    p.finish()
}

fn phases(p: &mut Page, a: Option<&Attempt>) {
    p.family(
        "probe_sip_phase_duration_seconds",
        "gauge",
        "Duration of each phase of the attempt that registered (else of the last attempt); 0 when it did not happen.",
    );
    let ph = a.map(|a| a.phases.clone()).unwrap_or_default();
    for (name, ms) in ph.named() {
        p.sample(
            "probe_sip_phase_duration_seconds",
            &[("phase", name)],
            ms.unwrap_or(0.0) / 1000.0,
        );
    }
}

fn attempts(p: &mut Page, r: &Report) {
    let mut counts: BTreeMap<(&str, &str), u32> = BTreeMap::new();
    for a in &r.attempts {
        *counts
            .entry((label(a.transport), a.outcome.as_str()))
            .or_default() += 1;
    }
    p.family(
        "probe_sip_attempts",
        "gauge",
        "Attempts in this probe, by transport and outcome.",
    );
    for ((t, o), n) in counts {
        p.sample(
            "probe_sip_attempts",
            &[("transport", t), ("outcome", o)],
            f64::from(n),
        );
    }
    let sum = |f: fn(&Attempt) -> u32| r.attempts.iter().map(|a| f64::from(f(a))).sum::<f64>();
    p.single(
        "probe_sip_requests",
        "gauge",
        "REGISTER requests sent (challenges and 423 answers add one each).",
        sum(|a| a.requests),
    );
    p.single(
        "probe_sip_retransmissions",
        "gauge",
        "UDP retransmissions (Timer E) needed.",
        sum(|a| a.retransmissions),
    );
}

fn extras(p: &mut Page, r: &Report, earliest_cert_expiry: Option<i64>) {
    if let Some(tls) = main_attempt(r).and_then(|a| a.tls.as_ref()) {
        p.family(
            "probe_tls_version_info",
            "gauge",
            "The TLS version negotiated.",
        );
        p.sample("probe_tls_version_info", &[("version", &tls.version)], 1.0);
    }
    if let Some(at) = earliest_cert_expiry {
        #[allow(clippy::cast_precision_loss)]
        p.single(
            "probe_ssl_earliest_cert_expiry",
            "gauge",
            "Returns last SSL chain expiry in unixtime.",
            at as f64,
        );
    }
    if let Some(inbound) = &r.inbound {
        p.single(
            "probe_sip_inbound_success",
            "gauge",
            "The OPTIONS sent to our own address of record through the registrar reached us.",
            flag(inbound.arrived),
        );
    }
    if let Some(u) = &r.unregister {
        p.single(
            "probe_sip_unregistered",
            "gauge",
            "The registrar confirmed the removal of the probe's binding.",
            flag(u.done),
        );
    }
    p.single(
        "probe_sip_expectations_failed",
        "gauge",
        "Expectations (expect_transport, max_time, check_inbound) that failed.",
        r.expectations_failed.len() as f64,
    );
}

/// The exporter's own counters.
#[derive(Debug, Clone, Default)]
pub struct ExporterStats {
    /// Probes run, by module and result (`success`, `failure`).
    pub probes: BTreeMap<(String, &'static str), u64>,
    /// Probes refused before anything was sent, by reason.
    pub refused: BTreeMap<&'static str, u64>,
    /// Probes running now.
    pub in_flight: usize,
    /// The bound on probes at once.
    pub max_concurrent: usize,
    /// Modules in the config.
    pub modules: usize,
    /// Resident memory, bytes, where the system tells.
    pub rss_bytes: Option<u64>,
    /// Process start, Unix seconds.
    pub start_time: f64,
    /// Open file descriptors, where the system tells.
    pub open_fds: Option<u64>,
    /// The HTTP server's connections.
    pub http: crate::http::HttpFigures,
}

/// The exporter's `/metrics` page.
#[must_use]
pub fn exporter(s: &ExporterStats) -> String {
    let mut p = Page::default();
    p.family(
        "sipreg_exporter_build_info",
        "gauge",
        "The sipreg version running the exporter.",
    );
    p.sample(
        "sipreg_exporter_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1.0,
    );
    p.family(
        "sipreg_exporter_probes_total",
        "counter",
        "Probes run, by module and result.",
    );
    for ((module, result), n) in &s.probes {
        p.sample(
            "sipreg_exporter_probes_total",
            &[("module", module), ("result", result)],
            *n as f64,
        );
    }
    p.family(
        "sipreg_exporter_probes_refused_total",
        "counter",
        "Probe requests refused before anything was sent, by reason.",
    );
    for (reason, n) in &s.refused {
        p.sample(
            "sipreg_exporter_probes_refused_total",
            &[("reason", reason)],
            *n as f64,
        );
    }
    p.single(
        "sipreg_exporter_probes_in_flight",
        "gauge",
        "Probes running now.",
        s.in_flight as f64,
    );
    p.single(
        "sipreg_exporter_max_concurrent_probes",
        "gauge",
        "The bound on probes at once (--max-concurrent).",
        s.max_concurrent as f64,
    );
    p.single(
        "sipreg_exporter_modules",
        "gauge",
        "Modules in the config file.",
        s.modules as f64,
    );
    http(&mut p, &s.http);
    process(&mut p, s);
    p.finish()
}

/// The HTTP server's connections: accepted, open, answered, and closed unanswered by reason.
fn http(p: &mut Page, h: &crate::http::HttpFigures) {
    p.single(
        "sipreg_exporter_http_connections_total",
        "counter",
        "HTTP connections accepted.",
        h.accepted as f64,
    );
    p.single(
        "sipreg_exporter_http_connections_open",
        "gauge",
        "HTTP connections open now.",
        h.open as f64,
    );
    p.single(
        "sipreg_exporter_http_requests_total",
        "counter",
        "HTTP requests answered.",
        h.requests as f64,
    );
    p.family(
        "sipreg_exporter_http_connections_refused_total",
        "counter",
        "HTTP connections closed unanswered: no whole head within the deadline (head_timeout), closed to make room (evicted), a head too large (head_too_large), not HTTP (bad_request), a request body (body), an answer not taken (write_timeout).",
    );
    for (reason, n) in &h.refused {
        p.sample(
            "sipreg_exporter_http_connections_refused_total",
            &[("reason", reason)],
            *n as f64,
        );
    }
}

fn process(p: &mut Page, s: &ExporterStats) {
    if let Some(rss) = s.rss_bytes {
        p.single(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            rss as f64,
        );
    }
    if let Some(fds) = s.open_fds {
        p.single(
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            fds as f64,
        );
    }
    p.single(
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since unix epoch in seconds.",
        s.start_time,
    );
}

/// One module as `--check-config` lists it: name, its targets (`None`: any), a password or not.
pub type ModuleRow<'a> = (&'a str, Option<&'a [String]>, bool);

/// `sipreg exporter --check-config`: the modules and what they may probe.
#[must_use]
pub fn modules(rows: &[ModuleRow<'_>]) -> String {
    let mut out = format!("config OK: {} modules\n", rows.len());
    for (name, targets, password) in rows {
        let targets = targets.map_or_else(|| "any target".to_string(), |t| t.join(", "));
        let creds = if *password { ", with a password" } else { "" };
        let _ = writeln!(out, "  {name}: {targets}{creds}");
    }
    out
}

/// The `/metrics` page of `sipreg watch --metrics-listen`.
#[must_use]
pub fn watch(s: &WatchSummary, live: &Live) -> String {
    let mut p = Page::default();
    p.single(
        "sipreg_registered",
        "gauge",
        "Whether the binding is registered now (1) or not (0).",
        flag(live.registered),
    );
    p.single(
        "sipreg_seconds_since_last_registration",
        "gauge",
        "Seconds since the last successful REGISTER (first, refresh or recovery); since the watch began when none succeeded yet.",
        live.since_success_s,
    );
    let counters = [
        (
            "sipreg_drops_total",
            "Registrations lost after having been registered.",
            s.drops,
        ),
        (
            "sipreg_refreshes_total",
            "Successful refreshes.",
            s.refreshes,
        ),
        (
            "sipreg_refresh_failures_total",
            "Failed refreshes.",
            s.refresh_failures,
        ),
        ("sipreg_keepalives_total", "Keep-alives sent.", s.keepalives),
        (
            "sipreg_keepalives_missed_total",
            "Keep-alives whose pong did not come.",
            s.keepalives_missed,
        ),
        (
            "sipreg_requests_received_total",
            "Requests the network sent us.",
            s.requests_received,
        ),
        (
            "sipreg_inbound_checks_total",
            "Inbound checks made (--check-inbound).",
            s.inbound_checks,
        ),
        (
            "sipreg_inbound_failures_total",
            "Inbound checks that did not reach us.",
            s.inbound_failures,
        ),
    ];
    for (name, help, n) in counters {
        p.single(name, "counter", help, f64::from(n));
    }
    if let Some(rtt) = live.last_rtt_ms {
        p.single(
            "sipreg_keepalive_rtt_seconds",
            "gauge",
            "Round trip of the last answered keep-alive (RFC 5626 §4.4.1 ping and pong).",
            rtt / 1000.0,
        );
    }
    p.single(
        "sipreg_registered_ratio",
        "gauge",
        "Share of the watch spent registered, from the first registration on (0 to 1).",
        s.registered_pct / 100.0,
    );
    p.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_escape_labels_and_format_numbers() {
        let mut p = Page::default();
        p.family("m", "gauge", "Help with \\ and\nnewline.");
        p.sample("m", &[("a", "x\"y\\z\nw"), ("b", "2")], 0.25);
        p.sample("m", &[], f64::NAN);
        p.sample("m", &[], 3.0);
        assert_eq!(
            p.finish(),
            "# HELP m Help with \\\\ and\\nnewline.\n# TYPE m gauge\nm{a=\"x\\\"y\\\\z\\nw\",b=\"2\"} 0.25\nm NaN\nm 3\n"
        );
    }
}

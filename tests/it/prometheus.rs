//! A real Prometheus (Debian's package) scraping the real exporter with blackbox_exporter's
//! relabelling, from the config and alert rules docs/monitoring.md shows (fixtures/monitoring).

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::http::{exporter, get, prometheus_tool, try_get};
use crate::common::*;
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/monitoring");

/// A Prometheus server, killed on drop.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The prometheus.yml of docs/monitoring.md with our exporter, targets and a one-second rhythm.
fn config(exporter: SocketAddr, targets: &[String]) -> String {
    let text = std::fs::read_to_string(Path::new(FIXTURES).join("prometheus.yml")).unwrap();
    let list = targets
        .iter()
        .map(|t| format!("\"{t}\""))
        .collect::<Vec<_>>()
        .join(", ");
    text.replace("127.0.0.1:9116", &exporter.to_string())
        .replace("[\"pbx.example.com:5060\"]", &format!("[{list}]"))
        .replace("scrape_interval: 60s", "scrape_interval: 1s")
        .replace("scrape_timeout: 10s", "scrape_timeout: 1s")
        .replace("evaluation_interval: 60s", "evaluation_interval: 1s")
}

fn start(dir: &Path, binary: &Path, yml: &str) -> Prometheus {
    std::fs::write(dir.join("prometheus.yml"), yml).unwrap();
    std::fs::copy(
        Path::new(FIXTURES).join("sipreg.rules.yml"),
        dir.join("sipreg.rules.yml"),
    )
    .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let child = Command::new(binary)
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus runs");
    Prometheus { child, addr }
}

/// `/api/v1/query` results as (instance, value) pairs.
fn query(p: &Prometheus, promql: &str) -> Vec<(String, String)> {
    let encoded: String = promql
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let Ok(a) = try_get(p.addr, &format!("/api/v1/query?query={encoded}"), &[]) else {
        return Vec::new();
    };
    let Ok(v) = serde_json::from_str::<Value>(&a.body) else {
        return Vec::new();
    };
    v["data"]["result"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| {
                    let instance = r["metric"]["instance"].as_str().unwrap_or("").to_string();
                    (instance, r["value"][1].as_str().unwrap_or("").to_string())
                })
                .collect()
        })
        .unwrap_or_default()
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !ready() {
        assert!(Instant::now() < deadline, "Prometheus never showed {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn prometheus_scrapes_probes_through_the_blackbox_relabelling() {
    let Some(binary) = prometheus_tool("prometheus") else {
        return;
    };
    let reg = registrar(Options::default());
    let dead = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let good = reg.sip_addr.to_string();
    let dead = dead.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let e = exporter(
        dir.path(),
        "[modules.udp]\nudp = true\nt1 = \"50ms\"\n",
        &[],
    );
    let p = start(
        dir.path(),
        &binary,
        &config(e.addr, &[good.clone(), dead.clone()]),
    );

    wait_for("probe_success for both targets", || {
        query(&p, "probe_success").len() == 2
    });
    let mut results = query(&p, "probe_success");
    results.sort();
    let mut expected = vec![
        (good.clone(), "1".to_string()),
        (dead.clone(), "0".to_string()),
    ];
    expected.sort();
    assert_eq!(results, expected);
    let registered = query(&p, "probe_sip_transport{transport=\"udp\"} == 1");
    assert_eq!(registered, [(good.clone(), "1".to_string())]);
    wait_for("the exporter's own metrics", || {
        !query(&p, "sipreg_exporter_probes_total{result=\"failure\"}").is_empty()
    });
    // The alert rule of docs/monitoring.md: pending for the dead target only (its `for` is 5 minutes).
    wait_for("the alert rule pending", || {
        let alerts = try_get(p.addr, "/api/v1/alerts", &[])
            .map(|a| a.body)
            .unwrap_or_default();
        alerts.contains("SipRegistrationFailing") && alerts.contains("pending")
    });
    let alerts: Value = serde_json::from_str(&get(p.addr, "/api/v1/alerts", &[]).body).unwrap();
    let instances: Vec<&str> = alerts["data"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["labels"]["alertname"] == "SipRegistrationFailing")
        .filter_map(|a| a["labels"]["instance"].as_str())
        .collect();
    assert_eq!(instances, [dead.as_str()]);
}

#[test]
fn the_docs_show_the_monitoring_files_and_promtool_accepts_them() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/monitoring.md"))
            .unwrap();
    for name in ["sipreg-exporter.toml", "prometheus.yml", "sipreg.rules.yml"] {
        let text = std::fs::read_to_string(Path::new(FIXTURES).join(name)).unwrap();
        assert!(
            readme.contains(&text),
            "docs/monitoring.md does not show fixtures/monitoring/{name} as it is"
        );
    }
    let Some(promtool) = prometheus_tool("promtool") else {
        return;
    };
    let out = Command::new(promtool)
        .args(["check", "config"])
        .arg(Path::new(FIXTURES).join("prometheus.yml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The example modules parse (their password file does not exist here: only that is refused).
    let checked = run(&[
        "exporter",
        "--check-config",
        "--listen",
        "127.0.0.1:0",
        "--config",
        &format!("{FIXTURES}/sipreg-exporter.toml"),
    ]);
    assert!(
        checked.stderr.contains("module tls_alice") && checked.stderr.contains("alice.pw"),
        "{}",
        checked.stderr
    );
}

//! `sipreg exporter` and `watch --metrics-listen` with the real binary: probes as Prometheus metrics,
//! modules bound to their targets, secrets kept, the scrape deadline, the bound on probes at once, and
//! promtool on every page.

use std::time::{Duration, Instant};

use crate::common::http::{Served, exporter, get, promtool_check, sample};
use crate::common::*;

/// A UDP port where nothing listens: ICMP port unreachable at once.
fn closed_udp_port() -> String {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    format!("127.0.0.1:{}", s.local_addr().unwrap().port())
}

fn probe(e: &Served, query: &str) -> crate::common::http::Answer {
    get(e.addr, &format!("/probe?{query}"), &[])
}

fn assert_clean(page: &str) {
    if let Some(said) = promtool_check(page) {
        assert!(said.is_empty(), "promtool check metrics:\n{said}\n{page}");
    }
}

const UDP_MODULE: &str = "[modules.udp]\nudp = true\nt1 = \"50ms\"\ntimeout = \"2s\"\n";

#[test]
fn a_probe_answers_with_blackbox_style_metrics() {
    let reg = registrar(Options::default());
    let dir = tempfile::tempdir().unwrap();
    let e = exporter(dir.path(), UDP_MODULE, &[]);
    let good = probe(&e, &format!("target={}&module=udp", reg.sip_addr));
    assert_eq!(good.status, 200, "{}", good.body);
    assert!(
        good.content_type.starts_with("text/plain; version=0.0.4"),
        "{}",
        good.content_type
    );
    let page = &good.body;
    assert_eq!(sample(page, "probe_success"), Some(1.0), "{page}");
    assert_eq!(sample(page, "probe_sip_status_code"), Some(200.0), "{page}");
    assert_eq!(
        sample(page, "probe_sip_transport{transport=\"udp\"}"),
        Some(1.0),
        "{page}"
    );
    assert_eq!(
        sample(page, "probe_sip_transport{transport=\"tcp\"}"),
        Some(0.0),
        "{page}"
    );
    assert_eq!(
        sample(page, "probe_sip_expiry_seconds"),
        Some(3600.0),
        "{page}"
    );
    assert_eq!(sample(page, "probe_sip_downgraded"), Some(0.0), "{page}");
    assert_eq!(sample(page, "probe_sip_unregistered"), Some(1.0), "{page}");
    assert_eq!(
        sample(
            page,
            "probe_sip_attempts{transport=\"udp\",outcome=\"registered\"}"
        ),
        Some(1.0),
        "{page}"
    );
    let took = sample(page, "probe_duration_seconds").unwrap_or(-1.0);
    assert!(took > 0.0 && took < 5.0, "{page}");
    let answer = sample(page, "probe_sip_phase_duration_seconds{phase=\"final\"}").unwrap_or(-1.0);
    assert!(answer > 0.0 && answer <= took, "{page}");
    assert_clean(page);
    // The registration removed its binding: REGISTER, then REGISTER with Expires 0.
    let seen = reg.seen();
    assert_eq!(seen.last().and_then(|s| s.expires), Some(0), "{seen:?}");

    let dead = probe(&e, &format!("target={}&module=udp", closed_udp_port()));
    assert_eq!(dead.status, 200, "{}", dead.body);
    assert_eq!(
        sample(&dead.body, "probe_success"),
        Some(0.0),
        "{}",
        dead.body
    );
    assert_eq!(
        sample(
            &dead.body,
            "probe_sip_attempts{transport=\"udp\",outcome=\"unreachable\"}"
        ),
        Some(1.0),
        "{}",
        dead.body
    );
    assert_clean(&dead.body);

    let own = get(e.addr, "/metrics", &[]);
    assert_eq!(own.status, 200);
    let ok = "sipreg_exporter_probes_total{module=\"udp\",result=\"success\"}";
    let failed = "sipreg_exporter_probes_total{module=\"udp\",result=\"failure\"}";
    assert_eq!(sample(&own.body, ok), Some(1.0), "{}", own.body);
    assert_eq!(sample(&own.body, failed), Some(1.0), "{}", own.body);
    assert_clean(&own.body);

    let debug = probe(
        &e,
        &format!("target={}&module=udp&debug=true", reg.sip_addr),
    );
    assert_eq!(debug.status, 200);
    assert!(debug.body.contains("Module: udp"), "{}", debug.body);
    assert!(debug.body.contains("registered over UDP"), "{}", debug.body);
    assert!(debug.body.contains("probe_success 1"), "{}", debug.body);
    assert_eq!(
        reg.bindings(),
        Vec::<String>::new(),
        "every probe removed its binding"
    );
}

#[test]
fn a_module_with_a_password_probes_only_its_targets_and_never_shows_the_password() {
    let password = "s3cret-Pa55";
    let reg = registrar(Options {
        behaviour: Behaviour::Challenge {
            user: "alice".into(),
            password: password.into(),
        },
        ..Options::default()
    });
    let other = registrar(Options {
        behaviour: Behaviour::Challenge {
            user: "alice".into(),
            password: password.into(),
        },
        ..Options::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("alice.pw");
    std::fs::write(&pw, format!("{password}\n")).unwrap();
    let config = format!(
        "{UDP_MODULE}[modules.alice]\nudp = true\nuser = \"alice\"\nt1 = \"50ms\"\npassword_file = {:?}\ntargets = [\"{}\"]\n",
        pw.display().to_string(),
        reg.sip_addr
    );
    let e = exporter(dir.path(), &config, &["-vv"]);
    let mut pages = Vec::new();

    let listed = probe(&e, &format!("target={}&module=alice", reg.sip_addr));
    assert_eq!(
        sample(&listed.body, "probe_success"),
        Some(1.0),
        "{}",
        listed.body
    );
    assert_eq!(
        sample(&listed.body, "probe_sip_requests"),
        Some(2.0),
        "{}",
        listed.body
    );
    pages.push(listed.body);

    let refused = probe(&e, &format!("target={}&module=alice", other.sip_addr));
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(refused.body.lines().count(), 1, "{}", refused.body);
    assert!(
        refused.body.contains("nothing was sent"),
        "{}",
        refused.body
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        other.seen().is_empty(),
        "the unlisted server got {:?}",
        other.seen()
    );
    pages.push(refused.body);

    for (query, status, words) in [
        (
            "target=127.0.0.1&module=nope",
            400,
            "unknown module \"nope\" (modules: alice, udp)",
        ),
        ("module=udp", 400, "target is missing"),
        (
            "target=127.0.0.1:70000&module=udp",
            400,
            "target \"127.0.0.1:70000\"",
        ),
        ("target=127.0.0.1", 400, "module is missing"),
    ] {
        let a = probe(&e, query);
        assert_eq!(a.status, status, "{query}: {}", a.body);
        assert_eq!(a.body.lines().count(), 1, "{query}: {}", a.body);
        assert!(a.body.contains(words), "{query}: {}", a.body);
        pages.push(a.body);
    }
    let debug = probe(
        &e,
        &format!("target={}&module=alice&debug=true", reg.sip_addr),
    );
    assert!(debug.body.contains("password_file"), "{}", debug.body);
    pages.push(debug.body);
    let own = get(e.addr, "/metrics", &[]);
    let refusals = "sipreg_exporter_probes_refused_total{reason=\"target_not_allowed\"}";
    assert_eq!(sample(&own.body, refusals), Some(1.0), "{}", own.body);
    pages.push(own.body);
    let log = e.stop();
    assert!(log.contains("probe module=alice target="), "{log}");
    assert!(log.contains("probe refused (403)"), "{log}");
    pages.push(log);
    for page in &pages {
        assert!(!page.contains(password), "the password leaked:\n{page}");
    }
}

#[test]
fn the_scrape_timeout_ends_a_probe_and_probes_at_once_are_bounded() {
    let silent = registrar(Options {
        behaviour: Behaviour::Silent,
        ..Options::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let e = exporter(dir.path(), UDP_MODULE, &["--max-concurrent", "1"]);
    let addr = e.addr;
    let target = format!("/probe?target={}&module=udp", silent.sip_addr);
    let in_flight = |n: f64| {
        move || {
            sample(
                &get(addr, "/metrics", &[]).body,
                "sipreg_exporter_probes_in_flight",
            ) == Some(n)
        }
    };

    let first = {
        let target = target.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            let a = get(addr, &target, &["X-Prometheus-Scrape-Timeout-Seconds: 2"]);
            (a, started.elapsed())
        })
    };
    wait_until(
        "the first probe to run",
        Duration::from_secs(2),
        in_flight(1.0),
    );
    let started = Instant::now();
    let busy = get(addr, &target, &["X-Prometheus-Scrape-Timeout-Seconds: 1.2"]);
    let waited = started.elapsed();
    assert_eq!(busy.status, 503, "{}", busy.body);
    assert!(busy.body.contains("--max-concurrent"), "{}", busy.body);
    assert!(waited >= Duration::from_millis(600), "{waited:?}");
    let (a, took) = first.join().unwrap();
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(sample(&a.body, "probe_success"), Some(0.0), "{}", a.body);
    // The 2 s scrape timeout less the 0.5 s offset.
    let duration = sample(&a.body, "probe_duration_seconds").unwrap_or(0.0);
    assert!((1.4..1.9).contains(&duration), "{}", a.body);
    assert!(took < Duration::from_millis(1950), "{took:?}");
    assert_clean(&a.body);

    // A probe that waits for the slot runs only for what is left of its deadline.
    let first = {
        let target = target.clone();
        std::thread::spawn(move || get(addr, &target, &["X-Prometheus-Scrape-Timeout-Seconds: 2"]))
    };
    wait_until(
        "the first probe to run",
        Duration::from_secs(2),
        in_flight(1.0),
    );
    let started = Instant::now();
    let waited = get(addr, &target, &["X-Prometheus-Scrape-Timeout-Seconds: 3"]);
    let took = started.elapsed();
    assert_eq!(waited.status, 200, "{}", waited.body);
    assert!(
        took < Duration::from_millis(2900),
        "2.5 s deadline from its arrival: {took:?}"
    );
    let ran = sample(&waited.body, "probe_duration_seconds").unwrap_or(9.0);
    assert!(ran < 1.7, "it ran {ran} s after waiting for the slot");
    assert_eq!(first.join().unwrap().status, 200);

    // A client that goes away mid-probe: the probe is stopped before its 2 s timeout,
    // counted, and leaves the in-flight gauge.
    {
        use std::io::Write;
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        let req = format!(
            "GET {target} HTTP/1.1\r\nHost: x\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n"
        );
        s.write_all(req.as_bytes()).unwrap();
        wait_until("the probe to run", Duration::from_secs(2), in_flight(1.0));
    }
    // Its own timeout (2 s) would end it later: within 1 s, the client's going away ended it.
    wait_until(
        "the abandoned probe to end",
        Duration::from_secs(1),
        in_flight(0.0),
    );
    let own = get(addr, "/metrics", &[]).body;
    assert_eq!(
        sample(&own, "sipreg_exporter_probes_in_flight"),
        Some(0.0),
        "{own}"
    );
    let failures = "sipreg_exporter_probes_total{module=\"udp\",result=\"failure\"}";
    assert_eq!(sample(&own, failures), Some(4.0), "{own}");
}

#[test]
fn bad_configs_are_one_line_usage_errors_and_check_config_lists_the_modules() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.toml");
    for (text, words) in [
        (
            "[modules.a]\npassword = \"pw\"\n",
            "password is not read from the config file",
        ),
        (
            "[modules.a]\npassword_file = \"/pw\"\n",
            "must list its targets",
        ),
        ("[modules.a]\nudp = true\ntls = true\n", "module a:"),
        (
            "[modules.a]\nconnect_timeout = \"fast\"\n",
            "connect_timeout: \"fast\"",
        ),
    ] {
        std::fs::write(&path, text).unwrap();
        let out = run(&[
            "exporter",
            "--listen",
            "127.0.0.1:0",
            "--config",
            path.to_str().unwrap(),
        ]);
        assert_eq!(out.code, 2, "{text}: {}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{text}: {}", out.stderr);
        assert!(out.stderr.contains(words), "{text}: {}", out.stderr);
        assert!(!out.stderr.contains("\"pw\""), "{}", out.stderr);
    }
    std::fs::write(&path, UDP_MODULE).unwrap();
    let out = run(&[
        "exporter",
        "--listen",
        "127.0.0.1:0",
        "--check-config",
        "--config",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("config OK: 1 modules"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("udp: any target"), "{}", out.stdout);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let at = taken.local_addr().unwrap().to_string();
    let out = run(&[
        "exporter",
        "--listen",
        &at,
        "--config",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("cannot listen on {at}")),
        "{}",
        out.stderr
    );
}

#[test]
fn watch_serves_the_held_registration_as_metrics() {
    let reg = registrar(Options::default());
    let server = reg.sip_addr.to_string();
    let mut cmd = sipreg();
    cmd.args([
        "watch",
        "--json",
        "--tcp",
        "--keepalive",
        "200ms",
        "--duration",
        "30s",
        "--metrics-listen",
        "127.0.0.1:0",
        &server,
    ]);
    let w = Served::start(&mut cmd);
    let deadline = Instant::now() + Duration::from_secs(10);
    let page = loop {
        let a = get(w.addr, "/metrics", &[]);
        assert_eq!(a.status, 200, "{}", a.body);
        let pongs = sample(&a.body, "sipreg_keepalive_rtt_seconds").is_some();
        if sample(&a.body, "sipreg_registered") == Some(1.0) && pongs {
            break a.body;
        }
        assert!(
            Instant::now() < deadline,
            "never registered with a pong:\n{}",
            a.body
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let since = sample(&page, "sipreg_seconds_since_last_registration").unwrap_or(-1.0);
    assert!((0.0..10.0).contains(&since), "{page}");
    assert_eq!(sample(&page, "sipreg_drops_total"), Some(0.0), "{page}");
    assert!(
        sample(&page, "sipreg_keepalives_total").unwrap_or(0.0) >= 1.0,
        "{page}"
    );
    assert_clean(&page);
    assert_eq!(get(w.addr, "/other", &[]).status, 404);
    w.stop();
    assert_eq!(
        reg.seen().last().and_then(|s| s.expires),
        Some(0),
        "binding removed"
    );
    assert_eq!(reg.bindings(), Vec::<String>::new());
}

#[test]
fn a_tls_probe_reports_the_earliest_certificate_expiry() {
    let pki = Pki::new();
    let reg = registrar(Options {
        tls: Some(pki.leaf_config(&["127.0.0.1"], (2020, 1, 1), (2031, 7, 15))),
        ..Options::default()
    });
    let tls = reg.tls_addr.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[modules.tls]\ntls = true\nca_file = {:?}\n",
        pki.ca_pem.display().to_string()
    );
    let e = exporter(dir.path(), &config, &[]);
    let a = probe(&e, &format!("target={tls}&module=tls"));
    assert_eq!(sample(&a.body, "probe_success"), Some(1.0), "{}", a.body);
    assert_eq!(
        sample(&a.body, "probe_sip_transport{transport=\"tls\"}"),
        Some(1.0),
        "{}",
        a.body
    );
    // 2031-07-15T00:00:00Z: the leaf expires before the CA (rcgen's default, year 4096).
    assert_eq!(
        sample(&a.body, "probe_ssl_earliest_cert_expiry"),
        Some(1_941_840_000.0),
        "{}",
        a.body
    );
    let version = a
        .body
        .lines()
        .any(|l| l.starts_with("probe_tls_version_info{version=\"TLSv1_"));
    assert!(version, "{}", a.body);
    let tls_phase = sample(&a.body, "probe_sip_phase_duration_seconds{phase=\"tls\"}");
    assert!(tls_phase.is_some_and(|s| s > 0.0), "{}", a.body);
    assert_clean(&a.body);
    // The one-shot JSON carries the same date.
    let out = run(&[
        "--json",
        "--tls",
        "--ca-file",
        pki.ca_pem.to_str().unwrap(),
        &tls.to_string(),
    ]);
    assert_eq!(
        out.json()["attempts"][0]["tls"]["earliest_cert_expiry"],
        1_941_840_000i64
    );
}

#[test]
fn a_binding_made_before_the_deadline_is_still_removed_after_it() {
    // The removal's challenge arrives slowly, after the scrape deadline: only a probe that keeps
    // running in the background answers it with an authorized removal.
    let reg = registrar(Options {
        behaviour: Behaviour::raw(|r: &Incoming| {
            let removal = r.request.header("expires") == Some("0");
            let authorized = r.request.header("authorization").is_some();
            if !removal || authorized {
                return vec![Step::Send(r.ok())];
            }
            let challenge = "WWW-Authenticate: Digest realm=\"slow\", nonce=\"n1\", qop=\"auth\", algorithm=MD5";
            let answer = r.reply(401, "Unauthorized", &[challenge.to_string()]);
            vec![Step::Drip(answer, Duration::from_millis(4))]
        }),
        ..Options::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[modules.slow]\ntcp = true\npassword_env = \"SLOW_PW\"\ntargets = [\"{}\"]\n",
        reg.sip_addr
    );
    let path = dir.path().join("slow.toml");
    std::fs::write(&path, config).unwrap();
    let mut cmd = sipreg();
    cmd.args(["exporter", "--listen", "127.0.0.1:0", "--config"])
        .arg(&path)
        .env("SLOW_PW", "pw");
    let e = Served::start(&mut cmd);
    let a = get(
        e.addr,
        &format!("/probe?module=slow&target={}", reg.sip_addr),
        &["X-Prometheus-Scrape-Timeout-Seconds: 1.5"],
    );
    assert_eq!(sample(&a.body, "probe_success"), Some(0.0), "{}", a.body);
    assert_eq!(
        sample(&a.body, "probe_sip_status_code"),
        Some(200.0),
        "registered: {}",
        a.body
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let removed = || {
        reg.seen()
            .iter()
            .any(|s| s.expires == Some(0) && s.authorization.is_some())
    };
    while !removed() {
        assert!(
            Instant::now() < deadline,
            "the binding was left: {:?}",
            reg.seen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let own = get(e.addr, "/metrics", &[]).body;
    assert_eq!(
        sample(&own, "sipreg_exporter_probes_in_flight"),
        Some(0.0),
        "{own}"
    );
    assert_eq!(reg.bindings(), Vec::<String>::new());
}

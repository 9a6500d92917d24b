//! The exporter under hostile load, with the real binary: a flood of idle half-sent requests does not
//! lock scrapes out, the oldest waiting connections make room when descriptors run short, each idle
//! connection is closed at the head deadline, and malformed or oversized requests are each answered
//! or closed, counted in the exporter's own metrics.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::common::http::{Served, get, sample};
use crate::common::*;

const UDP_MODULE: &str = "[modules.udp]\nudp = true\nt1 = \"50ms\"\ntimeout = \"2s\"\n";

/// The exporter, started through `prlimit` when `nofile` is given.
fn exporter(dir: &std::path::Path, nofile: Option<u64>) -> Served {
    let path = dir.join("sipreg-exporter.toml");
    std::fs::write(&path, UDP_MODULE).unwrap();
    let plain = sipreg();
    let mut cmd = match nofile {
        Some(n) => {
            let mut c = std::process::Command::new("prlimit");
            c.arg(format!("--nofile={n}:{n}")).arg(plain.get_program());
            c
        }
        None => plain,
    };
    cmd.args(["exporter", "--listen", "127.0.0.1:0", "--config"])
        .arg(&path);
    Served::start(&mut cmd)
}

/// `n` connections that each sent half a request head, and then nothing.
fn half_sent(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|_| {
            let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
            s.write_all(b"GET /probe?target=127.0.0.1&mod").unwrap();
            s
        })
        .collect()
}

/// The exporter's own figure `series` on `/metrics`.
fn own(addr: SocketAddr, series: &str) -> f64 {
    let page = get(addr, "/metrics", &[]).body;
    sample(&page, series).unwrap_or_else(|| panic!("{series} missing:\n{page}"))
}

fn refused(addr: SocketAddr, reason: &str) -> f64 {
    own(
        addr,
        &format!("sipreg_exporter_http_connections_refused_total{{reason=\"{reason}\"}}"),
    )
}

/// A probe of the test registrar through the exporter succeeds.
fn assert_probe_succeeds(addr: SocketAddr, registrar: SocketAddr) {
    let probe = get(addr, &format!("/probe?target={registrar}&module=udp"), &[]);
    assert_eq!(
        sample(&probe.body, "probe_success"),
        Some(1.0),
        "{}",
        probe.body
    );
}

/// Sends `bytes` on a new connection and reads until the exporter closes it (at most 10 s).
fn exchange(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // The exporter may close before taking everything: what it answered still counts.
    let _ = s.write_all(bytes);
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn a_flood_of_idle_connections_does_not_lock_scrapes_out() {
    let _ = rlimit::increase_nofile_limit(8192);
    let reg = registrar(Options::default());
    let dir = tempfile::tempdir().unwrap();
    let e = exporter(dir.path(), None);
    let rss = |page: &str| sample(page, "process_resident_memory_bytes").unwrap_or(0.0);
    let before = rss(&get(e.addr, "/metrics", &[]).body);
    let flood = half_sent(e.addr, 2_000);
    let started = Instant::now();
    let page = get(e.addr, "/metrics", &[]).body;
    let took = started.elapsed();
    // A waiting connection holds a small future and no buffer: about 1.5 KiB each in a debug
    // build; a 4 KiB array in its future (it was, for a moment) made it 5 KiB.
    let per_connection = (rss(&page) - before) / 2_000.0;
    assert!(
        per_connection < 3_000.0,
        "{per_connection} bytes per idle connection"
    );
    assert!(took < Duration::from_secs(1), "/metrics took {took:?}");
    let open = sample(&page, "sipreg_exporter_http_connections_open").unwrap_or(0.0);
    assert!(
        open >= 2_000.0,
        "the flood is held, not refused: {open}\n{page}"
    );
    assert_probe_succeeds(e.addr, reg.sip_addr);
    // The head deadline (5 s) closes every one of them.
    wait_until(
        "the head deadline to close the flood",
        Duration::from_secs(8),
        || refused(e.addr, "head_timeout") >= 2_000.0,
    );
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "not before the deadline: {:?}",
        started.elapsed()
    );
    assert!(own(e.addr, "sipreg_exporter_http_connections_open") <= 2.0);
    drop(flood);
}

#[test]
fn with_few_descriptors_the_oldest_waiting_connections_make_room() {
    let reg = registrar(Options::default());
    let dir = tempfile::tempdir().unwrap();
    // 400 descriptors: 144 may wait for their head (256 are kept for probes).
    let e = exporter(dir.path(), Some(400));
    let flood = half_sent(e.addr, 600);
    let started = Instant::now();
    assert_probe_succeeds(e.addr, reg.sip_addr);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let evicted = refused(e.addr, "evicted");
    assert!(
        evicted >= 400.0,
        "the oldest were closed to make room: {evicted}"
    );
    let fds = own(e.addr, "process_open_fds");
    assert!(fds < 400.0, "open files under the limit: {fds}");
    drop(flood);
}

#[test]
fn hostile_requests_are_answered_or_closed_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let e = exporter(dir.path(), None);
    let a = e.addr;
    // A 1 MiB head: 431 after 8 KiB, and closed.
    let mut huge = b"GET /metrics HTTP/1.1\r\nX-Big: ".to_vec();
    huge.resize(1 << 20, b'a');
    assert!(exchange(a, &huge).starts_with("HTTP/1.1 431 "));
    // 10,000 headers.
    let mut many = b"GET /metrics HTTP/1.1\r\n".to_vec();
    for _ in 0..10_000 {
        many.extend_from_slice(b"X: y\r\n");
    }
    many.extend_from_slice(b"\r\n");
    assert!(exchange(a, &many).starts_with("HTTP/1.1 431 "));
    // An endless body is not read.
    let body = b"GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\naaaa";
    assert!(exchange(a, body).starts_with("HTTP/1.1 400 "));
    // Bytes that are not HTTP (a TLS ClientHello).
    assert!(
        exchange(a, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n")
            .starts_with("HTTP/1.1 400 ")
    );
    // Pipelined requests are answered in order.
    let two = b"GET /-/healthy HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\nConnection: close\r\n\r\n";
    let answers = exchange(a, two);
    let healthy = answers.find("HTTP/1.1 200 OK").expect("the first answered");
    let missing = answers.find("HTTP/1.1 404 ").expect("the second answered");
    assert!(healthy < missing, "{answers}");
    assert_eq!(refused(a, "head_too_large"), 2.0);
    assert_eq!(refused(a, "body"), 1.0);
    assert_eq!(refused(a, "bad_request"), 1.0);
    assert!(own(a, "sipreg_exporter_http_requests_total") >= 2.0);
}

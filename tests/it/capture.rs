//! `--pcap FILE`, read back by the real reader: tshark (Debian's, installed by tests/run.sh) must
//! dissect every message sipreg sent and received, with its method or status and its ports, over UDP,
//! TCP, TLS and WSS against Kamailio; the password never in the file.

use std::path::Path;
use std::process::Command;

use crate::common::kamailio::{Kamailio, PASSWORD, Setup, USER};
use crate::common::*;

/// A reader from Debian at `path`, or `None` outside CI when it is missing (tests/run.sh installs
/// it; under CI its absence fails).
fn installed(path: &'static str) -> Option<&'static str> {
    if Path::new(path).exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{path} is missing under CI: tests/run.sh installs it"
    );
    eprintln!("SKIP: {path} is not installed (tests/run.sh installs it)");
    None
}

/// tshark, when installed.
fn tshark() -> Option<&'static str> {
    installed("/usr/bin/tshark")
}

/// sngrep, when installed.
fn sngrep() -> Option<&'static str> {
    installed("/usr/bin/sngrep")
}

/// sngrep without its screen (`-N`) reads `file` and writes the SIP it recognised to `out`: its
/// dialog count.
fn sngrep_dialogs(sngrep: &str, file: &Path, out: &Path) -> String {
    let run = Command::new(sngrep)
        .arg("-N")
        .arg("-I")
        .arg(file)
        .arg("-O")
        .arg(out)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&run.stdout).into_owned();
    text.rsplit("Dialog count:")
        .next()
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// One line per packet: source port, destination port, method or status, CSeq, comment; the stream
/// port decoded as SIP (TLS and WebSocket messages are written in clear).
fn dissect(tshark: &str, file: &Path, port: u16) -> Vec<String> {
    let out = Command::new(tshark)
        .arg("-r")
        .arg(file)
        .args(["-d", &format!("tcp.port=={port},sip"), "-T", "fields"])
        .args([
            "-e",
            "_ws.col.Protocol",
            "-e",
            "udp.srcport",
            "-e",
            "tcp.srcport",
        ])
        .args([
            "-e",
            "sip.Method",
            "-e",
            "sip.Status-Code",
            "-e",
            "sip.CSeq.seq",
        ])
        .args(["-e", "frame.comment", "-E", "separator=|"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// The method or status of each SIP packet, in order.
fn sip_flow(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.starts_with("SIP"))
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            format!("{}{}", f[3], f[4])
        })
        .collect()
}

#[test]
fn tshark_dissects_a_digest_registration_over_udp_tcp_and_tls() {
    let Some(tshark) = tshark() else {
        return;
    };
    let Some(k) = Kamailio::start("MD5") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ca = k.pki.ca_pem.to_str().unwrap().to_string();
    let udp = k.udp_server();
    let tls = format!("127.0.0.1:{}", k.tls);
    let cases: Vec<(&str, Vec<&str>, u16, &str)> = vec![
        ("udp", vec!["--udp", &udp], k.udp, ""),
        ("tcp", vec!["--tcp", &udp], k.udp, ""),
        (
            "tls",
            vec!["--tls", "--ca-file", &ca, &tls],
            k.tls,
            "sipreg: carried inside TLS, shown in clear",
        ),
    ];
    for (name, args, port, comment) in cases {
        let file = dir.path().join(format!("{name}.pcapng"));
        let mut all = vec!["--json", "--user", USER, "--pcap", file.to_str().unwrap()];
        all.extend(args);
        let out = k.sipreg(&all);
        assert_eq!(out.code, 0, "{name}: {}", out.stdout);
        assert_eq!(
            out.json()["capture"]["messages"],
            6,
            "{name}: {}",
            out.stdout
        );
        let lines = dissect(tshark, &file, port);
        assert_eq!(
            sip_flow(&lines),
            ["REGISTER", "401", "REGISTER", "200", "REGISTER", "200"],
            "{name}: {lines:?}"
        );
        // The registrar's port on every packet, one way or the other; the comment marks TLS.
        for l in &lines {
            let f: Vec<&str> = l.split('|').collect();
            let ports = format!("{}{}", f[1], f[2]);
            assert!(ports.parse::<u16>().is_ok(), "{name}: {l}");
            assert_eq!(f[6], comment, "{name}: {l}");
        }
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes
                .windows(PASSWORD.len())
                .any(|w| w == PASSWORD.as_bytes()),
            "{name}: the password is in the capture"
        );
        assert!(
            bytes.windows(9).any(|w| w == b"response="),
            "{name}: the digest response is, as on the wire"
        );
        // sngrep reads the same file: one dialog, every message of it.
        if let Some(sngrep) = sngrep() {
            let seen = dir.path().join(format!("{name}-sngrep.pcap"));
            assert_eq!(sngrep_dialogs(sngrep, &file, &seen), "1", "{name}");
            assert_eq!(
                sip_flow(&dissect(tshark, &seen, port)).len(),
                6,
                "{name}: sngrep kept every message"
            );
        }
    }
}

#[test]
fn a_watch_over_wss_captures_the_inbound_check_and_the_keepalives() {
    let Some(tshark) = tshark() else {
        return;
    };
    let Some(k) = Kamailio::start_with(Setup {
        defines: vec!["WITH_WEBSOCKET".to_string()],
        ..Setup::loopback("MD5")
    }) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("watch.pcapng");
    let pcap = ["--check-inbound=400ms", "--duration", "1s", "--pcap"];
    let mut extra = pcap.to_vec();
    extra.push(file.to_str().unwrap());
    let (out, summary) = k.wss_watch(&extra);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let messages = summary["capture"]["messages"].as_u64().unwrap_or(0);
    let lines = dissect(tshark, &file, k.tls);
    assert_eq!(lines.len() as u64, messages, "{lines:?}");
    let flow = sip_flow(&lines);
    assert!(
        flow.iter().filter(|m| *m == "OPTIONS").count() >= 2,
        "{flow:?}"
    );
    assert_eq!(
        flow.first().map(String::as_str),
        Some("REGISTER"),
        "{flow:?}"
    );
    // Keep-alives are the TCP segments that are not SIP: a ping out, a pong back.
    let keepalives = lines.iter().filter(|l| !l.starts_with("SIP")).count();
    assert!(keepalives >= 4, "{lines:?}");
    assert!(
        lines.iter().all(|l| l.ends_with("(WSS), shown in clear")),
        "{lines:?}"
    );
}

#[test]
fn a_pcap_on_stdout_or_for_resolve_is_refused() {
    let out = run(&["--pcap", "-", "127.0.0.1"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--pcap - is refused"), "{}", out.stderr);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.pcapng");
    let file = file.to_str().unwrap();
    let out = run(&["resolve", "--pcap", file, "127.0.0.1"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("sends no SIP"), "{}", out.stderr);
    let accounts = dir.path().join("a.csv");
    std::fs::write(&accounts, "user,password\nu1,x\n").unwrap();
    let out = run(&[
        "storm",
        "--accounts",
        accounts.to_str().unwrap(),
        "--pcap",
        "-",
        "127.0.0.1",
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--pcap - is refused"), "{}", out.stderr);
    let out = run(&["--pcap", "/nonexistent/dir/x.pcapng", "127.0.0.1"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
}

/// A test HEP collector on loopback (reads time out after 5 s) and its address.
fn collector() -> (std::net::UdpSocket, String) {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let addr = socket.local_addr().unwrap().to_string();
    (socket, addr)
}

/// The chunks of one HEPv3 packet, by type (vendor 0).
fn hep_chunks(p: &[u8]) -> std::collections::BTreeMap<u16, Vec<u8>> {
    assert_eq!(&p[..4], b"HEP3");
    assert_eq!(usize::from(u16::from_be_bytes([p[4], p[5]])), p.len());
    let mut chunks = std::collections::BTreeMap::new();
    let mut at = 6;
    while at + 6 <= p.len() {
        assert_eq!(&p[at..at + 2], [0, 0], "vendor 0");
        let kind = u16::from_be_bytes([p[at + 2], p[at + 3]]);
        let len = usize::from(u16::from_be_bytes([p[at + 4], p[at + 5]]));
        chunks.insert(kind, p[at + 6..at + len].to_vec());
        at += len;
    }
    assert_eq!(at, p.len(), "the chunks fill the packet");
    chunks
}

#[test]
fn hep_packets_carry_each_message_with_its_addresses_time_and_call_id() {
    let reg = registrar(Options::default());
    let (collector, hep) = collector();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let out = run(&[
        "--json",
        "--udp",
        "--hep",
        &hep,
        "--hep-id",
        "77",
        "--hep-key",
        "homer-key",
        &reg.sip_addr.to_string(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let j = out.json();
    assert_eq!(j["capture"]["hep"], hep, "{j}");
    assert_eq!(
        j["capture"]["messages"], 4,
        "REGISTER, 200, removal, 200: {j}"
    );
    let local: std::net::SocketAddr = j["attempts"][0]["local"].as_str().unwrap().parse().unwrap();
    let mut buf = vec![0u8; 65536];
    let mut seen = Vec::new();
    for _ in 0..4 {
        let n = collector.recv(&mut buf).unwrap();
        let c = hep_chunks(&buf[..n]);
        assert_eq!(
            (c[&1].as_slice(), c[&2].as_slice()),
            (&[2u8][..], &[17u8][..]),
            "IPv4, UDP"
        );
        assert_eq!(
            (c[&3].as_slice(), c[&4].as_slice()),
            (&[127u8, 0, 0, 1][..], &[127u8, 0, 0, 1][..])
        );
        let (sport, dport) = (
            u16::from_be_bytes([c[&7][0], c[&7][1]]),
            u16::from_be_bytes([c[&8][0], c[&8][1]]),
        );
        let ports = [local.port(), reg.sip_addr.port()];
        assert!(
            ports.contains(&sport) && ports.contains(&dport) && sport != dport,
            "{sport} {dport}"
        );
        let secs = u64::from(u32::from_be_bytes(c[&9].clone().try_into().unwrap()));
        assert!(secs >= before && secs <= before + 60, "{secs}");
        assert!(u32::from_be_bytes(c[&10].clone().try_into().unwrap()) < 1_000_000);
        assert_eq!(c[&11], [1], "SIP");
        assert_eq!(c[&12], 77u32.to_be_bytes());
        assert_eq!(c[&14], b"homer-key");
        let payload = String::from_utf8(c[&15].clone()).unwrap();
        let call_id = payload
            .lines()
            .find_map(|l| l.strip_prefix("Call-ID:"))
            .map(str::trim)
            .unwrap();
        assert_eq!(
            c[&17],
            call_id.as_bytes(),
            "the Call-ID is the correlation id"
        );
        seen.push(payload.lines().next().unwrap_or_default().to_string());
    }
    assert!(
        seen[0].starts_with("REGISTER ") && seen[1].starts_with("SIP/2.0 200"),
        "{seen:?}"
    );
    assert!(
        seen[2].starts_with("REGISTER ") && seen[3].starts_with("SIP/2.0 200"),
        "{seen:?}"
    );
}

#[test]
fn a_watch_ring_is_written_on_a_drop_and_not_while_healthy() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("ring.pcapng");
    let base = base.to_str().unwrap();
    // Healthy: nothing is written.
    let reg = registrar(Options::default());
    let server = reg.sip_addr.to_string();
    let watch = |server: &str| {
        run(&[
            "watch",
            "--json",
            "--tcp",
            "--keepalive",
            "0",
            "--retry-interval",
            "300ms",
            "--duration",
            "1s",
            "--pcap",
            base,
            "--pcap-ring",
            "1m",
            server,
        ])
    };
    let out = watch(&server);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let last = out.stdout.lines().last().unwrap_or_default();
    let s = &serde_json::from_str::<serde_json::Value>(last).unwrap()["summary"];
    assert!(s["capture"]["dumps"].is_null(), "{s}");
    assert!(!std::path::Path::new(base).exists());
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing written"
    );
    // The connection closes after the first answer: the drop writes the ring, REGISTER and 200.
    let reg = registrar(Options {
        behaviour: Behaviour::close_after(0),
        ..Options::default()
    });
    let out = watch(&reg.sip_addr.to_string());
    assert_eq!(out.code, 6, "{}", out.stdout);
    let last = out.stdout.lines().last().unwrap_or_default();
    let s = &serde_json::from_str::<serde_json::Value>(last).unwrap()["summary"];
    let dump = &s["capture"]["dumps"][0];
    let file = dump["file"].as_str().unwrap_or_default();
    assert!(file.ends_with("ring-1.pcapng"), "{s}");
    assert!(dump["messages"].as_u64() >= Some(2), "{s}");
    let Some(tshark) = tshark() else {
        return;
    };
    let lines = dissect(tshark, std::path::Path::new(file), reg.sip_addr.port());
    let flow = sip_flow(&lines);
    assert_eq!(&flow[..2], ["REGISTER", "200"], "{lines:?}");
}

#[test]
fn a_storm_captures_every_account_into_one_file() {
    let Some(tshark) = tshark() else { return };
    let reg = registrar(Options {
        behaviour: Behaviour::ChallengeAll {
            prefix: "pw-".into(),
        },
        ..Options::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let accounts = dir.path().join("a.csv");
    let mut text = String::from("user,password\n");
    for i in 0..12 {
        text.push_str(&format!("u{i},pw-u{i}\n"));
    }
    std::fs::write(&accounts, text).unwrap();
    let file = dir.path().join("storm.pcapng");
    let out = run(&[
        "storm",
        "--json",
        "--udp",
        "--accounts",
        accounts.to_str().unwrap(),
        "--pcap",
        file.to_str().unwrap(),
        &reg.sip_addr.to_string(),
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let j = out.json();
    assert_eq!(j["registered"], 12, "{j}");
    let lines = dissect(tshark, &file, reg.sip_addr.port());
    let flow = sip_flow(&lines);
    assert_eq!(
        j["capture"]["messages"].as_u64(),
        Some(flow.len() as u64),
        "the count is what tshark finds: {j}"
    );
    assert!(j["capture"].get("left_out").is_none(), "{j}");
    let count = |what: &str| flow.iter().filter(|f| f.as_str() == what).count();
    // Each account: REGISTER, 401, REGISTER, 200, and its removal.
    assert!(count("REGISTER") >= 36, "{flow:?}");
    assert_eq!(count("401"), count("REGISTER") - count("200"), "{flow:?}");
    assert!(count("200") >= 24, "registrations and removals: {flow:?}");
    let raw = std::fs::read(&file).unwrap();
    assert!(
        !raw.windows(6).any(|w| w == b"pw-u11"),
        "no password in the file"
    );
}

#[test]
fn the_exporter_sends_every_probe_to_the_hep_collector() {
    let reg = registrar(Options::default());
    let (collector, hep) = collector();
    let dir = tempfile::tempdir().unwrap();
    let e = crate::common::http::exporter(
        dir.path(),
        "[modules.udp]\nudp = true\n",
        &["--hep", &hep, "--hep-id", "9"],
    );
    for _ in 0..2 {
        let probe = crate::common::http::get(
            e.addr,
            &format!("/probe?target={}&module=udp", reg.sip_addr),
            &[],
        );
        assert!(probe.body.contains("\nprobe_success 1"), "{}", probe.body);
    }
    let mut buf = vec![0u8; 65536];
    let mut firsts = Vec::new();
    let mut calls = std::collections::BTreeSet::new();
    for _ in 0..8 {
        let n = collector.recv(&mut buf).unwrap();
        let c = hep_chunks(&buf[..n]);
        assert_eq!(c[&12], 9u32.to_be_bytes());
        assert_eq!(c[&11], [1], "SIP");
        calls.insert(c[&17].clone());
        let payload = String::from_utf8(c[&15].clone()).unwrap();
        firsts.push(payload.lines().next().unwrap_or_default().to_string());
    }
    assert_eq!(calls.len(), 2, "one Call-ID per probe: {firsts:?}");
    assert_eq!(
        firsts.iter().filter(|f| f.starts_with("REGISTER ")).count(),
        4,
        "{firsts:?}"
    );
}

#[test]
fn kamailio_sipcapture_decodes_every_hep_packet_with_its_addresses() {
    let Some(receiver) = crate::common::kamailio::HepReceiver::start() else {
        return;
    };
    let reg = registrar(Options::default());
    let out = run(&[
        "--json",
        "--udp",
        "--hep",
        &receiver.addr.to_string(),
        &reg.sip_addr.to_string(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let j = out.json();
    let local = j["attempts"][0]["local"].as_str().unwrap().to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while receiver.messages().len() < 4 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let got = receiver.messages();
    let registrar = reg.sip_addr.to_string();
    let request = format!("from={local} call-id=");
    let reply = format!("from={registrar} call-id=");
    assert_eq!(got.len(), 4, "{got:?}");
    for (line, (kind, addresses)) in got.iter().zip([
        ("request REGISTER ", &request),
        ("reply 200 ", &reply),
        ("request REGISTER ", &request),
        ("reply 200 ", &reply),
    ]) {
        assert!(
            line.starts_with(&format!("{kind}{addresses}")),
            "{line}\n{got:?}"
        );
    }
    let ids: std::collections::BTreeSet<&str> = got
        .iter()
        .filter_map(|l| l.split("call-id=").nth(1))
        .collect();
    assert_eq!(ids.len(), 1, "one Call-ID throughout: {got:?}");
}

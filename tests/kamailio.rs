//! Interop against a real Kamailio registrar on loopback: digest over UDP, TCP, TLS and mutual TLS, the
//! phone's default flags against a UDP-only port, and the failures a real server produces.
//!
//! Each test writes a Kamailio config into a temp dir (from `fixtures/kamailio/`), starts Kamailio,
//! waits until it answers OPTIONS, runs the sipreg binary against it and stops it. `tests/run.sh`
//! installs Kamailio; under `CI=true` a missing Kamailio fails the run instead of skipping it.

mod common;

use std::net::{TcpListener, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const USER: &str = "alice";
const PASSWORD: &str = "k4m-secret";

struct Kamailio {
    child: Child,
    dir: tempfile::TempDir,
    udp: u16,
    tls: u16,
    mtls: u16,
    udp_only: u16,
    pki: Pki,
}

fn kamailio_binary() -> Option<PathBuf> {
    ["/usr/sbin/kamailio", "/usr/local/sbin/kamailio"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn modules_dir() -> Option<PathBuf> {
    let lib = Path::new("/usr/lib");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(lib)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("kamailio/modules"))
        .collect();
    dirs.push(lib.join("kamailio/modules"));
    dirs.into_iter().find(|d| d.join("registrar.so").exists())
}

/// A port free for both UDP and TCP on 127.0.0.1, not among `taken`.
/// A port free for both UDP and TCP on 127.0.0.1, not among `taken`, chosen below the kernel's
/// ephemeral range so that no client socket of another test can take it before Kamailio binds it.
fn free_port(taken: &[u16]) -> u16 {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768)
        .max(11000);
    loop {
        let port = rand::random_range(10000..low);
        if taken.contains(&port) {
            continue;
        }
        let udp = UdpSocket::bind(("127.0.0.1", port));
        let tcp = TcpListener::bind(("127.0.0.1", port));
        if udp.is_ok() && tcp.is_ok() {
            return port;
        }
    }
}

/// Runs Kamailio with the configuration in `dir`, its log in `dir/kamailio.log`.
fn spawn(bin: &Path, dir: &Path) -> std::process::Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("kamailio.log"))
        .expect("log file");
    Command::new(bin)
        .args(["-DD", "-E", "-m", "64", "-M", "8", "-f"])
        .arg(dir.join("kamailio.cfg"))
        .arg("-Y")
        .arg(dir)
        .arg("-P")
        .arg(dir.join("kamailio.pid"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()
        .expect("kamailio starts")
}

impl Kamailio {
    /// Stops Kamailio and starts it again on the same ports, with an empty location table.
    fn restart(&mut self) {
        self.stop();
        let bin = kamailio_binary().expect("kamailio");
        self.child = spawn(&bin, self.dir.path());
        assert!(self.wait_ready(), "Kamailio restarted: {}", self.log());
    }

    /// Stops Kamailio: SIGTERM, then SIGKILL to its process group after 5 s.
    fn stop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .status();
        let _ = self.child.wait();
    }

    /// Starts Kamailio (up to three tries with fresh ports), or returns None (skip) when it is not
    /// installed outside CI.
    fn start(algorithm: &str) -> Option<Kamailio> {
        let mut last_log = String::new();
        for _ in 0..3 {
            match Self::start_once(algorithm)? {
                Ok(k) => return Some(k),
                Err(log) => last_log = log,
            }
        }
        panic!("Kamailio did not become ready in three tries; its last log:\n{last_log}");
    }

    /// One start; `Err(log)` when it exited or did not answer in time.
    fn start_once(algorithm: &str) -> Option<Result<Kamailio, String>> {
        let Some(bin) = kamailio_binary() else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "Kamailio is not installed: tests/run.sh installs it (apt-get install kamailio kamailio-tls-modules)"
            );
            eprintln!("SKIP: kamailio is not installed; run tests/run.sh to install it");
            return None;
        };
        let modules = modules_dir().expect("Kamailio modules (kamailio-tls-modules installed?)");
        let pki = Pki::new();
        let (server_cert, server_key) = pki.server_pem_files();
        let dir = tempfile::tempdir().expect("temp dir");
        let mut ports = Vec::new();
        for _ in 0..4 {
            let p = free_port(&ports);
            ports.push(p);
        }
        let (udp, tls, mtls, udp_only) = (ports[0], ports[1], ports[2], ports[3]);
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/kamailio");
        let fill = |template: &str| {
            template
                .replace("@DIR@", dir.path().to_str().expect("utf-8 path"))
                .replace("@PORT_UDP_ONLY@", &udp_only.to_string())
                .replace("@PORT_UDP@", &udp.to_string())
                .replace("@PORT_TLS@", &tls.to_string())
                .replace("@PORT_MTLS@", &mtls.to_string())
                .replace("@USER@", USER)
                .replace("@PASSWORD@", PASSWORD)
                .replace("@AUTH_ALGORITHM@", algorithm)
                .replace("@MIN_EXPIRES@", "10")
                .replace("@MODULES_DIR@", modules.to_str().expect("utf-8 path"))
                .replace("@SERVER_CERT@", server_cert.to_str().expect("utf-8 path"))
                .replace("@SERVER_KEY@", server_key.to_str().expect("utf-8 path"))
                .replace("@CA_CERT@", pki.ca_pem.to_str().expect("utf-8 path"))
                .replace("@TLS_METHOD@", "TLSv1.2+")
        };
        for name in ["kamailio.cfg", "tls.cfg"] {
            let template =
                std::fs::read_to_string(fixtures.join(format!("{name}.in"))).expect("template");
            std::fs::write(dir.path().join(name), fill(&template)).expect("write config");
        }
        let child = spawn(&bin, dir.path());
        let mut k = Kamailio {
            child,
            dir,
            udp,
            tls,
            mtls,
            udp_only,
            pki,
        };
        if k.wait_ready() {
            Some(Ok(k))
        } else {
            Some(Err(k.log()))
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("kamailio.log")).unwrap_or_default()
    }

    /// Waits until Kamailio answers an OPTIONS on its UDP port.
    fn wait_ready(&mut self) -> bool {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let local = sock.local_addr().expect("addr");
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            let options = format!(
                "OPTIONS sip:127.0.0.1:{p} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKready{n};rport\r\n\
                 From: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: ready@sipreg\r\n\
                 CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
                p = self.udp,
                n = deadline.elapsed().as_nanos()
            );
            let _ = sock.send_to(options.as_bytes(), ("127.0.0.1", self.udp));
            if let Ok((n, _)) = sock.recv_from(&mut buf) {
                if buf[..n].starts_with(b"SIP/2.0 200") {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    fn ul_dump(&self) -> String {
        let socket = format!("unix:{}", self.dir.path().join("kamailio_ctl").display());
        let out = Command::new("kamcmd")
            .args(["-s", &socket, "ul.dump"])
            .output()
            .expect("kamcmd runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn udp_server(&self) -> String {
        format!("127.0.0.1:{}", self.udp)
    }

    /// Runs sipreg with the password in SIPREG_PASSWORD.
    fn sipreg(&self, args: &[&str]) -> Run {
        run_cmd(sipreg().args(args).env("SIPREG_PASSWORD", PASSWORD))
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        self.stop();
    }
}

fn local_of(run: &Run) -> String {
    let j = run.json();
    let attempts = j["attempts"].as_array().expect("attempts").clone();
    attempts
        .last()
        .and_then(|a| a["local"].as_str().map(str::to_string))
        .expect("local address")
}

#[test]
fn digest_registration_over_udp_tcp_tls_and_mutual_tls() {
    let Some(k) = Kamailio::start("MD5") else {
        return;
    };
    let ca = k.pki.ca_pem.to_str().unwrap().to_string();
    let cert = k.pki.client_cert.to_str().unwrap().to_string();
    let key = k.pki.client_key.to_str().unwrap().to_string();
    let tls = format!("127.0.0.1:{}", k.tls);
    let mtls = format!("127.0.0.1:{}", k.mtls);
    let udp = k.udp_server();
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        ("UDP", vec!["--udp", &udp], "udp"),
        ("TCP", vec!["--tcp", &udp], "tcp"),
        ("TLS", vec!["--tls", "--ca-file", &ca, &tls], "tls"),
        (
            "mutual TLS",
            vec![
                "--tls",
                "--ca-file",
                &ca,
                "--cert",
                &cert,
                "--key",
                &key,
                &mtls,
            ],
            "tls",
        ),
    ];
    for (name, args, transport) in cases {
        let mut all = vec!["--json", "--user", USER];
        all.extend(args);
        let out = k.sipreg(&all);
        assert_eq!(out.code, 0, "{name}: {}\n{}", out.stdout, k.log());
        let j = out.json();
        assert_eq!(j["transport"], transport, "{name}");
        assert_eq!(
            j["attempts"][0]["requests"], 2,
            "{name}: REGISTER, 401, REGISTER"
        );
        assert_eq!(j["unregister"]["done"], true, "{name}");
        assert_eq!(j["expires"], 3600, "{name}");
        assert_eq!(
            j["attempts"][0]["binding"]["matched"], "exact",
            "{name}: Kamailio lists our Contact as sent"
        );
        assert_eq!(j["warnings"], serde_json::json!([]), "{name}");
        let local = local_of(&out);
        assert!(
            !k.ul_dump().contains(&format!("sip:{USER}@{local}")),
            "{name}: the binding is gone after the run"
        );
    }
}

#[test]
fn keep_leaves_the_binding_in_kamailio() {
    let Some(k) = Kamailio::start("MD5") else {
        return;
    };
    let out = k.sipreg(&[
        "--json",
        "--udp",
        "--keep",
        "--user",
        USER,
        "--expires",
        "300",
        &k.udp_server(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(out.json()["expires"], 300);
    let dump = k.ul_dump();
    assert!(
        dump.contains(&format!("Address: sip:{USER}@{}", local_of(&out))),
        "binding missing:\n{dump}"
    );
}

#[test]
fn default_flags_fall_back_from_refused_tcp_to_udp() {
    let Some(k) = Kamailio::start("MD5") else {
        return;
    };
    let out = k.sipreg(&[
        "--json",
        "--user",
        USER,
        &format!("127.0.0.1:{}", k.udp_only),
    ]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(attempts(&out.json()), ["tcp:refused", "udp:registered"]);
}

#[test]
fn wrong_password_unknown_user_and_missing_device_certificate() {
    let Some(k) = Kamailio::start("MD5") else {
        return;
    };
    let wrong = run_cmd(
        sipreg()
            .args(["--json", "--user", USER, &k.udp_server()])
            .env("SIPREG_PASSWORD", "wrong"),
    );
    assert_eq!(wrong.code, 4, "{}", wrong.stdout);
    assert_eq!(
        attempts(&wrong.json()),
        ["tcp:unauthorized"],
        "no fallback after a failed authentication"
    );

    let unknown = k.sipreg(&["--json", "--user", "mallory", &k.udp_server()]);
    assert_eq!(unknown.code, 1, "{}", unknown.stdout);
    let j = unknown.json();
    assert_eq!(attempts(&j), ["tcp:rejected"], "403 ends the cycle");
    assert_eq!(j["attempts"][0]["status"], 403);

    let ca = k.pki.ca_pem.to_str().unwrap();
    let no_cert = k.sipreg(&[
        "--json",
        "--tls",
        "--ca-file",
        ca,
        "--user",
        USER,
        &format!("127.0.0.1:{}", k.mtls),
    ]);
    assert_eq!(no_cert.code, 3, "{}", no_cert.stdout);
    let j = no_cert.json();
    assert_eq!(attempts(&j), ["tls:tls_failed"]);
    let reason = j["attempts"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("certificate"), "{reason}");
}

#[test]
fn sha256_digest_and_interval_too_brief() {
    let Some(k) = Kamailio::start("SHA-256") else {
        return;
    };
    let out = k.sipreg(&[
        "--json",
        "--udp",
        "--user",
        USER,
        "--expires",
        "5",
        &k.udp_server(),
    ]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, k.log());
    let j = out.json();
    assert_eq!(j["expires"], 10, "423 answered with Min-Expires 10");
    assert_eq!(j["attempts"][0]["requests"], 3, "401, then 423, then 200");
}

/// Reads the JSON event lines of a running watch on a thread of their own.
fn event_lines(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<serde_json::Value> {
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Ok(v) = serde_json::from_str(&line) {
                if tx.send(v).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

/// The next event named `name` within `wait`, skipping others (which are returned too).
fn next_named(
    rx: &std::sync::mpsc::Receiver<serde_json::Value>,
    name: &str,
    wait: Duration,
    seen: &mut Vec<serde_json::Value>,
) -> Option<serde_json::Value> {
    let deadline = Instant::now() + wait;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let v = rx.recv_timeout(left).ok()?;
        seen.push(v.clone());
        if v["event"] == name {
            return Some(v);
        }
    }
    None
}

#[test]
fn watch_holds_the_binding_with_pongs_and_survives_a_restart() {
    let Some(mut k) = Kamailio::start("MD5") else {
        return;
    };
    let server = k.udp_server();
    let mut child = sipreg()
        .args([
            "watch",
            "--json",
            "--tcp",
            "--keepalive",
            "500ms",
            "--retry-interval",
            "500ms",
            "--retry-max",
            "1s",
            "--user",
            USER,
            &server,
        ])
        .env("SIPREG_PASSWORD", PASSWORD)
        .stdout(Stdio::piped())
        .spawn()
        .expect("sipreg runs");
    let rx = event_lines(&mut child);
    let mut child = Reap(child);
    let mut seen = Vec::new();
    let wait = Duration::from_secs(10);
    assert!(
        next_named(&rx, "registered", wait, &mut seen).is_some(),
        "{seen:?}\n{}",
        k.log()
    );
    let pong = next_named(&rx, "keepalive", wait, &mut seen).expect("Kamailio answers pings");
    assert!(pong["rtt_ms"].as_f64().is_some(), "{pong}");
    let restarted = Instant::now();
    k.restart();
    assert!(
        next_named(&rx, "registration_lost", wait, &mut seen).is_some(),
        "{seen:?}"
    );
    assert!(
        next_named(&rx, "registered", wait, &mut seen).is_some(),
        "{seen:?}"
    );
    // Kamailio is back within a few seconds; with a 0.5–1 s backoff the phone follows within one or
    // two more.
    let took = restarted.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "registered again {took:?} after the restart began"
    );
    assert!(
        k.ul_dump().contains(&format!("sip:{USER}@")),
        "bound at the new Kamailio"
    );
    let _ = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status();
    let summary = next_named(&rx, "", Duration::from_secs(10), &mut seen);
    assert!(summary.is_none());
    let code = child.0.wait().expect("sipreg ends").code();
    assert_eq!(code, Some(6), "registered, but dropped: {seen:?}");
    let last = seen.last().expect("a summary");
    assert_eq!(last["summary"]["drops"], 1, "{last}");
    assert!(
        !k.ul_dump().contains(&format!("sip:{USER}@")),
        "the binding is removed at the end"
    );
}

/// A child process killed when the test ends, however it ends.
struct Reap(std::process::Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

//! A real Kamailio registrar for the interop tests, on loopback or inside a network namespace.

use std::net::{TcpListener, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{Pki, Run, run_cmd, sipreg};

/// The one user the fixture knows.
pub const USER: &str = "alice";
/// Its password.
pub const PASSWORD: &str = "k4m-secret";

/// A running Kamailio, stopped on drop.
pub struct Kamailio {
    child: Child,
    dir: tempfile::TempDir,
    /// UDP and TCP port.
    pub udp: u16,
    /// TLS port (server authentication only).
    pub tls: u16,
    /// TLS port that requires a client certificate.
    pub mtls: u16,
    /// UDP-only port (TCP refused).
    pub udp_only: u16,
    /// The certificates the TLS ports use.
    pub pki: Pki,
    /// How it was started (for restarts).
    setup: Setup,
}

/// Where and how Kamailio runs.
#[derive(Clone, Debug)]
pub struct Setup {
    /// `auth` module algorithm: "MD5" or "SHA-256".
    pub algorithm: String,
    /// The network namespace to run in (`ip netns exec`); None: the test's own.
    pub netns: Option<String>,
    /// The address every listener binds.
    pub listen_ip: String,
    /// Config defines (`-A NAME`): `WITH_RELAY`, `WITH_NATHELPER`, `WITH_MANY_USERS`, `WITH_STRICT`.
    pub defines: Vec<String>,
    /// The registrar's `min_expires` (a shorter Expires gets 423 with this Min-Expires).
    pub min_expires: u32,
}

impl Setup {
    /// On 127.0.0.1 in the test's own namespace, no defines.
    pub fn loopback(algorithm: &str) -> Setup {
        Setup {
            algorithm: algorithm.to_string(),
            netns: None,
            listen_ip: "127.0.0.1".to_string(),
            defines: Vec::new(),
            min_expires: 10,
        }
    }

    /// On 127.0.0.1, as the stricter registrar `WITH_STRICT` makes of it: no CRLF pongs, bindings
    /// matched by Contact URI (not +sip.instance), 407 for requests from its own domain before it
    /// relays them, and `min_expires` 60.
    pub fn strict(algorithm: &str) -> Setup {
        Setup {
            defines: vec!["WITH_STRICT".to_string()],
            min_expires: 60,
            ..Setup::loopback(algorithm)
        }
    }

    /// Inside the namespace `ns`, listening on `ip`, with `defines`; MD5 digest.
    pub fn in_netns(ns: &str, ip: impl ToString, defines: &[&str]) -> Setup {
        Setup {
            algorithm: "MD5".to_string(),
            netns: Some(ns.to_string()),
            listen_ip: ip.to_string(),
            defines: defines.iter().map(|d| d.to_string()).collect(),
            min_expires: 10,
        }
    }
}

/// The installed Kamailio, if any.
fn kamailio_binary() -> Option<PathBuf> {
    ["/usr/sbin/kamailio", "/usr/local/sbin/kamailio"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Where Kamailio's modules are (the one with registrar.so).
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

/// Runs Kamailio with the configuration in `dir`, its log in `dir/kamailio.log`; inside
/// `setup.netns` when set, with `setup.defines` as `-A` defines.
fn spawn(bin: &Path, dir: &Path, setup: &Setup) -> std::process::Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("kamailio.log"))
        .expect("log file");
    let mut cmd = match &setup.netns {
        // `ip netns exec` execs Kamailio itself: the child's pid is Kamailio's.
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    for d in &setup.defines {
        cmd.arg("-A").arg(d);
    }
    cmd.args(["-DD", "-E", "-m", "64", "-M", "8", "-f"])
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
    pub fn restart(&mut self) {
        self.stop();
        let bin = kamailio_binary().expect("kamailio");
        self.child = spawn(&bin, self.dir.path(), &self.setup);
        assert!(self.wait_ready(), "Kamailio restarted: {}", self.log());
    }

    /// Stops Kamailio: SIGTERM, then SIGKILL to its process group after 5 s.
    pub fn stop(&mut self) {
        super::stop_group(&mut self.child, Duration::from_secs(5));
    }

    /// Starts Kamailio (up to three tries with fresh ports), or returns None (skip) when it is not
    /// installed outside CI.
    pub fn start(algorithm: &str) -> Option<Kamailio> {
        Self::start_with(Setup::loopback(algorithm))
    }

    /// Starts Kamailio as `setup` says (up to three tries), or returns None (skip) when it is not
    /// installed outside CI.
    pub fn start_with(setup: Setup) -> Option<Kamailio> {
        let mut last_log = String::new();
        for _ in 0..3 {
            match Self::start_once(&setup)? {
                Ok(k) => return Some(k),
                Err(log) => last_log = log,
            }
        }
        panic!("Kamailio did not become ready in three tries; its last log:\n{last_log}");
    }

    /// One start; `Err(log)` when it exited or did not answer in time.
    fn start_once(setup: &Setup) -> Option<Result<Kamailio, String>> {
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
        if setup.netns.is_some() {
            // A namespace of its own: every port is free there.
            ports.extend([5060, 5061, 5062, 5070]);
        } else {
            for _ in 0..4 {
                let p = free_port(&ports);
                ports.push(p);
            }
        }
        let (udp, tls, mtls, udp_only) = (ports[0], ports[1], ports[2], ports[3]);
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/kamailio");
        let fill = |template: &str| {
            template
                .replace("@DIR@", dir.path().to_str().expect("utf-8 path"))
                .replace("@LISTEN_IP@", &setup.listen_ip)
                .replace("@PORT_UDP_ONLY@", &udp_only.to_string())
                .replace("@PORT_UDP@", &udp.to_string())
                .replace("@PORT_TLS@", &tls.to_string())
                .replace("@PORT_MTLS@", &mtls.to_string())
                .replace("@USER@", USER)
                .replace("@PASSWORD@", PASSWORD)
                .replace("@AUTH_ALGORITHM@", &setup.algorithm)
                .replace("@MIN_EXPIRES@", &setup.min_expires.to_string())
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
        let child = spawn(&bin, dir.path(), setup);
        let mut k = Kamailio {
            child,
            dir,
            udp,
            tls,
            mtls,
            udp_only,
            pki,
            setup: setup.clone(),
        };
        if k.wait_ready() {
            Some(Ok(k))
        } else {
            Some(Err(k.log()))
        }
    }

    /// Kamailio's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("kamailio.log")).unwrap_or_default()
    }

    /// Waits until Kamailio answers an OPTIONS on its UDP port.
    fn wait_ready(&mut self) -> bool {
        if let Some(ns) = self.setup.netns.clone() {
            return self.wait_ready_in(&ns);
        }
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

    /// Waits until Kamailio answers an OPTIONS on its UDP port, asked from inside the namespace
    /// `ns` by a small Python probe that tries for up to 30 s.
    fn wait_ready_in(&mut self, ns: &str) -> bool {
        let mut probe = Command::new("ip")
            .args(["netns", "exec", ns, "python3", "-c", READY_PROBE])
            .arg(&self.setup.listen_ip)
            .arg(self.udp.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs");
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                let _ = probe.kill();
                let _ = probe.wait();
                return false;
            }
            if let Ok(Some(status)) = probe.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The location table (`kamcmd ul.dump`).
    pub fn ul_dump(&self) -> String {
        let socket = format!("unix:{}", self.dir.path().join("kamailio_ctl").display());
        let out = Command::new("kamcmd")
            .args(["-s", &socket, "ul.dump"])
            .output()
            .expect("kamcmd runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The UDP/TCP listener as `IP:PORT`.
    pub fn udp_server(&self) -> String {
        format!("{}:{}", self.setup.listen_ip, self.udp)
    }

    /// Runs sipreg with the password in SIPREG_PASSWORD.
    pub fn sipreg(&self, args: &[&str]) -> Run {
        run_cmd(sipreg().args(args).env("SIPREG_PASSWORD", PASSWORD))
    }

    /// `sipreg watch --json --wss` at the TLS port (`WITH_WEBSOCKET`), keep-alives every 300 ms, with
    /// `extra` flags; and the summary of its last line.
    pub fn wss_watch(&self, extra: &[&str]) -> (Run, serde_json::Value) {
        let ca = self.pki.ca_pem.to_str().expect("utf-8 path").to_string();
        let wss = format!("127.0.0.1:{}", self.tls);
        let mut args = vec![
            "watch",
            "--json",
            "--wss",
            "--ca-file",
            &ca,
            "--keepalive",
            "300ms",
        ];
        args.extend_from_slice(extra);
        args.extend(["--user", USER, &wss]);
        let out = self.sipreg(&args);
        let last = out.stdout.lines().last().unwrap_or_default();
        let summary = serde_json::from_str::<serde_json::Value>(last)
            .map(|j| j["summary"].clone())
            .unwrap_or_default();
        (out, summary)
    }
}

/// Sends OPTIONS to `sys.argv[1]:sys.argv[2]` over UDP every 100 ms until a 200 comes back (exit 0) or
/// 30 s pass (exit 1).
const READY_PROBE: &str = r#"
import socket, sys, time
ip, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((ip, 0))
s.settimeout(0.2)
here = "%s:%d" % s.getsockname()
end = time.time() + 30
n = 0
while time.time() < end:
    n += 1
    m = ("OPTIONS sip:%s:%d SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bKready%d;rport\r\n"
         "From: <sip:probe@%s>;tag=1\r\nTo: <sip:%s>\r\nCall-ID: ready%d@sipreg\r\n"
         "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n") % (
        ip, port, here, n, ip, ip, n)
    try:
        s.sendto(m.encode(), (ip, port))
        if s.recv(4096).startswith(b"SIP/2.0 200"):
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit(1)
"#;

impl Drop for Kamailio {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Kamailio's sipcapture as a real HEP receiver (fixtures/kamailio/hep-receiver.cfg.in): one log
/// line per SIP message it decoded, killed on drop.
pub struct HepReceiver {
    child: std::process::Child,
    /// Where it takes HEP.
    pub addr: std::net::SocketAddr,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl HepReceiver {
    /// Starts it, or `None` (with a note) outside CI when Kamailio or sipcapture is missing.
    pub fn start() -> Option<HepReceiver> {
        let (Some(bin), Some(modules)) = (kamailio_binary(), modules_dir()) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "kamailio is missing under CI"
            );
            eprintln!("SKIP: kamailio is not installed; run tests/run.sh to install it");
            return None;
        };
        assert!(
            modules.join("sipcapture.so").exists(),
            "sipcapture.so ships with kamailio"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("db")).unwrap();
        std::fs::write(dir.path().join("db/version"), "").unwrap();
        let port = free_port(&[]);
        let cfg = include_str!("../../../fixtures/kamailio/hep-receiver.cfg.in")
            .replace("@PORT@", &port.to_string())
            .replace("@MODULES_DIR@", modules.to_str().expect("utf-8 path"))
            .replace("@DIR@", dir.path().to_str().expect("utf-8 path"));
        let path = dir.path().join("hep.cfg");
        std::fs::write(&path, cfg).unwrap();
        let log = dir.path().join("hep.log");
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(bin)
            .args(["-DD", "-E", "-m", "16", "-M", "4", "-f"])
            .arg(&path)
            .arg("-Y")
            .arg(dir.path())
            .arg("-P")
            .arg(dir.path().join("pid"))
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .process_group(0)
            .spawn()
            .unwrap();
        let receiver = HepReceiver {
            child,
            addr: ([127, 0, 0, 1], port).into(),
            log,
            _dir: dir,
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !receiver.log_text().contains("udp: 127.0.0.1:") {
            assert!(
                std::time::Instant::now() < deadline,
                "{}",
                receiver.log_text()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Some(receiver)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The messages it decoded so far: `request METHOD from=… to=… call-id=…` or `reply STATUS …`.
    pub fn messages(&self) -> Vec<String> {
        self.log_text()
            .lines()
            .filter_map(|l| l.split("HEP ").nth(1))
            .map(str::to_string)
            .collect()
    }
}

impl Drop for HepReceiver {
    fn drop(&mut self) {
        super::stop_group(&mut self.child, Duration::from_secs(5));
    }
}

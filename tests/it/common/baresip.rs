//! baresip (1.0.0) as a headless reference phone: registers one account at a registrar and reports
//! every registration outcome it prints, so that a test can tell "stays registered" from "dropped".

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What one registration attempt of baresip came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A 2xx to the REGISTER: `alice@127.0.0.1: {0/TCP/v4} 200 OK (server) [1 binding]`.
    Registered,
    /// A final failure, with baresip's line: `reg: sip:alice@127.0.0.1:5060: 401 Unauthorized (server)`,
    /// `... 403 Forbidden (...)`, `... Register: Connection refused`, `... Register: Connection timed out`.
    Failed(String),
}

/// The account one baresip registers.
#[derive(Clone, Debug)]
pub struct Account {
    /// The registrar as `IP:PORT` (an IP address: nothing is resolved).
    pub registrar: String,
    /// `udp`, `tcp` or `tls`.
    pub transport: String,
    /// The user part of the AOR and the digest username.
    pub user: String,
    /// The digest password (no `;`, `"`, `>` or whitespace: it goes into the accounts line as is).
    pub password: String,
    /// The Expires baresip asks for; it re-registers at 90 % of what the registrar grants, and
    /// follows a 423's Min-Expires by itself.
    pub regint: u32,
    /// The port baresip listens on for UDP and TCP (TLS listens on the next one); 0: any.
    pub listen_port: u16,
    /// More account parameters, appended as they are (e.g. `;sipnat=outbound`).
    pub extra: String,
}

/// What the reader threads have seen so far.
#[derive(Default)]
struct Seen {
    /// Every output line, escape sequences removed.
    lines: Vec<String>,
    /// Every verdict line, in order.
    verdicts: Vec<Verdict>,
    /// 2xx responses to REGISTER seen in the SIP trace (re-registrations included; the verdict line
    /// is printed only when the status changes).
    register_ok: usize,
    /// State of the SIP trace block being read.
    block: Block,
}

/// Where the reader is in a SIP trace block (`-s`): `#`, `TCP a -> b`, the message, an empty line.
#[derive(Default)]
enum Block {
    #[default]
    Outside,
    /// After `#`: the transport line comes next.
    Header,
    /// Inside the message; whether its start line is a 2xx response.
    Message { first: bool, success: bool },
}

/// A running baresip, killed (with its process group) on drop.
pub struct Baresip {
    child: Child,
    dir: tempfile::TempDir,
    seen: Arc<Mutex<Seen>>,
    /// `urn:uuid:…`, sent as `+sip.instance` in every Contact.
    pub instance: String,
    /// The account.
    pub account: Account,
}

/// The installed baresip, if any.
fn baresip_binary() -> Option<PathBuf> {
    ["/usr/bin/baresip", "/usr/local/bin/baresip"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Where baresip's modules are (the one with uuid.so and account.so).
fn modules_dir() -> Option<PathBuf> {
    ["/usr/lib/baresip/modules", "/usr/local/lib/baresip/modules"]
        .iter()
        .map(PathBuf::from)
        .find(|d| d.join("uuid.so").exists() && d.join("account.so").exists())
}

/// A version 4 UUID from the standard library's random hasher keys.
fn random_uuid() -> String {
    use std::fmt::Write;
    use std::hash::{BuildHasher, Hasher};
    let mut bytes = [0u8; 16];
    for (i, half) in bytes.chunks_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        half.copy_from_slice(&h.finish().to_le_bytes());
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = bytes.iter().fold(String::new(), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    });
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// `line` without ANSI escape sequences (baresip colours warnings: `ESC[31m … ESC[;m`) and
/// without a trailing CR (SIP trace lines end in CRLF).
fn plain(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ parameters… final byte (a letter)
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out.trim_end_matches('\r').to_string()
}

impl Seen {
    /// Takes one output line of baresip for `user`.
    fn feed(&mut self, raw: &str, user: &str) {
        let line = plain(raw);
        self.trace(&line);
        if let Some(v) = verdict(&line, user) {
            self.verdicts.push(v);
        }
        self.lines.push(line);
    }

    /// Follows the SIP trace blocks and counts 2xx responses to REGISTER.
    fn trace(&mut self, line: &str) {
        self.block = match std::mem::take(&mut self.block) {
            Block::Outside if line == "#" => Block::Header,
            Block::Outside => Block::Outside,
            Block::Header => Block::Message {
                first: true,
                success: false,
            },
            Block::Message { .. } if line.is_empty() => Block::Outside,
            Block::Message { first: true, .. } => Block::Message {
                first: false,
                success: line.starts_with("SIP/2.0 2"),
            },
            Block::Message { success, .. } => {
                let cseq = line
                    .split_once(':')
                    .filter(|(name, _)| name.trim().eq_ignore_ascii_case("cseq"))
                    .map(|(_, value)| value.split_whitespace().nth(1) == Some("REGISTER"));
                if success && cseq == Some(true) {
                    self.register_ok += 1;
                }
                Block::Message {
                    first: false,
                    success,
                }
            }
        };
    }
}

/// The verdict `line` (escape sequences removed) tells for `user`, if any.
fn verdict(line: &str, user: &str) -> Option<Verdict> {
    // ua_printf: "alice@127.0.0.1: {0/TCP/v4} 200 OK (server) [1 binding]"
    if let Some(rest) = line.strip_prefix(user).and_then(|r| r.strip_prefix('@')) {
        let (_, status) = rest.split_once(": {")?;
        let (_, code) = status.split_once("} ")?;
        // printed for 2xx only, and only when the status changes (not on every re-registration)
        return code.starts_with('2').then_some(Verdict::Registered);
    }
    // reg.c warnings: "reg: sip:alice@127.0.0.1:5060: 401 Unauthorized (server)",
    // "reg: sip:alice@127.0.0.1:5060: Register: Connection refused"; ua.c: "ua: SIP register failed: …"
    let aor = format!("reg: sip:{user}@");
    if line.starts_with(&aor) || line.starts_with("ua: SIP register failed") {
        return Some(Verdict::Failed(line.to_string()));
    }
    None
}

/// Reads `stream` line by line into `seen` until it ends.
fn read_into(stream: impl Read + Send + 'static, seen: Arc<Mutex<Seen>>, user: String) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf);
                    let line = line.trim_end_matches('\n');
                    if let Ok(mut s) = seen.lock() {
                        s.feed(line, &user);
                    }
                }
            }
        }
    });
}

impl Baresip {
    /// Starts baresip registering `user` (password `password`) at `registrar` (`IP:PORT`) over
    /// `transport` (`udp`, `tcp`, `tls`) with Expires `regint`, listening on 127.0.0.1 (any port).
    /// None (skip) when baresip is not installed outside CI.
    pub fn start(
        registrar: &str,
        transport: &str,
        user: &str,
        password: &str,
        regint: u32,
    ) -> Option<Baresip> {
        Self::start_with(Account {
            registrar: registrar.to_string(),
            transport: transport.to_string(),
            user: user.to_string(),
            password: password.to_string(),
            regint,
            listen_port: 0,
            extra: String::new(),
        })
    }

    /// Starts baresip for `account`; None (skip) when baresip is not installed outside CI.
    ///
    /// Its configuration directory holds: `config` (no audio, video or UI module: nothing reads
    /// the terminal; SIP on 127.0.0.1; a DNS server on loopback so that nothing can leave the
    /// host), `accounts` (one line), `uuid` (the instance ID, without a newline: with one baresip
    /// sends no REGISTER at all). It runs with `-s` (SIP trace, to count re-registrations) under
    /// `stdbuf -oL`: baresip writes to stdout through stdio and a pipe would hold its lines back.
    /// baresip 1.0.0 does not verify a TLS server's certificate at all (`sip_cafile` only adds a
    /// CA; there is no `sip_verify_server` yet), so TLS works against any certificate.
    pub fn start_with(account: Account) -> Option<Baresip> {
        let Some(bin) = baresip_binary() else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "baresip is not installed: tests/run.sh installs it (apt-get install baresip-core)"
            );
            eprintln!("SKIP: baresip is not installed; run tests/run.sh to install it");
            return None;
        };
        assert!(
            !account
                .password
                .contains(|c: char| c == ';' || c == '"' || c == '>' || c.is_whitespace()),
            "the password goes into baresip's accounts line unquoted"
        );
        assert!(
            ["udp", "tcp", "tls"].contains(&account.transport.as_str()),
            "transport is udp, tcp or tls"
        );
        let modules = modules_dir().expect("baresip modules (uuid.so, account.so)");
        let dir = tempfile::tempdir().expect("temp dir");
        let config = format!(
            "poll_method\t\tepoll\n\
             sip_listen\t\t127.0.0.1:{port}\n\
             call_max_calls\t\t1\n\
             module_path\t\t{modules}\n\
             module\t\t\tuuid.so\n\
             module\t\t\taccount.so\n\
             dns_server\t\t127.0.0.1:53\n\
             net_interface\t\t127.0.0.1\n",
            port = account.listen_port,
            modules = modules.display(),
        );
        let line = format!(
            "<sip:{user}@{registrar};transport={transport}>;auth_pass={password};regint={regint}{extra}\n",
            user = account.user,
            registrar = account.registrar,
            transport = account.transport,
            password = account.password,
            regint = account.regint,
            extra = account.extra,
        );
        let uuid = random_uuid();
        std::fs::write(dir.path().join("config"), config).expect("write config");
        std::fs::write(dir.path().join("accounts"), line).expect("write accounts");
        std::fs::write(dir.path().join("uuid"), &uuid).expect("write uuid");
        let mut cmd = if Path::new("/usr/bin/stdbuf").exists() {
            let mut c = Command::new("/usr/bin/stdbuf");
            c.args(["-oL", "-eL"]).arg(&bin);
            c
        } else {
            Command::new(&bin)
        };
        // stdbuf execs baresip: the child's pid is baresip's.
        let mut child = cmd
            .arg("-s")
            .arg("-f")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("baresip starts");
        let seen = Arc::new(Mutex::new(Seen::default()));
        if let Some(out) = child.stdout.take() {
            read_into(out, seen.clone(), account.user.clone());
        }
        if let Some(err) = child.stderr.take() {
            read_into(err, seen.clone(), account.user.clone());
        }
        Some(Baresip {
            child,
            dir,
            seen,
            instance: format!("urn:uuid:{uuid}"),
            account,
        })
    }

    /// Runs `f` on what has been seen so far.
    fn with<T>(&self, f: impl FnOnce(&Seen) -> T) -> T {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        f(&seen)
    }

    /// Waits up to `timeout` for `pick` to find something in what has been seen.
    fn wait_for<T>(&self, timeout: Duration, pick: impl Fn(&Seen) -> Option<T>) -> Option<T> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(t) = self.with(&pick) {
                return Some(t);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The first verdict, waiting up to `timeout` for it (None: nothing in time).
    pub fn wait_verdict(&self, timeout: Duration) -> Option<Verdict> {
        self.wait_for(timeout, |s| s.verdicts.first().cloned())
    }

    /// Waits up to `timeout` for a failure after the first success: the line, or None when it
    /// stayed registered (or never registered) that long.
    pub fn wait_dropped(&self, timeout: Duration) -> Option<String> {
        self.wait_for(timeout, |s| dropped(&s.verdicts))
    }

    /// Every verdict so far, in order.
    pub fn verdicts(&self) -> Vec<Verdict> {
        self.with(|s| s.verdicts.clone())
    }

    /// How many failures came after the first success.
    pub fn failures_after_success(&self) -> usize {
        self.with(|s| {
            s.verdicts
                .iter()
                .skip_while(|v| **v != Verdict::Registered)
                .filter(|v| matches!(v, Verdict::Failed(_)))
                .count()
        })
    }

    /// Registered once and never failed since (baresip prints a success only when the status
    /// changes, so quiet re-registrations count as staying registered; see `register_ok`).
    pub fn registered_throughout(&self) -> bool {
        self.with(|s| s.verdicts.contains(&Verdict::Registered) && dropped(&s.verdicts).is_none())
    }

    /// How many 2xx responses to REGISTER baresip received (from its SIP trace): the first
    /// registration, every re-registration, and the un-REGISTER when it stops.
    pub fn register_ok(&self) -> usize {
        self.with(|s| s.register_ok)
    }

    /// Everything baresip printed so far (escape sequences removed), for assertion messages.
    pub fn output(&self) -> String {
        self.with(|s| s.lines.join("\n"))
    }

    /// The configuration directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stops baresip: SIGTERM (it un-REGISTERs), then SIGKILL to its process group after 2 s.
    pub fn stop(&mut self) {
        super::stop_group(&mut self.child, Duration::from_secs(2));
    }
}

/// The first failure after the first success, if any.
fn dropped(verdicts: &[Verdict]) -> Option<String> {
    verdicts
        .iter()
        .skip_while(|v| **v != Verdict::Registered)
        .find_map(|v| match v {
            Verdict::Failed(line) => Some(line.clone()),
            Verdict::Registered => None,
        })
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

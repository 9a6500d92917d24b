//! A minimal HTTP client for the tests, the sipreg exporter run in the background, and the real
//! Prometheus tools (promtool, prometheus) when the machine has them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

/// GET `path` from `addr` with extra header lines (`Name: value`).
pub fn get(addr: SocketAddr, path: &str, headers: &[&str]) -> Answer {
    try_get(addr, path, headers).unwrap_or_else(|e| panic!("GET http://{addr}{path}: {e}"))
}

/// [`get`], or the error when nothing answers.
pub fn try_get(addr: SocketAddr, path: &str, headers: &[&str]) -> std::io::Result<Answer> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    Ok(Answer {
        status,
        content_type,
        body: dechunk(head, body),
    })
}

fn dechunk(head: &str, body: &str) -> String {
    if !head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return body.to_string();
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

/// The value of a sample line `name{labels} value` (labels given exactly as printed, or none).
pub fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (name, value) = l.rsplit_once(' ')?;
        (name == series).then(|| value.parse().ok())?
    })
}

/// A sipreg process serving HTTP in the background, killed on drop.
pub struct Served {
    pub child: Child,
    pub addr: SocketAddr,
    pub stderr: BufReader<std::process::ChildStderr>,
}

impl Served {
    /// Starts `cmd` (stderr piped) and reads the `http://ADDR/` it announces on stderr.
    pub fn start(cmd: &mut Command) -> Served {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sipreg runs");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        let addr = loop {
            line.clear();
            let n = stderr.read_line(&mut line).unwrap_or(0);
            assert!(n > 0, "sipreg ended before announcing its address");
            if let Some(at) = line.split("http://").nth(1) {
                let addr = at.split('/').next().unwrap_or_default();
                break addr.parse().expect("an address");
            }
        };
        Served {
            child,
            addr,
            stderr,
        }
    }

    /// Stops the process with SIGTERM and returns the rest of its stderr.
    pub fn stop(mut self) -> String {
        super::signal(&self.child, "TERM");
        let _ = self.child.wait();
        let mut rest = String::new();
        let _ = self.stderr.read_to_string(&mut rest);
        rest
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The exporter with this config text, on a free loopback port.
pub fn exporter(dir: &Path, config: &str, extra: &[&str]) -> Served {
    let path = dir.join("sipreg-exporter.toml");
    std::fs::write(&path, config).unwrap();
    let mut cmd = super::sipreg();
    cmd.args(["exporter", "--listen", "127.0.0.1:0", "--config"])
        .arg(&path)
        .args(extra);
    Served::start(&mut cmd)
}

/// A Prometheus tool from Debian's package: `None` (with a note) outside CI when it is missing;
/// under CI its absence fails the test, since tests/run.sh installs it.
pub fn prometheus_tool(name: &str) -> Option<std::path::PathBuf> {
    let path = Path::new("/usr/bin").join(name);
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{name} is missing under CI: tests/run.sh installs Debian's prometheus"
    );
    eprintln!("SKIP: {name} is not installed (tests/run.sh installs Debian's prometheus)");
    None
}

/// `promtool check metrics` on a page: its complaints, empty when it is clean.
pub fn promtool_check(page: &str) -> Option<String> {
    let promtool = prometheus_tool("promtool")?;
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(if out.status.success() {
        String::new()
    } else {
        said
    })
}

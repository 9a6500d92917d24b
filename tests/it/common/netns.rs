//! A real NAT for tests: client, router and server network namespaces joined by veth pairs, nftables masquerade in the router.

use std::ffi::OsStr;
use std::net::Ipv4Addr;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// Numbers the namespaces of this test process, so that parallel tests never share a name.
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The router's interface towards the client (the private side).
const ROUTER_INSIDE: &str = "rc";
/// The router's interface towards the server (the public side, masqueraded).
const ROUTER_OUTSIDE: &str = "rs";

/// Three namespaces: `client` (10.90.N.2) behind `router` (10.90.N.1 inside, 10.90.N+1.1 outside),
/// which masquerades what goes out towards `server` (10.90.N+1.2) and lets nothing new in from the
/// server side. Dropping it deletes the namespaces and ends what still runs in them.
pub struct Topology {
    /// The client's namespace (behind the NAT).
    pub client: String,
    /// The router's namespace (the NAT).
    pub router: String,
    /// The server's namespace (outside).
    pub server: String,
    /// The client's private address.
    pub client_ip: Ipv4Addr,
    /// The router's address on the client side.
    pub router_inside_ip: Ipv4Addr,
    /// The router's address on the server side: what the server sees as the client's source.
    pub router_outside_ip: Ipv4Addr,
    /// The server's address.
    pub server_ip: Ipv4Addr,
    /// Namespaces made so far, deleted on drop.
    made: Vec<String>,
}

/// Runs a program and returns its output, or an error naming the command.
fn output(program: &str, args: &[&str]) -> Result<Output, String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{program} cannot run: {e}"))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Runs a program that must succeed (set-up steps).
fn must(program: &str, args: &[&str]) {
    if let Err(e) = output(program, args) {
        panic!("network namespace set-up: {e}");
    }
}

/// Whether namespaces, veth pairs and nftables can be used here: root, `ip` and `nft` present, and a
/// probe namespace can be made (with an nftables table in it). Checked once per test process.
pub fn available() -> Result<(), String> {
    static CHECKED: OnceLock<Result<(), String>> = OnceLock::new();
    CHECKED
        .get_or_init(|| {
            let uid = output("id", &["-u"])?;
            if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
                return Err("network namespaces need root".into());
            }
            output("ip", &["-V"]).map_err(|e| format!("iproute2 is missing ({e})"))?;
            output("nft", &["--version"])
                .map_err(|e| format!("nftables is missing ({e}); tests/run.sh installs it"))?;
            let probe = format!(
                "sipreg-probe-{}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            );
            output("ip", &["netns", "add", &probe])
                .map_err(|e| format!("cannot make a network namespace: {e}"))?;
            let nft = output(
                "ip",
                &[
                    "netns", "exec", &probe, "nft", "add", "table", "ip", "probe",
                ],
            )
            .map_err(|e| format!("nftables does not work in a namespace: {e}"));
            let _ = output("ip", &["netns", "del", &probe]);
            nft.map(|_| ())
        })
        .clone()
}

/// A new topology, or None (after printing "SKIP: ...") when namespaces cannot be made here; under
/// `CI=true` that panics instead, so that CI never passes a NAT test silently.
pub fn topology_or_skip() -> Option<Topology> {
    match available() {
        Ok(()) => Some(Topology::new()),
        Err(why) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "the NAT tests need network namespaces, and here they cannot be made: {why}"
            );
            eprintln!("SKIP: no network namespaces here ({why})");
            None
        }
    }
}

/// `program args...` run inside the namespace `ns` (`ip netns exec`).
pub fn exec<I, S>(ns: &str, program: impl AsRef<OsStr>, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns]).arg(program).args(args);
    c
}

/// The sipreg binary inside the namespace `ns`, with the clean environment of `common::sipreg()`.
pub fn sipreg_in(ns: &str) -> Command {
    let mut c = exec(ns, env!("CARGO_BIN_EXE_sipreg"), [] as [&str; 0]);
    c.env_remove("SIPREG_PASSWORD")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1");
    c
}

impl Topology {
    /// Makes the namespaces, links, addresses, routes and the router's nftables rules; panics when a
    /// step fails (the namespaces made so far are deleted).
    pub fn new() -> Topology {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = |role: &str| format!("sipreg-{}-{n}-{role}", std::process::id());
        // Each topology is isolated, so the subnets could repeat; distinct ones read better in logs.
        let inside = 10 + 2 * (n % 100) as u8;
        let outside = inside + 1;
        let mut t = Topology {
            client: name("client"),
            router: name("router"),
            server: name("server"),
            client_ip: Ipv4Addr::new(10, 90, inside, 2),
            router_inside_ip: Ipv4Addr::new(10, 90, inside, 1),
            router_outside_ip: Ipv4Addr::new(10, 90, outside, 1),
            server_ip: Ipv4Addr::new(10, 90, outside, 2),
            made: Vec::new(),
        };
        for ns in [t.client.clone(), t.router.clone(), t.server.clone()] {
            must("ip", &["netns", "add", &ns]);
            t.made.push(ns);
        }
        let (c, r, s) = (t.client.as_str(), t.router.as_str(), t.server.as_str());
        // The veth ends are made right in their namespaces: no name is ever taken in the test's own.
        must(
            "ip",
            &[
                "link",
                "add",
                "c0",
                "netns",
                c,
                "type",
                "veth",
                "peer",
                "name",
                ROUTER_INSIDE,
                "netns",
                r,
            ],
        );
        must(
            "ip",
            &[
                "link",
                "add",
                ROUTER_OUTSIDE,
                "netns",
                r,
                "type",
                "veth",
                "peer",
                "name",
                "s0",
                "netns",
                s,
            ],
        );
        let addr = |ns: &str, ip: Ipv4Addr, dev: &str| {
            must(
                "ip",
                &["-n", ns, "addr", "add", &format!("{ip}/24"), "dev", dev],
            );
            must("ip", &["-n", ns, "link", "set", dev, "up"]);
        };
        addr(c, t.client_ip, "c0");
        addr(r, t.router_inside_ip, ROUTER_INSIDE);
        addr(r, t.router_outside_ip, ROUTER_OUTSIDE);
        addr(s, t.server_ip, "s0");
        for ns in [c, r, s] {
            must("ip", &["-n", ns, "link", "set", "lo", "up"]);
        }
        let via_inside = t.router_inside_ip.to_string();
        let via_outside = t.router_outside_ip.to_string();
        must(
            "ip",
            &["-n", c, "route", "add", "default", "via", &via_inside],
        );
        must(
            "ip",
            &["-n", s, "route", "add", "default", "via", &via_outside],
        );
        must(
            "ip",
            &["netns", "exec", r, "sysctl", "-qw", "net.ipv4.ip_forward=1"],
        );
        let rules = format!(
            "table ip nat {{\n\
             \tchain postrouting {{\n\
             \t\ttype nat hook postrouting priority srcnat; policy accept;\n\
             \t\toifname \"{ROUTER_OUTSIDE}\" masquerade\n\
             \t}}\n\
             }}\n\
             table ip filter {{\n\
             \tchain forward {{\n\
             \t\ttype filter hook forward priority filter; policy accept;\n\
             \t\tct state established,related accept\n\
             \t\tiifname \"{ROUTER_OUTSIDE}\" oifname \"{ROUTER_INSIDE}\" drop\n\
             \t}}\n\
             }}\n"
        );
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), rules).expect("write the nftables rules");
        must(
            "ip",
            &[
                "netns",
                "exec",
                r,
                "nft",
                "-f",
                file.path().to_str().expect("utf-8 path"),
            ],
        );
        t
    }

    /// Sets how long the router keeps an idle UDP mapping: conntrack's UDP timeouts (one-way and
    /// "stream", i.e. seen both ways) in the router's namespace.
    pub fn set_udp_timeout(&self, secs: u32) {
        for key in [
            "net.netfilter.nf_conntrack_udp_timeout",
            "net.netfilter.nf_conntrack_udp_timeout_stream",
        ] {
            must(
                "ip",
                &[
                    "netns",
                    "exec",
                    &self.router,
                    "sysctl",
                    "-qw",
                    &format!("{key}={secs}"),
                ],
            );
        }
    }

    /// The router's nftables rules and conntrack table, for failure messages.
    pub fn router_state(&self) -> String {
        let mut s = String::new();
        for args in [
            vec!["nft", "list", "ruleset"],
            vec!["cat", "/proc/net/nf_conntrack"],
        ] {
            if let Ok(out) = exec(&self.router, args[0], &args[1..]).output() {
                s.push_str(&String::from_utf8_lossy(&out.stdout));
            }
        }
        s
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for ns in self.made.drain(..).rev() {
            // A namespace lives on while a process is in it: end what the test left there.
            if let Ok(out) = Command::new("ip").args(["netns", "pids", &ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-KILL", pid]).status();
                }
            }
            let _ = Command::new("ip").args(["netns", "del", &ns]).status();
        }
    }
}

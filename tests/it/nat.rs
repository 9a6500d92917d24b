//! sipreg behind a real NAT (network namespaces, nftables masquerade) against Kamailio: the NAT note and the inbound check.
//!
//! Each test makes its own client, router and server namespaces (`crate::common::netns`), starts Kamailio in
//! the server namespace and runs sipreg in the client namespace. Without namespaces (not root, no
//! `nft`) the tests print "SKIP: ..." and pass, except under `CI=true`, where they fail.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::common::kamailio::{Kamailio, PASSWORD, Setup, USER};
use crate::common::netns::{self, Topology};
use crate::common::{Run, run_cmd};
use serde_json::Value;

/// Kamailio in the server namespace of `t`, with `defines`; None when Kamailio is not installed
/// (outside CI).
fn registrar(t: &Topology, defines: &[&str]) -> Option<Kamailio> {
    Kamailio::start_with(Setup::in_netns(&t.server, t.server_ip, defines))
}

/// Runs sipreg in the client namespace with `args` and the user's password.
/// With `SIPREG_SHOW_NAT=1` (and `--nocapture`) the output of each run is shown, for reports.
fn sipreg(t: &Topology, args: &[&str]) -> Run {
    let out = run_cmd(
        netns::sipreg_in(&t.client)
            .args(args)
            .env("SIPREG_PASSWORD", PASSWORD),
    );
    if std::env::var_os("SIPREG_SHOW_NAT").is_some() {
        eprintln!(
            "$ sipreg {}\n{}exit {}",
            args.join(" "),
            out.stdout,
            out.code
        );
    }
    out
}

/// The last attempt of a report.
fn last_attempt(j: &Value) -> Value {
    j["attempts"]
        .as_array()
        .and_then(|a| a.last())
        .cloned()
        .unwrap_or_else(|| panic!("no attempts in {j}"))
}

/// Everything worth seeing when a NAT test fails.
fn context(out: &Run, k: &Kamailio, t: &Topology) -> String {
    format!(
        "exit {}\nstdout:\n{}\nstderr:\n{}\nKamailio:\n{}\nrouter:\n{}",
        out.code,
        out.stdout,
        out.stderr,
        k.log(),
        t.router_state()
    )
}

/// Sends one UDP datagram from namespace `from` to `to_ip:to_port` while a listener in namespace
/// `at` waits one second for it; returns what the listener printed (the sender's address, or
/// "nothing").
fn udp_reaches(from: &str, at: &str, to_ip: &str, to_port: u16) -> String {
    let mut listener = netns::exec(
        at,
        "python3",
        [
            "-c",
            "import socket, sys\n\
             s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
             s.bind((sys.argv[1], int(sys.argv[2])))\n\
             s.settimeout(1.5)\n\
             print('ready', flush=True)\n\
             try:\n    print('%s:%d' % s.recvfrom(100)[1])\n\
             except OSError:\n    print('nothing')\n",
            to_ip,
            &to_port.to_string(),
        ],
    )
    .stdout(Stdio::piped())
    .spawn()
    .expect("python3 runs");
    let mut stdout = BufReader::new(listener.stdout.take().expect("piped"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("listener is ready");
    assert_eq!(line.trim(), "ready");
    let sent = netns::exec(
        from,
        "python3",
        [
            "-c",
            "import socket, sys\n\
             socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', (sys.argv[1], int(sys.argv[2])))\n",
            to_ip,
            &to_port.to_string(),
        ],
    )
    .status()
    .expect("python3 runs");
    assert!(sent.success());
    line.clear();
    stdout.read_line(&mut line).expect("listener answers");
    let _ = listener.wait();
    line.trim().to_string()
}

#[test]
fn the_topology_is_a_real_nat() {
    let Some(t) = netns::topology_or_skip() else {
        return;
    };
    let seen = udp_reaches(&t.client, &t.server, &t.server_ip.to_string(), 7000);
    assert!(
        seen.starts_with(&format!("{}:", t.router_outside_ip)),
        "the server sees the router's address, not {seen}\n{}",
        t.router_state()
    );
    let seen = udp_reaches(&t.server, &t.client, &t.client_ip.to_string(), 7001);
    assert_eq!(
        seen,
        "nothing",
        "the private address is not reachable from outside\n{}",
        t.router_state()
    );
}

#[test]
fn nat_note_names_the_public_address() {
    let Some(t) = netns::topology_or_skip() else {
        return;
    };
    let Some(k) = registrar(&t, &[]) else {
        return;
    };
    let out = sipreg(&t, &["--json", "--udp", "--user", USER, &k.udp_server()]);
    assert_eq!(out.code, 0, "{}", context(&out, &k, &t));
    let a = last_attempt(&out.json());
    let hint = a["hint"].as_str().unwrap_or_default();
    assert!(hint.starts_with("NAT:"), "{}", context(&out, &k, &t));
    let seen_as = a["seen_as"].as_str().unwrap_or_default();
    assert!(
        seen_as.starts_with(&format!("{}:", t.router_outside_ip)),
        "seen as the router's public address: {}",
        context(&out, &k, &t)
    );
    let local = a["local"].as_str().unwrap_or_default();
    assert!(
        local.starts_with(&format!("{}:", t.client_ip)),
        "sent from the private address: {local}"
    );
}

#[test]
fn inbound_check_fails_when_the_registrar_stores_the_private_contact() {
    let Some(t) = netns::topology_or_skip() else {
        return;
    };
    let Some(k) = registrar(&t, &["WITH_RELAY"]) else {
        return;
    };
    let out = sipreg(
        &t,
        &[
            "--json",
            "--udp",
            "--check-inbound",
            "--user",
            USER,
            &k.udp_server(),
        ],
    );
    assert_eq!(out.code, 5, "{}", context(&out, &k, &t));
    let j = out.json();
    let inbound = &j["inbound"];
    assert_eq!(inbound["arrived"], false, "{}", context(&out, &k, &t));
    let hint = inbound["hint"].as_str().unwrap_or_default().to_lowercase();
    assert!(
        hint.contains("private contact") && hint.contains("behind nat"),
        "the hint names the private Contact behind NAT: {}",
        context(&out, &k, &t)
    );
    assert!(
        !j["expectations_failed"]
            .as_array()
            .map(Vec::is_empty)
            .unwrap_or(true),
        "a failed inbound check is a failed expectation: {j}"
    );
}

#[test]
fn inbound_check_passes_when_the_registrar_fixes_nat() {
    let Some(t) = netns::topology_or_skip() else {
        return;
    };
    let Some(k) = registrar(&t, &["WITH_RELAY", "WITH_NATHELPER"]) else {
        return;
    };
    let out = sipreg(
        &t,
        &[
            "--json",
            "--udp",
            "--check-inbound",
            "--user",
            USER,
            &k.udp_server(),
        ],
    );
    assert_eq!(out.code, 0, "{}", context(&out, &k, &t));
    let inbound = &out.json()["inbound"];
    assert_eq!(inbound["arrived"], true, "{}", context(&out, &k, &t));
    assert_eq!(inbound["status"], 200, "{}", context(&out, &k, &t));
    assert_eq!(inbound["transport"], "udp", "{inbound}");
}

#[test]
fn inbound_check_over_tcp_arrives_on_the_same_flow() {
    let Some(t) = netns::topology_or_skip() else {
        return;
    };
    let Some(k) = registrar(&t, &["WITH_RELAY", "WITH_NATHELPER"]) else {
        return;
    };
    let out = sipreg(
        &t,
        &[
            "--json",
            "--tcp",
            "--check-inbound",
            "--user",
            USER,
            &k.udp_server(),
        ],
    );
    assert_eq!(out.code, 0, "{}", context(&out, &k, &t));
    let inbound = &out.json()["inbound"];
    assert_eq!(inbound["arrived"], true, "{}", context(&out, &k, &t));
    assert_eq!(inbound["transport"], "tcp", "{inbound}");
    assert_eq!(inbound["same_flow"], true, "{inbound}");
    assert_eq!(inbound["status"], 200, "{inbound}");
}

/// Answers one OPTIONS with 200 on `sys.argv[1]:sys.argv[2]`; prints "ready", then the sender's
/// address or "nothing" after 7 s.
const ANSWER_ONE_OPTIONS: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
s.settimeout(7)
print("ready", flush=True)
try:
    data, peer = s.recvfrom(65535)
except OSError:
    print("nothing")
    sys.exit(0)
head = data.decode(errors="replace").split("\r\n\r\n")[0].split("\r\n")
keep = [l for l in head[1:] if l.split(":")[0].strip().lower() in ("via", "v", "from", "f", "to", "t", "call-id", "i", "cseq")]
s.sendto(("SIP/2.0 200 OK\r\n" + "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n").encode(), peer)
print("%s %s:%d" % (head[0].split()[0], peer[0], peer[1]))
"#;

/// Sends OPTIONS for `sip:USER@IP:PORT` to Kamailio at `sys.argv[1]:sys.argv[2]` and prints the
/// final status, or "timeout" after 8 s.
const SEND_OPTIONS_TO_USER: &str = r#"
import socket, sys, time
ip, port, user = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((ip, 0))
here = "%s:%d" % s.getsockname()
m = ("OPTIONS sip:%s@%s:%d SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bKcaller;rport\r\n"
     "From: <sip:caller@%s>;tag=c1\r\nTo: <sip:%s@%s>\r\nCall-ID: caller@sipreg\r\n"
     "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n") % (user, ip, port, here, ip, user, ip)
s.sendto(m.encode(), (ip, port))
end = time.time() + 8
while time.time() < end:
    s.settimeout(max(0.1, end - time.time()))
    try:
        status = int(s.recv(65535).split()[1])
    except OSError:
        break
    if status >= 200:
        print(status)
        sys.exit(0)
print("timeout")
"#;

/// Registers with `--keep` from the client namespace, then has a caller in the server namespace send
/// OPTIONS to the user through Kamailio while a stand-in phone listens on sipreg's old address:
/// returns (what the phone saw, the caller's final status).
fn call_the_registered_user(t: &Topology, k: &Kamailio) -> (String, String) {
    let out = sipreg(
        t,
        &["--json", "--udp", "--keep", "--user", USER, &k.udp_server()],
    );
    assert_eq!(out.code, 0, "{}", context(&out, k, t));
    let local = last_attempt(&out.json())["local"]
        .as_str()
        .expect("local address")
        .to_string();
    let port = local.rsplit(':').next().expect("port").to_string();
    let mut phone = netns::exec(
        &t.client,
        "python3",
        [
            "-c",
            ANSWER_ONE_OPTIONS,
            &t.client_ip.to_string(),
            port.as_str(),
        ],
    )
    .stdout(Stdio::piped())
    .spawn()
    .expect("python3 runs");
    let mut phone_out = BufReader::new(phone.stdout.take().expect("piped"));
    let mut line = String::new();
    phone_out.read_line(&mut line).expect("phone is ready");
    assert_eq!(line.trim(), "ready");
    let caller = netns::exec(
        &t.server,
        "python3",
        [
            "-c",
            SEND_OPTIONS_TO_USER,
            &t.server_ip.to_string(),
            &k.udp.to_string(),
            USER,
        ],
    )
    .output()
    .expect("python3 runs");
    line.clear();
    phone_out.read_line(&mut line).expect("phone answers");
    let _ = phone.wait();
    (
        line.trim().to_string(),
        String::from_utf8_lossy(&caller.stdout).trim().to_string(),
    )
}

#[test]
fn kamailio_relays_to_the_private_contact_without_nathelper() {
    let Some(t) = netns::topology_or_skip() else {
        return;
    };
    let Some(k) = registrar(&t, &["WITH_RELAY"]) else {
        return;
    };
    let (phone, caller) = call_the_registered_user(&t, &k);
    assert_eq!(phone, "nothing", "{}\n{}", k.log(), t.router_state());
    assert_eq!(caller, "408", "tm times out: {}", k.log());
}

#[test]
fn kamailio_relays_through_the_nat_with_nathelper() {
    let Some(t) = netns::topology_or_skip() else {
        return;
    };
    let Some(k) = registrar(&t, &["WITH_RELAY", "WITH_NATHELPER"]) else {
        return;
    };
    let (phone, caller) = call_the_registered_user(&t, &k);
    assert_eq!(
        phone,
        format!("OPTIONS {}:{}", t.server_ip, k.udp),
        "{}\n{}",
        k.log(),
        t.router_state()
    );
    assert_eq!(caller, "200", "{}", k.log());
}

/// The inbound events (`arrived` of each) of a `watch --json` run, and its summary.
fn inbound_events(out: &Run) -> (Vec<bool>, Value) {
    let lines: Vec<Value> = out
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let arrived = lines
        .iter()
        .filter(|e| e["event"] == "inbound")
        .map(|e| e["arrived"] == true)
        .collect();
    let summary = lines
        .last()
        .map(|l| l["summary"].clone())
        .unwrap_or_default();
    (arrived, summary)
}

#[test]
fn a_closed_pinhole_fails_the_inbound_check_and_keepalives_keep_it_open() {
    let Some(t) = netns::topology_or_skip() else {
        return;
    };
    let Some(k) = registrar(&t, &["WITH_RELAY", "WITH_NATHELPER"]) else {
        return;
    };
    // The router forgets a UDP mapping after 2 s without traffic.
    t.set_udp_timeout(2);
    let watch = |keepalive: &str| {
        sipreg(
            &t,
            &[
                "watch",
                "--json",
                "--udp",
                "--keepalive",
                keepalive,
                "--check-inbound=3500ms",
                "--timeout",
                "6s",
                "--duration",
                "15s",
                "--user",
                USER,
                &k.udp_server(),
            ],
        )
    };
    // Without keep-alives the pinhole closes between the checks: the second one fails (Kamailio's
    // relay times out after 5 s, our Timer F after 6 s). That is calls not arriving, not a lost
    // registration: exit 5 and no drop; the binding is refreshed at once on its flow.
    let quiet = watch("0");
    let (arrived, summary) = inbound_events(&quiet);
    assert_eq!(arrived.first(), Some(&true), "{}", context(&quiet, &k, &t));
    assert_eq!(arrived.get(1), Some(&false), "{}", context(&quiet, &k, &t));
    assert!(
        quiet.stdout.contains("\"inbound_failed\""),
        "{}",
        quiet.stdout
    );
    assert!(
        !quiet.stdout.contains("\"registration_lost\""),
        "{}",
        quiet.stdout
    );
    assert!(quiet.stdout.contains("\"refreshed\""), "{}", quiet.stdout);
    assert_eq!(
        (summary["exit_code"].as_u64(), summary["drops"].as_u64()),
        (Some(5), Some(0)),
        "{summary}"
    );
    // With keep-alives more often than the timeout it stays open: every check passes.
    let kept = watch("500ms");
    let (arrived, summary) = inbound_events(&kept);
    assert!(arrived.len() >= 2, "{}", context(&kept, &k, &t));
    assert!(arrived.iter().all(|a| *a), "{}", context(&kept, &k, &t));
    assert_eq!(summary["exit_code"], 0, "{summary}");
}

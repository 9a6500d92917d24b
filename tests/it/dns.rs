//! RFC 3263 server location against an in-process DNS server (hickory-server) on loopback: NAPTR order,
//! SRV priority and weight, failover between targets, AAAA only, no such name, IPv6 end to end, and
//! `sipreg resolve`. Every lookup goes to 127.0.0.1 through `--dns-server`.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use crate::common::*;
use hickory_server::Server;
use hickory_server::proto::rr::rdata::{A, AAAA, NAPTR, SOA, SRV};
use hickory_server::proto::rr::{LowerName, Name, RData, Record};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};

/// A DNS server for `example.test.` on 127.0.0.1, running in a thread of its own.
struct Dns {
    addr: SocketAddr,
    _background: Background,
}

fn name(s: &str) -> Name {
    Name::from_str(s).unwrap()
}

fn start_dns(records: Vec<Record>) -> Dns {
    let (background, addr) = Background::start(move || async move {
        let origin = name("example.test.");
        let mut zone =
            InMemoryZoneHandler::<hickory_server::net::runtime::TokioRuntimeProvider>::empty(
                origin.clone(),
                ZoneType::Primary,
                AxfrPolicy::Deny,
            );
        let soa = SOA::new(
            name("ns.example.test."),
            name("admin.example.test."),
            1,
            3600,
            600,
            86400,
            60,
        );
        zone.upsert_mut(Record::from_rdata(origin.clone(), 60, RData::SOA(soa)), 1);
        for r in records {
            zone.upsert_mut(r, 1);
        }
        let mut catalog = Catalog::new();
        catalog.upsert(LowerName::new(&origin), vec![Arc::new(zone)]);
        let mut server = Server::new(catalog);
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
        let addr = socket.local_addr()?;
        server.register_socket(socket);
        Ok((addr, server))
    })
    .unwrap();
    Dns {
        addr,
        _background: background,
    }
}

fn a(host: &str, ip: &str) -> Record {
    Record::from_rdata(name(host), 60, RData::A(A(ip.parse().unwrap())))
}

fn aaaa(host: &str, ip: &str) -> Record {
    Record::from_rdata(name(host), 60, RData::AAAA(AAAA(ip.parse().unwrap())))
}

fn srv(owner: &str, priority: u16, weight: u16, port: u16, target: &str) -> Record {
    Record::from_rdata(
        name(owner),
        60,
        RData::SRV(SRV::new(priority, weight, port, name(target))),
    )
}

fn naptr(owner: &str, order: u16, service: &str, replacement: &str) -> Record {
    let rdata = NAPTR::new(
        order,
        10,
        b"S".to_vec().into(),
        service.as_bytes().to_vec().into(),
        Vec::new().into(),
        name(replacement),
    );
    Record::from_rdata(name(owner), 60, RData::NAPTR(rdata))
}

/// A UDP port that answers with ICMP port unreachable, held until the socket is dropped: it is
/// connected elsewhere, so it takes no datagram from anyone else and no other socket can take it.
fn closed_udp_port() -> std::net::UdpSocket {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.connect("127.0.0.1:9").unwrap();
    s
}

fn with_dns<'a>(dns: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["--dns-server", dns];
    v.extend_from_slice(args);
    v
}

#[test]
fn srv_priority_failover_from_a_refusing_target_to_the_next() {
    let reg = registrar(Options::default());
    let port = reg.sip_addr.port();
    let refusing = refusing_tcp_port();
    let closed = closed_udp_port();
    let closed_port = closed.local_addr().unwrap().port();
    let dns = start_dns(vec![
        srv(
            "_sip._tcp.prio.example.test.",
            10,
            0,
            refusing.port,
            "down.example.test.",
        ),
        srv(
            "_sip._tcp.prio.example.test.",
            20,
            0,
            port,
            "up.example.test.",
        ),
        srv(
            "_sip._udp.prio.example.test.",
            10,
            0,
            closed_port,
            "down.example.test.",
        ),
        srv(
            "_sip._udp.prio.example.test.",
            20,
            0,
            port,
            "up.example.test.",
        ),
        a("down.example.test.", "127.0.0.1"),
        a("up.example.test.", "127.0.0.1"),
    ]);
    let d = dns.addr.to_string();
    let out = run(&with_dns(&d, &["--json", "--tcp", "prio.example.test"]));
    assert_eq!(out.code, 0, "{}", out.stdout);
    let j = out.json();
    assert_eq!(
        attempts(&j),
        ["tcp:refused", "tcp:registered"],
        "next target before the next transport"
    );
    assert_eq!(j["attempts"][0]["target"], "down.example.test");
    assert_eq!(j["attempts"][1]["target"], "up.example.test");
    assert_eq!(j["attempts"][1]["remote"], format!("127.0.0.1:{port}"));
    assert!(
        j["attempts"][0]["phases"]["dns_ms"].as_f64().is_some(),
        "DNS time is a phase"
    );

    let out = run(&with_dns(&d, &["--json", "--udp", "prio.example.test"]));
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(attempts(&out.json()), ["udp:unreachable", "udp:registered"]);
}

#[test]
fn naptr_supplies_targets_but_the_phone_keeps_its_order() {
    let reg = registrar(Options::default());
    let port = reg.sip_addr.port();
    let dns = start_dns(vec![
        // NAPTR prefers UDP; the phone still tries TCP first.
        naptr(
            "naptr.example.test.",
            10,
            "SIP+D2U",
            "_udp-service.naptr.example.test.",
        ),
        naptr(
            "naptr.example.test.",
            20,
            "SIP+D2T",
            "_tcp-service.naptr.example.test.",
        ),
        srv(
            "_udp-service.naptr.example.test.",
            10,
            0,
            port,
            "udp-host.example.test.",
        ),
        srv(
            "_tcp-service.naptr.example.test.",
            10,
            0,
            port,
            "tcp-host.example.test.",
        ),
        a("udp-host.example.test.", "127.0.0.1"),
        a("tcp-host.example.test.", "127.0.0.1"),
    ]);
    let d = dns.addr.to_string();
    let out = run(&with_dns(&d, &["--json", "naptr.example.test"]));
    assert_eq!(out.code, 0, "{}", out.stdout);
    let j = out.json();
    assert_eq!(attempts(&j), ["tcp:registered"]);
    assert_eq!(j["attempts"][0]["target"], "tcp-host.example.test");

    let out = run(&[
        "resolve",
        "--dns-server",
        &d,
        "--json",
        "naptr.example.test",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let j = out.json();
    let c = j["candidates"].as_array().unwrap();
    assert_eq!(c.len(), 2);
    assert_eq!(
        (
            c[0]["transport"].as_str(),
            c[0]["target"].as_str(),
            c[0]["source"].as_str()
        ),
        (Some("tcp"), Some("tcp-host.example.test"), Some("naptr"))
    );
    assert_eq!(
        (c[1]["transport"].as_str(), c[1]["target"].as_str()),
        (Some("udp"), Some("udp-host.example.test"))
    );
    assert_eq!(c[1]["address"], format!("127.0.0.1:{port}"));
}

#[test]
fn srv_weight_orders_targets_of_one_priority() {
    let dns = start_dns(vec![
        srv(
            "_sip._udp.weight.example.test.",
            10,
            1,
            5070,
            "light.example.test.",
        ),
        srv(
            "_sip._udp.weight.example.test.",
            10,
            65535,
            5080,
            "heavy.example.test.",
        ),
        a("light.example.test.", "127.0.0.2"),
        a("heavy.example.test.", "127.0.0.3"),
    ]);
    let d = dns.addr.to_string();
    // Weighted random order (RFC 2782): heavy first with probability 65535/65537 per run. The exact
    // arithmetic is unit-tested with a fixed pick; 4 of 5 here is enough and never flaky.
    let mut heavy_first = 0;
    for _ in 0..5 {
        let out = run(&[
            "resolve",
            "--dns-server",
            &d,
            "--json",
            "--udp",
            "weight.example.test",
        ]);
        assert_eq!(out.code, 0);
        let j = out.json();
        let targets: Vec<&str> = j["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["target"].as_str().unwrap())
            .collect();
        assert_eq!(targets.len(), 2);
        heavy_first += usize::from(targets[0] == "heavy.example.test");
    }
    assert!(heavy_first >= 4, "heavy first in only {heavy_first} of 5");
    let text = run(&[
        "resolve",
        "--dns-server",
        &d,
        "--udp",
        "weight.example.test",
    ])
    .stdout;
    assert!(
        text.contains("heavy.example.test") && text.contains("SRV priority 10 weight 65535"),
        "{text}"
    );
}

#[test]
fn aaaa_only_host_over_ipv6_and_family_flags() {
    let reg = registrar(Options {
        ip: IpAddr::V6(Ipv6Addr::LOCALHOST),
        ..Options::default()
    });
    let port = reg.sip_addr.port().to_string();
    let dns = start_dns(vec![aaaa("v6.example.test.", "::1")]);
    let d = dns.addr.to_string();
    let server = format!("v6.example.test:{port}");
    let out = run(&with_dns(&d, &["--json", "--udp", &server]));
    assert_eq!(out.code, 0, "{}", out.stdout);
    let j = out.json();
    let a = &j["attempts"][0];
    assert_eq!(a["family"], "ipv6");
    assert_eq!(a["remote"], format!("[::1]:{port}"));
    assert!(
        reg.seen()[0].contact.contains("@[::1]:"),
        "bracketed Contact: {}",
        reg.seen()[0].contact
    );

    let out = run(&with_dns(&d, &["--json", "--udp", "-4", &server]));
    assert_eq!(out.code, 3);
    let j = out.json();
    assert_eq!(attempts(&j), ["udp:dns_failed"]);
    assert!(
        j["attempts"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("no IPv4 address")
    );
    assert_eq!(run(&with_dns(&d, &["--udp", "-6", &server])).code, 0);
}

#[test]
fn ipv6_literal_end_to_end() {
    let reg = registrar(Options {
        ip: IpAddr::V6(Ipv6Addr::LOCALHOST),
        ..Options::default()
    });
    let server = format!("[::1]:{}", reg.sip_addr.port());
    for flags in [["--udp"], ["--tcp"]] {
        let out = run(&[&["--json"], &flags[..], &[server.as_str()]].concat());
        assert_eq!(out.code, 0, "{flags:?}: {}", out.stdout);
        let j = out.json();
        assert_eq!(j["attempts"][0]["family"], "ipv6");
        assert_eq!(j["aor"], "sip:sipreg@[::1]");
    }
    let seen = reg.seen();
    assert!(
        seen.iter().all(|s| s.contact.contains("@[::1]:")),
        "{seen:?}"
    );
    assert_eq!(
        run(&["-4", &server]).code,
        2,
        "-4 with an IPv6 address is a usage error"
    );
}

#[test]
fn no_such_name_is_a_dns_failure_not_a_registrar_failure() {
    let dns = start_dns(vec![a("up.example.test.", "127.0.0.1")]);
    let d = dns.addr.to_string();
    let out = run(&with_dns(&d, &["--json", "missing.example.test"]));
    assert_eq!(out.code, 3);
    let j = out.json();
    assert_eq!(attempts(&j), ["tcp:dns_failed", "udp:dns_failed"]);
    let reason = j["attempts"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("no such name: missing.example.test"),
        "{reason}"
    );
    assert!(
        j["attempts"][0]["hint"]
            .as_str()
            .unwrap()
            .contains("spelling")
    );
    let out = run(&["resolve", "--dns-server", &d, "missing.example.test"]);
    assert_eq!(out.code, 3);
    assert!(
        out.stdout.contains("no address: no such name"),
        "{}",
        out.stdout
    );
}

#[test]
fn an_explicit_port_or_no_srv_skips_srv() {
    let reg = registrar(Options::default());
    let port = reg.sip_addr.port();
    let closed = closed_udp_port();
    let closed_port = closed.local_addr().unwrap().port();
    let dns = start_dns(vec![
        srv(
            "_sip._udp.both.example.test.",
            10,
            0,
            closed_port,
            "elsewhere.example.test.",
        ),
        a("elsewhere.example.test.", "127.0.0.1"),
        a("both.example.test.", "127.0.0.1"),
    ]);
    let d = dns.addr.to_string();
    let server = format!("both.example.test:{port}");
    let out = run(&with_dns(&d, &["--json", "--udp", &server]));
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(out.json()["attempts"][0]["target"], "both.example.test");
    let out = run(&[
        "resolve",
        "--dns-server",
        &d,
        "--json",
        "--udp",
        "--no-srv",
        "both.example.test",
    ]);
    let j = out.json();
    assert_eq!(j["candidates"][0]["source"], "host");
    assert_eq!(j["candidates"][0]["port"], 5060);
    let out = run(&[
        "resolve",
        "--dns-server",
        &d,
        "--json",
        "--udp",
        "both.example.test",
    ]);
    assert_eq!(
        out.json()["candidates"][0]["target"],
        "elsewhere.example.test"
    );
}

#[test]
fn an_srv_target_of_dot_means_the_service_is_not_offered() {
    let dns = start_dns(vec![
        srv("_sip._tcp.nosip.example.test.", 0, 0, 0, "."),
        a("nosip.example.test.", "127.0.0.1"),
    ]);
    let d = dns.addr.to_string();
    let out = run(&[
        "resolve",
        "--dns-server",
        &d,
        "--json",
        "--tcp",
        "nosip.example.test",
    ]);
    assert_eq!(out.code, 3, "no fallback to the A record: {}", out.stdout);
    let j = out.json();
    assert!(
        j["candidates"][0]["error"]
            .as_str()
            .unwrap()
            .contains("not offered"),
        "{j}"
    );
}

#[test]
fn websocket_targets_come_from_naptr_d2w_and_srv_ws() {
    // RFC 7118 §7: NAPTR SIPS+D2W to _sips._ws, and _sip._ws for WS.
    let dns = start_dns(vec![
        naptr(
            "webrtc.example.test.",
            10,
            "SIPS+D2W",
            "_sips._ws.webrtc.example.test.",
        ),
        srv(
            "_sips._ws.webrtc.example.test.",
            10,
            0,
            8443,
            "edge.example.test.",
        ),
        srv(
            "_sip._ws.plain.example.test.",
            10,
            0,
            8080,
            "edge.example.test.",
        ),
        a("edge.example.test.", "127.0.0.1"),
    ]);
    let d = dns.addr.to_string();
    let out = run(&[
        "resolve",
        "--dns-server",
        &d,
        "--wss",
        "webrtc.example.test",
    ]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("WSS") && out.stdout.contains("127.0.0.1:8443"),
        "{}",
        out.stdout
    );
    let out = run(&["resolve", "--dns-server", &d, "--ws", "plain.example.test"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("127.0.0.1:8080"), "{}", out.stdout);
}

//! Finding the server as RFC 3263 says: NAPTR, then SRV, then A/AAAA, inside the phone's transport order.
//!
//! DNS only supplies targets and ports for each enabled transport; the order of transports stays the
//! phone's (spec §1). A numeric address or an explicit port skips NAPTR and SRV (RFC 3263 §4.1, §4.2).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{LookupIpStrategy, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use serde::Serialize;

use super::srv::{SrvRecord, order_srv, random_pick};
use crate::model::{Failure, Family, Outcome, Transport};
use crate::units::ms;

/// Longest time one lookup (with its retries) may take.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// The family of an address, for reports.
#[must_use]
pub fn family_name(addr: SocketAddr) -> &'static str {
    if addr.is_ipv4() { "ipv4" } else { "ipv6" }
}

/// Where a candidate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// SERVER was an IP address.
    Literal,
    /// A NAPTR record led to the SRV record.
    Naptr,
    /// An SRV record.
    Srv,
    /// The A/AAAA records of SERVER itself.
    Host,
}

/// One place to try: a transport, a target and an address (or why there is none).
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Transport.
    pub transport: Transport,
    /// The DNS name (or the literal) that gave the address.
    pub target: String,
    /// Port.
    pub port: u16,
    /// Where the candidate came from.
    pub source: Source,
    /// SRV priority and weight, when from SRV.
    pub srv: Option<(u16, u16)>,
    /// The address, or the DNS failure that left this transport without one.
    pub addr: Result<SocketAddr, Failure>,
    /// Time the lookups for this transport took, on its first candidate.
    pub dns_ms: Option<f64>,
}

/// A candidate whose DNS time is not yet known.
fn candidate(
    transport: Transport,
    target: &str,
    port: u16,
    source: Source,
    srv: Option<(u16, u16)>,
    addr: Result<SocketAddr, Failure>,
) -> Candidate {
    Candidate {
        transport,
        target: target.to_string(),
        port,
        source,
        srv,
        addr,
        dns_ms: None,
    }
}

/// DNS settings of a run.
#[derive(Debug, Clone, Default)]
pub struct DnsSettings {
    /// `--no-srv`: skip NAPTR and SRV.
    pub no_srv: bool,
    /// `--dns-server`: ask this resolver instead of the system's.
    pub server: Option<SocketAddr>,
    /// `-4` / `-6`.
    pub family: Family,
}

fn dns_failure(reason: String) -> Failure {
    Failure::new(Outcome::DnsFailed, reason)
}

/// One DNS resolver per process, built on first use (an IP-literal SERVER never needs it).
pub struct Resolver {
    settings: DnsSettings,
    built: std::sync::OnceLock<Result<TokioResolver, Failure>>,
}

impl Resolver {
    /// A resolver with `settings` (`--dns-server`, `-4`/`-6`, `--no-srv`).
    #[must_use]
    pub fn new(settings: DnsSettings) -> Self {
        Self {
            settings,
            built: std::sync::OnceLock::new(),
        }
    }

    fn get(&self) -> Result<&TokioResolver, Failure> {
        self.built
            .get_or_init(|| resolver(&self.settings))
            .as_ref()
            .map_err(Clone::clone)
    }
}

fn resolver(settings: &DnsSettings) -> Result<TokioResolver, Failure> {
    let mut builder = match settings.server {
        Some(addr) => {
            let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
            for c in &mut ns.connections {
                c.port = addr.port();
            }
            TokioResolver::builder_with_config(
                ResolverConfig::from_name_servers(vec![ns]),
                TokioRuntimeProvider::default(),
            )
        }
        None => TokioResolver::builder_tokio()
            .map_err(|e| dns_failure(format!("cannot read the system DNS configuration: {e}")))?,
    };
    let opts = builder.options_mut();
    opts.timeout = Duration::from_secs(2);
    opts.attempts = 2;
    // Every run asks the DNS afresh, as a phone re-resolving would: a repeat run (`--count`) must
    // see record changes and time each lookup, so the shared resolver keeps no cache.
    opts.cache_size = 0;
    opts.ip_strategy = match settings.family {
        Family::Any => LookupIpStrategy::Ipv4AndIpv6,
        Family::V4 => LookupIpStrategy::Ipv4Only,
        Family::V6 => LookupIpStrategy::Ipv6Only,
    };
    builder
        .build()
        .map_err(|e| dns_failure(format!("cannot set up the DNS resolver: {e}")))
}

/// Why a lookup failed, in plain words.
fn lookup_error(name: &str, what: &str, e: &hickory_resolver::net::NetError) -> String {
    if e.is_nx_domain() {
        format!("no such name: {name}")
    } else if e.is_no_records_found() {
        format!("{name} has no {what} records")
    } else {
        format!("DNS lookup of {name} ({what}) failed: {e}")
    }
}

async fn with_timeout<T>(
    name: &str,
    fut: impl std::future::Future<Output = Result<T, hickory_resolver::net::NetError>>,
    what: &str,
) -> Result<T, String> {
    match tokio::time::timeout(LOOKUP_TIMEOUT, fut).await {
        Err(_) => Err(format!(
            "DNS lookup of {name} ({what}) timed out after {}",
            humantime::format_duration(LOOKUP_TIMEOUT)
        )),
        Ok(Err(e)) => Err(lookup_error(name, what, &e)),
        Ok(Ok(v)) => Ok(v),
    }
}

async fn addresses(r: &TokioResolver, name: &str, family: Family) -> Result<Vec<IpAddr>, String> {
    let fam = match family {
        Family::V4 => "IPv4 ",
        Family::V6 => "IPv6 ",
        Family::Any => "",
    };
    let no_address = || format!("{name} has no {fam}address");
    let lookup = match tokio::time::timeout(LOOKUP_TIMEOUT, r.lookup_ip(name)).await {
        Err(_) => {
            return Err(format!(
                "DNS lookup of {name} (A/AAAA) timed out after {}",
                humantime::format_duration(LOOKUP_TIMEOUT)
            ));
        }
        Ok(Err(e)) if e.is_no_records_found() && !e.is_nx_domain() => return Err(no_address()),
        Ok(Err(e)) => return Err(lookup_error(name, "A/AAAA", &e)),
        Ok(Ok(l)) => l,
    };
    let ips: Vec<IpAddr> = lookup.iter().filter(|ip| family.allows(*ip)).collect();
    if ips.is_empty() {
        return Err(no_address());
    }
    Ok(ips)
}

fn default_srv_name(t: Transport, host: &str) -> String {
    match t {
        Transport::Udp => format!("_sip._udp.{host}"),
        Transport::Tcp => format!("_sip._tcp.{host}"),
        Transport::Tls => format!("_sips._tcp.{host}"),
        // RFC 7118 §7.
        Transport::Ws => format!("_sip._ws.{host}"),
        Transport::Wss => format!("_sips._ws.{host}"),
    }
}

fn naptr_service(t: Transport) -> &'static str {
    match t {
        Transport::Udp => "SIP+D2U",
        Transport::Tcp => "SIP+D2T",
        Transport::Tls => "SIPS+D2T",
        Transport::Ws => "SIP+D2W",
        Transport::Wss => "SIPS+D2W",
    }
}

fn fqdn(name: &str) -> String {
    name.trim_end_matches('.').to_string()
}

/// What to look up: SERVER's host and the ports of the enabled transports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Host name or IP address, without brackets.
    pub host: String,
    /// SERVER named a port: no NAPTR or SRV (RFC 3263 §4.2).
    pub explicit_port: bool,
    /// Transports in the phone's order.
    pub order: Vec<Transport>,
    /// Port for UDP and TCP.
    pub sip_port: u16,
    /// Port for TLS.
    pub tls_port: u16,
}

impl Target {
    fn port(&self, t: Transport) -> u16 {
        if t.is_secure() {
            self.tls_port
        } else {
            self.sip_port
        }
    }
}

/// A NAPTR record that names an SRV record for one of our transports.
struct Naptr {
    order: (u16, u16),
    transport: Transport,
    replacement: String,
}

/// The candidates of a run, in the order to try: the phone's transport order, and within each
/// transport the SRV order and the addresses of each target.
pub async fn candidates(target: &Target, resolver: &Resolver) -> Vec<Candidate> {
    let host = target.host.as_str();
    if let Ok(ip) = host.parse::<IpAddr>() {
        return target
            .order
            .iter()
            .map(|&t| {
                let port = target.port(t);
                let addr = Ok(SocketAddr::new(ip, port));
                candidate(t, host, port, Source::Literal, None, addr)
            })
            .collect();
    }
    let r = match resolver.get() {
        Ok(r) => r,
        Err(f) => {
            return target
                .order
                .iter()
                .map(|&t| candidate(t, host, target.port(t), Source::Host, None, Err(f.clone())))
                .collect();
        }
    };
    let dns = &resolver.settings;
    let use_srv = !dns.no_srv && !target.explicit_port;
    let t0 = Instant::now();
    let naptr = if use_srv {
        naptr(r, target).await
    } else {
        Vec::new()
    };
    let naptr_ms = ms(t0.elapsed());
    let mut host_ips = None;
    let mut out: Vec<Candidate> = Vec::new();
    for &t in &target.order {
        let t1 = Instant::now();
        let srv = if use_srv {
            srv_group(r, dns.family, target, t, &naptr).await
        } else {
            SrvGroup::default()
        };
        let mut group = srv.candidates;
        if group.is_empty() && srv.refused {
            let reason = srv.error.clone().unwrap_or_default();
            let port = target.port(t);
            group.push(candidate(
                t,
                host,
                port,
                Source::Srv,
                None,
                Err(dns_failure(reason)),
            ));
        }
        if group.is_empty() {
            let srv_error = srv.error.filter(|_| use_srv);
            group = host_group(r, dns.family, target, t, &mut host_ips, srv_error).await;
        }
        if let Some(first) = group.first_mut() {
            let share = if out.is_empty() { naptr_ms } else { 0.0 };
            first.dns_ms = Some(share + ms(t1.elapsed()));
        }
        out.extend(group);
    }
    out
}

/// RFC 3263 §4.1: the NAPTR records of the host whose SRV names replace the defaults for the
/// transports they name, in order and preference.
async fn naptr(r: &TokioResolver, target: &Target) -> Vec<Naptr> {
    let host = target.host.as_str();
    let absolute = format!("{}.", host.trim_end_matches('.'));
    let lookup = r.lookup(absolute.as_str(), RecordType::NAPTR);
    let Ok(lookup) = with_timeout(host, lookup, "NAPTR").await else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for rec in lookup.answers() {
        let RData::NAPTR(n) = &rec.data else { continue };
        let service = String::from_utf8_lossy(&n.services).to_ascii_uppercase();
        let flags = String::from_utf8_lossy(&n.flags).to_ascii_uppercase();
        if flags != "S" {
            continue;
        }
        if let Some(&t) = target.order.iter().find(|t| naptr_service(**t) == service) {
            out.push(Naptr {
                order: (n.order, n.preference),
                transport: t,
                replacement: fqdn(&n.replacement.to_string()),
            });
        }
    }
    out.sort_by_key(|n| n.order);
    out
}

/// What the SRV lookup of one transport gave.
#[derive(Default)]
struct SrvGroup {
    candidates: Vec<Candidate>,
    error: Option<String>,
    /// The SRV record says the service is decidedly not offered (target ".").
    refused: bool,
}

/// The SRV records of one transport (from NAPTR or the default name), in RFC 2782 order, with the
/// addresses of each target.
async fn srv_group(
    r: &TokioResolver,
    family: Family,
    target: &Target,
    t: Transport,
    naptr: &[Naptr],
) -> SrvGroup {
    let (srv_name, source) = match naptr.iter().find(|n| n.transport == t) {
        Some(n) => (n.replacement.clone(), Source::Naptr),
        None => (default_srv_name(t, &target.host), Source::Srv),
    };
    let lookup = r.lookup(srv_name.as_str(), RecordType::SRV);
    let lookup = match with_timeout(&srv_name, lookup, "SRV").await {
        Ok(l) => l,
        Err(reason) => {
            return SrvGroup {
                error: Some(reason),
                ..SrvGroup::default()
            };
        }
    };
    let records: Vec<SrvRecord> = lookup
        .answers()
        .iter()
        .filter_map(|rec| match &rec.data {
            RData::SRV(s) => Some(SrvRecord {
                priority: s.priority,
                weight: s.weight,
                port: s.port,
                target: fqdn(&s.target.to_string()),
            }),
            _ => None,
        })
        .collect();
    let mut group = SrvGroup::default();
    // A lone target of "." says the service is decidedly not offered (RFC 2782).
    if !records.is_empty() && records.iter().all(|s| s.target.is_empty()) {
        group.error = Some(format!(
            "{srv_name} says the service is not offered (target \".\")"
        ));
        group.refused = true;
    }
    let records = records
        .into_iter()
        .filter(|s| !s.target.is_empty())
        .collect();
    for s in order_srv(records, &mut random_pick) {
        let srv = Some((s.priority, s.weight));
        // SRV targets are absolute names: no search list.
        match addresses(r, &format!("{}.", s.target), family).await {
            Ok(ips) => group.candidates.extend(ips.into_iter().map(|ip| {
                let addr = Ok(SocketAddr::new(ip, s.port));
                candidate(t, &s.target, s.port, source, srv, addr)
            })),
            Err(reason) => {
                let addr = Err(dns_failure(reason));
                group
                    .candidates
                    .push(candidate(t, &s.target, s.port, source, srv, addr));
            }
        }
    }
    group
}

/// RFC 3263 §4.2: without SRV records, the A/AAAA records of the host with the default port; the
/// lookup is made once and shared by the transports.
async fn host_group(
    r: &TokioResolver,
    family: Family,
    target: &Target,
    t: Transport,
    host_ips: &mut Option<Result<Vec<IpAddr>, String>>,
    srv_error: Option<String>,
) -> Vec<Candidate> {
    let host = target.host.as_str();
    let ips = match host_ips {
        Some(v) => v.clone(),
        None => host_ips.insert(addresses(r, host, family).await).clone(),
    };
    let port = target.port(t);
    match ips {
        Ok(ips) => ips
            .into_iter()
            .map(|ip| {
                candidate(
                    t,
                    host,
                    port,
                    Source::Host,
                    None,
                    Ok(SocketAddr::new(ip, port)),
                )
            })
            .collect(),
        Err(reason) => {
            let reason = match srv_error {
                Some(srv) => format!("{reason} (and {srv})"),
                None => reason,
            };
            vec![candidate(
                t,
                host,
                port,
                Source::Host,
                None,
                Err(dns_failure(reason)),
            )]
        }
    }
}

//! Is sipreg itself the limit? CPU time and the kernel's UDP receive-buffer drops, read from /proc
//! (Linux; elsewhere these checks say nothing).

use std::time::Duration;

use crate::net::shared::Shared;
use crate::observe::storm::StormSummary;

/// CPU time of this process (user + system), seconds; `/proc/self/stat` counts in USER_HZ (100).
#[must_use]
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) / 100.0)
}

/// `RcvbufErrors` and `InErrors` from the `Udp:` lines of a `/proc/net/snmp` text.
fn udp_errors(snmp: &str) -> Option<(u64, u64)> {
    let mut lines = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let names: Vec<&str> = lines.next()?.split_whitespace().collect();
    let values: Vec<&str> = lines.next()?.split_whitespace().collect();
    let get = |name: &str| {
        names
            .iter()
            .position(|n| *n == name)
            .and_then(|i| values.get(i)?.parse().ok())
    };
    Some((get("RcvbufErrors")?, get("InErrors")?))
}

/// The machine's UDP receive-buffer drops at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Readings {
    rcvbuf_errors: Option<u64>,
}

impl Readings {
    /// Reads them now.
    #[must_use]
    pub fn take() -> Readings {
        let snmp = std::fs::read_to_string("/proc/net/snmp").unwrap_or_default();
        Readings {
            rcvbuf_errors: udp_errors(&snmp).map(|(r, _)| r),
        }
    }
}

/// The drops counted for the UDP socket bound to `port` in a `/proc/net/udp` text (last column).
fn socket_drops(table: &str, port: u16) -> Option<u64> {
    let hex = format!(":{port:04X}");
    table.lines().skip(1).find_map(|l| {
        let fields: Vec<&str> = l.split_whitespace().collect();
        (fields.get(1)?.ends_with(&hex)).then(|| fields.last()?.parse().ok())?
    })
}

/// What limited the storm, in plain words: sipreg's CPU, dropped datagrams, a rate not reached.
#[must_use]
pub fn warnings(s: &StormSummary, before: &Readings, shared: Option<&Shared>) -> Vec<String> {
    let mut out = s.warnings.clone();
    let elapsed = Duration::from_millis(s.ended_unix_ms.saturating_sub(s.started_unix_ms));
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get) as f64;
    let busy = s.cpu_s / elapsed.as_secs_f64().max(0.001);
    if busy >= 0.85 * cores {
        out.push(format!(
            "sipreg kept {busy:.1} of {cores} cores busy: it was the limit of this storm, not only the registrar (run shards on more machines: --shard)"
        ));
    }
    if let Some(socket) = shared {
        let port = socket.local_addr().port();
        let table = std::fs::read_to_string(if socket.local_addr().is_ipv4() {
            "/proc/net/udp"
        } else {
            "/proc/net/udp6"
        })
        .unwrap_or_default();
        if let Some(n) = socket_drops(&table, port).filter(|n| *n > 0) {
            out.push(format!(
                "sipreg's shared UDP socket dropped {n} answers: its receive buffer was full (raise net.core.rmem_max); retransmissions followed"
            ));
        }
    }
    let after = Readings::take();
    if let Some(n) = after
        .rcvbuf_errors
        .zip(before.rcvbuf_errors)
        .map(|(a, b)| a.saturating_sub(b))
        .filter(|n| *n > 0)
    {
        out.push(format!(
            "the kernel dropped {n} UDP datagrams at full receive buffers during the storm (this machine's sockets: sipreg's or a local registrar's)"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_texts_are_read() {
        let snmp = "Ip: Forwarding\nIp: 1\nUdp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\nUdp: 10 0 7 12 5 0\nUdpLite: InDatagrams\nUdpLite: 0\n";
        assert_eq!(udp_errors(snmp), Some((5, 7)));
        assert_eq!(udp_errors("Tcp: x\nTcp: 1\n"), None);
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n  1: 0100007F:13C4 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 1 2 0000000000000000 42\n";
        assert_eq!(socket_drops(table, 0x13C4), Some(42));
        assert_eq!(socket_drops(table, 5061), None);
        assert!(cpu_seconds().is_some_and(|c| c >= 0.0));
    }
}

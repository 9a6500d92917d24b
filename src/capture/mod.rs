//! `--pcap FILE` and `--hep ADDR:PORT`: every SIP message sipreg sends or receives, with its time,
//! real addresses and ports, as a pcapng file Wireshark and tshark dissect, and as HEPv3 packets for
//! Homer; the messages that travelled inside TLS or WebSocket in clear (in the file, each marked so in
//! its packet comment). Keep-alives go to the file too. The password is never on the wire, so never
//! in either; the digest response is, as sent.

mod frame;
pub mod hep;
pub mod pcapng;
pub mod ring;

use std::collections::HashMap;
use std::fs::File;
use std::io::BufWriter;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Instant, SystemTime};

use serde::Serialize;

use crate::event::{Event, Sink, Stamped};
use crate::model::Transport;

/// What the report says about the capture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CaptureInfo {
    /// The pcapng file (`--pcap`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The HEP collector (`--hep`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hep: Option<String>,
    /// SIP messages and keep-alives captured.
    pub messages: u64,
    /// Messages past the cap (storm: [`STORM_CAP`]), not captured.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub left_out: u64,
    /// With `--pcap-ring`: the files written on incidents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dumps: Vec<ring::Dump>,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A storm captures its first this many messages (file and HEP alike), then counts the rest.
pub const STORM_CAP: u64 = 100_000;

/// Where the packets go: the whole run to a file, or a ring written out on incidents.
enum Out {
    File(pcapng::Writer<BufWriter<File>>, String),
    Ring(ring::Ring),
}

/// What every flow of a run writes to: the file or ring, the HEP socket, the counts.
struct Outlet {
    /// The clock of the events against the wall clock, one for every flow: a step of the wall
    /// clock during a run does not make one file's times go backwards.
    anchor: (Instant, SystemTime),
    pcap: Option<Out>,
    hep: Option<hep::Sender>,
    messages: u64,
    /// At most this many messages (storm).
    cap: Option<u64>,
    left_out: u64,
    /// The first write error, after which nothing more is written.
    failed: Option<String>,
}

/// One packet on its way to the outlet.
struct Packet<'a> {
    at: Instant,
    when: SystemTime,
    src: SocketAddr,
    dst: SocketAddr,
    seq: Option<(u32, u32)>,
    bytes: &'a [u8],
    comment: &'static str,
}

impl Outlet {
    fn lock(outlet: &Mutex<Outlet>) -> std::sync::MutexGuard<'_, Outlet> {
        outlet.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&mut self, p: &Packet<'_>) {
        if self.failed.is_some() {
            return;
        }
        if self.cap.is_some_and(|cap| self.messages >= cap) {
            self.left_out += 1;
            return;
        }
        // Keep-alives go to the file only: HEP carries SIP messages.
        let keepalive = p.bytes.iter().all(|b| matches!(b, b'\r' | b'\n'));
        if let (Some(h), false) = (&self.hep, keepalive) {
            h.send(&hep::Message {
                src: p.src,
                dst: p.dst,
                stream: p.seq.is_some(),
                at: p.when,
                payload: p.bytes,
            });
        }
        match &mut self.pcap {
            Some(Out::File(writer, file)) => {
                let packet = frame::packet(p.src, p.dst, p.seq, p.bytes);
                if let Err(e) = writer.packet(p.when, &packet, p.comment) {
                    self.failed = Some(format!("--pcap {file}: {e}"));
                    return;
                }
            }
            Some(Out::Ring(r)) => r.keep(
                p.at,
                p.when,
                frame::packet(p.src, p.dst, p.seq, p.bytes),
                p.comment,
            ),
            None => {}
        }
        self.messages += 1;
    }
}

/// The sink that writes the capture: the state of one flow (its transport, addresses and TCP
/// sequence numbers) in front of an outlet that [`Capture::tap`] shares with other flows.
pub struct Capture {
    outlet: Arc<Mutex<Outlet>>,
    /// The outlet's anchor, copied.
    anchor: (Instant, SystemTime),
    transport: Transport,
    local: Option<SocketAddr>,
    remote: Option<SocketAddr>,
    /// Next sequence number of each direction of a connection, keyed by (from, to).
    seq: HashMap<(SocketAddr, SocketAddr), u32>,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("info", &self.info())
            .finish_non_exhaustive()
    }
}

impl Capture {
    /// Creates (or truncates) the pcapng file at `pcap` and writes its header, and opens a socket
    /// towards the HEP collector. With `ring`, the packets of that last while are kept instead, and
    /// written to a file of their own (named after `pcap`) only when the registration is lost, a
    /// refresh fails or an inbound check fails.
    ///
    /// # Errors
    /// One line when the file cannot be written or the socket opened.
    pub fn create(
        pcap: Option<&Path>,
        ring: Option<std::time::Duration>,
        hep: Option<hep::HepTarget>,
    ) -> Result<Capture, String> {
        let pcap = match (pcap, ring) {
            (None, _) => None,
            (Some(path), Some(window)) => Some(Out::Ring(ring::Ring::new(path, window))),
            (Some(path), None) => {
                let fail = |e: std::io::Error| format!("--pcap {}: {e}", path.display());
                let file = File::create(path).map_err(fail)?;
                let writer = pcapng::Writer::new(BufWriter::new(file)).map_err(fail)?;
                Some(Out::File(writer, path.display().to_string()))
            }
        };
        let hep = hep.map(hep::Sender::open).transpose()?;
        let outlet = Outlet {
            anchor: (Instant::now(), SystemTime::now()),
            pcap,
            hep,
            messages: 0,
            cap: None,
            left_out: 0,
            failed: None,
        };
        Ok(Capture::on(Arc::new(Mutex::new(outlet))))
    }

    fn on(outlet: Arc<Mutex<Outlet>>) -> Capture {
        let anchor = Outlet::lock(&outlet).anchor;
        Capture {
            outlet,
            anchor,
            transport: Transport::Udp,
            local: None,
            remote: None,
            seq: HashMap::new(),
        }
    }

    /// Captures at most `cap` messages; the rest are counted as left out.
    #[must_use]
    pub fn with_cap(self, cap: u64) -> Capture {
        Outlet::lock(&self.outlet).cap = Some(cap);
        self
    }

    /// A capture of another flow (a storm's account, an exporter's probe) into the same file and
    /// collector.
    #[must_use]
    pub fn tap(&self) -> Capture {
        Capture::on(self.outlet.clone())
    }

    /// The file and its count, for the report.
    #[must_use]
    pub fn info(&self) -> CaptureInfo {
        let o = Outlet::lock(&self.outlet);
        CaptureInfo {
            file: match &o.pcap {
                Some(Out::File(_, f)) => Some(f.clone()),
                _ => None,
            },
            hep: o.hep.as_ref().map(|h| h.collector().to_string()),
            messages: o.messages,
            left_out: o.left_out,
            dumps: match &o.pcap {
                Some(Out::Ring(r)) => r.dumps.clone(),
                _ => Vec::new(),
            },
        }
    }

    /// The first write error, if writing failed.
    #[must_use]
    pub fn failed(&self) -> Option<String> {
        Outlet::lock(&self.outlet).failed.clone()
    }

    /// An incident: the ring, if any, goes to its next file.
    fn incident(&mut self, reason: &str) {
        let mut o = Outlet::lock(&self.outlet);
        if let Some(Out::Ring(r)) = &mut o.pcap {
            if let Err(e) = r.dump(reason) {
                o.failed = Some(e);
            }
        }
    }

    /// How the message travelled, for its packet comment: empty for plain UDP and TCP.
    fn comment(&self) -> &'static str {
        match self.transport {
            Transport::Udp | Transport::Tcp => "",
            Transport::Tls => "sipreg: carried inside TLS, shown in clear",
            Transport::Ws => {
                "sipreg: carried in a WebSocket message (WS), shown without its framing"
            }
            Transport::Wss => {
                "sipreg: carried in a WebSocket message inside TLS (WSS), shown in clear"
            }
        }
    }

    /// Writes `bytes` as sent by us (`out`) or received from `from` (the registrar by default).
    fn write(&mut self, at: Instant, out: bool, from: Option<SocketAddr>, bytes: &[u8]) {
        let (Some(local), Some(remote)) = (self.local, self.remote) else {
            return;
        };
        if bytes.is_empty() {
            return;
        }
        let peer = from.unwrap_or(remote);
        let (src, dst) = if out { (local, peer) } else { (peer, local) };
        let seq = (self.transport != Transport::Udp).then(|| {
            let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
            let ours = self.seq.entry((src, dst)).or_insert(1);
            let seq = *ours;
            *ours = ours.wrapping_add(len);
            let ack = *self.seq.get(&(dst, src)).unwrap_or(&1);
            (seq, ack)
        });
        let packet = Packet {
            at,
            when: self.anchor.1 + at.saturating_duration_since(self.anchor.0),
            src,
            dst,
            seq,
            bytes,
            comment: self.comment(),
        };
        Outlet::lock(&self.outlet).write(&packet);
    }
}

impl Sink for Capture {
    fn event(&mut self, e: &Stamped) {
        match &e.event {
            Event::AttemptStarted { candidate, .. } => {
                self.transport = candidate.transport;
                self.remote = candidate.addr.as_ref().ok().copied();
                self.local = None;
            }
            Event::Connected { local, .. } | Event::Reconnected { local, .. } => {
                self.local = Some(*local);
            }
            Event::RequestSent { bytes, .. } => self.write(e.at, true, None, bytes),
            Event::ResponseReceived { bytes, from, .. } => self.write(e.at, false, *from, bytes),
            Event::RequestReceived { bytes, answer, .. } => {
                self.write(e.at, false, None, bytes);
                self.write(e.at, true, None, answer);
            }
            // RFC 5626 §3.5.1 keep-alives (on WebSocket, ping and pong frames).
            Event::KeepAliveSent => self.write(e.at, true, None, b"\r\n\r\n"),
            Event::KeepAliveAnswered { .. } => self.write(e.at, false, None, b"\r\n"),
            Event::KeepAlive { ping } => {
                let bytes: &[u8] = if *ping { b"\r\n\r\n" } else { b"\r\n" };
                self.write(e.at, false, None, bytes);
            }
            Event::RegistrationLost { reason }
            | Event::BindingLost { reason }
            | Event::RefreshFailed { reason }
            | Event::InboundFailed { reason } => self.incident(reason),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_cap_messages_are_counted_not_written() {
        let mut outlet = Outlet {
            anchor: (Instant::now(), SystemTime::now()),
            pcap: None,
            hep: None,
            messages: 0,
            cap: Some(2),
            left_out: 0,
            failed: None,
        };
        let addr: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        let packet = Packet {
            at: Instant::now(),
            when: SystemTime::now(),
            src: addr,
            dst: addr,
            seq: None,
            bytes: b"OPTIONS sip:x SIP/2.0\r\n\r\n",
            comment: "",
        };
        for _ in 0..5 {
            outlet.write(&packet);
        }
        assert_eq!((outlet.messages, outlet.left_out), (2, 3));
    }
}

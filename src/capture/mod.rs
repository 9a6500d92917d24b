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
use std::time::{Instant, SystemTime};

use serde::Serialize;

use crate::event::{Event, Sink, Stamped};
use crate::model::Transport;

/// What the report says about the capture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaptureInfo {
    /// The pcapng file (`--pcap`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The HEP collector (`--hep`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hep: Option<String>,
    /// SIP messages and keep-alives captured.
    pub messages: u64,
    /// With `--pcap-ring`: the files written on incidents.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dumps: Vec<ring::Dump>,
}

/// Where the packets go: the whole run to a file, or a ring written out on incidents.
enum Out {
    File(pcapng::Writer<BufWriter<File>>, String),
    Ring(ring::Ring),
}

/// The sink that writes the capture.
pub struct Capture {
    pcap: Option<Out>,
    hep: Option<hep::Sender>,
    /// The clock of the events against the wall clock.
    anchor: (Instant, SystemTime),
    transport: Transport,
    local: Option<SocketAddr>,
    remote: Option<SocketAddr>,
    /// Next sequence number of each direction of a connection, keyed by (from, to).
    seq: HashMap<(SocketAddr, SocketAddr), u32>,
    messages: u64,
    /// The first write error, after which nothing more is written.
    pub failed: Option<String>,
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
        Ok(Capture {
            pcap,
            hep,
            anchor: (Instant::now(), SystemTime::now()),
            transport: Transport::Udp,
            local: None,
            remote: None,
            seq: HashMap::new(),
            messages: 0,
            failed: None,
        })
    }

    /// The file and its count, for the report.
    #[must_use]
    pub fn info(&self) -> CaptureInfo {
        CaptureInfo {
            file: match &self.pcap {
                Some(Out::File(_, f)) => Some(f.clone()),
                _ => None,
            },
            hep: self.hep.as_ref().map(|h| h.collector().to_string()),
            messages: self.messages,
            dumps: match &self.pcap {
                Some(Out::Ring(r)) => r.dumps.clone(),
                _ => Vec::new(),
            },
        }
    }

    /// An incident: the ring, if any, goes to its next file.
    fn incident(&mut self, reason: &str) {
        if let Some(Out::Ring(r)) = &mut self.pcap {
            if let Err(e) = r.dump(reason) {
                self.failed = Some(e);
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
        if self.failed.is_some() || bytes.is_empty() {
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
        let when = self.anchor.1 + at.saturating_duration_since(self.anchor.0);
        // Keep-alives go to the file only: HEP carries SIP messages.
        let keepalive = bytes.iter().all(|b| matches!(b, b'\r' | b'\n'));
        if let (Some(h), false) = (&self.hep, keepalive) {
            h.send(&hep::Message {
                src,
                dst,
                stream: seq.is_some(),
                at: when,
                payload: bytes,
            });
        }
        let comment = self.comment();
        match &mut self.pcap {
            Some(Out::File(writer, file)) => {
                let packet = frame::packet(src, dst, seq, bytes);
                if let Err(e) = writer.packet(when, &packet, comment) {
                    self.failed = Some(format!("--pcap {file}: {e}"));
                    return;
                }
            }
            Some(Out::Ring(r)) => r.keep(at, when, frame::packet(src, dst, seq, bytes), comment),
            None => {}
        }
        self.messages += 1;
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

//! `watch --pcap FILE --pcap-ring DURATION`: the packets of the last DURATION kept in memory (at most
//! [`MAX_KEPT`]), written to a file of their own, FILE with `-1`, `-2`… before its extension, when the
//! registration is lost, a refresh fails or an inbound check fails. A watch that stays healthy writes
//! nothing.

use std::collections::VecDeque;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use super::pcapng;

/// The most packets kept, whatever the window: a bound on memory.
pub const MAX_KEPT: usize = 20_000;

/// One file written on an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Dump {
    /// The file.
    pub file: String,
    /// What happened: the event's reason.
    pub reason: String,
    /// Packets in it.
    pub messages: usize,
}

struct Kept {
    at: Instant,
    when: SystemTime,
    packet: Vec<u8>,
    comment: &'static str,
}

/// The ring of recent packets.
pub struct Ring {
    window: Duration,
    base: PathBuf,
    kept: VecDeque<Kept>,
    /// Packets kept since the last dump: an incident that follows another at once (a failed refresh,
    /// then the lost registration) writes no second copy.
    fresh: usize,
    /// The files written so far.
    pub dumps: Vec<Dump>,
}

impl Ring {
    /// A ring of `window`, whose files are named after `base`.
    #[must_use]
    pub fn new(base: &Path, window: Duration) -> Ring {
        Ring {
            window,
            base: base.to_path_buf(),
            kept: VecDeque::new(),
            fresh: 0,
            dumps: Vec::new(),
        }
    }

    /// Keeps a packet, forgetting those older than the window.
    pub fn keep(&mut self, at: Instant, when: SystemTime, packet: Vec<u8>, comment: &'static str) {
        self.kept.push_back(Kept {
            at,
            when,
            packet,
            comment,
        });
        self.fresh += 1;
        while self
            .kept
            .front()
            .is_some_and(|k| at.saturating_duration_since(k.at) > self.window)
            || self.kept.len() > MAX_KEPT
        {
            self.kept.pop_front();
        }
    }

    /// Writes the packets kept to the next file, for `reason`; nothing when none came since the
    /// last file.
    ///
    /// # Errors
    /// One line when the file cannot be written.
    pub fn dump(&mut self, reason: &str) -> Result<(), String> {
        if self.fresh == 0 {
            return Ok(());
        }
        let path = numbered(&self.base, self.dumps.len() + 1);
        let fail = |e: std::io::Error| format!("--pcap-ring {}: {e}", path.display());
        let mut writer = pcapng::Writer::new(BufWriter::new(File::create(&path).map_err(fail)?))
            .map_err(fail)?;
        for k in &self.kept {
            writer.packet(k.when, &k.packet, k.comment).map_err(fail)?;
        }
        self.fresh = 0;
        self.dumps.push(Dump {
            file: path.display().to_string(),
            reason: reason.to_string(),
            messages: self.kept.len(),
        });
        Ok(())
    }
}

/// `base` with `-n` before its extension: `watch.pcapng` → `watch-1.pcapng`.
fn numbered(base: &Path, n: usize) -> PathBuf {
    let stem = base
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let name = match base.extension() {
        Some(ext) => format!("{stem}-{n}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{n}"),
    };
    base.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_window_and_names_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut ring = Ring::new(&dir.path().join("w.pcapng"), Duration::from_secs(10));
        let t0 = Instant::now();
        for s in [0, 5, 12, 14] {
            ring.keep(
                t0 + Duration::from_secs(s),
                SystemTime::now(),
                vec![0x45; 20],
                "",
            );
        }
        // At 14 s, the packet of 0 s is out of the 10 s window.
        assert_eq!(ring.kept.len(), 3);
        ring.dump("lost").unwrap();
        ring.dump("again, nothing new").unwrap();
        assert_eq!(ring.dumps.len(), 1);
        assert_eq!(ring.dumps[0].messages, 3);
        assert!(
            ring.dumps[0].file.ends_with("w-1.pcapng"),
            "{:?}",
            ring.dumps
        );
        assert!(std::path::Path::new(&ring.dumps[0].file).exists());
        assert_eq!(numbered(Path::new("/x/cap"), 2), PathBuf::from("/x/cap-2"));
    }
}

//! Admission of connections: every connection is accepted (a full listen backlog would lock real
//! scrapes out), the ones still waiting for a request head are kept in arrival order, and when
//! there are too many, or the process runs out of file descriptors, the oldest of them is closed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use tokio::sync::oneshot;

/// Why the server closed a connection before answering it, as the `reason` label of
/// `sipreg_exporter_http_connections_refused_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No whole request head within the head deadline.
    HeadTimeout,
    /// Closed to make room: too many connections waiting for their head, or no file descriptor left.
    Evicted,
    /// A request head over the size or header-count limit (431).
    HeadTooLarge,
    /// Bytes that are not an HTTP/1 request (400).
    BadRequest,
    /// A request with a body (400): nothing here reads one.
    Body,
    /// The client did not take the answer within the write deadline.
    WriteTimeout,
}

impl Refused {
    /// Every reason, in the order the metrics list them.
    pub const ALL: [Refused; 6] = [
        Refused::HeadTimeout,
        Refused::Evicted,
        Refused::HeadTooLarge,
        Refused::BadRequest,
        Refused::Body,
        Refused::WriteTimeout,
    ];

    /// The metric label.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Refused::HeadTimeout => "head_timeout",
            Refused::Evicted => "evicted",
            Refused::HeadTooLarge => "head_too_large",
            Refused::BadRequest => "bad_request",
            Refused::Body => "body",
            Refused::WriteTimeout => "write_timeout",
        }
    }
}

/// The server's own figures, shared with whoever renders metrics.
#[derive(Debug, Default)]
pub struct HttpStats {
    accepted: AtomicU64,
    open: AtomicU64,
    requests: AtomicU64,
    refused: [AtomicU64; Refused::ALL.len()],
}

/// A copy of [`HttpStats`] at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpFigures {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections open now.
    pub open: u64,
    /// Requests answered.
    pub requests: u64,
    /// Connections closed unanswered, by reason.
    pub refused: Vec<(&'static str, u64)>,
}

impl HttpStats {
    /// The figures now.
    #[must_use]
    pub fn figures(&self) -> HttpFigures {
        HttpFigures {
            accepted: self.accepted.load(Ordering::Relaxed),
            open: self.open.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            refused: Refused::ALL
                .iter()
                .map(|r| (r.label(), self.refused[*r as usize].load(Ordering::Relaxed)))
                .collect(),
        }
    }

    pub(super) fn refused(&self, why: Refused) {
        self.refused[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn answered(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }
}

/// An open connection, counted in `open` until dropped.
pub(super) struct Open<'a>(&'a HttpStats);

impl<'a> Open<'a> {
    pub(super) fn new(stats: &'a HttpStats) -> Self {
        stats.accepted.fetch_add(1, Ordering::Relaxed);
        stats.open.fetch_add(1, Ordering::Relaxed);
        Open(stats)
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The connections waiting for a request head, oldest first, each with the sender that closes it.
pub(super) struct Waiting {
    limit: usize,
    queue: Mutex<(u64, BTreeMap<u64, oneshot::Sender<()>>)>,
}

/// A place in the queue: the receiver fires when the connection is evicted.
pub(super) struct Ticket<'a> {
    id: u64,
    waiting: &'a Waiting,
    /// Fires (or closes) when this connection must go.
    pub(super) evicted: oneshot::Receiver<()>,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.waiting.lock().1.remove(&self.id);
    }
}

impl Waiting {
    /// At most `limit` connections wait for their head at once.
    pub(super) fn new(limit: usize) -> Waiting {
        Waiting {
            limit: limit.max(1),
            queue: Mutex::new((0, BTreeMap::new())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, BTreeMap<u64, oneshot::Sender<()>>)> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Joins the queue as its newest; the oldest goes when the queue is full.
    pub(super) fn enter(&self) -> Ticket<'_> {
        let (tx, rx) = oneshot::channel();
        let mut q = self.lock();
        if q.1.len() >= self.limit {
            if let Some((_, oldest)) = q.1.pop_first() {
                let _ = oldest.send(());
            }
        }
        let id = q.0;
        q.0 += 1;
        q.1.insert(id, tx);
        Ticket {
            id,
            waiting: self,
            evicted: rx,
        }
    }

    /// Closes the oldest waiting connection (a descriptor is needed); false when none waits.
    pub(super) fn evict_oldest(&self) -> bool {
        let oldest = self.lock().1.pop_first();
        oldest.is_some_and(|(_, tx)| tx.send(()).is_ok())
    }

    /// Connections waiting now.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.lock().1.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_waiting_connection_goes_first() {
        let w = Waiting::new(2);
        let mut a = w.enter();
        let mut b = w.enter();
        assert!(a.evicted.try_recv().is_err() && b.evicted.try_recv().is_err());
        let mut c = w.enter();
        assert!(a.evicted.try_recv().is_ok(), "the oldest is evicted");
        assert!(b.evicted.try_recv().is_err() && c.evicted.try_recv().is_err());
        assert_eq!(w.len(), 2);
        drop(b);
        assert_eq!(
            w.len(),
            1,
            "a connection that got its head leaves the queue"
        );
        assert!(w.evict_oldest());
        assert!(c.evicted.try_recv().is_ok());
        assert!(!w.evict_oldest(), "nothing left to evict");
    }

    #[test]
    fn figures_count_by_reason() {
        let s = HttpStats::default();
        {
            let _open = Open::new(&s);
            assert_eq!(s.figures().open, 1);
            s.refused(Refused::Evicted);
        }
        let f = s.figures();
        assert_eq!((f.accepted, f.open), (1, 0));
        assert!(f.refused.contains(&("evicted", 1)));
        assert!(f.refused.contains(&("head_timeout", 0)));
    }
}

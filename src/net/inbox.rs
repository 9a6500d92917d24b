//! One flow's inbox on a shared socket: the frames the reader hands over, and a wake-up. A tokio
//! mpsc channel allocates a block of 32 slots (about 1 KiB) when it is made: for 10,000 held flows
//! that was a sixth of a storm's memory, touched at every answer. This one holds one frame in place
//! (a flow takes each answer before the next comes) and queues only behind it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

use super::Frame;

struct Shared {
    state: Mutex<State>,
    notify: Notify,
}

/// The frames not yet taken, in order, and whether the sender is gone.
#[derive(Default)]
struct State {
    /// The oldest frame.
    first: Option<Frame>,
    /// Frames behind it: allocated only when a second frame waits.
    rest: VecDeque<Frame>,
    closed: bool,
}

impl State {
    fn push(&mut self, frame: Frame) {
        if self.first.is_none() {
            self.first = Some(frame);
        } else {
            self.rest.push_back(frame);
        }
    }

    fn pop(&mut self) -> Option<Frame> {
        let frame = self.first.take()?;
        self.first = self.rest.pop_front();
        Some(frame)
    }
}

/// The one sending end; dropping it closes the inbox (the receiver then gets `None`).
pub struct Sender(Arc<Shared>);

/// The receiving end.
pub struct Receiver(Arc<Shared>);

/// A new inbox.
#[must_use]
pub fn inbox() -> (Sender, Receiver) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State::default()),
        notify: Notify::new(),
    });
    (Sender(shared.clone()), Receiver(shared))
}

impl Sender {
    /// Hands a frame over; false when the receiver is gone.
    pub fn send(&self, frame: Frame) -> bool {
        if Arc::strong_count(&self.0) < 2 {
            return false;
        }
        self.0
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(frame);
        // A permit is kept when the receiver is not waiting yet: no wake-up is lost.
        self.0.notify.notify_one();
        true
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.0
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .closed = true;
        self.0.notify.notify_one();
    }
}

impl Receiver {
    /// The next frame, in order; `None` once the sender is gone and every frame was taken.
    pub async fn recv(&mut self) -> Option<Frame> {
        loop {
            {
                let mut state = self.0.state.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(frame) = state.pop() {
                    return Some(frame);
                }
                if state.closed {
                    return None;
                }
            }
            self.0.notify.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_come_in_order_then_none_once_the_sender_is_gone() {
        let (tx, mut rx) = inbox();
        assert!(tx.send(Frame::Ping));
        assert!(tx.send(Frame::Message(b"a".to_vec())));
        assert!(tx.send(Frame::Message(b"b".to_vec())));
        let waiting = tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(f) = rx.recv().await {
                got.push(f);
            }
            got
        });
        tokio::task::yield_now().await;
        assert!(tx.send(Frame::Pong));
        drop(tx);
        let got = waiting.await.unwrap();
        assert_eq!(
            got,
            [
                Frame::Ping,
                Frame::Message(b"a".to_vec()),
                Frame::Message(b"b".to_vec()),
                Frame::Pong
            ]
        );
    }

    #[tokio::test]
    async fn a_sender_without_receiver_says_so() {
        let (tx, rx) = inbox();
        drop(rx);
        assert!(!tx.send(Frame::Ping));
    }
}

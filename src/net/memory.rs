//! An in-memory flow for tests of the user agent: the test plays the registrar through a [`Peer`].

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::mpsc;

use super::{Connector, Flow, Frame};
use crate::model::{Failure, Outcome, Transport};

/// Our end of an in-memory flow.
pub struct MemoryFlow {
    transport: Transport,
    local: SocketAddr,
    remote: SocketAddr,
    to_peer: mpsc::UnboundedSender<Vec<u8>>,
    from_peer: mpsc::UnboundedReceiver<Result<Frame, Failure>>,
}

/// The registrar's end: reads what we sent and answers with frames or a failure.
pub struct Peer {
    from_ua: mpsc::UnboundedReceiver<Vec<u8>>,
    to_ua: mpsc::UnboundedSender<Result<Frame, Failure>>,
}

/// A connected pair over `transport` between `local` (us) and `remote` (the registrar).
#[must_use]
pub fn pair(transport: Transport, local: SocketAddr, remote: SocketAddr) -> (MemoryFlow, Peer) {
    let (to_peer, from_ua) = mpsc::unbounded_channel();
    let (to_ua, from_peer) = mpsc::unbounded_channel();
    let flow = MemoryFlow {
        transport,
        local,
        remote,
        to_peer,
        from_peer,
    };
    (flow, Peer { from_ua, to_ua })
}

impl Peer {
    /// The next message we sent, or `None` once our end is gone.
    pub async fn recv(&mut self) -> Option<Vec<u8>> {
        self.from_ua.recv().await
    }

    /// Delivers a message to us.
    pub fn send(&self, bytes: impl Into<Vec<u8>>) {
        let _ = self.to_ua.send(Ok(Frame::Message(bytes.into())));
    }

    /// Delivers a keep-alive or any frame to us.
    pub fn frame(&self, frame: Frame) {
        let _ = self.to_ua.send(Ok(frame));
    }

    /// Breaks the flow: our next receive fails with `failure`.
    pub fn fail(&self, failure: Failure) {
        let _ = self.to_ua.send(Err(failure));
    }
}

impl Flow for MemoryFlow {
    fn transport(&self) -> Transport {
        self.transport
    }

    fn local_addr(&self) -> SocketAddr {
        self.local
    }

    fn remote_addr(&self) -> SocketAddr {
        self.remote
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        self.to_peer
            .send(bytes.to_vec())
            .map_err(|_| Failure::new(Outcome::Closed, "the peer closed the flow"))
    }

    async fn recv(&mut self) -> Result<Frame, Failure> {
        match self.from_peer.recv().await {
            Some(frame) => frame,
            // The test dropped its peer: nothing more will come, as on a silent network.
            None => std::future::pending().await,
        }
    }
}

/// Hands out prepared flows (or failures) in order, one per `open`.
#[derive(Default)]
pub struct MemoryConnector {
    flows: Mutex<VecDeque<Result<MemoryFlow, Failure>>>,
}

impl MemoryConnector {
    /// A connector that will hand out `flows` in order.
    #[must_use]
    pub fn new(flows: Vec<Result<MemoryFlow, Failure>>) -> Self {
        Self {
            flows: Mutex::new(flows.into()),
        }
    }
}

impl Connector for MemoryConnector {
    type Flow = MemoryFlow;

    async fn open(
        &self,
        _transport: Transport,
        remote: SocketAddr,
        _timeout: Duration,
    ) -> Result<MemoryFlow, Failure> {
        let next = self.flows.lock().ok().and_then(|mut q| q.pop_front());
        next.unwrap_or_else(|| {
            Err(Failure::new(
                Outcome::Refused,
                format!("connection refused by {remote} (no flow prepared)"),
            ))
        })
    }

    async fn secure(&self, flow: MemoryFlow, _timeout: Duration) -> Result<MemoryFlow, Failure> {
        Ok(flow)
    }
}

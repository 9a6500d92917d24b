//! One account of a storm: the agent registers with Table 89's fallback, holds the binding with
//! refreshes until the storm stops, and removes it when a slot is free.

use tokio::sync::watch::Receiver;

use super::gate::Gate;
use crate::event::Event;
use crate::model::Verdict;
use crate::net::Connector;
use crate::ua::agent::Agent;
use crate::ua::hold::Hold;
use crate::ua::registration::Registration;
use crate::ua::watch::{WatchSettings, signalled};

impl<C: Connector> Agent<'_, C> {
    /// One account of a storm, `registration` (its identity), with the storm's shared configuration
    /// as this agent's: register with Table 89's fallback (and `--retries`), hold the binding
    /// with refreshes until `stop`, then remove it once `gate` lets it (a `--concurrency` slot, and
    /// with `--rate` its turn; a second stop skips the removal). A lost binding is not registered again:
    /// the storm counts it, and still sends its removal at the end. Returns the verdict of the
    /// registration.
    pub(crate) async fn storm(
        &mut self,
        registration: &mut Registration,
        settings: &WatchSettings,
        mut stop: Receiver<u32>,
        gate: &Gate,
    ) -> Verdict {
        self.started();
        let candidates = Box::pin(self.resolve()).await;
        let retries = self.cfg().retries;
        // A registration under way is finished, not abandoned, on the first stop: its binding would be
        // left behind. The second stop abandons it. The answer is taken apart at once, so that the
        // future a storm keeps per held binding has room for its link once, not twice.
        let (verdict, mut link) = match tokio::select! {
            r = Box::pin(self.register(registration, &candidates, retries)) => Some(r),
            () = signalled(&mut stop, 2) => None,
        } {
            Some((verdict, Some(link))) => (verdict, link),
            Some((verdict, None)) => {
                self.emit(Event::Finished(verdict));
                return verdict;
            }
            None => {
                self.emit(Event::Finished(Verdict::Unreachable));
                return Verdict::Unreachable;
            }
        };
        // The candidates are not needed while the binding is held.
        drop(candidates);
        // Not boxed: every account holds, and a box would be an allocation of its own.
        let held = self
            .hold(&mut link, registration, settings, &mut stop, None)
            .await;
        self.held().answering = false;
        if let Hold::Lost(reason) | Hold::Unreached(reason) = held {
            // A refresh that failed or a connection that closed does not tell that the
            // registrar dropped the binding: it is removed at the end with the others (over a
            // new connection when its own closed), so that nothing is left behind.
            self.emit(Event::RegistrationLost { reason });
            signalled(&mut stop, 1).await;
        }
        if !self.cfg().keep {
            tokio::select! {
                () = async {
                    let _slot = gate.enter().await;
                    let _ = Box::pin(self.unregister(&mut link, registration)).await;
                } => {}
                () = signalled(&mut stop, 2) => {}
            }
        }
        self.emit(Event::Finished(verdict));
        verdict
    }
}

//! The runs a front end starts — one registration test, a watch, the demo — and the one place that
//! wires an agent: a configuration's sockets and resolver, the sinks, and [`Agent::new`].

pub mod demo;
pub mod oneshot;
pub mod watch;

use crate::config::Config;
use crate::event::Sink;
use crate::net::Sockets;
use crate::net::resolve::Resolver;
use crate::ua::agent::Agent;

/// Runs `go` with an agent for `cfg` over real sockets and `resolver`, feeding `sink`; every front
/// end but the storm (which brings its own connectors) starts its agent here.
pub async fn with_agent<T>(
    cfg: &Config,
    resolver: &Resolver,
    sink: &mut dyn Sink,
    go: impl AsyncFnOnce(&mut Agent<'_, Sockets>) -> T,
) -> T {
    let sockets = Sockets::new(cfg.tls_client()).websocket(cfg.ws_target());
    let mut agent = Agent::new(cfg, &sockets, resolver, sink);
    go(&mut agent).await
}

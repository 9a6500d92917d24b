//! One registration test with real sockets: the user agent, the report fold, the progress line and
//! the narration wired together.

use crate::config::Config;
use crate::event::{Fanout, Sink};
use crate::net::resolve::Resolver;
use crate::observe::collect::Collector;
use crate::observe::narration::Narration;
use crate::observe::report::Report;

/// Runs a whole registration test and returns its report.
pub async fn run(cfg: &Config) -> Report {
    let resolver = Resolver::new(cfg.dns.clone());
    run_with(cfg, &resolver, &mut crate::event::Recorder::default()).await
}

/// Runs a whole registration test with a shared resolver, feeding `extra` (the progress line) too.
pub async fn run_with(cfg: &Config, resolver: &Resolver, extra: &mut dyn Sink) -> Report {
    let mut collector = Collector::new(cfg);
    let mut narration = Narration::new(cfg);
    {
        // The progress line first: it clears itself before a log line is written.
        let mut sinks = Fanout(vec![extra, &mut collector, &mut narration]);
        super::with_agent(cfg, resolver, &mut sinks, async |agent| agent.run().await).await;
    }
    collector.finish(cfg)
}

//! `sipreg storm`: many accounts register at once, as every phone of a building does after a power
//! cut. Each account is the phone of the one-shot command (Table 89 order and fallback, digest,
//! `--retries`), paced by `--rate` and bounded by `--concurrency`; bindings are held (refreshed) for
//! `--duration` and removed at the end, on a signal too.

pub mod accounts;
mod driver;
mod gate;
pub mod host;
mod lanes;
mod pace;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::sync::watch::{Receiver, Sender};
use tokio::task::JoinSet;

use crate::config::{Config, Secret};
use crate::model::Transport;
use crate::net::resolve::Resolver;
use crate::net::shared::Shared;
use crate::net::{Connector, Sockets};
use crate::observe::storm::{AccountSink, StormSummary, Totals, Window};
use crate::ua::agent::Agent;
use crate::ua::binding::RefreshPolicy;
use crate::ua::registration::Registration;
use crate::ua::watch::{WatchSettings, signalled};
pub use accounts::{Account, Shard};
pub use lanes::run_lanes;
pub use pace::Pace;

/// Where the accounts' requests leave from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketMode {
    /// A UDP socket or TCP/TLS connection per account, as real phones have.
    PerAccount,
    /// One UDP socket or one TCP connection for all (the registrar's raw ceiling).
    Shared,
}

/// A storm to run.
#[derive(Debug)]
pub struct Plan {
    /// The one-shot flags; user, password, auth user and domain come from each account.
    pub base: Config,
    /// The accounts (this shard's).
    pub accounts: Vec<Account>,
    /// When the accounts start (`--rate`, `--burst`, the lane).
    pub pace: Pace,
    /// Registrations under way at once.
    pub concurrency: usize,
    /// Hold the bindings (refreshing them) this long from the start.
    pub duration: Option<Duration>,
    /// Socket per account or shared.
    pub socket: SocketMode,
    /// `--pcap`/`--hep`: the accounts' messages, up to [`crate::capture::STORM_CAP`].
    pub capture: Option<crate::capture::Capture>,
}

/// What the progress line shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// Since the start.
    pub elapsed: Duration,
    /// Accounts in the storm.
    pub accounts: u64,
    /// Accounts started.
    pub started: u64,
    /// Registered.
    pub registered: u64,
    /// Failed.
    pub failed: u64,
    /// Requests sent.
    pub requests: u64,
    /// Retransmissions.
    pub retransmissions: u64,
    /// Bindings removed.
    pub unregistered: u64,
    /// What the storm does now.
    pub stage: &'static str,
}

impl Account {
    /// The identity this account registers with: its user and credentials, in its own domain or
    /// the storm's. The rest of the configuration is the storm's, shared by every account.
    #[must_use]
    pub fn identity(&self, base: &Config) -> crate::ua::registration::Account {
        crate::ua::registration::Account {
            user: self.user.clone(),
            domain: self.domain.clone().unwrap_or_else(|| base.domain.clone()),
            auth_user: self.auth_user.clone().unwrap_or_else(|| self.user.clone()),
            password: (!self.password.is_empty()).then(|| Secret::new(self.password.clone())),
        }
    }
}

/// How the storm's agents hold their bindings: refreshes at 90 %, no keep-alives, no checks.
const HOLD: WatchSettings = WatchSettings {
    keepalive: Duration::ZERO,
    refresh: RefreshPolicy::Fraction(0.9),
    duration: None,
    inbound_every: None,
};

/// Runs the storm until its accounts registered and (after `--duration`) removed their bindings,
/// or a signal came (`stop` counts them: the first ends the storm with removals, the second skips
/// them). `tick` gets a snapshot four times a second.
///
/// # Errors
/// One line when the shared socket cannot be opened.
pub async fn run(
    plan: Plan,
    stop: Receiver<u32>,
    tick: &mut (dyn FnMut(&Snapshot) + Send),
) -> Result<StormSummary, String> {
    let host_before = host::Readings::take();
    let (mut summary, starts, shared) = lane(&plan, stop, tick).await?;
    let pacing = (plan.pace.rate, plan.concurrency);
    add_warnings(
        &mut summary,
        pacing,
        &starts,
        &host_before,
        shared.as_deref(),
    );
    Ok(summary)
}

/// The storm's warnings once it is over: its pacing (the whole storm's `--rate` and `--concurrency`
/// against `starts`), then the host's (CPU, receive-buffer drops since `before`).
fn add_warnings(
    summary: &mut StormSummary,
    (rate, concurrency): (Option<f64>, usize),
    starts: &Starts,
    before: &host::Readings,
    shared: Option<&Shared>,
) {
    summary
        .warnings
        .extend(pacing_warnings(rate, concurrency, starts));
    summary.warnings = host::warnings(summary, before, shared);
}

/// One runtime's part of a storm: its accounts, its socket(s); no warnings about the host yet.
async fn lane(
    plan: &Plan,
    stop: Receiver<u32>,
    tick: &mut (dyn FnMut(&Snapshot) + Send),
) -> Result<(StormSummary, Starts, Option<Arc<Shared>>), String> {
    let resolver = Arc::new(Resolver::new(plan.base.dns.clone()));
    Ok(match plan.socket {
        SocketMode::PerAccount => {
            let sockets =
                Arc::new(Sockets::lean(plan.base.tls_client()).websocket(plan.base.ws_target()));
            let (summary, starts) = storm(plan, sockets, resolver, stop, tick).await;
            (summary, starts, None)
        }
        SocketMode::Shared => {
            let shared = Arc::new(open_shared(&plan.base, &resolver).await?);
            let (summary, starts) = storm(plan, shared.clone(), resolver, stop, tick).await;
            (summary, starts, Some(shared))
        }
    })
}

/// How the starts went: what the warnings about `--rate` and `--concurrency` are judged by.
#[derive(Debug, Default, Clone, Copy)]
struct Starts {
    planned: u64,
    started: u64,
    /// Times a start waited for a `--concurrency` slot.
    slot_waits: u64,
    /// Times a start waited for the registrar's answers (more unanswered than the window).
    lag_waits: u64,
    /// The last window (summed over lanes).
    window: u64,
    /// The last start, from the beginning of the storm.
    last_start: Option<Duration>,
}

impl Starts {
    /// The starts of lanes that ran side by side, as one storm's.
    fn add(self, other: Starts) -> Starts {
        Starts {
            planned: self.planned + other.planned,
            started: self.started + other.started,
            slot_waits: self.slot_waits + other.slot_waits,
            lag_waits: self.lag_waits + other.lag_waits,
            window: self.window + other.window,
            last_start: self.last_start.max(other.last_start),
        }
    }
}

/// Warnings about the pacing: a signal that cut the starts short, `--concurrency` holding `--rate`
/// back, a rate not reached (judged by the starts, not by slow answers: more than 10 % behind).
fn pacing_warnings(rate: Option<f64>, concurrency: usize, s: &Starts) -> Vec<String> {
    let mut out = Vec::new();
    if s.started < s.planned {
        out.push(format!(
            "a signal ended the storm: {} of {} accounts were started",
            s.started, s.planned
        ));
    }
    if s.lag_waits > 0 {
        out.push(format!(
            "the registrar fell behind: {} starts waited for its answers (more than {} requests unanswered), so that its receive queue would not overflow",
            s.lag_waits, s.window
        ));
    }
    if rate.is_some() && s.slot_waits > 0 {
        out.push(format!(
            "--concurrency {concurrency} was full {} times: it held the rate back",
            s.slot_waits
        ));
    }
    if let (Some(rate), Some(last)) = (rate, s.last_start) {
        let span = last.as_secs_f64();
        let reached = s.started.saturating_sub(1) as f64 / span.max(0.001);
        if s.started > 1 && reached < 0.9 * rate {
            out.push(format!(
                "--rate {rate}/s was not reached: {} accounts were started in {span:.2} s, {reached:.0}/s",
                s.started
            ));
        }
    }
    out
}

/// The one socket of `--socket shared`, to the first address of the one transport.
async fn open_shared(base: &Config, resolver: &Resolver) -> Result<Shared, String> {
    let transport = base.order.first().copied().unwrap_or(Transport::Udp);
    let candidates = crate::net::resolve::candidates(&base.target(), resolver).await;
    let remote = candidates
        .iter()
        .filter(|c| c.transport == transport)
        .find_map(|c| c.addr.as_ref().ok().copied())
        .ok_or_else(|| format!("no {transport} address for {}", base.server_display()))?;
    Shared::open(transport, remote, base.timers.connect)
        .await
        .map_err(|f| format!("--socket shared: {}", f.reason))
}

/// The clock and the shared parts of one storm.
struct Run<C> {
    /// The flags every account shares (its identity comes with it).
    base: Arc<Config>,
    connector: Arc<C>,
    resolver: Arc<Resolver>,
    totals: Arc<Totals>,
    slots: Arc<Semaphore>,
    /// The removals' slots and pace.
    gate: Arc<gate::Gate>,
    hold: Sender<u32>,
    tasks: JoinSet<()>,
    t0: Instant,
    accounts: u64,
    slot_waits: u64,
    lag_waits: u64,
    /// When the last account was started.
    last_start: Option<Instant>,
    /// Every account's capture goes here.
    capture: Option<crate::capture::Capture>,
}

async fn storm<C: Connector + Send + Sync + 'static>(
    plan: &Plan,
    connector: Arc<C>,
    resolver: Arc<Resolver>,
    mut stop: Receiver<u32>,
    tick: &mut (dyn FnMut(&Snapshot) + Send),
) -> (StormSummary, Starts) {
    let started_unix_ms = unix_ms();
    let cpu0 = host::cpu_seconds();
    let (hold, _) = tokio::sync::watch::channel(0u32);
    let slots = Arc::new(Semaphore::new(plan.concurrency.max(1)));
    let totals = Arc::new(Totals::default());
    let mut run = Run {
        base: Arc::new(plan.base.clone()),
        connector,
        resolver,
        gate: Arc::new(gate::Gate::new(slots.clone(), plan.pace, totals.clone())),
        totals,
        slots,
        hold,
        tasks: JoinSet::new(),
        t0: Instant::now(),
        accounts: plan.accounts.len() as u64,
        slot_waits: 0,
        lag_waits: 0,
        last_start: None,
        capture: plan.capture.as_ref().map(crate::capture::Capture::tap),
    };
    let mut every = tokio::time::interval(Duration::from_millis(250));
    let planned = run.accounts;
    let started = run.start_all(plan, &mut stop, &mut every, tick).await;
    run.accounts = started;
    run.wait_registered(&mut stop, &mut every, tick).await;
    let cpu_registered = host::cpu_seconds();
    if let Some(d) = plan.duration {
        run.wait_until(run.t0 + d, &mut stop, &mut every, tick)
            .await;
    }
    let _ = run.hold.send(1);
    run.finish(&mut stop, &mut every, tick).await;
    let window = Window {
        started: run.t0,
        started_unix_ms,
        ended: Instant::now(),
    };
    let used = |at: Option<f64>| {
        at.zip(cpu0)
            .map_or(0.0, |(b, a)| ((b - a) * 1000.0).round() / 1000.0)
    };
    let cpu = (used(host::cpu_seconds()), used(cpu_registered));
    let summary = run.totals.summary(planned, window, cpu);
    let starts = Starts {
        planned,
        started,
        slot_waits: run.slot_waits,
        lag_waits: run.lag_waits,
        window: run.gate.window().unwrap_or(0),
        last_start: run
            .last_start
            .map(|at| at.saturating_duration_since(run.t0)),
    };
    (summary, starts)
}

/// True once a signal was counted.
fn stopped(stop: &Receiver<u32>) -> bool {
    *stop.borrow() >= 1
}

impl<C: Connector + Send + Sync + 'static> Run<C> {
    fn snapshot(&self, stage: &'static str) -> Snapshot {
        use std::sync::atomic::Ordering::Relaxed;
        let live = &self.totals.live;
        Snapshot {
            elapsed: self.t0.elapsed(),
            accounts: self.accounts,
            started: live.started.load(Relaxed),
            registered: live.registered.load(Relaxed),
            failed: live.failed.load(Relaxed),
            requests: live.requests.load(Relaxed),
            retransmissions: live.retransmissions.load(Relaxed),
            unregistered: live.unregistered.load(Relaxed),
            stage,
        }
    }

    /// Starts every account at its time; returns how many started (fewer after a signal).
    async fn start_all(
        &mut self,
        plan: &Plan,
        stop: &mut Receiver<u32>,
        every: &mut tokio::time::Interval,
        tick: &mut (dyn FnMut(&Snapshot) + Send),
    ) -> u64 {
        let mut started = 0u64;
        for (i, account) in plan.accounts.iter().enumerate() {
            if let Some(at) = plan.pace.start(i) {
                if !self.wait_until(self.t0 + at, stop, every, tick).await {
                    break;
                }
            }
            if !self.wait_for_answers(stop, every, tick).await {
                break;
            }
            let Some(slot) = self.slot(stop, every, tick).await else {
                break;
            };
            self.spawn(account.identity(&plan.base), slot);
            started += 1;
        }
        started
    }

    /// With `--rate`, waits while the registrar has more requests unanswered than the window
    /// (checked each millisecond); false after a signal.
    async fn wait_for_answers(
        &mut self,
        stop: &mut Receiver<u32>,
        every: &mut tokio::time::Interval,
        tick: &mut (dyn FnMut(&Snapshot) + Send),
    ) -> bool {
        if !self.gate.behind() {
            return true;
        }
        self.lag_waits += 1;
        loop {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(1)) => if !self.gate.behind() { return true },
                () = signalled(stop, 1) => return false,
                _ = every.tick() => tick(&self.snapshot("starting")),
            }
        }
    }

    /// A concurrency slot, or `None` after a signal.
    async fn slot(
        &mut self,
        stop: &mut Receiver<u32>,
        every: &mut tokio::time::Interval,
        tick: &mut (dyn FnMut(&Snapshot) + Send),
    ) -> Option<tokio::sync::OwnedSemaphorePermit> {
        if let Ok(slot) = self.slots.clone().try_acquire_owned() {
            return (!stopped(stop)).then_some(slot);
        }
        self.slot_waits += 1;
        loop {
            tokio::select! {
                slot = self.slots.clone().acquire_owned() => return slot.ok().filter(|_| !stopped(stop)),
                () = signalled(stop, 1) => return None,
                _ = every.tick() => tick(&self.snapshot("starting")),
            }
        }
    }

    fn spawn(
        &mut self,
        identity: crate::ua::registration::Account,
        slot: tokio::sync::OwnedSemaphorePermit,
    ) {
        self.last_start = Some(Instant::now());
        // Made here, not in the task: what a task captures it keeps for its whole life.
        let mut registration = Registration::new(identity);
        let base = self.base.clone();
        let connector = self.connector.clone();
        let resolver = self.resolver.clone();
        let totals = self.totals.clone();
        let hold = self.hold.subscribe();
        let gate = self.gate.clone();
        // Made here: its first request counts as unanswered from now, before the task runs, so
        // that starts made together are all counted by the window.
        let mut sink = AccountSink::new(totals, Some(slot));
        let tap = self.capture.as_ref().map(crate::capture::Capture::tap);
        self.tasks.spawn(async move {
            let mut fan;
            let sink: &mut dyn crate::event::Sink = match tap {
                None => &mut sink,
                Some(tap) => {
                    fan = (sink, tap);
                    &mut fan
                }
            };
            Agent::new(&base, connector.as_ref(), &resolver, sink)
                .storm(&mut registration, &HOLD, hold, &gate)
                .await;
        });
    }

    /// Waits until `at` (ticking); false when a signal came first.
    async fn wait_until(
        &mut self,
        at: Instant,
        stop: &mut Receiver<u32>,
        every: &mut tokio::time::Interval,
        tick: &mut (dyn FnMut(&Snapshot) + Send),
    ) -> bool {
        let stage = if self.totals.live.done() >= self.accounts {
            "holding"
        } else {
            "starting"
        };
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(at.into()) => return true,
                () = signalled(stop, 1) => return false,
                _ = every.tick() => tick(&self.snapshot(stage)),
            }
        }
    }

    /// Waits until every started account registered or failed, or a signal.
    async fn wait_registered(
        &mut self,
        stop: &mut Receiver<u32>,
        every: &mut tokio::time::Interval,
        tick: &mut (dyn FnMut(&Snapshot) + Send),
    ) {
        let mut poll = tokio::time::interval(Duration::from_millis(10));
        while self.totals.live.done() < self.accounts {
            tokio::select! {
                _ = poll.tick() => {}
                () = signalled(stop, 1) => return,
                _ = every.tick() => tick(&self.snapshot("registering")),
            }
        }
    }

    /// Lets every account remove its binding and end; a second signal skips the removals.
    async fn finish(
        &mut self,
        stop: &mut Receiver<u32>,
        every: &mut tokio::time::Interval,
        tick: &mut (dyn FnMut(&Snapshot) + Send),
    ) {
        let mut skipped = false;
        loop {
            tokio::select! {
                joined = self.tasks.join_next() => if joined.is_none() { break },
                () = signalled(stop, 2), if !skipped => {
                    skipped = true;
                    let _ = self.hold.send(2);
                }
                _ = every.tick() => tick(&self.snapshot("removing")),
            }
        }
        tick(&self.snapshot("done"));
    }
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_registers_as_itself_in_the_storms_domain_unless_it_names_its_own() {
        let base = Config::builder("pbx.example.com:5060")
            .user("base-user")
            .build()
            .unwrap();
        let plain = Account {
            user: "u1".into(),
            password: "pw".into(),
            auth_user: None,
            domain: None,
        };
        let id = plain.identity(&base);
        assert_eq!(
            (id.user.as_str(), id.auth_user.as_str(), id.domain.as_str()),
            ("u1", "u1", base.domain.as_str())
        );
        assert_eq!(id.password.as_ref().map(Secret::expose), Some("pw"));
        let own = Account {
            user: "u2".into(),
            password: String::new(),
            auth_user: Some("auth2".into()),
            domain: Some("other.example".into()),
        };
        let id = own.identity(&base);
        assert_eq!(
            (id.user.as_str(), id.auth_user.as_str(), id.domain.as_str()),
            ("u2", "auth2", "other.example")
        );
        assert!(id.password.is_none(), "an empty password is none");
    }
}

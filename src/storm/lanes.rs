//! A storm on several threads, each a single-threaded runtime with every N-th account (thread per
//! core): no task hops between threads, no work stealing, no lock shared per message. Their results
//! merge exactly, as shards on several machines do.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch::Receiver;

use super::{Plan, Snapshot, Starts, add_warnings, host, lane};
use crate::observe::storm::StormSummary;

/// The stages of a storm in their order: the snapshot of lanes shows the one furthest behind.
const STAGES: [&str; 5] = ["starting", "registering", "holding", "removing", "done"];

/// Runs `plan` on `lanes` threads (at most one per account and per `--concurrency` slot), each a
/// single-threaded runtime with every `lanes`-th account (each started when it would be on one
/// runtime), its share of `--concurrency`, and sockets of its own. Blocks until all are done; `tick`
/// gets the sum of their progress four times a second. `stop` counts signals as in [`super::run`].
///
/// # Errors
/// One line when a lane's shared socket cannot be opened or its runtime not started.
pub fn run_lanes(
    plan: Plan,
    lanes: usize,
    stop: &Receiver<u32>,
    tick: &mut (dyn FnMut(&Snapshot) + Send),
) -> Result<StormSummary, String> {
    let host_before = host::Readings::take();
    let pacing = (plan.pace.rate, plan.concurrency);
    let plans = split(plan, lanes);
    let latest: Arc<Mutex<Vec<Option<Snapshot>>>> = Arc::new(Mutex::new(vec![None; plans.len()]));
    let results = std::thread::scope(|scope| {
        let handles: Vec<_> = plans
            .into_iter()
            .enumerate()
            .map(|(k, part)| {
                let (stop, latest) = (stop.clone(), latest.clone());
                scope.spawn(move || run_one(&part, k, stop, &latest))
            })
            .collect();
        let mut waited = 0u32;
        while !handles
            .iter()
            .all(std::thread::ScopedJoinHandle::is_finished)
        {
            std::thread::sleep(Duration::from_millis(25));
            waited += 1;
            if waited % 10 == 0 {
                tick(&sum(&latest));
            }
        }
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a storm thread failed".into()))
            })
            .collect::<Result<Vec<_>, String>>()
    })?;
    tick(&sum(&latest));
    let starts = results
        .iter()
        .fold(Starts::default(), |all, (_, s)| all.add(*s));
    let parts: Vec<StormSummary> = results.into_iter().map(|(summary, _)| summary).collect();
    let mut merged = StormSummary::merge(&parts)?;
    // Each lane read the process's CPU time from (nearly) the same start: the last reading is the
    // storm's, a sum would count it once per lane.
    merged.cpu_s = parts.iter().map(|p| p.cpu_s).fold(0.0, f64::max);
    merged.cpu_registration_s = parts
        .iter()
        .map(|p| p.cpu_registration_s)
        .fold(0.0, f64::max);
    add_warnings(&mut merged, pacing, &starts, &host_before, None);
    Ok(merged)
}

/// One lane on its own single-threaded runtime; its progress goes to `latest[k]`.
fn run_one(
    plan: &Plan,
    k: usize,
    stop: Receiver<u32>,
    latest: &Mutex<Vec<Option<Snapshot>>>,
) -> Result<(StormSummary, Starts), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let mut note = |s: &Snapshot| {
        if let Ok(mut all) = latest.lock() {
            all[k] = Some(*s);
        }
    };
    let (summary, starts, _) = rt.block_on(lane(plan, stop, &mut note))?;
    Ok((summary, starts))
}

/// The lanes' plans: account `i` goes to lane `i % n` and starts when it would on one runtime;
/// `--concurrency` is shared out.
fn split(plan: Plan, lanes: usize) -> Vec<Plan> {
    let n = lanes.min(plan.accounts.len()).min(plan.concurrency).max(1);
    let mut shares: Vec<Vec<_>> = (0..n).map(|_| Vec::new()).collect();
    for (i, account) in plan.accounts.into_iter().enumerate() {
        shares[i % n].push(account);
    }
    shares
        .into_iter()
        .enumerate()
        .map(|(k, accounts)| Plan {
            base: plan.base.clone(),
            accounts,
            // Account j of lane k is account j·n + k of the storm, and starts when it would there.
            pace: plan.pace.on_lane(k, n),
            concurrency: plan.concurrency / n + usize::from(k < plan.concurrency % n),
            duration: plan.duration,
            socket: plan.socket,
            capture: plan.capture.as_ref().map(crate::capture::Capture::tap),
        })
        .collect()
}

/// The lanes' progress as one: counts added, the longest elapsed time, the stage furthest behind.
fn sum(latest: &Mutex<Vec<Option<Snapshot>>>) -> Snapshot {
    let all = latest.lock().map(|l| l.clone()).unwrap_or_default();
    let mut out = Snapshot {
        elapsed: Duration::ZERO,
        accounts: 0,
        started: 0,
        registered: 0,
        failed: 0,
        requests: 0,
        retransmissions: 0,
        unregistered: 0,
        stage: STAGES[0],
    };
    let mut stage = STAGES.len() - 1;
    for s in all.iter().flatten() {
        out.elapsed = out.elapsed.max(s.elapsed);
        out.accounts += s.accounts;
        out.started += s.started;
        out.registered += s.registered;
        out.failed += s.failed;
        out.requests += s.requests;
        out.retransmissions += s.retransmissions;
        out.unregistered += s.unregistered;
        stage = stage.min(STAGES.iter().position(|x| *x == s.stage).unwrap_or(0));
    }
    if all.iter().any(Option::is_none) {
        stage = 0;
    }
    out.stage = STAGES[stage];
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storm::{Account, SocketMode};

    fn plan(accounts: usize, concurrency: usize, rate: Option<f64>) -> Plan {
        let base = crate::config::Config::builder("127.0.0.1:5060")
            .user("u")
            .build()
            .unwrap();
        Plan {
            base,
            accounts: (0..accounts)
                .map(|i| Account {
                    user: format!("u{i}"),
                    password: String::new(),
                    auth_user: None,
                    domain: None,
                })
                .collect(),
            pace: crate::storm::Pace::new(rate, 1),
            concurrency,
            duration: None,
            socket: SocketMode::PerAccount,
            capture: None,
        }
    }

    #[test]
    fn accounts_and_limits_are_shared_out_without_loss() {
        let parts = split(plan(10, 5, Some(100.0)), 3);
        let users: Vec<Vec<&str>> = parts
            .iter()
            .map(|p| p.accounts.iter().map(|a| a.user.as_str()).collect())
            .collect();
        assert_eq!(
            users,
            [
                vec!["u0", "u3", "u6", "u9"],
                vec!["u1", "u4", "u7"],
                vec!["u2", "u5", "u8"]
            ]
        );
        assert_eq!(
            parts.iter().map(|p| p.concurrency).collect::<Vec<_>>(),
            [2, 2, 1]
        );
        // Each account starts when it would in one storm at 100/s: account i at i/100 s.
        for p in &parts {
            for (j, a) in p.accounts.iter().enumerate() {
                let i: f64 = a.user[1..].parse().unwrap();
                let at = p.pace.start(j).unwrap().as_secs_f64();
                assert!((at - i / 100.0).abs() < 1e-9, "{} at {at}", a.user);
            }
        }
    }

    #[test]
    fn never_more_lanes_than_accounts_or_slots() {
        assert_eq!(split(plan(2, 50, None), 8).len(), 2);
        assert_eq!(split(plan(100, 3, None), 8).len(), 3);
        assert_eq!(split(plan(0, 3, None), 8).len(), 1);
    }

    #[test]
    fn progress_adds_up_and_waits_for_the_slowest_lane() {
        let snap = |started, stage| Snapshot {
            elapsed: Duration::from_millis(started * 10),
            accounts: 10,
            started,
            registered: started / 2,
            failed: 0,
            requests: 2 * started,
            retransmissions: 1,
            unregistered: 0,
            stage,
        };
        let latest = Mutex::new(vec![
            Some(snap(10, "holding")),
            Some(snap(4, "registering")),
        ]);
        let s = sum(&latest);
        assert_eq!(
            (
                s.accounts,
                s.started,
                s.registered,
                s.requests,
                s.retransmissions
            ),
            (20, 14, 7, 28, 2)
        );
        assert_eq!(
            (s.elapsed, s.stage),
            (Duration::from_millis(100), "registering")
        );
        let latest = Mutex::new(vec![Some(snap(10, "done")), None]);
        assert_eq!(sum(&latest).stage, "starting");
    }
}

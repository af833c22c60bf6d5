//! The probe reconciler: one task per [`ProbeTarget`], started, restarted and stopped so the
//! running set always matches the last [`Prober::set_targets`].
//!
//! Each task probes at once, then every `interval` of Azure time on the [`Clock`], feeds the
//! result to the pure state machine ([`super::state::observe`]) and publishes the entry on
//! the [`HealthBoard`] when health or the result detail changed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::check::{HealthCheck, HttpCheck, TcpCheck};
use super::state::{ProbeState, observe};
use super::table::{HealthBoard, HealthEntry, HealthView};
use super::{ProbeError, ProbeKey, ProbeProtocol, ProbeTarget};
use crate::runtime::clock::Clock;
use crate::runtime::fault::FaultSet;

/// Azure's HTTP(S) probes give up after 30 s (or the interval, if shorter).
const AZURE_PROBE_TIMEOUT: Duration = Duration::from_secs(30);
/// Real-time bounds on a probe's timeout, whatever the time scale: loopback answers in
/// microseconds, but a loaded 2-core machine should not flap a backend.
const MIN_REAL_TIMEOUT: Duration = Duration::from_millis(500);
const MAX_REAL_TIMEOUT: Duration = Duration::from_secs(5);

/// The real time one probe attempt may take: min(interval, 30 s) of Azure time, clamped to
/// [0.5 s, 5 s] real. At a high time scale this can exceed the real interval; the next
/// probe then waits for the previous one (probes of one target never overlap).
pub fn probe_timeout(clock: &Clock, interval: Duration) -> Duration {
    clock
        .real(interval.min(AZURE_PROBE_TIMEOUT))
        .clamp(MIN_REAL_TIMEOUT, MAX_REAL_TIMEOUT)
}

/// Runs the probes; [`Prober::health`] is where their verdicts are read.
pub struct Prober {
    clock: Clock,
    board: Arc<HealthBoard>,
    /// The running task per target, with the target it was started for.
    running: Mutex<HashMap<ProbeKey, Running>>,
    /// Probe tasks stop when this is cancelled (a child of the app's shutdown).
    shutdown: CancellationToken,
    tasks: TaskTracker,
    /// The runtime the tasks are spawned on, so `set_targets` can be called from anywhere.
    runtime: tokio::runtime::Handle,
    /// Injected faults: a probe of an instance with a `probeFailure` fault fails.
    faults: Arc<ArcSwap<FaultSet>>,
}

struct Running {
    target: ProbeTarget,
    cancel: CancellationToken,
}

impl Prober {
    /// Must be called inside a tokio runtime; tasks run on it.
    pub fn new(clock: Clock, shutdown: CancellationToken, tasks: TaskTracker) -> Self {
        Prober {
            clock,
            board: Arc::new(HealthBoard::new()),
            running: Mutex::new(HashMap::new()),
            shutdown,
            tasks,
            runtime: tokio::runtime::Handle::current(),
            faults: Arc::default(),
        }
    }

    /// Reads injected faults from `faults` (the runtime's [`crate::runtime::fault::Faults`]).
    pub fn with_faults(mut self, faults: Arc<ArcSwap<FaultSet>>) -> Self {
        self.faults = faults;
        self
    }

    /// The published health (lock-free snapshot + change notifications).
    pub fn health(&self) -> HealthView {
        self.board.view()
    }

    /// Makes the running probes match `targets` (level-triggered, idempotent). A target
    /// whose protocol or address changed starts over as `Unknown`; one whose interval,
    /// threshold or path changed keeps its health. Errors (a TLS setup failure) are
    /// returned per key; the other targets are applied.
    pub fn set_targets(&self, targets: Vec<ProbeTarget>) -> Vec<(ProbeKey, ProbeError)> {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let wanted: HashMap<ProbeKey, ProbeTarget> =
            targets.into_iter().map(|t| (t.key.clone(), t)).collect();
        let mut forget = Vec::new();
        running.retain(|key, r| {
            let keep = wanted.get(key).is_some_and(|t| *t == r.target);
            if !keep {
                r.cancel.cancel();
                let reset = wanted.get(key).is_none_or(|t| {
                    t.protocol != r.target.protocol
                        || t.addr != r.target.addr
                        || t.app_health.map(|a| a.rich) != r.target.app_health.map(|a| a.rich)
                });
                if reset {
                    forget.push(key.clone());
                }
            }
            keep
        });
        if !forget.is_empty() {
            self.board
                .update(|m| forget.iter().filter(|k| m.remove(*k).is_some()).count() > 0);
        }
        let mut errors = Vec::new();
        for (key, target) in wanted {
            if running.contains_key(&key) {
                continue;
            }
            let cancel = self.shutdown.child_token();
            if let Some(settings) = target.app_health {
                let task = super::app_health::run(
                    self.clock,
                    self.board.clone(),
                    target.clone(),
                    settings,
                    cancel.clone(),
                );
                self.tasks.spawn_on(task, &self.runtime);
                running.insert(key, Running { target, cancel });
                continue;
            }
            let check: Box<dyn HealthCheck> = match make_check(&target) {
                Ok(c) => c,
                Err(e) => {
                    errors.push((key, e));
                    continue;
                }
            };
            let task = probe_loop(
                self.clock,
                self.board.clone(),
                target.clone(),
                check,
                self.faults.clone(),
                cancel.clone(),
            );
            self.tasks.spawn_on(task, &self.runtime);
            running.insert(key, Running { target, cancel });
        }
        errors
    }

    /// The targets currently probed.
    pub fn targets(&self) -> Vec<ProbeTarget> {
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        running.values().map(|r| r.target.clone()).collect()
    }
}

fn make_check(target: &ProbeTarget) -> Result<Box<dyn HealthCheck>, ProbeError> {
    let path = target.request_path.as_deref().unwrap_or("/");
    Ok(match target.protocol {
        ProbeProtocol::Tcp => Box::new(TcpCheck),
        ProbeProtocol::Http => Box::new(HttpCheck::http(path)),
        ProbeProtocol::Https => Box::new(HttpCheck::https(path)?),
    })
}

async fn probe_loop(
    clock: Clock,
    board: Arc<HealthBoard>,
    target: ProbeTarget,
    check: Box<dyn HealthCheck>,
    faults: Arc<ArcSwap<FaultSet>>,
    cancel: CancellationToken,
) {
    let timeout = probe_timeout(&clock, target.interval);
    let mut ticker = clock.interval(target.interval);
    // Continue from the published state (an interval or threshold change keeps health).
    let mut state: ProbeState = board
        .view()
        .load()
        .get(&target.key)
        .map_or_else(ProbeState::default, |e| e.state);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let result = tokio::select! {
            _ = cancel.cancelled() => return,
            r = tokio::time::timeout(timeout, check.check(target.addr)) => r,
        };
        let (ok, detail) = match result {
            _ if faults.load().probe_fails(&target.key.backend) => {
                (false, "fault injected: probe failure".to_string())
            }
            Ok(Ok(detail)) => (true, detail),
            Ok(Err(e)) => (false, e.to_string()),
            Err(_) => (false, "timed out".to_string()),
        };
        let before = state;
        state = observe(state, ok, target.threshold);
        if state.health != before.health {
            tracing::info!(probe = %target.key.probe, backend = %target.key.backend,
                health = ?state.health, %detail, "health probe state changed");
        }
        let key = &target.key;
        board.update(|m| {
            if cancel.is_cancelled() {
                return false; // a newer task (or removal) owns this key now
            }
            let entry = m
                .entry(key.clone())
                .or_insert_with(|| HealthEntry::new(clock.elapsed()));
            let changed =
                entry.health != state.health || entry.last_ok != Some(ok) || entry.detail != detail;
            if entry.health != state.health {
                entry.since = clock.elapsed();
            }
            entry.health = state.health;
            entry.state = state;
            entry.last_ok = Some(ok);
            entry.detail = detail;
            changed
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_follows_interval_within_real_bounds() {
        let c = Clock::new(1.0);
        assert_eq!(probe_timeout(&c, Duration::from_secs(15)), MAX_REAL_TIMEOUT);
        let fast = Clock::new(60.0);
        assert_eq!(
            probe_timeout(&fast, Duration::from_secs(60)),
            Duration::from_millis(500)
        );
        let slow = Clock::new(10.0);
        assert_eq!(
            probe_timeout(&slow, Duration::from_secs(15)),
            Duration::from_millis(1500)
        );
    }
}

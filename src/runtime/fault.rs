//! Fault injection: breaking instances and backends on purpose, reversibly, so a test can
//! see what its load balancer does about it (a thing no Azure emulator offers).
//!
//! The active faults are one immutable [`FaultSet`] behind an `ArcSwap` ([`Faults`]); each
//! part of the runtime reads it where it already decides:
//! - `probeFailure`: the prober records a failed probe for the instance (its load-balancer
//!   probes fail, so it leaves rotation after the probe's threshold);
//! - `latency` / `dropConnections`: the reconciler copies them into the routing table's
//!   backends, so the proxy's hot path reads them from its own snapshot (one field check
//!   per new flow): new flows to the backend wait before connecting / are reset;
//! - `scaleSetDown`: the reconciler plans every instance of the scale set as not running
//!   (their processes stop, they leave their pools, new ones stay down too);
//! - `freeze` (SIGSTOP) and `kill` (SIGKILL) act on the running process at once; clearing
//!   them sends SIGCONT, or lets the reconciler start the killed instance again.
//!
//! Faults live in memory only: a restart or `POST /_armlet/reset` clears them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use rustix::process::Signal;

use super::Runtime;
use super::instance::InstanceStatus;
use super::proxy::BackendFault;

/// The longest added latency: beyond this a client times out anyway.
pub const MAX_LATENCY: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    ProbeFailure,
    Freeze,
    Kill,
    Latency(Duration),
    DropConnections,
    ScaleSetDown,
}

impl FaultKind {
    /// The name used on the wire and in the activity log.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::ProbeFailure => "probeFailure",
            FaultKind::Freeze => "freeze",
            FaultKind::Kill => "kill",
            FaultKind::Latency(_) => "latency",
            FaultKind::DropConnections => "dropConnections",
            FaultKind::ScaleSetDown => "scaleSetDown",
        }
    }

    /// Whether the target is a scale set (else a scale-set instance or a VM).
    pub fn targets_scale_set(&self) -> bool {
        matches!(self, FaultKind::ScaleSetDown)
    }
}

/// One active fault.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub id: String,
    pub kind: FaultKind,
    /// The target's ARM id as the caller gave it.
    pub target: String,
    /// The lower-case id: an instance key or a scale set id.
    pub key: String,
    /// Azure time it was injected.
    pub since: DateTime<Utc>,
}

/// Every active fault, as one snapshot.
#[derive(Debug, Clone, Default)]
pub struct FaultSet {
    pub faults: Vec<Fault>,
    /// Bumped by every change, so a reconcile pass can say which set it applied.
    pub version: u64,
}

impl FaultSet {
    fn on<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a FaultKind> + 'a {
        self.faults
            .iter()
            .filter(move |f| f.key == key)
            .map(|f| &f.kind)
    }

    /// Whether the instance's probes are forced to fail.
    pub fn probe_fails(&self, instance: &str) -> bool {
        !self.faults.is_empty() && self.on(instance).any(|k| *k == FaultKind::ProbeFailure)
    }

    /// What the proxy does to new flows of the instance's backends.
    pub fn backend(&self, instance: &str) -> BackendFault {
        let mut out = BackendFault::default();
        for k in self.on(instance) {
            match k {
                FaultKind::Latency(d) => out.latency = Some(*d),
                FaultKind::DropConnections => out.drop_new = true,
                _ => {}
            }
        }
        out
    }

    /// Whether the scale set's instances are held down.
    pub fn scale_set_down(&self, scale_set_id: &str) -> bool {
        self.on(scale_set_id).any(|k| *k == FaultKind::ScaleSetDown)
    }
}

/// Why a fault cannot be injected or cleared.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    #[error("no {0} '{1}' runs in armlet")]
    NoTarget(&'static str, String),
    #[error("the instance '{0}' has no running process to {1}")]
    NotRunning(String, &'static str),
    #[error("a {0} fault is already active on '{1}' (fault {2})")]
    Duplicate(&'static str, String, String),
    #[error("no active fault '{0}'")]
    NoFault(String),
    #[error("signalling the instance: {0}")]
    Signal(String),
}

/// The active faults; writers are serialised, readers load the snapshot.
#[derive(Default)]
pub struct Faults {
    set: Arc<ArcSwap<FaultSet>>,
    write: Mutex<()>,
    /// The [`FaultSet::version`] the last finished reconcile pass applied.
    applied: AtomicU64,
}

impl Faults {
    /// The snapshot readers share (the prober holds a clone).
    pub fn view(&self) -> Arc<ArcSwap<FaultSet>> {
        self.set.clone()
    }

    pub fn load(&self) -> Arc<FaultSet> {
        self.set.load_full()
    }

    fn change(&self, f: impl FnOnce(&mut Vec<Fault>)) {
        let _one = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = (**self.set.load()).clone();
        f(&mut next.faults);
        next.version += 1;
        self.set.store(Arc::new(next));
    }

    /// Drops the faults whose target is no longer planned (deleted, scaled in), so that a
    /// new resource of the same name does not inherit them; returns them.
    pub fn forget_missing(&self, present: impl Fn(&Fault) -> bool) -> Vec<Fault> {
        if self.set.load().faults.iter().all(&present) {
            return Vec::new();
        }
        let mut gone = Vec::new();
        self.change(|faults| {
            let (keep, drop): (Vec<_>, Vec<_>) =
                std::mem::take(faults).into_iter().partition(&present);
            *faults = keep;
            gone = drop;
        });
        gone
    }

    /// Records that a reconcile pass has applied `version` (routing table, plan).
    pub fn mark_applied(&self, version: u64) {
        self.applied.fetch_max(version, Ordering::SeqCst);
    }

    fn is_applied(&self) -> bool {
        self.applied.load(Ordering::SeqCst) >= self.set.load().version
    }
}

impl Runtime {
    /// Injects `kind` on `target` (an instance id, or a scale set id for `scaleSetDown`),
    /// checked against the plan the reconciler applied last. The caller wakes the
    /// reconciler afterwards so routing, probes and processes follow.
    pub fn inject_fault(&self, kind: FaultKind, target: &str) -> Result<Fault, FaultError> {
        let key = target.to_ascii_lowercase();
        let plan = self.plan.load();
        let known = if kind.targets_scale_set() {
            plan.instances.iter().any(|i| i.scale_set_id == key)
        } else {
            plan.instances.iter().any(|i| i.key == key)
        };
        if !known {
            let what = if kind.targets_scale_set() {
                "scale set with instances"
            } else {
                "instance"
            };
            return Err(FaultError::NoTarget(what, target.to_string()));
        }
        let fault = Fault {
            id: uuid::Uuid::new_v4().to_string(),
            kind,
            target: target.to_string(),
            key: key.clone(),
            since: self.clock.now_utc(),
        };
        let _one = self.faults.write.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.faults.set.load_full();
        if let Some(f) = current
            .faults
            .iter()
            .find(|f| f.key == key && f.kind.name() == kind.name())
        {
            return Err(FaultError::Duplicate(
                kind.name(),
                target.to_string(),
                f.id.clone(),
            ));
        }
        let signal = match kind {
            FaultKind::Freeze => Some((Signal::STOP, "freeze")),
            FaultKind::Kill => Some((Signal::KILL, "kill")),
            _ => None,
        };
        if let Some((sig, verb)) = signal {
            match self.supervisor.signal(&key, sig) {
                Ok(true) => {}
                Ok(false) => return Err(FaultError::NotRunning(target.to_string(), verb)),
                Err(e) => return Err(FaultError::Signal(e.to_string())),
            }
        }
        let mut next = (*current).clone();
        next.faults.push(fault.clone());
        next.version += 1;
        self.faults.set.store(Arc::new(next));
        tracing::info!(fault = kind.name(), target, id = fault.id, "fault injected");
        Ok(fault)
    }

    /// Clears one fault and undoes what it did: a frozen process continues, a killed
    /// instance is marked stopped so the reconciler starts it again.
    pub async fn clear_fault(&self, id: &str) -> Result<Fault, FaultError> {
        let mut removed = None;
        self.faults.change(|faults| {
            if let Some(i) = faults.iter().position(|f| f.id == id) {
                removed = Some(faults.remove(i));
            }
        });
        let fault = removed.ok_or_else(|| FaultError::NoFault(id.to_string()))?;
        self.undo(&fault).await;
        tracing::info!(
            fault = fault.kind.name(),
            target = fault.target,
            id,
            "fault cleared"
        );
        Ok(fault)
    }

    /// Clears every fault (reset); returns how many there were.
    pub async fn clear_all_faults(&self) -> usize {
        let mut all = Vec::new();
        self.faults.change(|faults| all = std::mem::take(faults));
        for f in &all {
            self.undo(f).await;
        }
        all.len()
    }

    /// Waits (at most `limit`) until a reconcile pass has applied the current faults, so
    /// that a caller told "injected" or "cleared" sees the routing table and processes
    /// follow; the caller has woken the reconciler. Returns whether that happened in time.
    pub async fn faults_applied(&self, limit: Duration) -> bool {
        self.wait_until(limit, || async { self.faults.is_applied() })
            .await
    }

    pub(super) async fn undo(&self, fault: &Fault) {
        match fault.kind {
            FaultKind::Freeze => {
                if let Err(e) = self.supervisor.signal(&fault.key, Signal::CONT) {
                    tracing::warn!(instance = fault.key, error = %e, "continuing a frozen instance");
                }
            }
            FaultKind::Kill => {
                // An exit the control plane did not ask for stays as it is (decide.rs);
                // recorded as stopped, the instance is started again on the next pass.
                if matches!(
                    self.supervisor.status(&fault.key),
                    Some(InstanceStatus::Exited { .. })
                ) && let Err(e) = self.supervisor.stop(&fault.key, Duration::ZERO).await
                {
                    tracing::warn!(instance = fault.key, error = %e, "restarting a killed instance");
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(kind: FaultKind, key: &str) -> Fault {
        Fault {
            id: format!("{}-{key}", kind.name()),
            kind,
            target: key.to_uppercase(),
            key: key.into(),
            since: DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn the_set_answers_per_instance_and_scale_set() {
        let set = FaultSet {
            faults: vec![
                fault(FaultKind::ProbeFailure, "a"),
                fault(FaultKind::Latency(Duration::from_millis(300)), "b"),
                fault(FaultKind::DropConnections, "b"),
                fault(FaultKind::ScaleSetDown, "ss"),
            ],
            version: 4,
        };
        assert!(set.probe_fails("a") && !set.probe_fails("b"));
        assert_eq!(set.backend("a"), BackendFault::default());
        assert_eq!(
            set.backend("b"),
            BackendFault {
                latency: Some(Duration::from_millis(300)),
                drop_new: true
            }
        );
        assert!(set.scale_set_down("ss") && !set.scale_set_down("a"));
        assert!(!FaultSet::default().probe_fails("a"));
    }

    #[test]
    fn faults_of_vanished_targets_are_forgotten_and_the_version_moves() {
        let faults = Faults::default();
        faults.change(|f| {
            f.push(fault(FaultKind::Freeze, "a"));
            f.push(fault(FaultKind::Kill, "b"));
        });
        let v = faults.load().version;
        assert!(faults.forget_missing(|_| true).is_empty());
        assert_eq!(faults.load().version, v, "nothing gone, nothing changed");
        let gone = faults.forget_missing(|f| f.key == "a");
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].key, "b");
        let now = faults.load();
        assert_eq!((now.faults.len(), now.version), (1, v + 1));
        assert!(!faults.is_applied());
        faults.mark_applied(now.version);
        assert!(faults.is_applied());
    }
}

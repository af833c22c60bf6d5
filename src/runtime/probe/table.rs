//! The published health of every (probe, backend) pair.
//!
//! [`HealthTable`] is an immutable snapshot. Probe tasks write through a [`HealthBoard`],
//! which swaps in a new snapshot (an `ArcSwap`, so the proxy's hot path reads it without a
//! lock) and notifies subscribers through a `watch` channel (instance views, metrics).
//! Writes are rare (a probe result that changes health or detail), reads are per new flow.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::watch;

use super::ProbeKey;
use super::state::{Health, ProbeState};

/// What is known about one (probe, backend) pair.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthEntry {
    pub health: Health,
    /// The state machine's counters (consecutive successes / failures).
    pub state: ProbeState,
    /// Azure time ([`crate::runtime::clock::Clock::elapsed`]) of the last health change
    /// (or of the entry's creation).
    pub since: Duration,
    /// Whether the last probe succeeded; `None` before the first result.
    pub last_ok: Option<bool>,
    /// The last result in words: "200 OK", "connected", "status 500", "timed out", ...
    pub detail: String,
    /// The Application Health extension's state machine, for its entries.
    pub app_health: Option<super::app_health::Machine>,
}

impl HealthEntry {
    pub fn new(since: Duration) -> Self {
        HealthEntry {
            health: Health::Unknown,
            state: ProbeState::default(),
            since,
            last_ok: None,
            detail: "not probed yet".into(),
            app_health: None,
        }
    }
}

/// An immutable map ProbeKey → HealthEntry.
#[derive(Debug, Clone, Default)]
pub struct HealthTable {
    entries: HashMap<ProbeKey, HealthEntry>,
    /// Bumped on every published change.
    pub version: u64,
}

impl HealthTable {
    pub fn get(&self, key: &ProbeKey) -> Option<&HealthEntry> {
        self.entries.get(key)
    }

    /// The health of `key`; `Unknown` when no probe target exists for it.
    pub fn health(&self, key: &ProbeKey) -> Health {
        self.entries.get(key).map_or(Health::Unknown, |e| e.health)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&ProbeKey, &HealthEntry)> {
        self.entries.iter()
    }

    /// Every probe's entry for one backend: an instance's health as its instance view and
    /// rolling upgrades see it.
    pub fn for_backend<'a>(
        &'a self,
        backend: &'a str,
    ) -> impl Iterator<Item = (&'a ProbeKey, &'a HealthEntry)> + 'a {
        self.entries
            .iter()
            .filter(move |(k, _)| k.backend == backend)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Read side: a cheap handle the proxy and the control plane clone.
#[derive(Clone)]
pub struct HealthView {
    table: Arc<ArcSwap<HealthTable>>,
    changes: watch::Receiver<Arc<HealthTable>>,
}

impl HealthView {
    /// The current snapshot, lock-free (for the hot path: hold it briefly).
    pub fn load(&self) -> arc_swap::Guard<Arc<HealthTable>> {
        self.table.load()
    }

    /// The current snapshot, to keep.
    pub fn snapshot(&self) -> Arc<HealthTable> {
        self.table.load_full()
    }

    /// A receiver that sees every published table.
    pub fn subscribe(&self) -> watch::Receiver<Arc<HealthTable>> {
        self.changes.clone()
    }

    /// A view of a fixed table, for tests and for rules without probes.
    pub fn fixed(table: HealthTable) -> Self {
        HealthBoard::with_table(table).view()
    }
}

/// Write side, owned by the prober.
pub struct HealthBoard {
    table: Arc<ArcSwap<HealthTable>>,
    tx: watch::Sender<Arc<HealthTable>>,
    /// Serializes writers so no update is lost between load and store.
    write: Mutex<()>,
}

impl HealthBoard {
    pub fn new() -> Self {
        Self::with_table(HealthTable::default())
    }

    fn with_table(table: HealthTable) -> Self {
        let table = Arc::new(table);
        let (tx, _) = watch::channel(table.clone());
        HealthBoard {
            table: Arc::new(ArcSwap::new(table)),
            tx,
            write: Mutex::new(()),
        }
    }

    pub fn view(&self) -> HealthView {
        HealthView {
            table: self.table.clone(),
            changes: self.tx.subscribe(),
        }
    }

    /// Applies `f` to the entries and publishes the result if `f` says it changed anything.
    pub fn update(&self, f: impl FnOnce(&mut HashMap<ProbeKey, HealthEntry>) -> bool) {
        let _guard = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.table.load_full();
        let mut entries = current.entries.clone();
        if !f(&mut entries) {
            return;
        }
        let next = Arc::new(HealthTable {
            entries,
            version: current.version + 1,
        });
        self.table.store(next.clone());
        self.tx.send_replace(next);
    }
}

impl Default for HealthBoard {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn updates_are_published_and_observed() {
        let board = HealthBoard::new();
        let view = board.view();
        let mut rx = view.subscribe();
        let key = ProbeKey::new("p", "b");
        assert_eq!(view.load().health(&key), Health::Unknown);
        board.update(|m| {
            let mut e = HealthEntry::new(Duration::ZERO);
            e.health = Health::Up;
            m.insert(key.clone(), e);
            true
        });
        rx.changed().await.unwrap();
        assert_eq!(rx.borrow().health(&key), Health::Up);
        assert_eq!(view.load().version, 1);
        assert_eq!(view.load().for_backend("b").count(), 1);
        assert_eq!(view.load().for_backend("other").count(), 0);
        board.update(|_| false);
        assert_eq!(view.load().version, 1);
    }
}

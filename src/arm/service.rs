//! The ARM service every provider and the deployment engine share: the store, the resource
//! types, the workers of long-running operations, and the signals that let reconcilers and
//! waiters react to changes instead of polling.

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::operations::Workers;
use super::resource_type::Registry;
use crate::store::Store;

pub struct Arm {
    pub store: Store,
    /// The resource types served under `/providers/{namespace}`.
    pub registry: Registry,
    /// What runs each kind of long-running operation.
    pub workers: Workers,
    /// The tenant tokens are issued for (`tenantId` in subscription bodies and templates).
    pub tenant_id: String,
    /// The subscription that always exists and lists first.
    pub default_subscription: String,
    /// Bumped after every committed change, so reconcilers wake without polling the store.
    changes: watch::Sender<u64>,
    /// Bumped whenever an operation ends, so whoever waits for one wakes without polling.
    pub(super) finished: watch::Sender<u64>,
    /// Cancelled on shutdown; operation workers and background loops watch it.
    pub shutdown: CancellationToken,
    /// Every spawned operation worker, so shutdown can wait for them.
    pub tasks: TaskTracker,
}

/// What [`Arm::new`] is built from.
pub struct ArmParts {
    pub store: Store,
    pub registry: Registry,
    pub workers: Workers,
    pub tenant_id: String,
    pub default_subscription: String,
    pub shutdown: CancellationToken,
    pub tasks: TaskTracker,
}

impl Arm {
    pub fn new(parts: ArmParts) -> Self {
        Arm {
            store: parts.store,
            registry: parts.registry,
            workers: parts.workers,
            tenant_id: parts.tenant_id,
            default_subscription: parts.default_subscription.to_ascii_lowercase(),
            changes: watch::Sender::new(0),
            finished: watch::Sender::new(0),
            shutdown: parts.shutdown,
            tasks: parts.tasks,
        }
    }

    /// Tells the reconcilers that stored state changed.
    pub fn notify_change(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that sees every [`Self::notify_change`].
    pub fn subscribe_changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }
}

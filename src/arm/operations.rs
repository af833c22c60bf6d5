//! Long-running operations: each kind has a [`Worker`] registered at start-up (resource
//! provisioning here, group deletion in [`super::groups`], deployments in `deploy`); an
//! operation is a store record created with the change that starts it, then run in the
//! background. Unfinished operations are resumed at boot, since every worker is idempotent.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use super::error::{ArmError, ArmResult};
use super::service::Arm;
use crate::store::OperationStatus;

/// What runs one kind of operation.
#[async_trait]
pub trait Worker: Send + Sync + 'static {
    /// Does the work for the resource `target`; the status it returns (or its error) is
    /// recorded as the operation's outcome.
    async fn run(&self, arm: &Arc<Arm>, target: &str) -> ArmResult<OperationStatus>;
}

/// The workers by operation kind.
#[derive(Default)]
pub struct Workers {
    by_kind: HashMap<&'static str, Arc<dyn Worker>>,
}

impl Workers {
    pub fn register(&mut self, kind: &'static str, worker: impl Worker) {
        self.by_kind.insert(kind, Arc::new(worker));
    }
}

impl Arm {
    /// Runs the worker of operation `id` in the background and records its outcome.
    pub fn spawn_operation(self: &Arc<Self>, id: String) {
        let arm = self.clone();
        self.tasks.spawn(async move {
            let op = match arm.store.operation(&id).await {
                Ok(Some(op)) => op,
                Ok(None) => return,
                Err(e) => return tracing::error!(operation = id, error = %e, "loading operation"),
            };
            let outcome = match arm.workers.by_kind.get(op.kind.as_str()) {
                Some(worker) => worker.run(&arm, &op.target).await,
                None => Err(ArmError::internal(format!(
                    "unknown operation kind {}",
                    op.kind
                ))),
            };
            let (status, error) = match outcome {
                Ok(status) => (status, None),
                // The whole error, details included: a failed deployment's details name the
                // resources that failed.
                Err(e) => (OperationStatus::Failed, Some(e.body()["error"].clone())),
            };
            if let Err(e) = arm
                .store
                .finish_operation(&op.id, status, error.as_ref())
                .await
            {
                tracing::error!(operation = op.id, error = %e, "recording operation outcome");
            }
            arm.finished.send_modify(|n| *n = n.wrapping_add(1));
        });
    }

    /// Restarts the operations a previous run left unfinished.
    pub async fn resume_operations(self: &Arc<Self>) -> anyhow::Result<()> {
        for op in self.store.unfinished_operations().await? {
            tracing::info!(
                operation = op.id,
                kind = op.kind,
                target = op.target,
                "resuming operation"
            );
            self.spawn_operation(op.id);
        }
        Ok(())
    }

    /// Waits for operation `id` to end; its failure becomes this call's error.
    pub async fn wait_operation(&self, id: &str) -> ArmResult<()> {
        let mut finished = self.finished.subscribe();
        loop {
            // Marked seen before reading, so an end recorded after the read still wakes us.
            finished.borrow_and_update();
            let record = self
                .store
                .operation(id)
                .await?
                .ok_or_else(|| ArmError::internal(format!("operation {id} vanished")))?;
            match record.status {
                OperationStatus::InProgress => {}
                OperationStatus::Succeeded => return Ok(()),
                _ => {
                    let e = record.error.unwrap_or_default();
                    return Err(ArmError::bad_request(
                        e["code"].as_str().unwrap_or("OperationFailed"),
                        e["message"].as_str().unwrap_or("The operation failed."),
                    ));
                }
            }
            tokio::select! {
                changed = finished.changed() => if changed.is_err() {
                    return Err(ArmError::internal("operation signal closed"));
                },
                _ = self.shutdown.cancelled() => {
                    return Err(ArmError::internal("shutting down"));
                }
            }
        }
    }
}

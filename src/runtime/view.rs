//! What the runtime knows about an instance, added to its instance view: the process state
//! (running, exited with a code), the loopback address and ports it binds, health from the
//! scale set's health probe or its ApplicationHealth extension, injected faults, and boot
//! diagnostics.

use serde_json::{Value, json};

use super::Runtime;
use super::instance::InstanceStatus;
use super::upgrade::Health;
use super::upgrade::observe::{entry_health, health_key};
use crate::model::compute::instance::InstanceState;
use crate::store::Resource;

/// Adds runtime facts about the instance in `row` to its instance view.
pub async fn annotate_instance(
    rt: &Runtime,
    row: &Resource,
    view: &mut Value,
    statuses: &mut Vec<Value>,
) {
    let key = row.key();
    let Ok(state) = InstanceState::of(&row.body) else {
        tracing::warn!(instance = row.id, "instance without readable state");
        return;
    };
    let plan = rt.plan.load();
    let planned = plan.instances.iter().find(|i| i.key == key);
    let ports: Vec<Value> = planned
        .map(|i| i.ports.iter().map(|p| json!({"port": p.port, "boundPort": p.bound, "kind": format!("{:?}", p.kind).to_lowercase()})).collect())
        .unwrap_or_default();
    let process = match rt.supervisor.status(&key) {
        Some(InstanceStatus::Running { pid, since }) => {
            json!({"state": "running", "pid": pid, "since": since.to_rfc3339()})
        }
        Some(InstanceStatus::Exited { code, signal, at }) => {
            statuses.push(json!({
                "code": "ProvisioningState/failed/ProcessExited",
                "level": "Error",
                "displayStatus": "Process exited",
                "message": format!("The instance's process exited (code {code:?}, signal {signal:?}); armlet does not restart it. See boot diagnostics."),
                "time": at.to_rfc3339(),
            }));
            json!({"state": "exited", "exitCode": code, "signal": signal, "at": at.to_rfc3339()})
        }
        Some(InstanceStatus::Stopped { at }) => json!({"state": "stopped", "at": at.to_rfc3339()}),
        None => json!({"state": "not started"}),
    };
    let running = rt.store.process(&key).await.ok().flatten();
    // Injected faults on the instance or its scale set, as `/_armlet/faults` lists them.
    let scale_set = planned.map(|i| i.scale_set_id.as_str());
    let faults: Vec<Value> = rt
        .faults
        .load()
        .faults
        .iter()
        .filter(|f| {
            f.key == key || (f.kind.targets_scale_set() && Some(f.key.as_str()) == scale_set)
        })
        .map(|f| json!({"id": f.id, "kind": f.kind.name()}))
        .collect();
    view["armlet"] = json!({
        "faults": faults,
        "bindAddress": state.bind_address.to_string(),
        "ports": ports,
        "process": process,
        "directory": rt.supervisor.instance_dir(&key).display().to_string(),
        "modelVersion": state.model_version,
        "runningModelVersion": running.map(|r| r.model_version),
    });

    // Health: the scale set's load-balancer health probe, else its health extension.
    if let Some(k) = health_key(rt, &key, &state.model) {
        let table = rt.prober.health().snapshot();
        let entry = table.get(&k);
        let (code, text) = match entry.map(entry_health) {
            Some(Health::Healthy) => ("HealthState/healthy", "The application is healthy."),
            Some(Health::Unhealthy) => ("HealthState/unhealthy", "The application is unhealthy."),
            Some(Health::Unknown) => (
                "HealthState/unknown",
                "The application health state is unknown.",
            ),
            Some(Health::Initializing) | None => (
                "HealthState/initializing",
                "The application health state is initializing.",
            ),
        };
        let mut status = json!({"code": code, "level": "Info", "displayStatus": text});
        if let Some(e) = entry {
            status["time"] = json!(rt.clock.utc_at(e.since).to_rfc3339());
        }
        view["vmHealth"] = json!({ "status": status });
    }
    if let Ok(diag) = rt.supervisor.boot_diagnostics(&key, 16) {
        // Azure's instance view carries only blob URIs here; armlet puts the log tails inline.
        view["bootDiagnostics"] = json!({"consoleScreenshotBlobUri": null, "serialConsoleLogBlobUri": null, "armletStdout": diag.stdout, "armletStderr": diag.stderr});
    }
}

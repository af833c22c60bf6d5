//! What the lifecycle controllers (and instance views) see of a scale set: its stored
//! document and model version, and each instance read as an [`Instance`] — model, power,
//! protection, creation order, zone — with its application health from the scale set's
//! health source and the time of its last state change.
//!
//! The health source is the scale set's `networkProfile.healthProbe` when it has one,
//! else its Application Health extension (Azure allows one source for orchestration
//! services; armlet prefers the load balancer probe when a model has both, as `az vmss
//! create --upgrade-policy-mode Rolling --health-probe` makes).

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Health, Instance, PowerState, Protection};
use crate::model::compute::instance::{InstanceState, ScaleSetState};
use crate::runtime::Runtime;
use crate::runtime::plan::EXTENSION_PROBE;
use crate::runtime::probe::app_health::AppHealthState;
use crate::runtime::probe::{self, HealthEntry, ProbeKey};
use crate::store::Resource;

/// A scale set as the lifecycle controllers see it.
#[derive(Debug, Clone)]
pub struct ScaleSetView {
    /// The scale set's lower-case id.
    pub key: String,
    /// The stored scale-set document.
    pub doc: Value,
    pub model_version: u64,
    /// Instance rows, except those waiting for their deletion (terminate notifications).
    pub rows: Vec<Resource>,
    /// The same instances, read for the lifecycle decisions (same order as `rows`).
    pub instances: Vec<Instance>,
}

impl ScaleSetView {
    /// The scale set's `properties`.
    pub fn properties(&self) -> &Value {
        &self.doc["properties"]
    }

    pub fn name(&self) -> &str {
        self.doc["name"].as_str().unwrap_or_default()
    }
}

/// Reads scale set `key`; `None` when it no longer exists.
pub async fn scale_set(rt: &Runtime, key: &str) -> anyhow::Result<Option<ScaleSetView>> {
    let Some(row) = rt.store.get(key).await? else {
        return Ok(None);
    };
    let model_version = ScaleSetState::of(&row.body)?.model_version;
    let now = rt.clock.now_utc();
    let mut rows = Vec::new();
    let mut instances = Vec::new();
    for r in rt.store.instances_of(&row.key()).await? {
        let Ok(state) = InstanceState::of(&r.body) else {
            tracing::warn!(instance = r.id, "instance without readable state skipped");
            continue;
        };
        if state.delete_requested {
            continue;
        }
        instances.push(instance(rt, &r, &state, model_version, now));
        rows.push(r);
    }
    Ok(Some(ScaleSetView {
        key: row.key(),
        doc: row.body,
        model_version,
        rows,
        instances,
    }))
}

/// One instance row as the lifecycle decisions read it.
fn instance(
    rt: &Runtime,
    row: &Resource,
    state: &InstanceState,
    model_version: u64,
    now: DateTime<Utc>,
) -> Instance {
    let key = row.key();
    let (health, since) = health_of(rt, &key, &state.model, now);
    let protection = &row.body["properties"]["protectionPolicy"];
    Instance {
        id: row.body["instanceId"]
            .as_str()
            .unwrap_or(&row.name)
            .to_string(),
        latest_model: state.model_version == model_version,
        health,
        health_since: since,
        power: PowerState::from_runtime(state.power.as_str()),
        protection: Protection {
            from_scale_in: protection["protectFromScaleIn"] == true,
            from_scale_set_actions: protection["protectFromScaleSetActions"] == true,
        },
        created: state.created,
        // A process not started yet changes state as soon as it starts.
        last_change: rt.starts.get(&key).unwrap_or(now),
        zone: row.body["zones"][0].as_str().map(str::to_string),
        unproven: unproven(rt, &key, &state.model),
    }
}

/// Whether the instance's load-balancer probe has yet to pass it once (see
/// [`Instance::unproven`]); the Application Health extension says so itself (`Initializing`).
fn unproven(rt: &Runtime, key: &str, model: &Value) -> bool {
    let Some(probe) = health_key(rt, key, model) else {
        return false;
    };
    rt.prober
        .health()
        .snapshot()
        .get(&probe)
        .is_some_and(|e| e.app_health.is_none() && !e.state.answered)
}

/// The probe that reports an instance's application health, if its model has a source.
pub fn health_key(rt: &Runtime, key: &str, model: &Value) -> Option<ProbeKey> {
    if let Some(probe) = model["networkProfile"]["healthProbe"]["id"].as_str() {
        return Some(ProbeKey::new(probe.to_ascii_lowercase(), key));
    }
    rt.plan
        .load()
        .probes
        .iter()
        .any(|p| p.key.0 == EXTENSION_PROBE && p.key.1 == key)
        .then(|| ProbeKey::new(EXTENSION_PROBE, key))
}

/// An instance's health and since when, from its health source; `Initializing` until the
/// source has a verdict, `None`-sourced instances count as healthy (nothing says otherwise).
pub fn health_of(
    rt: &Runtime,
    key: &str,
    model: &Value,
    now: DateTime<Utc>,
) -> (Health, DateTime<Utc>) {
    let Some(probe) = health_key(rt, key, model) else {
        return (Health::Healthy, rt.starts.get(key).unwrap_or(now));
    };
    let table = rt.prober.health().snapshot();
    match table.get(&probe) {
        Some(e) => (entry_health(e), rt.clock.utc_at(e.since)),
        None => (Health::Initializing, now),
    }
}

/// The lifecycle reading of a health-table entry.
pub fn entry_health(e: &HealthEntry) -> Health {
    match e.app_health.map(|m| m.state) {
        Some(AppHealthState::Healthy) => Health::Healthy,
        Some(AppHealthState::Unhealthy) => Health::Unhealthy,
        Some(AppHealthState::Unknown) => Health::Unknown,
        Some(AppHealthState::Initializing) => Health::Initializing,
        None => match e.health {
            probe::Health::Up => Health::Healthy,
            probe::Health::Down => Health::Unhealthy,
            probe::Health::Unknown => Health::Initializing,
        },
    }
}

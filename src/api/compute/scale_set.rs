//! `Microsoft.Compute/virtualMachineScaleSets`: create and update with merge semantics,
//! capacity changes that create and remove instances (with their NICs), and the model
//! version that tells which instances run the latest model.

use std::net::Ipv4Addr;
use std::sync::Arc;

use async_trait::async_trait;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::instances::{self, NewInstance};
use crate::arm::Arm;
use crate::arm::resource_type::{Patch, ResourceType, WriteCx};
use crate::arm::{ArmError, ArmRequest, ArmResult, ResourceId};
use crate::model::compute::INTERNAL;
use crate::model::compute::instance::{InstanceState, ScaleSetState};
use crate::model::compute::scale_set::{self as model, InstanceFacts};
use crate::model::merge::{merge, strip_nulls};
use crate::runtime::Runtime;
use crate::runtime::upgrade::policy::{AutomaticRepairsPolicy, RollingUpgradePolicy};
use crate::runtime::upgrade::scheduled_events::TerminateNotificationProfile;

pub use crate::model::compute::SCALE_SET_TYPE as TYPE;

/// How long instances may take to start before provisioning fails.
const PROVISION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

pub struct ScaleSets {
    /// Provisioning waits for the runtime; instance views read it.
    pub runtime: Arc<Runtime>,
    /// This armlet's `--address-block` B: instances bind addresses from 127.(B+1).0.0/16.
    pub address_block: u8,
}

#[async_trait]
impl ResourceType for ScaleSets {
    fn type_name(&self) -> &'static str {
        TYPE
    }

    fn api_versions(&self) -> &'static [&'static str] {
        &[
            "2024-11-01",
            "2024-07-01",
            "2024-03-01",
            "2023-09-01",
            "2023-07-01",
            "2023-03-01",
            "2022-11-01",
            "2022-08-01",
        ]
    }

    /// `VirtualMachineScaleSetUpdate`: a partial update, merged like a PUT (`prepare` merges).
    fn patch(&self) -> Patch {
        Patch::Merge
    }

    fn validate_name(&self, name: &str) -> ArmResult<()> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && !name.ends_with(['.', '-']);
        if ok {
            Ok(())
        } else {
            Err(ArmError::bad_request(
                "InvalidParameter",
                format!("The value '{name}' of parameter 'name' is invalid. Scale set names are 1-64 letters, digits, '-', '_' and '.', not ending in '.' or '-'."),
            )
            .with_target("name"))
        }
    }

    async fn prepare(
        &self,
        cx: &mut WriteCx<'_>,
        existing: Option<&Value>,
        body: Map<String, Value>,
    ) -> ArmResult<Value> {
        let mut doc = match existing {
            Some(e) => {
                let mut d = e.clone();
                merge(&mut d, Value::Object(body));
                d
            }
            None => strip_nulls(Value::Object(body)),
        };
        coerce_bools(&mut doc["properties"]["virtualMachineProfile"]["networkProfile"]);
        model::apply_defaults(&mut doc);
        model::validate(&doc)?;
        // The lifecycle policies, with Azure's ranges.
        RollingUpgradePolicy::from_properties(&doc["properties"])?;
        AutomaticRepairsPolicy::from_properties(&doc["properties"])?;
        terminate_notifications(&doc)?;
        check_references(cx, &doc).await?;
        super::limits::check_scale_set(cx, existing, &doc, self.runtime.vcpu_quota).await?;

        let profile_changed = existing.is_some_and(|e| {
            e["properties"]["virtualMachineProfile"] != doc["properties"]["virtualMachineProfile"]
        });
        let mut state = match existing {
            Some(e) => ScaleSetState::of(e).map_err(ArmError::internal)?,
            None => ScaleSetState::default(),
        };
        if profile_changed {
            state.model_version += 1;
        }
        doc["properties"]["provisioningState"] = json!("Succeeded");

        scale_to(cx, &mut doc, &mut state, self.address_block).await?;
        state.store(&mut doc);
        super::rolling_upgrades::on_model_update(cx, &doc, self.runtime.clock.now_utc()).await?;
        if profile_changed && doc["properties"]["upgradePolicy"]["mode"] == "Automatic" {
            let all: Vec<String> = instances::list_rows(cx, &cx.id.clone())
                .await?
                .iter()
                .map(|r| {
                    r.body["instanceId"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string()
                })
                .collect();
            super::vm::apply_latest_model(cx, &doc, &all).await?;
        }
        Ok(doc)
    }

    fn asynchronous(&self) -> bool {
        true
    }

    /// Provisioned when the runtime has started a process of the current generation for
    /// every instance that should run.
    async fn provision(&self, app: &Arc<Arm>, id: &ResourceId) -> ArmResult<()> {
        let key = id.key();
        let rt = &self.runtime;
        let converged = rt
            .wait_until(PROVISION_TIMEOUT, || async {
                let Ok(rows) = app.store.instances_of(&key).await else {
                    return false;
                };
                let plan = rt.plan.load();
                let planned = rows.iter().all(|r| {
                    let generation = InstanceState::of(&r.body).map(|s| s.generation).ok();
                    plan.instances
                        .iter()
                        .any(|i| i.key == r.key() && Some(i.generation) == generation)
                });
                planned && rt.converged(|i| i.scale_set_id == key).await
            })
            .await;
        if converged {
            Ok(())
        } else {
            Err(ArmError::conflict(
                "OSProvisioningTimedOut",
                format!(
                    "The instances of scale set '{}' did not start within {PROVISION_TIMEOUT:?}.",
                    id.name()
                ),
            ))
        }
    }

    async fn before_delete(&self, cx: &mut WriteCx<'_>, _doc: &Value) -> ArmResult<()> {
        let id = cx.id.clone();
        for row in instances::list_rows(cx, &id).await? {
            instances::delete_instance(cx, &row).await?;
        }
        crate::store::lifecycle::forget_scale_set(cx.conn, &id.key()).await?;
        Ok(())
    }

    async fn render(&self, _arm: &Arm, doc: Value) -> ArmResult<Value> {
        Ok(render(doc))
    }

    async fn route(
        &self,
        app: &Arc<Arm>,
        req: &ArmRequest,
        id: &ResourceId,
        rest: &[&str],
    ) -> ArmResult<Response> {
        super::vm::route(app, &self.runtime, req, id, rest).await
    }
}

/// The document as clients see it: no internal fields, no secrets. Azure never returns
/// `osProfile.adminPassword`, `customData` or an extension's `protectedSettings`, and returns
/// `userData` only when asked with `$expand=userData`, which armlet does not serve.
pub fn render(mut doc: Value) -> Value {
    if let Some(o) = doc.as_object_mut() {
        o.remove(INTERNAL);
    }
    let profile = &mut doc["properties"]["virtualMachineProfile"];
    if let Some(os) = profile["osProfile"].as_object_mut() {
        os.remove("customData");
        os.remove("adminPassword");
    }
    if let Some(p) = profile.as_object_mut() {
        p.remove("userData");
    }
    for ext in profile["extensionProfile"]["extensions"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        if let Some(props) = ext["properties"].as_object_mut() {
            props.remove("protectedSettings");
            props.remove("protectedSettingsFromKeyVault");
        }
    }
    doc
}

/// `"primary": "true"` (as az's template sends it) → `true`.
fn coerce_bools(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, v) in m.iter_mut() {
                if matches!(
                    k.as_str(),
                    "primary" | "enableAcceleratedNetworking" | "enableIPForwarding"
                ) && let Some(s) = v.as_str()
                {
                    *v = json!(s.eq_ignore_ascii_case("true"));
                } else {
                    coerce_bools(v);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(coerce_bools),
        _ => {}
    }
}

/// Every subnet, backend pool, NAT pool and health probe the model names must exist.
async fn check_references(cx: &mut WriteCx<'_>, doc: &Value) -> ArmResult<()> {
    let net = &doc["properties"]["virtualMachineProfile"]["networkProfile"];
    let mut refs: Vec<(String, &str)> = Vec::new();
    if let Some(p) = net["healthProbe"]["id"].as_str() {
        refs.push((p.to_string(), "probes"));
    }
    for config in net["networkInterfaceConfigurations"]
        .as_array()
        .into_iter()
        .flatten()
    {
        for ipc in config["properties"]["ipConfigurations"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let p = &ipc["properties"];
            if let Some(s) = p["subnet"]["id"].as_str() {
                refs.push((s.to_string(), "subnets"));
            }
            for (key, child) in [
                ("loadBalancerBackendAddressPools", "backendAddressPools"),
                ("loadBalancerInboundNatPools", "inboundNatPools"),
            ] {
                for r in p[key].as_array().into_iter().flatten() {
                    refs.push((r["id"].as_str().unwrap_or_default().to_string(), child));
                }
            }
        }
    }
    for (reference, child) in refs {
        if !child_exists(cx, &reference, child).await? {
            return Err(ArmError::bad_request(
                "InvalidResourceReference",
                format!(
                    "Resource {reference} referenced by resource {} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.",
                    cx.id
                ),
            ));
        }
    }
    Ok(())
}

/// Whether `id` (a child such as `.../loadBalancers/lb/probes/p`) exists in its parent's document.
async fn child_exists(cx: &mut WriteCx<'_>, id: &str, collection: &str) -> ArmResult<bool> {
    let Ok(parsed) = ResourceId::parse(id) else {
        return Ok(false);
    };
    if parsed.segments.len() != 2 || !parsed.segments[1].0.eq_ignore_ascii_case(collection) {
        return Ok(false);
    }
    let Some(parent) = cx.get(&parsed.root().to_string()).await? else {
        return Ok(false);
    };
    Ok(parent.body["properties"][collection]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| {
            c["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(parsed.name()))
        }))
}

/// Creates or removes instances until the scale set has `sku.capacity` of them; a scale-in
/// removes the instances the scale-in policy picks (with a terminate notification when
/// the model asks for one). Instances already waiting for their deletion do not count.
async fn scale_to(
    cx: &mut WriteCx<'_>,
    doc: &mut Value,
    state: &mut ScaleSetState,
    address_block: u8,
) -> ArmResult<()> {
    let vmss_id = cx.id.clone();
    let rows: Vec<_> = instances::list_rows(cx, &vmss_id)
        .await?
        .into_iter()
        .filter(|r| !instances::delete_requested(r))
        .collect();
    let notify = terminate_notifications(doc)?;
    let want = model::capacity(doc) as usize;
    let flexible = model::orchestration_mode(doc) == "Flexible";
    if rows.len() > want {
        let mut facts = Vec::new();
        for r in &rows {
            let created = instances::state_of(r)?.created;
            facts.push(InstanceFacts {
                key: r.key(),
                // Flexible VMs have no numeric id: their creation order stands in for it.
                number: match flexible {
                    true => created,
                    false => r.body["instanceId"]
                        .as_str()
                        .and_then(|i| i.parse().ok())
                        .unwrap_or(created),
                },
                created,
                // Protection from scale-set actions protects from scale-in too (Azure's docs).
                protected_from_scale_in: ["protectFromScaleIn", "protectFromScaleSetActions"]
                    .iter()
                    .any(|p| r.body["properties"]["protectionPolicy"][*p] == true),
            });
        }
        let rule = doc["properties"]["scaleInPolicy"]["rules"][0]
            .as_str()
            .unwrap_or("Default");
        let victims = model::scale_in_victims(&facts, rows.len() - want, rule);
        for row in rows.iter().filter(|r| victims.contains(&r.key())) {
            instances::request_delete(cx, row, notify).await?;
        }
    }
    if want > rows.len() {
        add_instances(cx, doc, state, want - rows.len(), address_block).await?;
    }
    Ok(())
}

/// Creates `count` instances on the scale set's current model; returns their ids. The
/// capacity is the caller's business.
pub async fn add_instances(
    cx: &mut WriteCx<'_>,
    doc: &Value,
    state: &mut ScaleSetState,
    count: usize,
    address_block: u8,
) -> ArmResult<Vec<String>> {
    let vmss_id = cx.id.clone();
    let mut taken_addresses: Vec<Ipv4Addr> = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..count {
        let bind_address =
            instances::allocate_bind_address(cx, address_block, &taken_addresses).await?;
        taken_addresses.push(bind_address);
        ids.push(
            instances::create(
                cx,
                NewInstance {
                    vmss_id: &vmss_id,
                    vmss_doc: doc,
                    number: state.next_instance_id,
                    created: state.created,
                    model_version: state.model_version,
                    bind_address,
                },
            )
            .await?,
        );
        state.next_instance_id += 1;
        state.created += 1;
    }
    Ok(ids)
}

/// Whether deleting this scale set's instances waits for a terminate notification
/// (`scheduledEventsProfile.terminateNotificationProfile.enable`).
pub fn terminate_notifications(doc: &Value) -> ArmResult<bool> {
    Ok(
        TerminateNotificationProfile::from_profile(&doc["properties"]["virtualMachineProfile"])?
            .is_some(),
    )
}

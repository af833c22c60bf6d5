//! Quotas and limits a scale-set write must keep, read inside its write transaction so that
//! two concurrent scale-outs cannot both pass: a single placement group's 100 instances, the
//! regional vCPU quota
//! ([`crate::model::compute::quota`]) and the limits of the load balancers its instances join
//! ([`crate::model::network::limits`]). Also the `usages` list (`az vm list-usage`).

use std::collections::BTreeSet;

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::api::ApiState;
use crate::arm::resource_type::WriteCx;
use crate::arm::{ArmError, ArmRequest, ArmResult, ResourceId};
use crate::model::compute::SCALE_SET_TYPE;
use crate::model::compute::quota::{self, Footprint};
use crate::model::network::limits::{self, Demand};
use crate::store::{Resource, ResourceQuery};

fn scale_set_query(subscription: &str) -> ResourceQuery {
    ResourceQuery {
        subscription: subscription.to_string(),
        resource_group: None,
        type_name: Some(SCALE_SET_TYPE.into()),
    }
}

fn same_location(doc: &Value, location: &str) -> bool {
    doc["location"]
        .as_str()
        .is_some_and(|l| l.eq_ignore_ascii_case(location))
}

/// `(pool id, is a NAT pool)` for every pool the model's NICs reference.
fn pool_refs(doc: &Value) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let configs = &doc["properties"]["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"];
    for config in configs.as_array().into_iter().flatten() {
        for ipc in config["properties"]["ipConfigurations"]
            .as_array()
            .into_iter()
            .flatten()
        {
            for (key, nat) in [
                ("loadBalancerBackendAddressPools", false),
                ("loadBalancerInboundNatPools", true),
            ] {
                for r in ipc["properties"][key].as_array().into_iter().flatten() {
                    if let Some(id) = r["id"].as_str() {
                        out.push((id.to_string(), nat));
                    }
                }
            }
        }
    }
    out
}

/// The load balancer a pool id belongs to.
fn lb_of(pool: &str) -> Option<String> {
    let id = ResourceId::parse(pool).ok()?;
    Some(id.root().to_string().to_ascii_lowercase())
}

/// Checks a create or update of scale set `cx.id` from `existing` to `doc` against the vCPU
/// quota and the limits of its load balancers. Only growth is checked: a scale-in always
/// passes.
pub async fn check_scale_set(
    cx: &mut WriteCx<'_>,
    existing: Option<&Value>,
    doc: &Value,
    vcpu_quota: u64,
) -> ArmResult<()> {
    let before = existing.map(quota::footprint).unwrap_or_default();
    let after = quota::footprint(doc);
    if after.instances <= before.instances && after.vcpus <= before.vcpus {
        return Ok(());
    }
    quota::check_placement_group(cx.id.name(), before, doc)?;
    let me = cx.id.key();
    let rows = cx.list(&scale_set_query(&cx.id.subscription)).await?;
    let others: Vec<&Resource> = rows
        .iter()
        .filter(|r| r.key() != me && top_level(r))
        .collect();
    let location = doc["location"].as_str().unwrap_or_default();
    let others_vcpus: u64 = others
        .iter()
        .filter(|r| same_location(&r.body, location))
        .map(|r| quota::footprint(&r.body).vcpus)
        .sum();
    quota::check_cores(vcpu_quota, location, others_vcpus, before, after)?;
    check_load_balancers(cx, doc, after, &others).await
}

fn top_level(r: &Resource) -> bool {
    ResourceId::parse(&r.id).is_ok_and(|id| id.segments.len() == 1)
}

async fn check_load_balancers(
    cx: &mut WriteCx<'_>,
    doc: &Value,
    after: Footprint,
    others: &[&Resource],
) -> ArmResult<()> {
    let mine = pool_refs(doc);
    let lbs: BTreeSet<String> = mine.iter().filter_map(|(p, _)| lb_of(p)).collect();
    if lbs.is_empty() {
        return Ok(());
    }
    let other_refs: Vec<(Vec<(String, bool)>, u64)> = others
        .iter()
        .map(|r| (pool_refs(&r.body), quota::footprint(&r.body).instances))
        .collect();
    for lb_key in lbs {
        let Some(lb) = cx.get(&lb_key).await? else {
            continue;
        };
        let sku = lb.body["sku"]["name"]
            .as_str()
            .unwrap_or("Standard")
            .to_string();
        let mut demand = Demand {
            backend_pools: Vec::new(),
            nat_pools: Vec::new(),
            nic_pools: Vec::new(),
            nic_nat_pools: Vec::new(),
            nic: format!("{}/virtualMachines/*/networkInterfaces/*", cx.id),
        };
        let everyone = other_refs
            .iter()
            .map(|(refs, n)| (refs, *n))
            .chain(std::iter::once((&mine, after.instances)));
        for (refs, n) in everyone {
            for (pool, nat) in refs {
                if lb_of(pool).as_deref() == Some(lb_key.as_str()) {
                    match nat {
                        false => demand.backend_pools.push((pool, n)),
                        true => demand.nat_pools.push((pool, n)),
                    }
                }
            }
        }
        for (pool, nat) in &mine {
            if lb_of(pool).as_deref() == Some(lb_key.as_str()) {
                match nat {
                    false => demand.nic_pools.push(pool),
                    true => demand.nic_nat_pools.push(pool),
                }
            }
        }
        limits::check_scale_out(&lb.body, &sku, &demand)?;
    }
    Ok(())
}

/// `GET /subscriptions/{s}/providers/Microsoft.Compute/locations/{location}/usages`.
pub async fn usages(
    app: &ApiState,
    req: &ArmRequest,
    sub: &str,
    location: &str,
) -> ArmResult<Response> {
    crate::api::only(req, &[axum::http::Method::GET])?;
    let location = crate::arm::location::parse_for(location, SCALE_SET_TYPE).map_err(|_| {
        ArmError::bad_request(
            "NoRegisteredProviderFound",
            format!(
                "No registered resource provider found for location '{location}' and API version '{}' for type 'locations/usages'.",
                req.api_version().unwrap_or_default()
            ),
        )
    })?;
    let rows = app.arm.store.list(&scale_set_query(sub)).await?;
    let here: Vec<Value> = rows
        .into_iter()
        .filter(|r| top_level(r) && same_location(&r.body, &location))
        .map(|r| r.body)
        .collect();
    Ok(Json(quota::usages(app.runtime.vcpu_quota, &here)).into_response())
}

//! Requests below a load balancer that are not plain child CRUD:
//! - `POST .../backendAddressPools/{pool}/queryInboundNatRulePortMapping`
//!   (LoadBalancers_ListInboundNatRulePortMappings),
//! - `POST .../loadBalancingRules/{rule}/health` (LoadBalancerLoadBalancingRules_Health),
//! - `GET .../networkInterfaces` (LoadBalancerNetworkInterfaces_List).
//!
//! Both POSTs are long-running in the spec; armlet answers them at once with 200 and the
//! result, which both clients accept as a finished operation.

use std::sync::Arc;

use axum::Json;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::nat::{self, Target};
use crate::api::network::{NIC_TYPE, errors, referring, same_id};
use crate::api::only;
use crate::arm::Arm;
use crate::arm::resources as generic;
use crate::arm::{ArmError, ArmRequest, ArmResult, ResourceId, list};
use crate::model::network::resolution::Member;
use crate::runtime::Runtime;

/// What the data plane's probes say of one backend: `Some(true)` up, `Some(false)` down,
/// `None` unknown (not probed successfully yet, or the rule has no probe).
pub type HealthOf<'a> = &'a dyn Fn(&Member) -> Option<bool>;

/// The `LoadBalancerHealthPerRule` body for the backends of a rule.
pub fn rule_health(backends: &[Member], health: HealthOf<'_>) -> Value {
    let mut up = 0;
    let mut down = 0;
    let addresses: Vec<Value> = backends
        .iter()
        .map(|b| {
            let (state, reason) = match health(b) {
                Some(true) => {
                    up += 1;
                    ("Up", "The backend instance responds to the health probe.")
                }
                Some(false) => {
                    down += 1;
                    (
                        "Down",
                        "The backend instance does not respond to the health probe.",
                    )
                }
                None => (
                    "Unknown",
                    "No health probe results are available for this backend yet.",
                ),
            };
            let mut v = json!({"state": state, "reason": reason});
            if let Some(ip) = &b.ip_address {
                v["ipAddress"] = json!(ip);
            }
            if let Some(c) = &b.ip_configuration {
                v["networkInterfaceIPConfigurationId"] = json!(c);
            }
            v
        })
        .collect();
    json!({"up": up, "down": down, "loadBalancerBackendAddresses": addresses})
}

fn child<'a>(doc: &'a Value, collection: &str, name: &str) -> Option<&'a Value> {
    doc["properties"][collection]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| {
            c["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
}

fn child_not_found(id: &ResourceId, collection: &str, name: &str) -> ArmError {
    ArmError::not_found(
        "NotFound",
        format!("Resource {id}/{collection}/{name} not found."),
    )
}

pub async fn route(
    app: &Arc<Arm>,
    rt: &Runtime,
    req: &ArmRequest,
    id: &ResourceId,
    rest: &[&str],
) -> ArmResult<Response> {
    // The same segments with the user's casing.
    let original = &req.segments[req.segments.len() - rest.len()..];
    match rest {
        ["backendaddresspools", _, "queryinboundnatruleportmapping"] => {
            only(req, &[Method::POST])?;
            let stored = generic::get_stored(app, id).await?.body;
            let pool = child(&stored, "backendAddressPools", &original[1])
                .ok_or_else(|| child_not_found(id, "backendAddressPools", &original[1]))?;
            let pool_id = pool["id"].as_str().unwrap_or_default().to_string();
            let body = req.json_object()?;
            let body = Value::Object(body);
            let config = body["ipConfiguration"]["id"].as_str();
            let address = body["ipAddress"].as_str();
            let target = match (config, address) {
                (Some(c), _) => Target::IpConfiguration(c),
                (None, Some(a)) => Target::IpAddress(a),
                (None, None) => {
                    return Err(errors::invalid_format(
                        "Either ipConfiguration or ipAddress must be set in a QueryInboundNatRulePortMapping request.",
                    ));
                }
            };
            let (resolution, _) = super::resolution(app, &stored).await?;
            let mappings = nat::port_mappings(&resolution, &pool_id, target).ok_or_else(|| {
                let what = config.or(address).unwrap_or_default();
                errors::invalid_reference(what, &pool_id)
            })?;
            Ok(Json(json!({ "inboundNatRulePortMappings": mappings })).into_response())
        }
        ["loadbalancingrules", _, "health"] => {
            only(req, &[Method::POST, Method::GET])?;
            let stored = generic::get_stored(app, id).await?.body;
            let rule = child(&stored, "loadBalancingRules", &original[1])
                .ok_or_else(|| child_not_found(id, "loadBalancingRules", &original[1]))?;
            let rule_id = rule["id"].as_str().unwrap_or_default().to_string();
            let (resolution, _) = super::resolution(app, &stored).await?;
            let binding = resolution
                .rule(&rule_id)
                .ok_or_else(|| ArmError::internal(format!("rule {rule_id} did not resolve")))?;
            // Health comes from the data plane's probe of each backend's instance.
            let table = rt.prober.health().snapshot();
            let probe = binding.probe.as_ref().map(|p| p.id.to_ascii_lowercase());
            let health = |m: &Member| -> Option<bool> {
                let key = crate::runtime::probe::ProbeKey::new(probe.clone()?, m.instance.clone()?);
                match table.health(&key) {
                    crate::runtime::probe::Health::Up => Some(true),
                    crate::runtime::probe::Health::Down => Some(false),
                    crate::runtime::probe::Health::Unknown => None,
                }
            };
            let backends = &binding.members;
            Ok(Json(rule_health(backends, &health)).into_response())
        }
        ["networkinterfaces"] => {
            only(req, &[Method::GET])?;
            let stored = generic::get_stored(app, id).await?;
            let prefix = format!("{}/", stored.id.to_ascii_lowercase());
            let nic_type = app
                .registry
                .get(NIC_TYPE)
                .ok_or_else(|| ArmError::internal("network interfaces are not registered"))?;
            let mut nics = Vec::new();
            for nic in referring(app, &stored.id, NIC_TYPE).await? {
                let uses = crate::api::network::ip_configurations(&nic.body).any(|c| {
                    [
                        "loadBalancerBackendAddressPools",
                        "loadBalancerInboundNatRules",
                    ]
                    .iter()
                    .flat_map(|p| crate::api::network::ref_ids(&c["properties"][*p]))
                    .any(|r| r.to_ascii_lowercase().starts_with(&prefix) || same_id(r, &stored.id))
                });
                if uses {
                    nics.push(nic_type.render(app, nic.body).await?);
                }
            }
            Ok(Json(list::page(req, nics)?).into_response())
        }
        _ => Err(ArmError::not_found(
            "NotFound",
            format!(
                "The requested resource path '{}' does not exist.",
                req.uri.path()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_is_unknown_until_the_data_plane_reports() {
        let backends = vec![
            Member {
                ip_configuration: Some("/nic/ipConfigurations/c".into()),
                ip_address: Some("10.0.0.4".into()),
                instance: Some("/vm/0".into()),
            },
            Member {
                ip_configuration: None,
                ip_address: Some("10.0.0.9".into()),
                instance: None,
            },
        ];
        let v = rule_health(&backends, &|_| None);
        assert_eq!(v["up"], 0);
        assert_eq!(v["down"], 0);
        assert_eq!(v["loadBalancerBackendAddresses"][0]["state"], "Unknown");
        assert_eq!(
            v["loadBalancerBackendAddresses"][0]["networkInterfaceIPConfigurationId"],
            "/nic/ipConfigurations/c"
        );
        let v = rule_health(&backends, &|b| Some(b.ip_configuration.is_some()));
        assert_eq!((v["up"].as_i64(), v["down"].as_i64()), (Some(1), Some(1)));
        assert_eq!(v["loadBalancerBackendAddresses"][1]["state"], "Down");
    }
}

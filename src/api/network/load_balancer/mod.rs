//! `Microsoft.Network/loadBalancers` with every child collection: frontendIPConfigurations
//! (a public IP, or a private address in a subnet for an internal load balancer),
//! backendAddressPools (NIC-based and IP-based), probes, loadBalancingRules, inboundNatRules
//! (single port, or a port range over a backend pool), inboundNatPools and outboundRules.
//!
//! A PUT of the whole load balancer is how `az network lb probe|rule|... create` work (GET,
//! edit one array, PUT back): the arrays it sends are authoritative, while ids, etags,
//! provisioning states, back-references and NAT pool rules are recomputed, never taken from
//! the client. Child PUT/DELETE (backend pools, NAT rules) go through the same path.
//!
//! - [`validation`]: pure checks of each element.
//! - [`conflicts`]: pure checks across elements.
//! - [`children`]: references between children, back-references when read.
//! - [`external`]: what a load balancer references outside itself (public IPs, subnets).
//! - [`nat`]: NAT rules generated from NAT pools, NAT port mappings.
//! - [`actions`]: `queryInboundNatRulePortMapping`, rule `health`, `networkInterfaces`.

pub mod actions;
pub mod children;
pub mod conflicts;
pub mod external;
pub mod nat;
pub mod validation;

use std::sync::Arc;

use async_trait::async_trait;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::body::{self, object_mut};
use super::{
    API_VERSIONS, IpConfigView, LB_TYPE, NIC_TYPE, PUBLIC_IP_TYPE, complete_child, errors,
    ip_configs_of, same_id,
};
use crate::arm::Arm;
use crate::arm::resource_type::{Child, ResourceType, WriteCx};
use crate::arm::{ArmError, ArmRequest, ArmResult, ResourceId};
use crate::model::network::resolution::{Resolution, resolve};
use crate::model::network::{LoadBalancer, PublicIp};
use crate::runtime::Runtime;
use crate::store::{Resource, resources};
use children::COLLECTIONS;

pub struct LoadBalancers {
    /// Rule health comes from the runtime's probes.
    pub runtime: Arc<Runtime>,
}

fn items<'a>(doc: &'a Value, property: &str) -> &'a [Value] {
    doc["properties"][property]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// Validates each element of every child collection, drops computed properties and gives
/// each element its id, type and provisioning state.
fn collections(doc: &mut Value, lb_id: &str) -> ArmResult<()> {
    let pools: Vec<Value> = body::array(
        &doc["properties"],
        "inboundNatPools",
        "properties.inboundNatPools",
    )?
    .to_vec();
    for (property, type_name) in COLLECTIONS {
        let mut list = body::array(
            &doc["properties"],
            property,
            &format!("properties.{property}"),
        )?
        .to_vec();
        if list.iter().any(|e| !e.is_object()) {
            return Err(ArmError::invalid_request_content(format!(
                "Every element of 'properties.{property}' must be an object."
            )));
        }
        if *property == "inboundNatRules" {
            let mut kept = Vec::new();
            for rule in list {
                if !nat::is_echoed_pool_rule(&rule, &pools)? {
                    kept.push(rule);
                }
            }
            list = kept;
        }
        for e in list.iter_mut() {
            validation::strip(e, children::read_only(property))?;
        }
        validation::names(&list, property)?;
        for e in list.iter_mut() {
            match *property {
                "probes" => validation::probe(e)?,
                "loadBalancingRules" => validation::load_balancing_rule(e)?,
                "inboundNatRules" => validation::inbound_nat_rule(e)?,
                "inboundNatPools" => validation::inbound_nat_pool(e)?,
                "outboundRules" => validation::outbound_rule(e)?,
                _ => {}
            }
            complete_child(e, lb_id, property, type_name);
        }
        doc["properties"][*property] = Value::Array(list);
    }
    Ok(())
}

/// Whether a NIC ipConfiguration's reference to this load balancer's backend pool or NAT rule
/// still resolves in `doc` (typed as `lb`).
fn resolves(doc: &Value, lb: &LoadBalancer, collection: &str, id: &str) -> bool {
    items(doc, collection)
        .iter()
        .any(|c| c["id"].as_str().is_some_and(|c| same_id(c, id)))
        || (collection == "inboundNatRules" && lb.pool_instance(id).is_some())
}

/// Children removed (or NAT pools shrunk) while NIC ipConfigurations still use them.
fn removed_in_use(existing: &Value, doc: &Value, configs: &[IpConfigView]) -> ArmResult<()> {
    let typed = |d: &Value| LoadBalancer::from_doc(d).map_err(ArmError::internal);
    let (old, new) = (typed(existing)?, typed(doc)?);
    for c in configs {
        let refs = [
            (&c.pools, "backendAddressPools", "BackendAddressPool"),
            (&c.nat_rules, "inboundNatRules", "InboundNatRule"),
        ];
        for (ids, collection, kind) in refs {
            for r in ids {
                if resolves(existing, &old, collection, r) && !resolves(doc, &new, collection, r) {
                    let kind = match (kind, old.pool_instance(r)) {
                        ("InboundNatRule", Some(_)) => "InboundNatPool",
                        _ => kind,
                    };
                    return Err(errors::lb_child_in_use(kind, r, &c.id));
                }
            }
        }
    }
    Ok(())
}

/// The stored load balancer `doc` resolved against the public IPs it uses and the NICs that
/// refer to it (what renderings and actions read). Both come from the reference index, so
/// the cost follows this load balancer's members, not every NIC of the subscription.
pub async fn resolution(arm: &Arm, doc: &Value) -> ArmResult<(Resolution, Vec<IpConfigView>)> {
    let key = doc["id"].as_str().unwrap_or_default();
    let configs = ip_configs_of(&arm.store.referring_to(key, NIC_TYPE).await?);
    let public_ips: Vec<PublicIp> = arm
        .store
        .referred_by(key, PUBLIC_IP_TYPE)
        .await?
        .into_iter()
        .filter_map(|r| serde_json::from_value(r.body).ok())
        .collect();
    let lb = LoadBalancer::from_doc(doc).map_err(ArmError::internal)?;
    Ok((resolve(&lb, &public_ips, &configs), configs))
}

/// The NICs referring to load balancer `lb_id`, inside the write transaction.
async fn referring_nics(cx: &mut WriteCx<'_>, lb_id: &str) -> ArmResult<Vec<Resource>> {
    Ok(resources::referring_to(&mut *cx.conn, lb_id, NIC_TYPE).await?)
}

#[async_trait]
impl ResourceType for LoadBalancers {
    fn type_name(&self) -> &'static str {
        LB_TYPE
    }

    fn api_versions(&self) -> &'static [&'static str] {
        API_VERSIONS
    }

    fn children(&self) -> &'static [Child] {
        &[
            Child {
                property: "frontendIPConfigurations",
                writable: false,
            },
            Child {
                property: "backendAddressPools",
                writable: true,
            },
            Child {
                property: "loadBalancingRules",
                writable: false,
            },
            Child {
                property: "probes",
                writable: false,
            },
            Child {
                property: "inboundNatRules",
                writable: true,
            },
            Child {
                property: "inboundNatPools",
                writable: false,
            },
            Child {
                property: "outboundRules",
                writable: false,
            },
        ]
    }

    async fn prepare(
        &self,
        cx: &mut WriteCx<'_>,
        existing: Option<&Value>,
        body: Map<String, Value>,
    ) -> ArmResult<Value> {
        let mut doc = Value::Object(body);
        let lb_id = doc["id"].as_str().unwrap_or_default().to_string();
        let sku_value = Value::Object(object_mut(&mut doc, "sku", "sku")?.clone());
        let named = body::one_of(
            &sku_value,
            "name",
            "sku.name",
            &["Basic", "Standard", "Gateway"],
        )?;
        let sku_name = match named {
            Some(name) => name,
            None => external::default_sku(cx, &doc).await?,
        };
        let sku = object_mut(&mut doc, "sku", "sku")?;
        let tier = body::one_of(&sku_value, "tier", "sku.tier", &["Regional", "Global"])?
            .unwrap_or("Regional");
        sku.insert("name".into(), json!(sku_name));
        sku.insert("tier".into(), json!(tier));
        object_mut(&mut doc, "properties", "properties")?;

        collections(&mut doc, &lb_id)?;
        if let Some(existing) = existing {
            let configs = ip_configs_of(&referring_nics(cx, &lb_id).await?);
            removed_in_use(existing, &doc, &configs)?;
        }
        children::resolve_references(&mut doc, &lb_id)?;
        external::frontends(cx, &mut doc, existing, sku_name).await?;
        external::backend_pools(cx, &mut doc).await?;
        conflicts::check(&doc, sku_name)?;
        crate::model::network::limits::check_load_balancer(&doc, sku_name)?;

        let guid = existing
            .map(|e| e["properties"]["resourceGuid"].clone())
            .filter(|v| !v.is_null())
            .unwrap_or_else(|| json!(uuid::Uuid::new_v4().to_string()));
        doc["properties"]["resourceGuid"] = guid;
        doc["properties"]["provisioningState"] = json!("Succeeded");
        Ok(doc)
    }

    async fn before_delete(&self, cx: &mut WriteCx<'_>, doc: &Value) -> ArmResult<()> {
        let lb_id = doc["id"].as_str().unwrap_or_default();
        let prefix = format!("{}/", lb_id.to_ascii_lowercase());
        for c in ip_configs_of(&referring_nics(cx, lb_id).await?) {
            let uses = c
                .pools
                .iter()
                .chain(&c.nat_rules)
                .any(|id| id.to_ascii_lowercase().starts_with(&prefix));
            if uses {
                return Err(errors::load_balancer_in_use(lb_id, &c.id));
            }
        }
        Ok(())
    }

    async fn render(&self, app: &Arm, mut doc: Value) -> ArmResult<Value> {
        let (resolution, configs) = resolution(app, &doc).await?;
        children::render(&mut doc, &configs, &resolution);
        Ok(doc)
    }

    async fn route(
        &self,
        app: &Arc<Arm>,
        req: &ArmRequest,
        id: &ResourceId,
        rest: &[&str],
    ) -> ArmResult<Response> {
        actions::route(app, &self.runtime, req, id, rest).await
    }
}

//! Microsoft.Network: public IP addresses, virtual networks and subnets, network interfaces
//! and load balancers with all their child collections.
//!
//! Every type stores one document per resource; what other resources contribute
//! (back-references such as a backend pool's `backendIPConfigurations`, a subnet's
//! `ipConfigurations`, a public IP's `ipConfiguration`, the NAT rules generated from NAT
//! pools) is computed when a document is read, by scanning the NIC rows of the subscription
//! (type `Microsoft.Network/networkInterfaces`, wherever they live: standalone NICs and
//! scale-set instance NICs alike). Nothing server-computed is ever taken from a client.
//!
//! - [`address`]: CIDR arithmetic and the public/private IP allocators.
//! - [`public_ip`], [`virtual_network`], [`network_interface`], [`load_balancer`]: one type each.
//! - [`errors`]: the Azure error codes and messages used here.
//! - [`body`]: reading typed properties out of request bodies.

pub mod address;
pub mod body;
pub mod errors;
pub mod load_balancer;
pub mod network_interface;
pub mod public_ip;
pub mod security_group;
pub mod virtual_network;

use serde_json::{Value, json};

use std::sync::Arc;

use crate::arm::Arm;
use crate::arm::resource_type::{Registry, WriteCx};
use crate::arm::{ArmResult, ResourceId};
use crate::runtime::Runtime;
use crate::store::Resource;

pub use crate::model::network::{
    IpConfigView, LB_TYPE, NIC_TYPE, PUBLIC_IP_TYPE, VNET_TYPE, same_id,
};

/// The api-versions advertised for every Microsoft.Network type (any well-formed one works).
pub const API_VERSIONS: &[&str] = &[
    "2025-07-01",
    "2025-05-01",
    "2025-03-01",
    "2025-01-01",
    "2024-07-01",
    "2024-05-01",
    "2024-03-01",
    "2024-01-01",
    "2023-11-01",
    "2023-09-01",
    "2023-06-01",
    "2023-05-01",
    "2023-04-01",
    "2023-02-01",
    "2022-11-01",
    "2022-09-01",
    "2022-07-01",
    "2022-05-01",
    "2022-01-01",
    "2021-08-01",
    "2021-05-01",
    "2021-03-01",
    "2021-02-01",
    "2020-11-01",
    "2020-07-01",
    "2020-06-01",
    "2020-05-01",
    "2019-12-01",
    "2019-11-01",
    "2018-11-01",
    "2018-08-01",
    "2017-10-01",
    "2017-06-01",
    "2016-09-01",
    "2015-06-15",
];

/// Registers every Microsoft.Network type.
pub fn register(r: &mut Registry, runtime: &Arc<Runtime>, address_block: u8) {
    r.register(public_ip::PublicIpAddresses { address_block });
    r.register(virtual_network::VirtualNetworks);
    r.register(network_interface::NetworkInterfaces);
    r.register(security_group::NetworkSecurityGroups);
    r.register(load_balancer::LoadBalancers {
        runtime: runtime.clone(),
    });
}

/// `{"id": id}`, ARM's SubResource.
pub fn sub_resource(id: &str) -> Value {
    json!({ "id": id })
}

/// The `id` of a SubResource-shaped value, if it has one.
pub fn ref_id(v: &Value) -> Option<&str> {
    v["id"].as_str()
}

/// The ids of an array of SubResources.
pub fn ref_ids(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(ref_id).collect())
        .unwrap_or_default()
}

/// The ipConfigurations of a NIC document.
pub fn ip_configurations(nic: &Value) -> impl Iterator<Item = &Value> {
    nic["properties"]["ipConfigurations"]
        .as_array()
        .into_iter()
        .flatten()
}

/// The ipConfigurations of NIC rows, in row order, as the model reads them.
pub fn ip_configs_of(nics: &[Resource]) -> Vec<IpConfigView> {
    crate::model::network::nic::ip_configs_of(nics.iter().map(|r| &r.body))
}

/// Stored resources of `type_name` whose documents refer to `id` or to a child of it, in
/// creation order: a lookup in the reference index, not a scan of the type.
pub async fn referring(app: &Arm, id: &str, type_name: &str) -> ArmResult<Vec<Resource>> {
    Ok(app.store.referring_to(id, type_name).await?)
}

/// [`referring`] inside the write transaction.
pub async fn referring_tx(
    cx: &mut WriteCx<'_>,
    id: &str,
    type_name: &str,
) -> ArmResult<Vec<Resource>> {
    Ok(crate::store::resources::referring_to(&mut *cx.conn, id, type_name).await?)
}

/// Marks the elements of a child collection the way ARM shows them: `id` under the parent,
/// `type`, and `provisioningState`. `etag` is added at read time (it is the parent's).
pub fn complete_child(element: &mut Value, parent_id: &str, property: &str, type_name: &str) {
    let name = element["name"].as_str().unwrap_or_default().to_string();
    element["id"] = json!(format!("{parent_id}/{property}/{name}"));
    element["type"] = json!(type_name);
    if !element["properties"].is_object() {
        element["properties"] = json!({});
    }
    element["properties"]["provisioningState"] = json!("Succeeded");
}

/// Gives every element of the child arrays `properties` the parent's etag.
pub fn stamp_child_etags(doc: &mut Value, properties: &[&str]) {
    let etag = doc["etag"].clone();
    for p in properties {
        if let Some(items) = doc["properties"][*p].as_array_mut() {
            for item in items {
                item["etag"] = etag.clone();
            }
        }
    }
}

/// Parses a reference to a child `<top-level id>/<collection>/<name>` of a resource of type
/// `top_type`; returns the top-level id and the child name.
pub fn parse_child_ref(id: &str, top_type: &str, collection: &str) -> Option<(ResourceId, String)> {
    let parsed = ResourceId::parse(id).ok()?;
    let [(ty, _), (coll, name)] = parsed.segments.as_slice() else {
        return None;
    };
    let is_type = format!("{}/{}", parsed.namespace, ty).eq_ignore_ascii_case(top_type)
        && coll.eq_ignore_ascii_case(collection);
    is_type.then(|| (parsed.root(), name.clone()))
}

/// Whether a top-level id names a resource of `type_name`.
pub fn is_type(id: &str, type_name: &str) -> bool {
    ResourceId::parse(id).is_ok_and(|p| {
        p.segments.len() == 1
            && format!("{}/{}", p.namespace, p.segments[0].0).eq_ignore_ascii_case(type_name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_references_parse_case_insensitively() {
        let (lb, name) = parse_child_ref(
            "/subscriptions/s/resourcegroups/rg/providers/microsoft.network/loadbalancers/LB/backendaddresspools/Pool",
            LB_TYPE,
            "backendAddressPools",
        )
        .unwrap();
        assert_eq!(lb.name(), "LB");
        assert_eq!(name, "Pool");
        assert!(
            parse_child_ref(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb/probes/p",
                LB_TYPE,
                "backendAddressPools"
            )
            .is_none()
        );
        assert!(is_type(
            "/subscriptions/s/resourceGroups/rg/providers/microsoft.network/publicipaddresses/ip",
            PUBLIC_IP_TYPE
        ));
        assert!(same_id("/a/B/", "/A/b"));
    }
}

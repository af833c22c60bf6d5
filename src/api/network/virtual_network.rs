//! `Microsoft.Network/virtualNetworks` and their `subnets` (also served as child resources
//! `.../subnets/{name}`, PUT and DELETE included).
//!
//! Address spaces are IPv4 prefixes that must not overlap; every subnet lies inside one of
//! them and overlaps no other subnet. A subnet's `ipConfigurations` (NIC ipConfigurations and
//! internal load balancer frontends in it) are computed when the network is read, and a
//! subnet in use cannot be removed or re-addressed. Private addresses are handed out by
//! [`super::address::allocate_private_ip`].

use async_trait::async_trait;
use serde_json::{Map, Value, json};

use super::address::{Cidr, CidrError, parse_cidr};
use super::body::{self, object_mut};
use super::{
    API_VERSIONS, LB_TYPE, NIC_TYPE, VNET_TYPE, complete_child, errors, ip_configs_of, referring,
    referring_tx, same_id, stamp_child_etags, sub_resource,
};
use crate::arm::Arm;
use crate::arm::resource_type::{Child, ResourceType, WriteCx};
use crate::arm::{ArmError, ArmResult};
use crate::store::Resource;

pub const SUBNET_TYPE: &str = "Microsoft.Network/virtualNetworks/subnets";

/// Subnet properties the service computes; never taken from a client.
const SUBNET_READ_ONLY: &[&str] = &[
    "ipConfigurations",
    "ipConfigurationProfiles",
    "privateEndpoints",
    "resourceNavigationLinks",
    "serviceAssociationLinks",
    "purpose",
    "provisioningState",
];

pub struct VirtualNetworks;

/// What uses a subnet: `(ipConfiguration or frontend id, its private address)`.
pub fn subnet_users(
    subnet_id: &str,
    lbs: &[Resource],
    nics: &[Resource],
) -> Vec<(String, Option<String>)> {
    let uses = |c: &Value| {
        c["properties"]["subnet"]["id"]
            .as_str()
            .is_some_and(|s| same_id(s, subnet_id))
    };
    let address = |c: &Value| {
        c["properties"]["privateIPAddress"]
            .as_str()
            .map(str::to_string)
    };
    let mut out: Vec<(String, Option<String>)> = ip_configs_of(nics)
        .into_iter()
        .filter(|c| c.subnet.as_deref().is_some_and(|s| same_id(s, subnet_id)))
        .map(|c| (c.id, c.private_ip.map(|ip| ip.to_string())))
        .collect();
    for lb in lbs {
        for fe in lb.body["properties"]["frontendIPConfigurations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|fe| uses(fe))
        {
            if let Some(id) = fe["id"].as_str() {
                out.push((id.to_string(), address(fe)));
            }
        }
    }
    out
}

/// A prefix as Azure checks it, with Azure's errors for malformed ones.
fn prefix(p: &str, owner_id: &str) -> ArmResult<Cidr> {
    parse_cidr(p).map_err(|e| match e {
        CidrError::Malformed => ArmError::bad_request(
            "NetcfgInvalidIPAddressPrefix",
            format!("Value '{p}' specified for IP address prefix is invalid. armlet accepts IPv4 prefixes only."),
        ),
        CidrError::HostBitsSet { canonical } => ArmError::bad_request(
            "InvalidCIDRNotation",
            format!(
                "The address prefix {p} in resource {owner_id} has an invalid CIDR notation. For the given prefix length, the address prefix should be {canonical}."
            ),
        ),
    })
}

/// Validates and completes the address space; returns the parsed prefixes.
fn address_space(doc: &mut Value, vnet_id: &str) -> ArmResult<Vec<Cidr>> {
    let space = object_mut(
        &mut doc["properties"],
        "addressSpace",
        "properties.addressSpace",
    )?;
    let space_value = Value::Object(space.clone());
    let mut prefixes = Vec::new();
    for p in body::array(
        &space_value,
        "addressPrefixes",
        "properties.addressSpace.addressPrefixes",
    )? {
        let p = p.as_str().ok_or_else(|| {
            ArmError::invalid_request_content(
                "'properties.addressSpace.addressPrefixes' must be an array of strings.",
            )
        })?;
        prefixes.push(prefix(p, vnet_id)?);
    }
    if prefixes.is_empty() {
        return Err(errors::invalid_format(format!(
            "Virtual network {vnet_id} must have at least one address prefix in properties.addressSpace.addressPrefixes."
        )));
    }
    for (i, a) in prefixes.iter().enumerate() {
        if let Some(b) = prefixes[i + 1..].iter().find(|b| a.overlaps(b)) {
            return Err(ArmError::bad_request(
                "VnetAddressSpacesOverlap",
                format!(
                    "Cannot create or update virtual network {vnet_id} since it has address spaces {a} and {b} that overlap."
                ),
            ));
        }
    }
    space.insert(
        "addressPrefixes".into(),
        json!(prefixes.iter().map(Cidr::to_string).collect::<Vec<_>>()),
    );
    Ok(prefixes)
}

/// Validates and completes one subnet; returns its name and prefix.
fn subnet(
    s: &mut Value,
    vnet_id: &str,
    vnet_name: &str,
    spaces: &[Cidr],
) -> ArmResult<(String, Cidr)> {
    let name = body::string(s, "name", "properties.subnets[].name")?
        .filter(|n| !n.is_empty())
        .ok_or_else(|| errors::invalid_format("Every subnet must have a name."))?
        .to_string();
    object_mut(s, "properties", "properties.subnets[].properties")?;
    let props = &s["properties"];
    let p = match body::string(props, "addressPrefix", "properties.addressPrefix")? {
        Some(p) => p.to_string(),
        None => body::array(props, "addressPrefixes", "properties.addressPrefixes")?
            .first()
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                errors::invalid_format(format!(
                    "Subnet {name} must have an address prefix (properties.addressPrefix)."
                ))
            })?,
    };
    let subnet_id = format!("{vnet_id}/subnets/{name}");
    let cidr = prefix(&p, &subnet_id)?;
    if cidr.prefix_len() > 29 {
        return Err(ArmError::bad_request(
            "NetcfgInvalidSubnet",
            format!(
                "Subnet '{name}' is not valid in virtual network '{vnet_name}'. The smallest supported subnet is a /29."
            ),
        ));
    }
    if !spaces.iter().any(|space| space.contains(&cidr)) {
        return Err(ArmError::bad_request(
            "NetcfgSubnetRangeOutsideVnet",
            format!(
                "Subnet '{name}' is not valid because its IP address range is outside the IP address range of virtual network '{vnet_name}'."
            ),
        ));
    }
    let props = s["properties"]
        .as_object_mut()
        .expect("made an object above");
    for ro in SUBNET_READ_ONLY {
        props.remove(*ro);
    }
    props.insert("addressPrefix".into(), json!(cidr.to_string()));
    props.remove("addressPrefixes");
    props
        .entry("privateEndpointNetworkPolicies")
        .or_insert(json!("Disabled"));
    props
        .entry("privateLinkServiceNetworkPolicies")
        .or_insert(json!("Enabled"));
    if !props.get("delegations").is_some_and(Value::is_array) {
        props.insert("delegations".into(), json!([]));
    }
    s.as_object_mut().expect("an object").remove("etag");
    complete_child(s, vnet_id, "subnets", SUBNET_TYPE);
    Ok((name, cidr))
}

#[async_trait]
impl ResourceType for VirtualNetworks {
    fn type_name(&self) -> &'static str {
        VNET_TYPE
    }

    fn api_versions(&self) -> &'static [&'static str] {
        API_VERSIONS
    }

    fn children(&self) -> &'static [Child] {
        &[Child {
            property: "subnets",
            writable: true,
        }]
    }

    async fn prepare(
        &self,
        cx: &mut WriteCx<'_>,
        existing: Option<&Value>,
        body: Map<String, Value>,
    ) -> ArmResult<Value> {
        let mut doc = Value::Object(body);
        let vnet_id = doc["id"].as_str().unwrap_or_default().to_string();
        let vnet_name = doc["name"].as_str().unwrap_or_default().to_string();
        object_mut(&mut doc, "properties", "properties")?;
        let spaces = address_space(&mut doc, &vnet_id)?;

        let mut subnets: Vec<Value> =
            body::array(&doc["properties"], "subnets", "properties.subnets")?.to_vec();
        let mut seen: Vec<(String, Cidr)> = Vec::new();
        for s in subnets.iter_mut() {
            let (name, cidr) = subnet(s, &vnet_id, &vnet_name, &spaces)?;
            let subnet_id = format!("{vnet_id}/subnets/{name}");
            super::security_group::check_reference(cx, &mut s["properties"], &subnet_id).await?;
            if seen.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
                return Err(errors::invalid_format(format!(
                    "Subnet name {name} appears more than once in virtual network {vnet_name}."
                )));
            }
            if seen.iter().any(|(_, other)| other.overlaps(&cidr)) {
                return Err(ArmError::bad_request(
                    "NetcfgSubnetRangesOverlap",
                    format!(
                        "Subnet '{name}' is not valid because its IP address range overlaps with that of an existing subnet in virtual network '{vnet_name}'."
                    ),
                ));
            }
            seen.push((name, cidr));
        }

        // A subnet in use can be neither removed nor re-addressed.
        if let Some(existing) = existing {
            let vnet_id = cx.id.to_string();
            let lbs = referring_tx(cx, &vnet_id, LB_TYPE).await?;
            let nics = referring_tx(cx, &vnet_id, NIC_TYPE).await?;
            for old in existing["properties"]["subnets"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let (Some(old_name), Some(old_id)) = (old["name"].as_str(), old["id"].as_str())
                else {
                    continue;
                };
                let old_prefix = old["properties"]["addressPrefix"]
                    .as_str()
                    .unwrap_or_default();
                let kept = seen.iter().find(|(n, _)| n.eq_ignore_ascii_case(old_name));
                let Some(by) = subnet_users(old_id, &lbs, &nics).into_iter().next() else {
                    continue;
                };
                match kept {
                    None => return Err(errors::subnet_in_use(old_name, &by.0)),
                    Some((_, cidr)) if cidr.to_string() != old_prefix => {
                        return Err(ArmError::bad_request(
                            "InUseSubnetCannotBeUpdated",
                            format!(
                                "Subnet {old_name} is in use by {} and its address prefix cannot be changed from {old_prefix} to {cidr}.",
                                by.0
                            ),
                        ));
                    }
                    Some(_) => {}
                }
            }
        }

        let guid = existing
            .map(|e| e["properties"]["resourceGuid"].clone())
            .filter(|v| !v.is_null())
            .unwrap_or_else(|| json!(uuid::Uuid::new_v4().to_string()));
        let props = doc["properties"]
            .as_object_mut()
            .expect("made an object above");
        props.insert("subnets".into(), Value::Array(subnets));
        props.insert("resourceGuid".into(), guid);
        props.insert("provisioningState".into(), json!("Succeeded"));
        if !props
            .get("virtualNetworkPeerings")
            .is_some_and(Value::is_array)
        {
            props.insert("virtualNetworkPeerings".into(), json!([]));
        }
        props.entry("enableDdosProtection").or_insert(json!(false));
        Ok(doc)
    }

    async fn before_delete(&self, cx: &mut WriteCx<'_>, doc: &Value) -> ArmResult<()> {
        let vnet_id = doc["id"].as_str().unwrap_or_default();
        let lbs = referring_tx(cx, vnet_id, LB_TYPE).await?;
        let nics = referring_tx(cx, vnet_id, NIC_TYPE).await?;
        for s in doc["properties"]["subnets"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let (Some(name), Some(id)) = (s["name"].as_str(), s["id"].as_str()) else {
                continue;
            };
            if let Some((by, _)) = subnet_users(id, &lbs, &nics).into_iter().next() {
                return Err(errors::subnet_in_use(name, &by));
            }
        }
        Ok(())
    }

    async fn render(&self, app: &Arm, mut doc: Value) -> ArmResult<Value> {
        let vnet_id = doc["id"].as_str().unwrap_or_default().to_string();
        let lbs = referring(app, &vnet_id, LB_TYPE).await?;
        let nics = referring(app, &vnet_id, NIC_TYPE).await?;
        if let Some(subnets) = doc["properties"]["subnets"].as_array_mut() {
            for s in subnets {
                let id = s["id"].as_str().unwrap_or_default().to_string();
                let users: Vec<Value> = subnet_users(&id, &lbs, &nics)
                    .iter()
                    .map(|(by, _)| sub_resource(by))
                    .collect();
                if !users.is_empty() {
                    s["properties"]["ipConfigurations"] = Value::Array(users);
                }
            }
        }
        stamp_child_etags(&mut doc, &["subnets"]);
        Ok(doc)
    }
}

//! `Microsoft.Network/networkInterfaces`: ipConfigurations in a subnet with a private address
//! (Dynamic: the subnet's first free address from `.4`; Static: checked against the subnet
//! and the addresses in use), an optional public IP, and references to load balancer backend
//! pools and inbound NAT rules (explicit ones, or `<natPool>.<k>` instances of a NAT pool).
//!
//! Scale-set instance NICs are rows of this same type that the compute provider stores under
//! the scale set's id; [`complete_nic`] validates and completes such a document exactly as a
//! standalone NIC PUT does.

use std::net::Ipv4Addr;

use async_trait::async_trait;
use serde_json::{Map, Value, json};

use super::address::{allocate_private_ip, find_subnet, used_private_ips};
use super::body::{self, object_mut};
use super::{
    API_VERSIONS, LB_TYPE, NIC_TYPE, PUBLIC_IP_TYPE, complete_child, errors, is_type,
    parse_child_ref, public_ip, referring_tx, stamp_child_etags, sub_resource,
};
use crate::arm::resource_type::{Child, ResourceType, WriteCx};
use crate::arm::{ArmError, ArmResult, ResourceId};
use crate::model::network::LoadBalancer;
use crate::model::network::load_balancer::parse_generated_rule_name;
use crate::model::network::resolution::next_nat_pool_index as next_nat_pool_index_of;
use crate::store::Resource;

pub const IP_CONFIGURATION_TYPE: &str = "Microsoft.Network/networkInterfaces/ipConfigurations";

/// NIC properties only the platform sets (kept from the stored document, never from a client).
const NIC_PLATFORM_OWNED: &[&str] = &[
    "virtualMachine",
    "macAddress",
    "primary",
    "hostedWorkloads",
    "tapConfigurations",
    "privateEndpoint",
    "dscpConfiguration",
];

pub struct NetworkInterfaces;

/// A reference from an ipConfiguration to a load balancer child: checks that it exists and
/// returns its canonical id. NAT rule references may name an instance `<pool>.<k>` of a NAT pool.
async fn lb_child_ref(
    cx: &mut WriteCx<'_>,
    id: &str,
    collection: &str,
    by: &str,
) -> ArmResult<String> {
    let missing = || errors::invalid_reference(id, by);
    let (lb_id, child) = parse_child_ref(id, LB_TYPE, collection).ok_or_else(missing)?;
    let lb = cx.get(&lb_id.key()).await?.ok_or_else(missing)?;
    let find = |property: &str, name: &str| {
        lb.body["properties"][property]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| {
                c["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            })
            .cloned()
    };
    if let Some(found) = find(collection, &child) {
        return Ok(format!(
            "{}/{collection}/{}",
            lb.id,
            found["name"].as_str().unwrap_or(&child)
        ));
    }
    if collection == "inboundNatRules"
        && let Some((pool_name, k)) = parse_generated_rule_name(&child)
        && let Some(pool) = find("inboundNatPools", pool_name)
    {
        let start = pool["properties"]["frontendPortRangeStart"]
            .as_i64()
            .unwrap_or(0);
        let end = pool["properties"]["frontendPortRangeEnd"]
            .as_i64()
            .unwrap_or(-1);
        if (k as i64) <= end - start {
            let pool_name = pool["name"].as_str().unwrap_or(pool_name);
            return Ok(format!("{}/inboundNatRules/{pool_name}.{k}", lb.id));
        }
    }
    Err(missing())
}

/// Validates the references of an array of SubResources to load balancer children and
/// rewrites them to canonical ids.
async fn lb_refs(
    cx: &mut WriteCx<'_>,
    props: &mut Value,
    property: &str,
    collection: &str,
    by: &str,
) -> ArmResult<()> {
    let mut out = Vec::new();
    for r in body::array(props, property, &format!("properties.{property}"))?.to_vec() {
        let id = body::reference(&json!({ "r": r }), "r", &format!("properties.{property}[]"))?
            .ok_or_else(|| {
                errors::invalid_format(format!("Every element of {property} must have an id."))
            })?
            .to_string();
        let canonical = lb_child_ref(cx, &id, collection, by).await?;
        if !out.iter().any(|v: &Value| {
            v["id"]
                .as_str()
                .is_some_and(|x| x.eq_ignore_ascii_case(&canonical))
        }) {
            out.push(sub_resource(&canonical));
        }
    }
    props[property] = Value::Array(out);
    Ok(())
}

/// Validates and completes one ipConfiguration; `taken` are the addresses this NIC's earlier
/// ipConfigurations hold (they may not be allocated twice).
async fn ip_configuration(
    cx: &mut WriteCx<'_>,
    nic_id: &str,
    config: &mut Value,
    previous: Option<&Value>,
    taken: &mut Vec<Ipv4Addr>,
) -> ArmResult<()> {
    let name = config["name"].as_str().unwrap_or_default().to_string();
    let config_id = format!("{nic_id}/ipConfigurations/{name}");
    let props = object_mut(
        config,
        "properties",
        "properties.ipConfigurations[].properties",
    )?;
    let mut props = Value::Object(std::mem::take(props));

    let version = body::one_of(
        &props,
        "privateIPAddressVersion",
        "privateIPAddressVersion",
        &["IPv4", "IPv6"],
    )?
    .unwrap_or("IPv4");
    if version == "IPv6" {
        return Err(errors::invalid_format(
            "armlet serves IPv4 ipConfigurations only.",
        ));
    }
    let subnet_ref = body::reference(&props, "subnet", "properties.subnet")?
        .ok_or_else(|| {
            errors::invalid_format(format!(
                "IP configuration {config_id} must reference a subnet (properties.subnet.id)."
            ))
        })?
        .to_string();
    let (subnet_id, _, prefix) = find_subnet(cx, &subnet_ref)
        .await?
        .ok_or_else(|| errors::invalid_reference(&subnet_ref, nic_id))?;
    // References first: a bad reference is reported before any address is allocated.
    if let Some(pip) = body::reference(&props, "publicIPAddress", "properties.publicIPAddress")?
        .map(str::to_string)
    {
        let row = match is_type(&pip, PUBLIC_IP_TYPE) {
            true => cx.get(&ResourceId::parse(&pip)?.key()).await?,
            false => None,
        }
        .ok_or_else(|| errors::invalid_reference(&pip, nic_id))?;
        let lbs = referring_tx(cx, &row.id, LB_TYPE).await?;
        let nics = referring_tx(cx, &row.id, NIC_TYPE).await?;
        if let Some(by) = public_ip::users(&row.id, &lbs, &nics)
            .into_iter()
            .find(|by| {
                !by.to_ascii_lowercase()
                    .starts_with(&format!("{}/", nic_id.to_ascii_lowercase()))
            })
        {
            return Err(ArmError::bad_request(
                "PublicIPAddressInUse",
                format!("Public IP address {} is already in use by {by}.", row.id),
            ));
        }
        props["publicIPAddress"] = sub_resource(&row.id);
    }
    lb_refs(
        cx,
        &mut props,
        "loadBalancerBackendAddressPools",
        "backendAddressPools",
        nic_id,
    )
    .await?;
    lb_refs(
        cx,
        &mut props,
        "loadBalancerInboundNatRules",
        "inboundNatRules",
        nic_id,
    )
    .await?;

    let method = body::one_of(
        &props,
        "privateIPAllocationMethod",
        "privateIPAllocationMethod",
        &["Dynamic", "Static"],
    )?
    .unwrap_or("Dynamic");

    let address = if method == "Static" {
        let text = body::string(&props, "privateIPAddress", "properties.privateIPAddress")?
            .ok_or_else(|| {
                errors::invalid_format(format!(
                    "IP configuration {config_id} has Static allocation but no privateIPAddress."
                ))
            })?;
        let ip: Ipv4Addr = text.parse().map_err(|_| {
            errors::invalid_format(format!(
                "Private IP address '{text}' of {config_id} is not a valid IPv4 address."
            ))
        })?;
        if !prefix.contains_addr(ip) {
            return Err(ArmError::bad_request(
                "PrivateIPAddressNotInSubnet",
                format!(
                    "IP configuration {config_id} private IP address {ip} does not belong to the subnet {subnet_id}."
                ),
            ));
        }
        if prefix.is_azure_reserved(ip) {
            return Err(ArmError::bad_request(
                "PrivateIPAddressInReservedRange",
                format!(
                    "Private static IP address {ip} falls within reserved IP range of subnet prefix {prefix}."
                ),
            ));
        }
        let in_use = used_private_ips(cx, &subnet_id).await?.contains(&ip) || taken.contains(&ip);
        if in_use {
            return Err(ArmError::bad_request(
                "PrivateIPAddressInUse",
                format!(
                    "IP configuration {config_id} is using the private IP address {ip} which is already allocated to another resource in subnet {subnet_id}."
                ),
            ));
        }
        ip
    } else {
        let kept = previous.filter(|p| {
            p["properties"]["subnet"]["id"]
                .as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case(&subnet_id))
        });
        match kept
            .and_then(|p| p["properties"]["privateIPAddress"].as_str())
            .and_then(|a| a.parse::<Ipv4Addr>().ok())
            .filter(|a| prefix.contains_addr(*a) && !taken.contains(a))
        {
            Some(ip) => ip,
            None => allocate_private_ip(cx, &subnet_id, taken).await?,
        }
    };
    taken.push(address);

    let p = props.as_object_mut().expect("an object");
    p.remove("privateLinkConnectionProperties");
    p.insert("subnet".into(), sub_resource(&subnet_id));
    p.insert("privateIPAddress".into(), json!(address.to_string()));
    p.insert("privateIPAllocationMethod".into(), json!(method));
    p.insert("privateIPAddressVersion".into(), json!(version));
    config["properties"] = props;
    config.as_object_mut().expect("an object").remove("etag");
    complete_child(config, nic_id, "ipConfigurations", IP_CONFIGURATION_TYPE);
    Ok(())
}

/// Validates and completes a NIC document (`id`, `name` and `location` already set), for a
/// standalone NIC PUT and for the NICs the compute provider stores for scale-set instances.
/// `existing` is the stored document on update: its private addresses are kept where the
/// ipConfiguration still names the same subnet. Platform-owned properties (`virtualMachine`,
/// `macAddress`, `primary`, ...) come from `existing`, never from `doc`.
pub async fn complete_nic(
    cx: &mut WriteCx<'_>,
    existing: Option<&Value>,
    mut doc: Value,
) -> ArmResult<Value> {
    let nic_id = doc["id"].as_str().unwrap_or_default().to_string();
    object_mut(&mut doc, "properties", "properties")?;
    let mut configs = body::array(
        &doc["properties"],
        "ipConfigurations",
        "properties.ipConfigurations",
    )?
    .to_vec();
    if configs.is_empty() {
        return Err(errors::invalid_format(format!(
            "Network interface {nic_id} must have at least one IP configuration."
        )));
    }
    let mut names: Vec<String> = Vec::new();
    for c in &configs {
        let name = body::string(c, "name", "properties.ipConfigurations[].name")?
            .filter(|n| !n.is_empty())
            .ok_or_else(|| errors::invalid_format("Every IP configuration must have a name."))?;
        if names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            return Err(errors::invalid_format(format!(
                "IP configuration name {name} appears more than once in network interface {nic_id}."
            )));
        }
        names.push(name.to_string());
    }
    let primaries = configs
        .iter()
        .filter(|c| c["properties"]["primary"] == json!(true))
        .count();
    if primaries > 1 {
        return Err(errors::invalid_format(format!(
            "Network interface {nic_id} has more than one primary IP configuration."
        )));
    }
    super::security_group::check_reference(cx, &mut doc["properties"], &nic_id).await?;
    let previous: Vec<Value> = existing
        .map(|e| super::ip_configurations(e).cloned().collect())
        .unwrap_or_default();
    let mut taken = Vec::new();
    for (i, c) in configs.iter_mut().enumerate() {
        let prev = previous.iter().find(|p| {
            p["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(&names[i]))
        });
        ip_configuration(cx, &nic_id, c, prev, &mut taken).await?;
        c["properties"]["primary"] =
            json!(c["properties"]["primary"] == json!(true) || (primaries == 0 && i == 0));
    }

    let kept = |field: &str| {
        existing
            .map(|e| e["properties"][field].clone())
            .filter(|v| !v.is_null())
    };
    let guid = kept("resourceGuid").unwrap_or_else(|| json!(uuid::Uuid::new_v4().to_string()));
    let platform: Vec<(&str, Value)> = NIC_PLATFORM_OWNED
        .iter()
        .filter_map(|f| kept(f).map(|v| (*f, v)))
        .collect();
    let props = doc["properties"]
        .as_object_mut()
        .expect("made an object above");
    for f in NIC_PLATFORM_OWNED {
        props.remove(*f);
    }
    props.extend(platform.into_iter().map(|(k, v)| (k.to_string(), v)));
    props.insert("ipConfigurations".into(), Value::Array(configs));
    props.insert("resourceGuid".into(), guid);
    props.insert("provisioningState".into(), json!("Succeeded"));
    props.entry("enableIPForwarding").or_insert(json!(false));
    props
        .entry("enableAcceleratedNetworking")
        .or_insert(json!(false));
    props
        .entry("disableTcpStateTracking")
        .or_insert(json!(false));
    props.entry("nicType").or_insert(json!("Standard"));
    props
        .entry("vnetEncryptionSupported")
        .or_insert(json!(false));
    let dns = props.entry("dnsSettings").or_insert(json!({}));
    if !dns.is_object() {
        *dns = json!({});
    }
    if !dns["dnsServers"].is_array() {
        dns["dnsServers"] = json!([]);
    }
    dns["appliedDnsServers"] = json!([]);
    Ok(doc)
}

/// What a new scale-set instance's NICs are made from.
pub struct InstanceNics<'a> {
    /// The instance (a Uniform `virtualMachines` child or a Flexible VM).
    pub vm_id: &'a ResourceId,
    pub location: &'a Value,
    /// The model's `networkProfile.networkInterfaceConfigurations`.
    pub configurations: &'a [Value],
    /// Flexible instances get ordinary NICs `{vm}-{config}`; Uniform ones NICs below the
    /// instance.
    pub flexible: bool,
}

/// Creates the NICs of a new scale-set instance, one per NIC configuration of the model:
/// each ipConfiguration in its subnet with the next free address, in the model's backend
/// pools, and taking the next free instance `<pool>.<k>` of each NAT pool it names. Each
/// NIC is validated and completed exactly as a NIC PUT is ([`complete_nic`]) and written at
/// once, so the next NIC (or instance) in the same transaction sees its address and NAT
/// ports taken. Returns the NIC documents.
pub async fn create_instance_nics(
    cx: &mut WriteCx<'_>,
    n: InstanceNics<'_>,
) -> ArmResult<Vec<Value>> {
    let mut nics = Vec::new();
    for config in n.configurations {
        let config_name = config["name"].as_str().unwrap_or("nic");
        let (name, id) = if n.flexible {
            let name = format!("{}-{config_name}", n.vm_id.name());
            let id = ResourceId::new(
                &n.vm_id.subscription,
                n.vm_id.resource_group.as_deref(),
                "Microsoft.Network",
                vec![("networkInterfaces".into(), name.clone())],
            );
            (name, id)
        } else {
            (
                config_name.to_string(),
                n.vm_id.child("networkInterfaces", config_name),
            )
        };
        let mut ip_configs = Vec::new();
        for ipc in config["properties"]["ipConfigurations"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let props = &ipc["properties"];
            let mut nat_rules = Vec::new();
            for pool in props["loadBalancerInboundNatPools"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let pool_id = pool["id"].as_str().unwrap_or_default();
                let k = next_nat_pool_index(cx, pool_id).await?;
                let (lb, pool_name) = pool_id
                    .rsplit_once("/inboundNatPools/")
                    .unwrap_or((pool_id, ""));
                nat_rules.push(json!({"id": format!("{lb}/inboundNatRules/{pool_name}.{k}")}));
            }
            ip_configs.push(json!({
                "name": ipc["name"].as_str().unwrap_or("ipconfig"),
                "properties": {
                    "subnet": props["subnet"],
                    "primary": props["primary"].as_bool().unwrap_or(ip_configs.is_empty()),
                    "privateIPAllocationMethod": "Dynamic",
                    "loadBalancerBackendAddressPools": props["loadBalancerBackendAddressPools"].as_array().cloned().unwrap_or_default(),
                    "loadBalancerInboundNatRules": nat_rules,
                }
            }));
        }
        let skeleton = json!({
            "name": name,
            "id": id.to_string(),
            "type": NIC_TYPE,
            "location": n.location,
            "properties": {
                "ipConfigurations": ip_configs,
                "enableAcceleratedNetworking": config["properties"]["enableAcceleratedNetworking"].as_bool().unwrap_or(false),
                "networkSecurityGroup": config["properties"]["networkSecurityGroup"],
            }
        });
        let mut doc = complete_nic(cx, None, skeleton).await?;
        // Platform-owned: the instance it belongs to, and whether it is its primary NIC.
        doc["properties"]["virtualMachine"] = sub_resource(&n.vm_id.to_string());
        doc["properties"]["primary"] = json!(
            config["properties"]["primary"]
                .as_bool()
                .unwrap_or(nics.is_empty())
        );
        let etag = crate::arm::tags::new_etag();
        doc["etag"] = json!(etag);
        cx.put(&Resource {
            id: id.to_string(),
            subscription: id.subscription.clone(),
            resource_group: id.resource_group.clone(),
            type_name: NIC_TYPE.into(),
            name,
            body: doc.clone(),
            etag,
        })
        .await?;
        nics.push(doc);
    }
    Ok(nics)
}

/// The NAT-pool index a new instance NIC gets: the smallest the stored NICs do not use,
/// within the pool's port range.
async fn next_nat_pool_index(cx: &mut WriteCx<'_>, pool_id: &str) -> ArmResult<u32> {
    let missing = || errors::invalid_reference(pool_id, &cx.id.to_string());
    let (lb_id, pool_name) = pool_id
        .rsplit_once("/inboundNatPools/")
        .ok_or_else(missing)?;
    let lb = cx.get(lb_id).await?.ok_or_else(missing)?;
    let lb = LoadBalancer::from_doc(&lb.body).map_err(ArmError::internal)?;
    let configs = super::ip_configs_of(&referring_tx(cx, lb_id, NIC_TYPE).await?);
    next_nat_pool_index_of(&lb, pool_name, &configs).ok_or_else(|| {
        // Azure's code for a scale-out past the pool's range (azure-docs issue #119323).
        ArmError::bad_request(
            "InboundNatPoolFrontendPortRangeSmallerThanRequestedPorts",
            format!("The frontend port range of inbound NAT pool {pool_id} is smaller than the number of ports the scale set's instances request: it has no port left for another instance."),
        )
    })
}

#[async_trait]
impl ResourceType for NetworkInterfaces {
    fn type_name(&self) -> &'static str {
        NIC_TYPE
    }

    fn api_versions(&self) -> &'static [&'static str] {
        API_VERSIONS
    }

    fn children(&self) -> &'static [Child] {
        &[Child {
            property: "ipConfigurations",
            writable: false,
        }]
    }

    async fn prepare(
        &self,
        cx: &mut WriteCx<'_>,
        existing: Option<&Value>,
        body: Map<String, Value>,
    ) -> ArmResult<Value> {
        complete_nic(cx, existing, Value::Object(body)).await
    }

    async fn before_delete(&self, _cx: &mut WriteCx<'_>, doc: &Value) -> ArmResult<()> {
        if let Some(vm) = doc["properties"]["virtualMachine"]["id"].as_str() {
            let id = doc["id"].as_str().unwrap_or_default();
            return Err(ArmError::bad_request(
                "NicInUse",
                format!(
                    "Network Interface {id} is used by existing resource {vm}. In order to delete the network interface, it must be dissociated from the resource. To learn more, see aka.ms/deletenic."
                ),
            ));
        }
        Ok(())
    }

    async fn render(&self, _arm: &crate::arm::Arm, mut doc: Value) -> ArmResult<Value> {
        stamp_child_etags(&mut doc, &["ipConfigurations"]);
        Ok(doc)
    }
}

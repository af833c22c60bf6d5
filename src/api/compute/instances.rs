//! Scale-set instances as stored rows: a `virtualMachines` row per instance and a NIC row per
//! instance NIC (type `Microsoft.Network/networkInterfaces`, so the network provider sees
//! backend-pool and NAT memberships the same way for every NIC).

use std::net::Ipv4Addr;

use serde_json::{Value, json};

use crate::arm::resource_type::WriteCx;
use crate::arm::{ArmError, ArmResult, ResourceId};
use crate::model::compute::scale_set::computer_name;
use crate::store::{Resource, ResourceQuery};

/// A Uniform scale set's instance.
pub const VM_TYPE: &str = "Microsoft.Compute/virtualMachineScaleSets/virtualMachines";
/// A Flexible scale set's instance: an ordinary virtual machine.
pub const FLEX_VM_TYPE: &str = "Microsoft.Compute/virtualMachines";
pub const NIC_TYPE: &str = "Microsoft.Network/networkInterfaces";
/// Instance NICs bind loopback addresses from 127.(B+1).0.0/16, B being `--address-block`
/// (see the README's Addresses).
pub fn instance_address_pool(address_block: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, address_block + 1, 0, 0)
}

/// Internal fields of stored documents, never rendered.
pub const INTERNAL: &str = "_armlet";

/// Every instance row of a scale set (either mode), in creation order.
pub async fn list_rows(cx: &mut WriteCx<'_>, vmss: &ResourceId) -> ArmResult<Vec<Resource>> {
    Ok(rows_of(&mut *cx.conn, &vmss.key()).await?)
}

/// Instance rows whose `_armlet.scaleSet` is `vmss_key`, in creation order.
pub async fn rows_of(
    conn: &mut sqlx::SqliteConnection,
    vmss_key: &str,
) -> Result<Vec<Resource>, sqlx::Error> {
    let keys: Vec<(String,)> = sqlx::query_as(
        "SELECT key FROM resources WHERE json_extract(body, '$._armlet.scaleSet') = ?1
         ORDER BY json_extract(body, '$._armlet.created')",
    )
    .bind(vmss_key)
    .fetch_all(&mut *conn)
    .await?;
    let mut rows = Vec::new();
    for (key,) in keys {
        rows.extend(crate::store::resources::get(&mut *conn, &key).await?);
    }
    Ok(rows)
}

/// The instance of a scale set named by `instance` (a Uniform instance id, or a Flexible VM's name).
pub fn matches_instance(row: &Resource, instance: &str) -> bool {
    row.body["instanceId"]
        .as_str()
        .is_some_and(|i| i.eq_ignore_ascii_case(instance))
        || row.name.eq_ignore_ascii_case(instance)
}

pub fn instance_number(body: &Value) -> u64 {
    body["instanceId"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The loopback addresses in use by instances anywhere.
async fn used_bind_addresses(cx: &mut WriteCx<'_>) -> ArmResult<Vec<Ipv4Addr>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT json_extract(body, '$._armlet.bindAddress') FROM resources WHERE json_extract(body, '$._armlet.bindAddress') IS NOT NULL",
    )
    .fetch_all(&mut *cx.conn)
    .await?;
    Ok(rows.into_iter().filter_map(|(a,)| a.parse().ok()).collect())
}

/// The lowest free instance loopback address.
pub async fn allocate_bind_address(
    cx: &mut WriteCx<'_>,
    address_block: u8,
    taken_now: &[Ipv4Addr],
) -> ArmResult<Ipv4Addr> {
    let used = used_bind_addresses(cx).await?;
    let base = u32::from(instance_address_pool(address_block));
    let size = 1u32 << 16;
    (1..size - 1)
        .map(|i| Ipv4Addr::from(base + i))
        .find(|a| !used.contains(a) && !taken_now.contains(a))
        .ok_or_else(|| {
            ArmError::conflict(
                "InstanceAddressPoolExhausted",
                "armlet has no free loopback address for another instance.",
            )
        })
}

/// What a new instance is created from.
pub struct NewInstance<'a> {
    pub vmss_id: &'a ResourceId,
    pub vmss_doc: &'a Value,
    /// The instance's number in its scale set (its Uniform instance id).
    pub instance_id: u64,
    /// From [`identity`].
    pub identity: &'a Identity,
    pub created: u64,
    pub model_version: u64,
    pub bind_address: Ipv4Addr,
}

/// The instance row and its NIC rows (built by [`build_nics`]).
pub fn instance_rows(n: &NewInstance<'_>, nics: Vec<Value>) -> (Resource, Vec<Resource>) {
    let vmss = n.vmss_doc;
    let Identity {
        id,
        name,
        instance_id,
        type_name,
    } = n.identity.clone();
    let profile = &vmss["properties"]["virtualMachineProfile"];
    let prefix = profile["osProfile"]["computerNamePrefix"]
        .as_str()
        .unwrap_or(n.vmss_id.name());
    let mut os_profile = profile["osProfile"].clone();
    if let Some(o) = os_profile.as_object_mut() {
        o.remove("customData");
        o.remove("adminPassword");
        o.remove("computerNamePrefix");
    }
    os_profile["computerName"] = json!(computer_name(prefix, n.instance_id));
    let nic_refs: Vec<Value> = nics.iter().map(|nic| json!({"id": nic["id"]})).collect();
    let body = json!({
        "name": name,
        "id": id.to_string(),
        "type": type_name,
        "location": vmss["location"],
        "instanceId": instance_id,
        "sku": {"name": vmss["sku"]["name"], "tier": vmss["sku"]["tier"]},
        "properties": {
            "latestModelApplied": true,
            "vmId": uuid::Uuid::new_v4().to_string(),
            "provisioningState": "Succeeded",
            "hardwareProfile": {"vmSize": vmss["sku"]["name"]},
            "storageProfile": profile["storageProfile"],
            "osProfile": os_profile,
            "networkProfile": {"networkInterfaces": nic_refs},
            "networkProfileConfiguration": {"networkInterfaceConfigurations": profile["networkProfile"]["networkInterfaceConfigurations"]},
            "protectionPolicy": {"protectFromScaleIn": false, "protectFromScaleSetActions": false},
            "virtualMachineScaleSet": {"id": n.vmss_id.to_string()},
            "timeCreated": crate::store::now(),
        },
        INTERNAL: {
            "scaleSet": n.vmss_id.key(),
            "modelVersion": n.model_version,
            "model": profile,
            "power": "running",
            "created": n.created,
            "generation": 0,
            "bindAddress": n.bind_address.to_string(),
        }
    });
    let row = Resource {
        id: id.to_string(),
        subscription: n.vmss_id.subscription.clone(),
        resource_group: n.vmss_id.resource_group.clone(),
        type_name: type_name.into(),
        name,
        body,
        etag: crate::arm::tags::new_etag(),
    };
    let nic_rows = nics
        .into_iter()
        .map(|nic| Resource {
            id: nic["id"].as_str().unwrap_or_default().to_string(),
            subscription: n.vmss_id.subscription.clone(),
            resource_group: n.vmss_id.resource_group.clone(),
            type_name: NIC_TYPE.into(),
            name: nic["name"].as_str().unwrap_or_default().to_string(),
            body: nic,
            etag: crate::arm::tags::new_etag(),
        })
        .collect();
    (row, nic_rows)
}

/// Who a new instance is.
#[derive(Debug, Clone)]
pub struct Identity {
    pub id: ResourceId,
    pub name: String,
    /// `instanceId` as the API reports it.
    pub instance_id: String,
    pub type_name: &'static str,
}

/// A new instance's id, name, `instanceId` and type: Uniform instances live below the
/// scale set (`.../virtualMachines/3`, `web_3`); Flexible ones are virtual machines named
/// `{scale set}_{8 hex}`.
pub fn identity(vmss_id: &ResourceId, vmss_doc: &Value, n: u64) -> Identity {
    if vmss_doc["properties"]["orchestrationMode"] == "Flexible" {
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
        let name = format!("{}_{suffix}", vmss_id.name());
        let id = ResourceId::new(
            &vmss_id.subscription,
            vmss_id.resource_group.as_deref(),
            "Microsoft.Compute",
            vec![("virtualMachines".into(), name.clone())],
        );
        Identity {
            id,
            name: name.clone(),
            instance_id: name,
            type_name: FLEX_VM_TYPE,
        }
    } else {
        Identity {
            id: vmss_id.child("virtualMachines", &n.to_string()),
            name: format!("{}_{n}", vmss_id.name()),
            instance_id: n.to_string(),
            type_name: VM_TYPE,
        }
    }
}

/// The NAT-pool index a new instance NIC gets: the smallest the stored NICs do not use,
/// within the pool's port range (the network provider's rule). Instance NICs are written as
/// each instance is created, so instances created together get distinct indices.
async fn nat_pool_index(cx: &mut WriteCx<'_>, subscription: &str, pool_id: &str) -> ArmResult<u32> {
    let (lb_id, pool_name) = pool_id
        .rsplit_once("/inboundNatPools/")
        .unwrap_or((pool_id, ""));
    let lb = cx.get(lb_id).await?.ok_or_else(|| {
        ArmError::bad_request(
            "InvalidResourceReference",
            format!(
                "Resource {pool_id} referenced by resource {} was not found.",
                cx.id
            ),
        )
    })?;
    let q = ResourceQuery {
        subscription: subscription.into(),
        type_name: Some(NIC_TYPE.into()),
        ..Default::default()
    };
    let configs = crate::api::network::ip_configs_of(&cx.list(&q).await?);
    crate::api::network::load_balancer::nat::next_pool_index(&lb.body, pool_name, &configs).ok_or_else(|| {
        ArmError::bad_request(
            "InboundNatPoolFrontendPortRangeExhausted",
            format!("The frontend port range of inbound NAT pool {pool_id} has no port left for another instance."),
        )
    })
}

/// Builds the NIC documents of an instance from the model's NIC configurations.
/// `private_ip` allocates an address in a subnet; `nat_index` a NAT-pool index.
pub async fn build_nics(
    cx: &mut WriteCx<'_>,
    vmss_id: &ResourceId,
    vmss_doc: &Value,
    vm_id: &ResourceId,
    taken_ips: &mut Vec<(String, Ipv4Addr)>,
) -> ArmResult<Vec<Value>> {
    let flexible = vmss_doc["properties"]["orchestrationMode"] == "Flexible";
    let configs = vmss_doc["properties"]["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut nics = Vec::new();
    for config in configs {
        let config_name = config["name"].as_str().unwrap_or("nic");
        // Flexible instances get ordinary NICs; Uniform ones NICs below the instance.
        let (nic_name, nic_id) = if flexible {
            let name = format!("{}-{config_name}", vm_id.name());
            let id = ResourceId::new(
                &vmss_id.subscription,
                vmss_id.resource_group.as_deref(),
                "Microsoft.Network",
                vec![("networkInterfaces".into(), name.clone())],
            );
            (name, id.to_string())
        } else {
            (
                config_name.to_string(),
                vm_id.child("networkInterfaces", config_name).to_string(),
            )
        };
        let mut ip_configs = Vec::new();
        for ipc in config["properties"]["ipConfigurations"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let ipc_name = ipc["name"].as_str().unwrap_or("ipconfig").to_string();
            let props = &ipc["properties"];
            let subnet = props["subnet"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let exclude: Vec<Ipv4Addr> = taken_ips
                .iter()
                .filter(|(s, _)| s.eq_ignore_ascii_case(&subnet))
                .map(|(_, a)| *a)
                .collect();
            let ip =
                crate::api::network::address::allocate_private_ip(cx, &subnet, &exclude).await?;
            taken_ips.push((subnet.clone(), ip));
            let mut nat_rules = Vec::new();
            for pool in props["loadBalancerInboundNatPools"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let pool_id = pool["id"].as_str().unwrap_or_default();
                let k = nat_pool_index(cx, &vmss_id.subscription, pool_id).await?;
                let (lb, pool_name) = pool_id
                    .rsplit_once("/inboundNatPools/")
                    .unwrap_or((pool_id, ""));
                nat_rules.push(json!({"id": format!("{lb}/inboundNatRules/{pool_name}.{k}")}));
            }
            ip_configs.push(json!({
                "name": ipc_name,
                "id": format!("{nic_id}/ipConfigurations/{ipc_name}"),
                "properties": {
                    "provisioningState": "Succeeded",
                    "privateIPAddress": ip.to_string(),
                    "privateIPAllocationMethod": "Dynamic",
                    "privateIPAddressVersion": "IPv4",
                    "subnet": {"id": subnet},
                    "primary": props["primary"].as_bool().unwrap_or(ip_configs.is_empty()),
                    "loadBalancerBackendAddressPools": props["loadBalancerBackendAddressPools"].as_array().cloned().unwrap_or_default(),
                    "loadBalancerInboundNatRules": nat_rules,
                }
            }));
        }
        nics.push(json!({
            "name": nic_name,
            "id": nic_id,
            "type": NIC_TYPE,
            "location": vmss_doc["location"],
            "properties": {
                "provisioningState": "Succeeded",
                "ipConfigurations": ip_configs,
                "primary": config["properties"]["primary"].as_bool().unwrap_or(nics.is_empty()),
                "enableAcceleratedNetworking": config["properties"]["enableAcceleratedNetworking"].as_bool().unwrap_or(false),
                "enableIPForwarding": false,
                "virtualMachine": {"id": vm_id.to_string()},
            }
        }));
    }
    Ok(nics)
}

/// Deletes an instance row and its NICs.
pub async fn delete_instance(cx: &mut WriteCx<'_>, row: &Resource) -> ArmResult<()> {
    for nic in row.body["properties"]["networkProfile"]["networkInterfaces"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(id) = nic["id"].as_str() {
            cx.delete(id).await?;
        }
    }
    cx.delete(&row.key()).await?;
    Ok(())
}

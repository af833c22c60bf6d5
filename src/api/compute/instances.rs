//! Scale-set instances as stored rows: a `virtualMachines` row per instance, with its
//! [`InstanceState`] under the internal key, and its NICs (rows of type
//! `Microsoft.Network/networkInterfaces`, created by the network provider's
//! [`create_instance_nics`], so backend-pool and NAT memberships work the same for every NIC).

use std::net::Ipv4Addr;

use serde_json::{Value, json};

use crate::api::network::network_interface::{InstanceNics, create_instance_nics};
use crate::arm::resource_type::WriteCx;
use crate::arm::{ArmError, ArmResult, ResourceId};
use crate::model::compute::instance::{InstanceState, PowerState};
use crate::model::compute::scale_set::computer_name;
use crate::model::compute::{FLEX_VM_TYPE, INTERNAL, VM_TYPE};
use crate::store::{Resource, instances as stored};

/// Instance NICs bind loopback addresses from 127.(B+1).0.0/16, B being `--address-block`
/// (see the README's Addresses).
pub fn instance_address_pool(address_block: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, address_block + 1, 0, 0)
}

/// Every instance row of a scale set (either mode), in creation order.
pub async fn list_rows(cx: &mut WriteCx<'_>, vmss: &ResourceId) -> ArmResult<Vec<Resource>> {
    Ok(stored::of_scale_set(&mut *cx.conn, &vmss.key()).await?)
}

/// The instance of a scale set named by `instance` (a Uniform instance id, or a Flexible VM's name).
pub fn matches_instance(row: &Resource, instance: &str) -> bool {
    row.body["instanceId"]
        .as_str()
        .is_some_and(|i| i.eq_ignore_ascii_case(instance))
        || row.name.eq_ignore_ascii_case(instance)
}

/// The state of an instance row; a row without one is a defect, reported as such.
pub fn state_of(row: &Resource) -> ArmResult<InstanceState> {
    InstanceState::of(&row.body)
        .map_err(|e| ArmError::internal(format!("instance {} has no readable state: {e}", row.id)))
}

/// The lowest free instance loopback address.
pub async fn allocate_bind_address(
    cx: &mut WriteCx<'_>,
    address_block: u8,
    taken_now: &[Ipv4Addr],
) -> ArmResult<Ipv4Addr> {
    let used: Vec<Ipv4Addr> = stored::bind_addresses(&mut *cx.conn)
        .await?
        .iter()
        .filter_map(|a| a.parse().ok())
        .collect();
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
pub fn identity(vmss_id: &ResourceId, flexible: bool, n: u64) -> Identity {
    if flexible {
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

/// What a new instance is created from.
pub struct NewInstance<'a> {
    pub vmss_id: &'a ResourceId,
    pub vmss_doc: &'a Value,
    /// The instance's number in its scale set (its Uniform instance id).
    pub number: u64,
    pub created: u64,
    pub model_version: u64,
    pub bind_address: Ipv4Addr,
}

/// Creates an instance: its NICs (through the network provider) and its row; returns its
/// `instanceId`.
pub async fn create(cx: &mut WriteCx<'_>, n: NewInstance<'_>) -> ArmResult<String> {
    let vmss = n.vmss_doc;
    let flexible = vmss["properties"]["orchestrationMode"] == "Flexible";
    let who = identity(n.vmss_id, flexible, n.number);
    let profile = &vmss["properties"]["virtualMachineProfile"];
    let configurations = profile["networkProfile"]["networkInterfaceConfigurations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let nics = create_instance_nics(
        cx,
        InstanceNics {
            vm_id: &who.id,
            location: &vmss["location"],
            configurations: &configurations,
            flexible,
        },
    )
    .await?;
    let prefix = profile["osProfile"]["computerNamePrefix"]
        .as_str()
        .unwrap_or(n.vmss_id.name());
    let mut os_profile = profile["osProfile"].clone();
    if let Some(o) = os_profile.as_object_mut() {
        o.remove("customData");
        o.remove("adminPassword");
        o.remove("computerNamePrefix");
    }
    os_profile["computerName"] = json!(computer_name(prefix, n.number));
    let nic_refs: Vec<Value> = nics.iter().map(|nic| json!({"id": nic["id"]})).collect();
    let mut body = json!({
        "name": who.name,
        "id": who.id.to_string(),
        "type": who.type_name,
        "location": vmss["location"],
        "instanceId": who.instance_id,
        "sku": {"name": vmss["sku"]["name"], "tier": vmss["sku"]["tier"]},
        "properties": {
            "latestModelApplied": true,
            "vmId": uuid::Uuid::new_v4().to_string(),
            "provisioningState": "Succeeded",
            "hardwareProfile": {"vmSize": vmss["sku"]["name"]},
            "storageProfile": profile["storageProfile"],
            "osProfile": os_profile,
            "networkProfile": {"networkInterfaces": nic_refs},
            "networkProfileConfiguration": {"networkInterfaceConfigurations": configurations},
            "protectionPolicy": {"protectFromScaleIn": false, "protectFromScaleSetActions": false},
            "virtualMachineScaleSet": {"id": n.vmss_id.to_string()},
            "timeCreated": crate::store::now(),
        },
    });
    InstanceState {
        scale_set: n.vmss_id.key(),
        model_version: n.model_version,
        model: profile.clone(),
        power: PowerState::Running,
        created: n.created,
        generation: 0,
        reimages: 0,
        bind_address: n.bind_address,
        delete_requested: false,
    }
    .store(&mut body);
    cx.put(&Resource {
        id: who.id.to_string(),
        subscription: n.vmss_id.subscription.clone(),
        resource_group: n.vmss_id.resource_group.clone(),
        type_name: who.type_name.into(),
        name: who.name,
        body,
        etag: crate::arm::tags::new_etag(),
    })
    .await?;
    Ok(who.instance_id)
}

/// Whether the row is waiting for its deletion (terminate notifications).
pub fn delete_requested(row: &Resource) -> bool {
    InstanceState::of(&row.body).is_ok_and(|s| s.delete_requested)
}

/// Deletes an instance, or — when its scale set sends terminate notifications (`notify`)
/// — marks it Deleting: it runs on until its Scheduled Event starts, then the runtime's
/// terminate-notification controller deletes it.
pub async fn request_delete(cx: &mut WriteCx<'_>, row: &Resource, notify: bool) -> ArmResult<()> {
    if !notify {
        return delete_instance(cx, row).await;
    }
    let mut state = state_of(row)?;
    if state.delete_requested {
        return Ok(());
    }
    state.delete_requested = true;
    let mut row = row.clone();
    row.body["properties"]["provisioningState"] = json!("Deleting");
    put_state(cx, &row, &state).await
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

/// Writes an instance row back with its state and a new ETag.
pub async fn put_state(
    cx: &mut WriteCx<'_>,
    row: &Resource,
    state: &InstanceState,
) -> ArmResult<()> {
    let mut row = row.clone();
    state.store(&mut row.body);
    row.etag = crate::arm::tags::new_etag();
    cx.put(&row).await
}

/// Removes the internal state from a document shown to clients.
pub fn without_internal(mut doc: Value) -> Value {
    if let Some(o) = doc.as_object_mut() {
        o.remove(INTERNAL);
    }
    doc
}

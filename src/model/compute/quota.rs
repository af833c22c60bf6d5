//! The regional vCPU quota (Microsoft.Compute usage `cores`, "Total Regional vCPUs"): what a
//! subscription's scale sets in one region use, counted as instances × their size's vCPUs
//! ([`crate::model::vm_size`]), and the check a create or scale-out must pass.
//!
//! Azure checks a deployment's additional vCPUs against the regional limit (and the VM
//! family's); a request that would exceed it fails with `OperationNotAllowed` and this
//! message (as Compute writes it; seen in azure-docs' "QuotaExceeded" troubleshooting and
//! Terraform logs), and nothing changes. Scaling in is always allowed. armlet lists per-family
//! usage too, each family with the regional limit, so the regional check covers them.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::model::error::{ArmError, ArmResult};
use crate::model::vm_size;

/// What one scale set uses: its instances and their vCPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Footprint {
    pub instances: u64,
    pub vcpus: u64,
}

/// The footprint of a scale-set document at its `sku.capacity`.
pub fn footprint(doc: &Value) -> Footprint {
    let instances = doc["sku"]["capacity"].as_u64().unwrap_or(0);
    let size = vm_size::resolve(doc["sku"]["name"].as_str().unwrap_or_default());
    Footprint {
        instances,
        vcpus: instances * size.vcpus as u64,
    }
}

/// Fails when growing a scale set from `before` to `after` takes the region's vCPUs (`others`
/// is what the rest of the subscription uses there) past `limit`.
pub fn check_cores(
    limit: u64,
    location: &str,
    others: u64,
    before: Footprint,
    after: Footprint,
) -> ArmResult<()> {
    if after.vcpus <= before.vcpus {
        return Ok(());
    }
    let usage = others + before.vcpus;
    let required = after.vcpus - before.vcpus;
    if usage + required <= limit {
        return Ok(());
    }
    Err(ArmError::new(
        StatusCode::CONFLICT,
        "OperationNotAllowed",
        format!(
            "Operation could not be completed as it results in exceeding approved Total Regional Cores quota. Additional details - Deployment Model: Resource Manager, Location: {location}, Current Limit: {limit}, Current Usage: {usage}, Additional Required: {required}, (Minimum) New Limit Required: {}. armlet's limit is its --vcpu-quota (ARMLET_VCPU_QUOTA), sized to this machine by default.",
            usage + required
        ),
    ))
}

/// The most instances a scale set in a single placement group holds ("When true this limits
/// the scale set to a single placement group, of max size 100 virtual machines", the
/// `singlePlacementGroup` property in the Compute spec).
pub const SINGLE_PLACEMENT_GROUP_MAX: u64 = 100;

/// Whether a scale set lives in one placement group: Uniform ones do unless
/// `singlePlacementGroup` is false (Azure's default is true; `az vmss create` turns it off
/// above 100 instances); Flexible ones have no placement group limit of this kind.
fn single_placement_group(doc: &Value) -> bool {
    let mode = doc["properties"]["orchestrationMode"]
        .as_str()
        .unwrap_or("Uniform");
    let spg = &doc["properties"]["singlePlacementGroup"];
    let off = spg.as_bool() == Some(false)
        || spg
            .as_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("false"));
    mode.eq_ignore_ascii_case("Uniform") && !off
}

/// Fails when scale set `name` grows past one placement group's 100 instances, with the
/// answer Compute gives (409 `OperationNotAllowed`, as Terraform's azurerm issue #6 in
/// hashicorp/terraform-azurerm-nomad quotes it). Scaling in always passes.
pub fn check_placement_group(name: &str, before: Footprint, doc: &Value) -> ArmResult<()> {
    let after = footprint(doc);
    if after.instances <= SINGLE_PLACEMENT_GROUP_MAX
        || after.instances <= before.instances
        || !single_placement_group(doc)
    {
        return Ok(());
    }
    Err(ArmError::new(
        StatusCode::CONFLICT,
        "OperationNotAllowed",
        format!(
            "Unable to create or update VirtualMachineScaleSet '{name}' as it exceeds the total limit of '{SINGLE_PLACEMENT_GROUP_MAX}' Virtual Machine instances."
        ),
    ))
}

/// Azure's quota family of a size name: `Standard_D2s_v5` → `standardDSv5Family`,
/// `Standard_B2ms` → `standardBSFamily`, `Standard_A1_v2` → `standardAv2Family`.
pub fn family(size: &str) -> String {
    let rest = size
        .get(..9)
        .filter(|p| p.eq_ignore_ascii_case("Standard_"))
        .map_or(size, |_| &size[9..]);
    let letters: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    let after_digits = rest[letters.len()..].trim_start_matches(|c: char| c.is_ascii_digit());
    let (suffix, version) = after_digits.split_once('_').unwrap_or((after_digits, ""));
    let premium = suffix.contains('s') && !letters.to_ascii_uppercase().ends_with('S');
    format!(
        "standard{}{}{}Family",
        letters.to_ascii_uppercase(),
        if premium { "S" } else { "" },
        version
    )
}

/// The `usages` list of a region: regional vCPUs, virtual machines, scale sets, and the vCPUs
/// of each family in use. `scale_sets` are the subscription's scale sets in that region.
pub fn usages(limit: u64, scale_sets: &[Value]) -> Value {
    let mut cores = 0;
    let mut vms = 0;
    let mut families: BTreeMap<String, u64> = BTreeMap::new();
    for doc in scale_sets {
        let f = footprint(doc);
        cores += f.vcpus;
        vms += f.instances;
        *families
            .entry(family(doc["sku"]["name"].as_str().unwrap_or_default()))
            .or_default() += f.vcpus;
    }
    let usage = |name: &str, localized: &str, current: u64, limit: u64| {
        json!({"unit": "Count", "currentValue": current, "limit": limit,
               "name": {"value": name, "localizedValue": localized}})
    };
    let mut value = vec![
        usage("cores", "Total Regional vCPUs", cores, limit),
        // Azure's defaults for these two per region (learn.microsoft.com, "Azure subscription
        // and service limits": virtual machines and scale sets per region).
        usage("virtualMachines", "Virtual Machines", vms, 25_000),
        usage(
            "virtualMachineScaleSets",
            "Virtual Machine Scale Sets",
            scale_sets.len() as u64,
            2_500,
        ),
    ];
    for (name, vcpus) in families {
        let localized = format!(
            "Standard {} Family vCPUs",
            name.trim_start_matches("standard")
                .trim_end_matches("Family")
        );
        value.push(usage(&name, &localized, vcpus, limit));
    }
    json!({ "value": value })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vmss(size: &str, capacity: u64) -> Value {
        json!({"sku": {"name": size, "capacity": capacity}})
    }

    #[test]
    fn footprints_count_vcpus_of_the_size() {
        assert_eq!(
            footprint(&vmss("Standard_D4s_v5", 3)),
            Footprint {
                instances: 3,
                vcpus: 12
            }
        );
        assert_eq!(footprint(&json!({})), Footprint::default());
    }

    #[test]
    fn growth_past_the_limit_fails_with_azures_message() {
        let small = footprint(&vmss("Standard_D2s_v5", 2));
        let big = footprint(&vmss("Standard_D2s_v5", 5));
        assert!(check_cores(10, "eastus", 0, small, big).is_ok());
        let e = check_cores(10, "eastus", 2, small, big).unwrap_err();
        assert_eq!(
            (e.status, e.code.as_str()),
            (StatusCode::CONFLICT, "OperationNotAllowed")
        );
        assert!(e.message.starts_with(
            "Operation could not be completed as it results in exceeding approved Total Regional Cores quota. Additional details - Deployment Model: Resource Manager, Location: eastus, Current Limit: 10, Current Usage: 6, Additional Required: 6, (Minimum) New Limit Required: 12."
        ));
        // Scaling in is always allowed, even over the limit.
        assert!(check_cores(1, "eastus", 100, big, small).is_ok());
    }

    #[test]
    fn one_placement_group_holds_at_most_100_instances() {
        let small = footprint(&vmss("Standard_B1s", 2));
        let e = check_placement_group("web", small, &vmss("Standard_B1s", 101)).unwrap_err();
        assert_eq!(
            (e.status, e.code.as_str()),
            (StatusCode::CONFLICT, "OperationNotAllowed")
        );
        assert_eq!(
            e.message,
            "Unable to create or update VirtualMachineScaleSet 'web' as it exceeds the total limit of '100' Virtual Machine instances."
        );
        assert!(check_placement_group("web", small, &vmss("Standard_B1s", 100)).is_ok());
        let mut spread = vmss("Standard_B1s", 1000);
        spread["properties"] = json!({"singlePlacementGroup": false});
        assert!(check_placement_group("web", small, &spread).is_ok());
        let mut flexible = vmss("Standard_B1s", 500);
        flexible["properties"] = json!({"orchestrationMode": "Flexible"});
        assert!(check_placement_group("web", small, &flexible).is_ok());
        // An existing large scale set may always shrink.
        let big = footprint(&vmss("Standard_B1s", 300));
        assert!(check_placement_group("web", big, &vmss("Standard_B1s", 200)).is_ok());
    }

    #[test]
    fn families_follow_azures_names() {
        for (size, fam) in [
            ("Standard_D2s_v5", "standardDSv5Family"),
            ("Standard_D2_v5", "standardDv5Family"),
            ("Standard_DS1_v2", "standardDSv2Family"),
            ("Standard_B2ms", "standardBSFamily"),
            ("Standard_A1_v2", "standardAv2Family"),
            ("Standard_F2s_v2", "standardFSv2Family"),
            ("Standard_E4s_v3", "standardESv3Family"),
        ] {
            assert_eq!(family(size), fam, "{size}");
        }
    }

    #[test]
    fn usages_sum_the_region() {
        let u = usages(100, &[vmss("Standard_D2s_v5", 3), vmss("Standard_B1s", 2)]);
        let v = u["value"].as_array().unwrap();
        assert_eq!(v[0]["name"]["value"], "cores");
        assert_eq!(
            (v[0]["currentValue"].as_u64(), v[0]["limit"].as_u64()),
            (Some(8), Some(100))
        );
        assert_eq!(v[1]["currentValue"], 5);
        assert_eq!(v[2]["currentValue"], 2);
        assert!(
            v.iter()
                .any(|u| u["name"]["value"] == "standardDSv5Family" && u["currentValue"] == 6)
        );
    }
}

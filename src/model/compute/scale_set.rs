//! Pure rules of the scale-set model: validation and defaults of a scale-set document,
//! instance naming, and which instances a scale-in removes.

use base64::Engine;
use serde_json::{Value, json};

use crate::model::duration;
use crate::model::error::{ArmError, ArmResult};

/// Azure's limit on a base64-encoded customData.
pub const MAX_CUSTOM_DATA: usize = 87_380;
/// The most instances one scale set may have.
pub const MAX_CAPACITY: u64 = 1000;

fn invalid(path: &str, why: &str) -> ArmError {
    ArmError::bad_request(
        "InvalidParameter",
        format!("The value of parameter {path} is invalid. {why}")
            .trim_end()
            .to_string(),
    )
    .with_target(path.rsplit('.').next().unwrap_or(path).to_string())
}

fn percent(v: &Value, path: &str, min: i64) -> ArmResult<()> {
    match v {
        Value::Null => Ok(()),
        v => match v.as_i64() {
            Some(n) if (min..=100).contains(&n) => Ok(()),
            _ => Err(invalid(
                path,
                &format!("It must be an integer between {min} and 100."),
            )),
        },
    }
}

/// The orchestration mode, `Uniform` unless the document says otherwise.
pub fn orchestration_mode(doc: &Value) -> &str {
    doc["properties"]["orchestrationMode"]
        .as_str()
        .unwrap_or("Uniform")
}

/// The capacity in the sku.
pub fn capacity(doc: &Value) -> u64 {
    doc["sku"]["capacity"].as_u64().unwrap_or(0)
}

/// Validates a complete (merged) scale-set document.
pub fn validate(doc: &Value) -> ArmResult<()> {
    let cap = &doc["sku"]["capacity"];
    if !cap.is_null() && cap.as_u64().is_none_or(|c| c > MAX_CAPACITY) {
        return Err(invalid(
            "sku.capacity",
            &format!("It must be an integer between 0 and {MAX_CAPACITY}."),
        ));
    }
    let props = &doc["properties"];
    let mode = orchestration_mode(doc);
    if !matches!(mode, "Uniform" | "Flexible") {
        return Err(invalid(
            "properties.orchestrationMode",
            "Allowed values are 'Uniform' and 'Flexible'.",
        ));
    }
    let upgrade = &props["upgradePolicy"];
    let upgrade_mode = upgrade["mode"].as_str().unwrap_or("Manual");
    if !matches!(upgrade_mode, "Manual" | "Automatic" | "Rolling") {
        return Err(invalid(
            "upgradePolicy.mode",
            "Allowed values are 'Manual', 'Automatic' and 'Rolling'.",
        ));
    }
    let rolling = &upgrade["rollingUpgradePolicy"];
    percent(
        &rolling["maxBatchInstancePercent"],
        "upgradePolicy.rollingUpgradePolicy.maxBatchInstancePercent",
        5,
    )?;
    percent(
        &rolling["maxUnhealthyInstancePercent"],
        "upgradePolicy.rollingUpgradePolicy.maxUnhealthyInstancePercent",
        5,
    )?;
    percent(
        &rolling["maxUnhealthyUpgradedInstancePercent"],
        "upgradePolicy.rollingUpgradePolicy.maxUnhealthyUpgradedInstancePercent",
        0,
    )?;
    if let Some(p) = rolling["pauseTimeBetweenBatches"].as_str() {
        let d = duration::parse(p).map_err(|e| {
            invalid(
                "upgradePolicy.rollingUpgradePolicy.pauseTimeBetweenBatches",
                &e,
            )
        })?;
        if d > std::time::Duration::from_secs(3600) {
            return Err(invalid(
                "upgradePolicy.rollingUpgradePolicy.pauseTimeBetweenBatches",
                "It must be at most PT1H.",
            ));
        }
    }
    let profile = &props["virtualMachineProfile"];
    if let Some(data) = profile["osProfile"]["customData"].as_str() {
        if data.len() > MAX_CUSTOM_DATA {
            return Err(invalid(
                "customData",
                &format!("It must be at most {MAX_CUSTOM_DATA} base64 characters."),
            ));
        }
        if base64::engine::general_purpose::STANDARD
            .decode(data)
            .is_err()
        {
            return Err(invalid("customData", "It must be base64-encoded."));
        }
    }
    if let Some(rules) = props["scaleInPolicy"]["rules"].as_array() {
        for r in rules {
            if !matches!(r.as_str(), Some("Default" | "NewestVM" | "OldestVM")) {
                return Err(invalid(
                    "scaleInPolicy.rules",
                    "Allowed values are 'Default', 'NewestVM' and 'OldestVM'.",
                ));
            }
        }
    }
    let has_probe = profile["networkProfile"]["healthProbe"]["id"].is_string();
    let has_health_extension = health_extension(doc).is_some();
    if upgrade_mode == "Rolling" && !has_probe && !has_health_extension {
        return Err(ArmError::bad_request(
            "InvalidParameter",
            "Rolling Upgrade mode is not supported for this Virtual Machine Scale Set because a health probe or health extension was not provided.",
        )
        .with_target("upgradePolicy.mode"));
    }
    if mode == "Flexible" && has_probe {
        return Err(invalid(
            "networkProfile.healthProbe",
            "Health probes on the network profile are only supported in Uniform orchestration mode.",
        ));
    }
    let repairs = &props["automaticRepairsPolicy"];
    if repairs["enabled"] == true && !has_probe && !has_health_extension {
        return Err(ArmError::bad_request(
            "InvalidParameter",
            "Automatic repairs require an application health extension or a load balancer health probe.",
        )
        .with_target("automaticRepairsPolicy"));
    }
    if let Some(grace) = repairs["gracePeriod"].as_str() {
        duration::parse(grace).map_err(|e| invalid("automaticRepairsPolicy.gracePeriod", &e))?;
    }
    Ok(())
}

/// The ApplicationHealthLinux/Windows extension's settings, if the model has one.
pub fn health_extension(doc: &Value) -> Option<&Value> {
    doc["properties"]["virtualMachineProfile"]["extensionProfile"]["extensions"]
        .as_array()?
        .iter()
        .find(|e| {
            e["properties"]["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("ApplicationHealth"))
        })
        .map(|e| &e["properties"]["settings"])
}

/// The canonical spelling of a case-insensitive enum value, if it is one of `allowed`.
fn canonical(v: &Value, allowed: &[&'static str]) -> Option<&'static str> {
    let s = v.as_str()?;
    allowed.iter().find(|a| a.eq_ignore_ascii_case(s)).copied()
}

/// ARM enums are case-insensitive: stores them in Azure's spelling (`manual` → `Manual`).
pub fn normalize_enums(doc: &mut Value) {
    let props = &mut doc["properties"];
    if let Some(m) = canonical(
        &props["upgradePolicy"]["mode"],
        &["Manual", "Automatic", "Rolling"],
    ) {
        props["upgradePolicy"]["mode"] = json!(m);
    }
    if let Some(m) = canonical(&props["orchestrationMode"], &["Uniform", "Flexible"]) {
        props["orchestrationMode"] = json!(m);
    }
    if let Some(rules) = props["scaleInPolicy"]["rules"].as_array_mut() {
        for r in rules {
            if let Some(c) = canonical(r, &["Default", "NewestVM", "OldestVM"]) {
                *r = json!(c);
            }
        }
    }
}

/// Fills in what Azure fills in on create.
pub fn apply_defaults(doc: &mut Value) {
    normalize_enums(doc);
    let props = &mut doc["properties"];
    if props["upgradePolicy"]["mode"].is_null() {
        props["upgradePolicy"]["mode"] = json!("Manual");
    }
    if props["upgradePolicy"]["mode"] == "Rolling" {
        let r = &mut props["upgradePolicy"]["rollingUpgradePolicy"];
        for (k, v) in [
            ("maxBatchInstancePercent", json!(20)),
            ("maxUnhealthyInstancePercent", json!(20)),
            ("maxUnhealthyUpgradedInstancePercent", json!(20)),
            ("pauseTimeBetweenBatches", json!("PT0S")),
        ] {
            if r[k].is_null() {
                r[k] = v;
            }
        }
    }
    if props["orchestrationMode"].is_null() {
        props["orchestrationMode"] = json!("Uniform");
    }
    if props["scaleInPolicy"]["rules"].is_null() {
        props["scaleInPolicy"]["rules"] = json!(["Default"]);
    }
    if props["overprovision"].is_null() && props["orchestrationMode"] == "Uniform" {
        props["overprovision"] = json!(true);
    }
    if props["uniqueId"].is_null() {
        props["uniqueId"] = json!(uuid::Uuid::new_v4().to_string());
    }
    if props["timeCreated"].is_null() {
        props["timeCreated"] = json!(crate::model::time::now());
    }
    if doc["sku"]["capacity"].is_null() {
        doc["sku"]["capacity"] = json!(0);
    }
    if doc["sku"]["tier"].is_null() {
        doc["sku"]["tier"] = json!("Standard");
    }
}

/// Azure's computer name: the prefix and the instance id in base 36, six digits.
pub fn computer_name(prefix: &str, instance_id: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut n = instance_id;
    let mut digits = Vec::new();
    loop {
        digits.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    while digits.len() < 6 {
        digits.push(b'0');
    }
    digits.reverse();
    format!("{prefix}{}", String::from_utf8(digits).expect("ascii"))
}

/// What the scale-in rule needs to know about an instance.
#[derive(Debug, Clone)]
pub struct InstanceFacts {
    /// The instance row's key: what the rule returns.
    pub key: String,
    /// The instance id (Uniform), or the creation order (Flexible VMs have no number).
    pub number: u64,
    /// Order of creation (a reimage does not change it).
    pub created: u64,
    pub protected_from_scale_in: bool,
}

/// The keys of the instances a scale-in of `count` removes under `rule` (Default,
/// NewestVM, OldestVM). Protected instances are never chosen; with one zone, Default
/// removes the highest ids.
pub fn scale_in_victims(instances: &[InstanceFacts], count: usize, rule: &str) -> Vec<String> {
    let mut candidates: Vec<&InstanceFacts> = instances
        .iter()
        .filter(|i| !i.protected_from_scale_in)
        .collect();
    match rule {
        "OldestVM" => candidates.sort_by_key(|i| (i.created, i.number)),
        "NewestVM" => candidates.sort_by_key(|i| std::cmp::Reverse((i.created, i.number))),
        _ => candidates.sort_by_key(|i| std::cmp::Reverse(i.number)),
    }
    candidates
        .into_iter()
        .take(count)
        .map(|i| i.key.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vmss(props: Value) -> Value {
        json!({"sku": {"name": "Standard_D2s_v3", "capacity": 3}, "properties": props})
    }

    #[test]
    fn rolling_policy_ranges_are_checked() {
        let ok = vmss(
            json!({"upgradePolicy": {"mode": "Rolling", "rollingUpgradePolicy": {"maxBatchInstancePercent": 20, "pauseTimeBetweenBatches": "PT2S"}},
            "virtualMachineProfile": {"networkProfile": {"healthProbe": {"id": "/x"}}}}),
        );
        assert!(validate(&ok).is_ok());
        let mut bad = ok.clone();
        bad["properties"]["upgradePolicy"]["rollingUpgradePolicy"]["maxBatchInstancePercent"] =
            json!(101);
        assert_eq!(validate(&bad).unwrap_err().code, "InvalidParameter");
        let mut bad = ok.clone();
        bad["properties"]["upgradePolicy"]["rollingUpgradePolicy"]["pauseTimeBetweenBatches"] =
            json!("2s");
        assert!(validate(&bad).is_err());
    }

    #[test]
    fn rolling_needs_a_probe_or_health_extension() {
        let no_probe = vmss(json!({"upgradePolicy": {"mode": "Rolling"}}));
        assert!(
            validate(&no_probe)
                .unwrap_err()
                .message
                .contains("health probe")
        );
        let ext = vmss(
            json!({"upgradePolicy": {"mode": "Rolling"}, "virtualMachineProfile": {"extensionProfile": {"extensions": [
            {"name": "h", "properties": {"type": "ApplicationHealthLinux", "settings": {"port": 80, "protocol": "http"}}}]}}}),
        );
        assert!(validate(&ext).is_ok());
    }

    #[test]
    fn capacity_and_custom_data_limits() {
        let mut v = vmss(json!({}));
        v["sku"]["capacity"] = json!(1001);
        assert!(validate(&v).is_err());
        let v =
            vmss(json!({"virtualMachineProfile": {"osProfile": {"customData": "not base64!"}}}));
        assert!(validate(&v).is_err());
    }

    #[test]
    fn enums_are_case_insensitive() {
        let mut v = vmss(
            json!({"upgradePolicy": {"mode": "manual"}, "orchestrationMode": "flexible", "scaleInPolicy": {"rules": ["newestvm"]}}),
        );
        apply_defaults(&mut v);
        assert!(validate(&v).is_ok());
        assert_eq!(v["properties"]["upgradePolicy"]["mode"], "Manual");
        assert_eq!(v["properties"]["orchestrationMode"], "Flexible");
        assert_eq!(v["properties"]["scaleInPolicy"]["rules"][0], "NewestVM");
    }

    #[test]
    fn computer_names_use_base36_ids() {
        assert_eq!(computer_name("vmss", 0), "vmss000000");
        assert_eq!(computer_name("vmss", 37), "vmss000011");
    }

    #[test]
    fn scale_in_follows_policy_and_protection() {
        let facts: Vec<InstanceFacts> = [(0, 3), (1, 1), (2, 2), (5, 0)]
            .iter()
            .map(|&(id, created)| InstanceFacts {
                key: format!("vm{id}"),
                number: id,
                created,
                protected_from_scale_in: id == 5,
            })
            .collect();
        assert_eq!(scale_in_victims(&facts, 2, "Default"), ["vm2", "vm1"]);
        assert_eq!(scale_in_victims(&facts, 1, "OldestVM"), ["vm1"]);
        assert_eq!(scale_in_victims(&facts, 1, "NewestVM"), ["vm0"]);
        assert_eq!(
            scale_in_victims(&facts, 10, "Default").len(),
            3,
            "protected instances stay"
        );
    }
}

//! `Microsoft.Network/networkSecurityGroups` with `securityRules` (also served as child
//! resources, PUT and DELETE included) and the read-only `defaultSecurityRules`. NICs and
//! subnets reference a group; its `networkInterfaces` and `subnets` are computed when it is
//! read, and a group in use cannot be deleted. What the rules decide for a flow is
//! [`crate::model::network::security`]; the runtime enforces it on load-balanced flows.

use async_trait::async_trait;
use serde_json::{Map, Value, json};

use super::body::{self, object_mut};
use super::{
    API_VERSIONS, NIC_TYPE, VNET_TYPE, complete_child, errors, referring, referring_tx, same_id,
    stamp_child_etags, sub_resource,
};
use crate::arm::resource_type::{Child, ResourceType, WriteCx};
use crate::arm::{Arm, ArmError, ArmResult};
use crate::model::network::security::{
    Access, Direction, SecurityProtocol, default_rules, parse_address, parse_ports,
};
use crate::store::Resource;

pub const NSG_TYPE: &str = "Microsoft.Network/networkSecurityGroups";
pub const RULE_TYPE: &str = "Microsoft.Network/networkSecurityGroups/securityRules";
const DEFAULT_RULE_TYPE: &str = "Microsoft.Network/networkSecurityGroups/defaultSecurityRules";

pub struct NetworkSecurityGroups;

fn rule_error(code: &str, message: String) -> ArmError {
    ArmError::bad_request(code, message)
}

/// Validates one security rule and fills in what Azure shows (empty plural lists).
fn rule(e: &mut Value) -> ArmResult<()> {
    let name = e["name"].as_str().unwrap_or_default().to_string();
    let p = object_mut(e, "properties", "properties.securityRules[].properties")?;
    let mut p = Value::Object(std::mem::take(p));
    let protocol = body::one_of(&p, "protocol", "protocol", SecurityProtocol::ALL)?;
    let access = body::one_of(&p, "access", "access", Access::ALL)?;
    let direction = body::one_of(&p, "direction", "direction", Direction::ALL)?;
    let (Some(protocol), Some(access), Some(direction)) = (protocol, access, direction) else {
        return Err(errors::invalid_format(format!(
            "Security rule {name} must have protocol, access, priority and direction."
        )));
    };
    let priority = body::int(&p, "priority", "priority")?.ok_or_else(|| {
        errors::invalid_format(format!("Security rule {name} must have a priority."))
    })?;
    if !(100..=4096).contains(&priority) {
        return Err(rule_error(
            "SecurityRuleInvalidPriority",
            format!(
                "Security rule {name} has invalid Priority. Value provided: {priority} Allowed range 100-4096."
            ),
        ));
    }
    if let Some(d) = body::string(&p, "description", "description")?
        && d.chars().count() > 140
    {
        return Err(errors::invalid_format(format!(
            "The description of security rule {name} is longer than 140 characters."
        )));
    }
    for (one, many, ports) in [
        ("sourceAddressPrefix", "sourceAddressPrefixes", false),
        (
            "destinationAddressPrefix",
            "destinationAddressPrefixes",
            false,
        ),
        ("sourcePortRange", "sourcePortRanges", true),
        ("destinationPortRange", "destinationPortRanges", true),
    ] {
        let single = body::string(&p, one, one)?.map(str::to_string);
        let list: Vec<String> = body::array(&p, many, many)?
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| {
                errors::invalid_format(format!("Every element of {many} must be a string."))
            })?;
        let values = match (&single, list.is_empty()) {
            (Some(_), false) => {
                return Err(errors::invalid_format(format!(
                    "Security rule {name} sets both {one} and {many}; set one of them."
                )));
            }
            (Some(s), true) => vec![s.clone()],
            (None, false) => list.clone(),
            (None, true) if ports => vec!["*".to_string()],
            (None, true) => {
                return Err(rule_error(
                    "SecurityRuleInvalidAddressPrefix",
                    format!("Security rule {name} has no {one}."),
                ));
            }
        };
        for v in &values {
            if ports {
                parse_ports(v).map_err(|why| {
                    rule_error("SecurityRuleInvalidPortRange", format!("Security rule {name} has invalid Port range. Value provided: {v}. {why}. Valid range 0-65535."))
                })?;
            } else {
                parse_address(v).map_err(|why| {
                    rule_error("SecurityRuleInvalidAddressPrefix", format!("Security rule {name} has invalid Address prefix. Value provided: {v}. {why}."))
                })?;
            }
        }
        if single.is_none() && list.is_empty() {
            p[one] = json!("*");
        }
        p[many] = json!(if single.is_some() || list.is_empty() {
            vec![]
        } else {
            list
        });
    }
    p["protocol"] = json!(protocol);
    p["access"] = json!(access);
    p["direction"] = json!(direction);
    e["properties"] = p;
    Ok(())
}

/// Azure's `SecurityRuleConflict`: two rules with one priority and direction.
fn conflicts(rules: &[Value]) -> ArmResult<()> {
    for (i, a) in rules.iter().enumerate() {
        for b in &rules[i + 1..] {
            let key = |r: &Value| {
                (
                    r["properties"]["priority"].clone(),
                    r["properties"]["direction"].clone(),
                )
            };
            if key(a) == key(b) {
                return Err(ArmError::bad_request(
                    "SecurityRuleConflict",
                    format!(
                        "Security rule {} conflicts with rule {}. Rules cannot have the same Priority and Direction. To learn more, see aka.ms/nsgrules.",
                        a["name"].as_str().unwrap_or_default(),
                        b["name"].as_str().unwrap_or_default()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Who uses a group: NICs and subnets whose `networkSecurityGroup` names it.
fn users(nsg_id: &str, nics: &[Resource], vnets: &[Resource]) -> (Vec<String>, Vec<String>) {
    let names = |v: &Value| {
        v["properties"]["networkSecurityGroup"]["id"]
            .as_str()
            .is_some_and(|id| same_id(id, nsg_id))
    };
    let nics = nics
        .iter()
        .filter(|n| names(&n.body))
        .map(|n| n.id.clone())
        .collect();
    let subnets = vnets
        .iter()
        .flat_map(|v| {
            v.body["properties"]["subnets"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(names)
        .filter_map(|s| s["id"].as_str().map(str::to_string))
        .collect();
    (nics, subnets)
}

/// Checks a NIC's or subnet's `networkSecurityGroup` reference (`props` are its
/// properties) and rewrites it to the group's canonical id.
pub async fn check_reference(cx: &mut WriteCx<'_>, props: &mut Value, by: &str) -> ArmResult<()> {
    let Some(id) =
        body::reference(props, "networkSecurityGroup", "networkSecurityGroup")?.map(str::to_string)
    else {
        if let Some(p) = props.as_object_mut() {
            p.remove("networkSecurityGroup");
        }
        return Ok(());
    };
    let found = match super::is_type(&id, NSG_TYPE) {
        true => cx.get(&id).await?,
        false => None,
    }
    .ok_or_else(|| errors::invalid_reference(&id, by))?;
    props["networkSecurityGroup"] = sub_resource(&found.id);
    Ok(())
}

#[async_trait]
impl ResourceType for NetworkSecurityGroups {
    fn type_name(&self) -> &'static str {
        NSG_TYPE
    }

    fn api_versions(&self) -> &'static [&'static str] {
        API_VERSIONS
    }

    fn children(&self) -> &'static [Child] {
        &[
            Child {
                property: "securityRules",
                writable: true,
            },
            Child {
                property: "defaultSecurityRules",
                writable: false,
            },
        ]
    }

    async fn prepare(
        &self,
        _cx: &mut WriteCx<'_>,
        existing: Option<&Value>,
        body: Map<String, Value>,
    ) -> ArmResult<Value> {
        let mut doc = Value::Object(body);
        let id = doc["id"].as_str().unwrap_or_default().to_string();
        object_mut(&mut doc, "properties", "properties")?;
        let mut rules = body::array(
            &doc["properties"],
            "securityRules",
            "properties.securityRules",
        )?
        .to_vec();
        for r in &mut rules {
            if !r.is_object() || r["name"].as_str().is_none_or(str::is_empty) {
                return Err(errors::invalid_format(
                    "Every security rule must be an object with a name.",
                ));
            }
            rule(r)?;
            complete_child(r, &id, "securityRules", RULE_TYPE);
        }
        let mut names: Vec<String> = Vec::new();
        for r in &rules {
            let n = r["name"].as_str().unwrap_or_default().to_ascii_lowercase();
            if names.contains(&n) {
                return Err(errors::invalid_format(format!(
                    "Security rule name {n} appears more than once."
                )));
            }
            names.push(n);
        }
        conflicts(&rules)?;
        let defaults: Vec<Value> = default_rules()
            .into_iter()
            .map(|(name, props)| {
                let mut d = json!({"name": name, "properties": props});
                complete_child(&mut d, &id, "defaultSecurityRules", DEFAULT_RULE_TYPE);
                d
            })
            .collect();
        let guid = existing
            .map(|e| e["properties"]["resourceGuid"].clone())
            .filter(|v| !v.is_null())
            .unwrap_or_else(|| json!(uuid::Uuid::new_v4().to_string()));
        let p = doc["properties"]
            .as_object_mut()
            .expect("made an object above");
        for computed in ["networkInterfaces", "subnets", "flowLogs"] {
            p.remove(computed);
        }
        p.insert("securityRules".into(), Value::Array(rules));
        p.insert("defaultSecurityRules".into(), Value::Array(defaults));
        p.insert("resourceGuid".into(), guid);
        p.insert("provisioningState".into(), json!("Succeeded"));
        Ok(doc)
    }

    async fn before_delete(&self, cx: &mut WriteCx<'_>, doc: &Value) -> ArmResult<()> {
        let id = doc["id"].as_str().unwrap_or_default();
        let nics = referring_tx(cx, id, NIC_TYPE).await?;
        let vnets = referring_tx(cx, id, VNET_TYPE).await?;
        let (n, s) = users(id, &nics, &vnets);
        if let Some(by) = n.iter().chain(&s).next() {
            return Err(ArmError::bad_request(
                "InUseNetworkSecurityGroupCannotBeDeleted",
                format!(
                    "Network security group {id} cannot be deleted because it is in use by the following resources: {by}."
                ),
            ));
        }
        Ok(())
    }

    async fn render(&self, arm: &Arm, mut doc: Value) -> ArmResult<Value> {
        let id = doc["id"].as_str().unwrap_or_default().to_string();
        let (nics, subnets) = users(
            &id,
            &referring(arm, &id, NIC_TYPE).await?,
            &referring(arm, &id, VNET_TYPE).await?,
        );
        let refs = |ids: Vec<String>| Value::Array(ids.iter().map(|i| sub_resource(i)).collect());
        if !nics.is_empty() {
            doc["properties"]["networkInterfaces"] = refs(nics);
        }
        if !subnets.is_empty() {
            doc["properties"]["subnets"] = refs(subnets);
        }
        stamp_child_etags(&mut doc, &["securityRules", "defaultSecurityRules"]);
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(name: &str, priority: i64, direction: &str) -> Value {
        json!({"name": name, "properties": {"protocol": "tcp", "access": "allow", "priority": priority,
            "direction": direction, "sourceAddressPrefix": "*", "destinationAddressPrefix": "*", "destinationPortRange": "80"}})
    }

    #[test]
    fn rules_are_validated_and_completed() {
        let mut ok = r("web", 100, "inbound");
        rule(&mut ok).unwrap();
        let p = &ok["properties"];
        assert_eq!(
            (
                p["protocol"].as_str(),
                p["access"].as_str(),
                p["direction"].as_str()
            ),
            (Some("Tcp"), Some("Allow"), Some("Inbound"))
        );
        assert_eq!(p["sourcePortRange"], "*");
        assert_eq!(p["sourcePortRanges"], json!([]));
        let mut bad = r("web", 99, "Inbound");
        assert_eq!(
            rule(&mut bad).unwrap_err().code,
            "SecurityRuleInvalidPriority"
        );
        let mut bad = r("web", 100, "Inbound");
        bad["properties"]["destinationPortRange"] = json!("80-70");
        assert_eq!(
            rule(&mut bad).unwrap_err().code,
            "SecurityRuleInvalidPortRange"
        );
        let mut bad = r("web", 100, "Inbound");
        bad["properties"]["sourceAddressPrefix"] = json!("10.0.0.300/8");
        assert_eq!(
            rule(&mut bad).unwrap_err().code,
            "SecurityRuleInvalidAddressPrefix"
        );
    }

    #[test]
    fn one_priority_per_direction() {
        let mut rules = vec![
            r("a", 100, "Inbound"),
            r("b", 100, "Outbound"),
            r("c", 100, "Inbound"),
        ];
        for x in &mut rules {
            rule(x).unwrap();
        }
        let e = conflicts(&rules).unwrap_err();
        assert_eq!(e.code, "SecurityRuleConflict");
        assert!(
            e.message.contains("Security rule a conflicts with rule c"),
            "{}",
            e.message
        );
        assert!(conflicts(&rules[..2]).is_ok());
    }
}

//! The child collections of a load balancer: their names and types, the references between
//! them (resolved to canonical ids when the load balancer is written, dangling ones refused),
//! and the back-references computed when it is read: `loadBalancingRules` on frontends,
//! pools and probes, `inboundNatRules`/`inboundNatPools`/`outboundRules` on frontends and
//! pools, a pool's `backendIPConfigurations` and a NAT rule's `backendIPConfiguration` (from
//! the NIC ipConfigurations that reference them), and the NAT rules of NAT pools.

use serde_json::{Value, json};

use super::nat;
use crate::api::network::{IpConfigView, errors, same_id, sub_resource};
use crate::arm::ArmResult;
use crate::model::network::Resolution;

/// `(property, child type)` of every child collection, in the order Azure lists them.
pub const COLLECTIONS: &[(&str, &str)] = &[
    (
        "frontendIPConfigurations",
        "Microsoft.Network/loadBalancers/frontendIPConfigurations",
    ),
    (
        "backendAddressPools",
        "Microsoft.Network/loadBalancers/backendAddressPools",
    ),
    (
        "loadBalancingRules",
        "Microsoft.Network/loadBalancers/loadBalancingRules",
    ),
    ("probes", "Microsoft.Network/loadBalancers/probes"),
    ("inboundNatRules", nat::NAT_RULE_TYPE),
    (
        "inboundNatPools",
        "Microsoft.Network/loadBalancers/inboundNatPools",
    ),
    (
        "outboundRules",
        "Microsoft.Network/loadBalancers/outboundRules",
    ),
];

/// Back-references and other computed properties, per collection: never taken from a client.
pub fn read_only(collection: &str) -> &'static [&'static str] {
    match collection {
        "frontendIPConfigurations" => &[
            "loadBalancingRules",
            "inboundNatRules",
            "inboundNatPools",
            "outboundRules",
        ],
        "backendAddressPools" => &[
            "backendIPConfigurations",
            "loadBalancingRules",
            "outboundRule",
            "outboundRules",
            "inboundNatRules",
        ],
        "probes" => &["loadBalancingRules"],
        "inboundNatRules" => &["backendIPConfiguration"],
        _ => &[],
    }
}

fn items<'a>(doc: &'a Value, property: &str) -> &'a [Value] {
    doc["properties"][property]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// Resolves a reference to a child of this load balancer to its canonical id.
fn resolve(doc: &Value, lb_id: &str, id: &str, collection: &str) -> ArmResult<String> {
    let prefix = format!("{lb_id}/{collection}/").to_ascii_lowercase();
    let lower = id.trim_end_matches('/').to_ascii_lowercase();
    lower
        .strip_prefix(&prefix)
        .filter(|name| !name.contains('/'))
        .and_then(|name| {
            items(doc, collection).iter().find(|c| {
                c["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            })
        })
        .and_then(|c| c["id"].as_str().map(str::to_string))
        .ok_or_else(|| errors::invalid_reference(id, lb_id))
}

fn resolve_one(
    doc: &Value,
    lb_id: &str,
    element: &mut Value,
    key: &str,
    collection: &str,
) -> ArmResult<()> {
    if let Some(id) = element["properties"][key]["id"]
        .as_str()
        .map(str::to_string)
    {
        element["properties"][key] = sub_resource(&resolve(doc, lb_id, &id, collection)?);
    } else if !element["properties"][key].is_null() {
        element["properties"]
            .as_object_mut()
            .expect("an object")
            .remove(key);
    }
    Ok(())
}

fn resolve_many(
    doc: &Value,
    lb_id: &str,
    element: &mut Value,
    key: &str,
    collection: &str,
) -> ArmResult<()> {
    let Some(list) = element["properties"][key].as_array().cloned() else {
        return Ok(());
    };
    let mut out: Vec<Value> = Vec::new();
    for r in list {
        let id = r["id"].as_str().ok_or_else(|| {
            errors::invalid_format(format!("Every element of {key} must have an id."))
        })?;
        let canonical = resolve(doc, lb_id, id, collection)?;
        if !out.iter().any(|o| o["id"] == json!(canonical)) {
            out.push(sub_resource(&canonical));
        }
    }
    element["properties"][key] = Value::Array(out);
    Ok(())
}

/// `(property, collection it points into, whether it is an array of references)`.
type Reference = (&'static str, &'static str, bool);

/// Rewrites every reference between children to its canonical id; a reference to a child
/// that does not exist is an `InvalidResourceReference`. Children must already have ids.
pub fn resolve_references(doc: &mut Value, lb_id: &str) -> ArmResult<()> {
    let snapshot = doc.clone();
    let refs: &[(&str, &[Reference])] = &[
        (
            "loadBalancingRules",
            &[
                ("frontendIPConfiguration", "frontendIPConfigurations", false),
                ("backendAddressPool", "backendAddressPools", false),
                ("backendAddressPools", "backendAddressPools", true),
                ("probe", "probes", false),
            ],
        ),
        (
            "inboundNatRules",
            &[
                ("frontendIPConfiguration", "frontendIPConfigurations", false),
                ("backendAddressPool", "backendAddressPools", false),
            ],
        ),
        (
            "inboundNatPools",
            &[("frontendIPConfiguration", "frontendIPConfigurations", false)],
        ),
        (
            "outboundRules",
            &[
                ("frontendIPConfigurations", "frontendIPConfigurations", true),
                ("backendAddressPool", "backendAddressPools", false),
            ],
        ),
    ];
    for (property, keys) in refs {
        let Some(list) = doc["properties"][*property].as_array_mut() else {
            continue;
        };
        for element in list.iter_mut() {
            for (key, collection, many) in keys.iter() {
                if *many {
                    resolve_many(&snapshot, lb_id, element, key, collection)?;
                } else {
                    resolve_one(&snapshot, lb_id, element, key, collection)?;
                }
            }
        }
    }
    // A rule's single pool and its pool list say the same thing.
    if let Some(rules) = doc["properties"]["loadBalancingRules"].as_array_mut() {
        for r in rules {
            let pools = rule_pools(r);
            let p = &mut r["properties"];
            match pools.first() {
                Some(first) => {
                    p["backendAddressPool"] = sub_resource(first);
                    p["backendAddressPools"] =
                        json!(pools.iter().map(|id| sub_resource(id)).collect::<Vec<_>>());
                }
                None => {
                    p.as_object_mut()
                        .expect("an object")
                        .remove("backendAddressPool");
                    p["backendAddressPools"] = json!([]);
                }
            }
        }
    }
    Ok(())
}

/// The pools a (resolved) load-balancing rule sends to: `backendAddressPools`, else `backendAddressPool`.
pub fn rule_pools(rule: &Value) -> Vec<String> {
    let p = &rule["properties"];
    let mut pools: Vec<String> = p["backendAddressPools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["id"].as_str().map(str::to_string))
        .collect();
    if pools.is_empty()
        && let Some(id) = p["backendAddressPool"]["id"].as_str()
    {
        pools.push(id.to_string());
    }
    pools
}

/// The ids of elements of `source` for which `refers` holds.
fn referrers(source: &[Value], refers: impl Fn(&Value) -> bool) -> Vec<Value> {
    source
        .iter()
        .filter(|e| refers(&e["properties"]))
        .filter_map(|e| e["id"].as_str().map(sub_resource))
        .collect()
}

fn points_to(p: &Value, key: &str, target: &str) -> bool {
    p[key]["id"].as_str().is_some_and(|id| same_id(id, target))
}

fn lists(p: &Value, key: &str, target: &str) -> bool {
    p[key]
        .as_array()
        .into_iter()
        .flatten()
        .any(|r| r["id"].as_str().is_some_and(|id| same_id(id, target)))
}

fn set_if_any(e: &mut Value, key: &str, refs: Vec<Value>) {
    if !refs.is_empty() {
        e["properties"][key] = Value::Array(refs);
    }
}

/// Completes a stored load balancer for reading: every child array present, NAT pool rules,
/// back-references, and each child's `etag` (the load balancer's).
pub fn render(doc: &mut Value, ip_configs: &[IpConfigView], resolution: &Resolution) {
    if !doc["properties"].is_object() {
        doc["properties"] = json!({});
    }
    for (property, _) in COLLECTIONS {
        if !doc["properties"][*property].is_array() {
            doc["properties"][*property] = json!([]);
        }
    }
    let generated = nat::generated_rules(doc, resolution);
    if let Some(rules) = doc["properties"]["inboundNatRules"].as_array_mut() {
        for r in rules.iter_mut() {
            let id = r["id"].as_str().unwrap_or_default().to_string();
            if let Some(c) = ip_configs.iter().find(|c| c.takes_nat_rule(&id)) {
                r["properties"]["backendIPConfiguration"] = sub_resource(&c.id);
            }
        }
        rules.extend(generated);
    }

    let snapshot = doc.clone();
    let rules = items(&snapshot, "loadBalancingRules");
    let nat_rules = items(&snapshot, "inboundNatRules");
    let nat_pools = items(&snapshot, "inboundNatPools");
    let outbound = items(&snapshot, "outboundRules");

    if let Some(fes) = doc["properties"]["frontendIPConfigurations"].as_array_mut() {
        for fe in fes {
            let id = fe["id"].as_str().unwrap_or_default().to_string();
            set_if_any(
                fe,
                "loadBalancingRules",
                referrers(rules, |p| points_to(p, "frontendIPConfiguration", &id)),
            );
            set_if_any(
                fe,
                "inboundNatRules",
                referrers(nat_rules, |p| points_to(p, "frontendIPConfiguration", &id)),
            );
            set_if_any(
                fe,
                "inboundNatPools",
                referrers(nat_pools, |p| points_to(p, "frontendIPConfiguration", &id)),
            );
            set_if_any(
                fe,
                "outboundRules",
                referrers(outbound, |p| lists(p, "frontendIPConfigurations", &id)),
            );
        }
    }
    if let Some(pools) = doc["properties"]["backendAddressPools"].as_array_mut() {
        for pool in pools {
            let id = pool["id"].as_str().unwrap_or_default().to_string();
            let configs: Vec<Value> = ip_configs
                .iter()
                .filter(|c| c.in_pool(&id))
                .map(|c| sub_resource(&c.id))
                .collect();
            set_if_any(pool, "backendIPConfigurations", configs);
            set_if_any(
                pool,
                "loadBalancingRules",
                referrers(rules, |p| {
                    points_to(p, "backendAddressPool", &id) || lists(p, "backendAddressPools", &id)
                }),
            );
            set_if_any(
                pool,
                "inboundNatRules",
                referrers(nat_rules, |p| points_to(p, "backendAddressPool", &id)),
            );
            let out = referrers(outbound, |p| points_to(p, "backendAddressPool", &id));
            if let Some(first) = out.first() {
                pool["properties"]["outboundRule"] = first.clone();
            }
            set_if_any(pool, "outboundRules", out);
        }
    }
    if let Some(probes) = doc["properties"]["probes"].as_array_mut() {
        for probe in probes {
            let id = probe["id"].as_str().unwrap_or_default().to_string();
            set_if_any(
                probe,
                "loadBalancingRules",
                referrers(rules, |p| points_to(p, "probe", &id)),
            );
        }
    }
    let names: Vec<&str> = COLLECTIONS.iter().map(|(p, _)| *p).collect();
    crate::api::network::stamp_child_etags(doc, &names);
}

#[cfg(test)]
mod tests {
    use super::*;

    const LB: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb";

    fn child(collection: &str, name: &str, props: Value) -> Value {
        json!({"name": name, "id": format!("{LB}/{collection}/{name}"), "properties": props})
    }

    fn lb() -> Value {
        json!({"id": LB, "etag": "W/\"e\"", "properties": {
            "frontendIPConfigurations": [child("frontendIPConfigurations", "fe", json!({}))],
            "backendAddressPools": [child("backendAddressPools", "pool", json!({}))],
            "probes": [child("probes", "hp", json!({}))],
            "loadBalancingRules": [child("loadBalancingRules", "r", json!({
                "frontendIPConfiguration": {"id": format!("{}/frontendipconfigurations/FE", LB.to_lowercase())},
                "backendAddressPool": {"id": format!("{LB}/backendAddressPools/pool")},
                "probe": {"id": format!("{LB}/probes/hp")},
            }))],
        }})
    }

    #[test]
    fn references_resolve_to_canonical_ids_or_fail() {
        let mut doc = lb();
        resolve_references(&mut doc, LB).unwrap();
        let r = &doc["properties"]["loadBalancingRules"][0]["properties"];
        assert_eq!(
            r["frontendIPConfiguration"]["id"],
            format!("{LB}/frontendIPConfigurations/fe")
        );
        assert_eq!(
            r["backendAddressPools"],
            json!([{"id": format!("{LB}/backendAddressPools/pool")}])
        );

        let mut bad = lb();
        bad["properties"]["loadBalancingRules"][0]["properties"]["probe"]["id"] =
            json!(format!("{LB}/probes/nope"));
        assert_eq!(
            resolve_references(&mut bad, LB).unwrap_err().code,
            "InvalidResourceReference"
        );
        let mut other_lb = lb();
        other_lb["properties"]["loadBalancingRules"][0]["properties"]["probe"]["id"] = json!(
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/other/probes/hp"
        );
        assert!(resolve_references(&mut other_lb, LB).is_err());
    }

    #[test]
    fn render_adds_every_array_and_back_references() {
        let mut doc = lb();
        resolve_references(&mut doc, LB).unwrap();
        let nic = json!({"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/n",
            "properties": {"ipConfigurations": [{"name": "c", "properties": {"loadBalancerBackendAddressPools": [{"id": format!("{LB}/backendaddresspools/POOL")}]}}]}});
        let configs = crate::model::network::nic::ip_configs_of([&nic]);
        let config = &configs[0];
        // No NAT pools here: the resolution only feeds generated NAT rules.
        let typed = crate::model::network::LoadBalancer::from_doc(&json!({"id": LB})).unwrap();
        let resolution = crate::model::network::resolution::resolve(&typed, &[], &configs);
        render(&mut doc, &configs, &resolution);
        let p = &doc["properties"];
        for (c, _) in COLLECTIONS {
            assert!(p[*c].is_array(), "{c}");
        }
        let rule_ref = json!([{"id": format!("{LB}/loadBalancingRules/r")}]);
        assert_eq!(
            p["frontendIPConfigurations"][0]["properties"]["loadBalancingRules"],
            rule_ref
        );
        assert_eq!(
            p["backendAddressPools"][0]["properties"]["loadBalancingRules"],
            rule_ref
        );
        assert_eq!(p["probes"][0]["properties"]["loadBalancingRules"], rule_ref);
        assert_eq!(
            p["backendAddressPools"][0]["properties"]["backendIPConfigurations"],
            json!([{"id": config.id}])
        );
        assert_eq!(p["probes"][0]["etag"], "W/\"e\"");
        assert!(p["frontendIPConfigurations"][0]["properties"]["inboundNatRules"].is_null());
    }
}

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
//! - [`validation`]: pure checks of each element and across elements.
//! - [`children`]: references between children, back-references when read.
//! - [`nat`]: NAT rules generated from NAT pools, NAT port mappings.
//! - [`actions`]: `queryInboundNatRulePortMapping`, rule `health`, `networkInterfaces`.

pub mod actions;
pub mod children;
pub mod nat;
pub mod validation;

use std::net::Ipv4Addr;
use std::sync::Arc;

use async_trait::async_trait;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::address::{allocate_private_ip, find_subnet, used_private_ips};
use super::body::{self, object_mut};
use super::{
    API_VERSIONS, IpConfig, LB_TYPE, NIC_TYPE, PUBLIC_IP_TYPE, VNET_TYPE, complete_child, errors,
    ip_configs_of, is_type, public_ip, rows, rows_tx, same_id, sub_resource, subscription_of,
};
use crate::app::App;
use crate::arm::resource_type::{Child, ResourceType, WriteCx};
use crate::arm::{ArmError, ArmRequest, ArmResult, ResourceId};
use children::COLLECTIONS;

pub struct LoadBalancers;

fn items<'a>(doc: &'a Value, property: &str) -> &'a [Value] {
    doc["properties"][property]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// Whether an inbound NAT rule sent by a client is a NAT pool instance it read back from a
/// GET (and is dropped: those rules are derived, not stored). A rule that takes such a name
/// but differs from the instance is refused.
fn is_echoed_pool_rule(rule: &Value, pools: &[Value]) -> ArmResult<bool> {
    let Some((pool_name, k)) = rule["name"]
        .as_str()
        .and_then(nat::parse_generated_rule_name)
    else {
        return Ok(false);
    };
    let Some(pool) = pools.iter().find(|p| {
        p["name"]
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case(pool_name))
    }) else {
        return Ok(false);
    };
    let (r, p) = (&rule["properties"], &pool["properties"]);
    let port = p["frontendPortRangeStart"].as_i64().map(|s| s + k as i64);
    let echo = r["frontendPort"].as_i64() == port
        && r["backendPort"] == p["backendPort"]
        && r["protocol"].as_str().map(str::to_ascii_lowercase)
            == p["protocol"].as_str().map(str::to_ascii_lowercase);
    if echo {
        Ok(true)
    } else {
        Err(errors::invalid_format(format!(
            "Inbound NAT rule name {} is reserved for instance {k} of inbound NAT pool {pool_name}.",
            rule["name"].as_str().unwrap_or_default()
        )))
    }
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
        for e in list.iter_mut() {
            if !e.is_object() {
                return Err(ArmError::invalid_request_content(format!(
                    "Every element of 'properties.{property}' must be an object."
                )));
            }
            validation::strip(e, children::read_only(property))?;
        }
        if *property == "inboundNatRules" {
            let mut kept = Vec::new();
            for rule in list {
                if !is_echoed_pool_rule(&rule, &pools)? {
                    kept.push(rule);
                }
            }
            list = kept;
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

/// Resolves each frontend's public IP or subnet (and private address), with Azure's checks.
async fn frontends(
    cx: &mut WriteCx<'_>,
    doc: &mut Value,
    existing: Option<&Value>,
    sku: &str,
) -> ArmResult<()> {
    let lb_id = doc["id"].as_str().unwrap_or_default().to_string();
    let location = doc["location"].as_str().unwrap_or_default().to_string();
    let sub = cx.id.subscription.clone();
    let lbs = rows_tx(cx, &sub, LB_TYPE).await?;
    let nics = rows_tx(cx, &sub, NIC_TYPE).await?;
    let mut fes = items(doc, "frontendIPConfigurations").to_vec();
    let mut taken: Vec<Ipv4Addr> = Vec::new();
    let mut public_ips: Vec<String> = Vec::new();
    for fe in fes.iter_mut() {
        let fe_id = fe["id"].as_str().unwrap_or_default().to_string();
        let props = &fe["properties"];
        let pip = body::reference(props, "publicIPAddress", "publicIPAddress")?.map(str::to_string);
        let subnet = body::reference(props, "subnet", "subnet")?.map(str::to_string);
        let version = body::one_of(
            props,
            "privateIPAddressVersion",
            "privateIPAddressVersion",
            &["IPv4", "IPv6"],
        )?
        .unwrap_or("IPv4");
        if version == "IPv6" {
            return Err(errors::invalid_format("armlet serves IPv4 frontends only."));
        }
        match (pip, subnet) {
            (Some(pip), None) => {
                let row = match is_type(&pip, PUBLIC_IP_TYPE) {
                    true => cx.get(&ResourceId::parse(&pip)?.key()).await?,
                    false => None,
                }
                .filter(|r| r.body["location"].as_str() == Some(location.as_str()))
                .ok_or_else(|| errors::invalid_reference(&pip, &lb_id))?;
                let pip_sku = row.body["sku"]["name"].as_str().unwrap_or("Basic");
                let lb_standard = sku != "Basic";
                if lb_standard != (pip_sku != "Basic") {
                    return Err(ArmError::bad_request(
                        "PublicIPAndLBSkuDoNotMatch",
                        format!(
                            "{sku} sku load balancer {lb_id} cannot reference {pip_sku} sku publicIP {}.",
                            row.id
                        ),
                    ));
                }
                let lb_prefix = format!("{}/", lb_id.to_ascii_lowercase());
                let elsewhere = public_ip::users(&row.id, &lbs, &nics)
                    .into_iter()
                    .find(|by| !by.to_ascii_lowercase().starts_with(&lb_prefix));
                let twice = public_ips.iter().any(|p| same_id(p, &row.id));
                if let Some(by) = elsewhere.or_else(|| twice.then(|| lb_id.clone())) {
                    return Err(ArmError::bad_request(
                        "PublicIPAddressInUse",
                        format!("Public IP address {} is already in use by {by}.", row.id),
                    ));
                }
                public_ips.push(row.id.clone());
                let p = fe["properties"].as_object_mut().expect("an object");
                p.remove("subnet");
                p.remove("privateIPAddress");
                p.insert("publicIPAddress".into(), sub_resource(&row.id));
                p.insert("privateIPAllocationMethod".into(), json!("Dynamic"));
            }
            (None, Some(subnet_ref)) => {
                let (subnet_id, _, prefix) = find_subnet(cx, &subnet_ref)
                    .await?
                    .ok_or_else(|| errors::invalid_reference(&subnet_ref, &lb_id))?;
                let method = body::one_of(
                    &fe["properties"],
                    "privateIPAllocationMethod",
                    "privateIPAllocationMethod",
                    &["Dynamic", "Static"],
                )?
                .unwrap_or("Dynamic");
                let address = if method == "Static" {
                    let text = body::string(&fe["properties"], "privateIPAddress", "privateIPAddress")?
                        .ok_or_else(|| errors::invalid_format(format!("Frontend IP configuration {fe_id} has Static allocation but no privateIPAddress.")))?;
                    let ip: Ipv4Addr = text.parse().map_err(|_| {
                        errors::invalid_format(format!(
                            "Private IP address '{text}' of {fe_id} is not a valid IPv4 address."
                        ))
                    })?;
                    if !prefix.contains_addr(ip) {
                        return Err(ArmError::bad_request(
                            "PrivateIPAddressNotInSubnet",
                            format!(
                                "IP configuration {fe_id} private IP address {ip} does not belong to the subnet {subnet_id}."
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
                    if taken.contains(&ip) {
                        return Err(ArmError::bad_request(
                            "MultipleIpConfigsRequestSamePrivateIpAddress",
                            format!(
                                "IP configuration {fe_id} is requesting the same private IP address {ip} as another frontend IP configuration of {lb_id}. Private IP address {ip} from the subnet can be assigned to only one IP configuration."
                            ),
                        ));
                    }
                    if used_private_ips(cx, &subnet_id).await?.contains(&ip) {
                        return Err(ArmError::bad_request(
                            "PrivateIPAddressInUse",
                            format!(
                                "IP configuration {fe_id} is using the private IP address {ip} which is already allocated to another resource in subnet {subnet_id}."
                            ),
                        ));
                    }
                    ip
                } else {
                    let previous = existing
                        .map(|e| items(e, "frontendIPConfigurations"))
                        .unwrap_or_default()
                        .iter()
                        .find(|p| p["id"].as_str().is_some_and(|id| same_id(id, &fe_id)))
                        .filter(|p| {
                            p["properties"]["subnet"]["id"]
                                .as_str()
                                .is_some_and(|s| same_id(s, &subnet_id))
                        })
                        .and_then(|p| {
                            p["properties"]["privateIPAddress"]
                                .as_str()?
                                .parse::<Ipv4Addr>()
                                .ok()
                        })
                        .filter(|ip| prefix.contains_addr(*ip) && !taken.contains(ip));
                    match previous {
                        Some(ip) => ip,
                        None => allocate_private_ip(cx, &subnet_id, &taken).await?,
                    }
                };
                taken.push(address);
                let p = fe["properties"].as_object_mut().expect("an object");
                p.remove("publicIPAddress");
                p.insert("subnet".into(), sub_resource(&subnet_id));
                p.insert("privateIPAddress".into(), json!(address.to_string()));
                p.insert("privateIPAllocationMethod".into(), json!(method));
            }
            _ => {
                return Err(errors::invalid_format(format!(
                    "Frontend IP configuration {fe_id} must reference either a public IP address (properties.publicIPAddress) or a subnet (properties.subnet), not both."
                )));
            }
        }
        fe["properties"]["privateIPAddressVersion"] = json!(version);
    }
    if !public_ips.is_empty() && !taken.is_empty() {
        return Err(errors::invalid_format(format!(
            "Load balancer {lb_id} cannot have both public and internal frontend IP configurations."
        )));
    }
    doc["properties"]["frontendIPConfigurations"] = Value::Array(fes);
    Ok(())
}

/// Checks what backend pools reference outside the load balancer (virtual networks, subnets
/// of IP-based addresses) and drops computed address properties.
async fn backend_pools(cx: &mut WriteCx<'_>, doc: &mut Value) -> ArmResult<()> {
    let lb_id = doc["id"].as_str().unwrap_or_default().to_string();
    let mut pools = items(doc, "backendAddressPools").to_vec();
    for pool in pools.iter_mut() {
        if let Some(vnet) =
            body::reference(&pool["properties"], "virtualNetwork", "virtualNetwork")?
                .map(str::to_string)
        {
            let row = match is_type(&vnet, VNET_TYPE) {
                true => cx.get(&ResourceId::parse(&vnet)?.key()).await?,
                false => None,
            }
            .ok_or_else(|| errors::invalid_reference(&vnet, &lb_id))?;
            pool["properties"]["virtualNetwork"] = sub_resource(&row.id);
        }
        let mut addresses = body::array(
            &pool["properties"],
            "loadBalancerBackendAddresses",
            "loadBalancerBackendAddresses",
        )?
        .to_vec();
        validation::names(&addresses, "loadBalancerBackendAddresses")?;
        for a in addresses.iter_mut() {
            validation::strip(
                a,
                &[
                    "networkInterfaceIPConfiguration",
                    "inboundNatRulesPortMapping",
                ],
            )?;
            let props = &a["properties"];
            if let Some(ip) = body::string(props, "ipAddress", "ipAddress")?
                && ip.parse::<Ipv4Addr>().is_err()
            {
                return Err(errors::invalid_format(format!(
                    "Backend address '{ip}' is not a valid IPv4 address."
                )));
            }
            body::one_of(props, "adminState", "adminState", &["None", "Up", "Down"])?;
            if let Some(subnet) = body::reference(props, "subnet", "subnet")?.map(str::to_string) {
                let (id, _, _) = find_subnet(cx, &subnet)
                    .await?
                    .ok_or_else(|| errors::invalid_reference(&subnet, &lb_id))?;
                a["properties"]["subnet"] = sub_resource(&id);
            }
            if let Some(vnet) =
                body::reference(&a["properties"], "virtualNetwork", "virtualNetwork")?
                    .map(str::to_string)
            {
                let row = match is_type(&vnet, VNET_TYPE) {
                    true => cx.get(&ResourceId::parse(&vnet)?.key()).await?,
                    false => None,
                }
                .ok_or_else(|| errors::invalid_reference(&vnet, &lb_id))?;
                a["properties"]["virtualNetwork"] = sub_resource(&row.id);
            }
            a.as_object_mut().expect("an object").remove("id");
        }
        if !addresses.is_empty() || !pool["properties"]["loadBalancerBackendAddresses"].is_null() {
            pool["properties"]["loadBalancerBackendAddresses"] = Value::Array(addresses);
        }
    }
    doc["properties"]["backendAddressPools"] = Value::Array(pools);
    Ok(())
}

/// Rules across children that need the whole load balancer.
fn cross_checks(doc: &Value, sku: &str) -> ArmResult<()> {
    let lb_id = doc["id"].as_str().unwrap_or_default();
    let rules = items(doc, "loadBalancingRules");
    if sku == "Basic" && !items(doc, "outboundRules").is_empty() {
        return Err(errors::invalid_format(format!(
            "Basic sku load balancer {lb_id} cannot have outbound rules; outbound rules need a Standard load balancer."
        )));
    }
    for rule in rules
        .iter()
        .filter(|r| r["properties"]["protocol"] == "All")
    {
        let fe = rule["properties"]["frontendIPConfiguration"]["id"]
            .as_str()
            .unwrap_or_default();
        let internal = items(doc, "frontendIPConfigurations").iter().any(|f| {
            f["id"].as_str().is_some_and(|id| same_id(id, fe))
                && f["properties"]["subnet"].is_object()
        });
        if sku == "Basic" || !internal {
            return Err(errors::invalid_format(format!(
                "Load balancing rule {} is an HA ports rule (protocol All, port 0), which only an internal Standard load balancer supports.",
                rule["id"].as_str().unwrap_or_default()
            )));
        }
    }
    let mut claims = validation::port_claims("LoadBalancingRule", rules);
    claims.extend(validation::port_claims(
        "InboundNatRule",
        items(doc, "inboundNatRules"),
    ));
    claims.extend(validation::port_claims(
        "InboundNatPool",
        items(doc, "inboundNatPools"),
    ));
    validation::frontend_port_conflicts(&claims)?;
    validation::backend_port_conflicts(rules)?;
    validation::outbound_conflicts(items(doc, "outboundRules"))?;
    validation::outbound_snat_conflicts(rules, items(doc, "outboundRules"))?;
    Ok(())
}

/// Whether a NIC ipConfiguration's reference to this load balancer's backend pool or NAT rule
/// still resolves in `doc`.
fn resolves(doc: &Value, collection: &str, id: &str) -> bool {
    items(doc, collection)
        .iter()
        .any(|c| c["id"].as_str().is_some_and(|c| same_id(c, id)))
        || (collection == "inboundNatRules" && nat::pool_instance(doc, id).is_some())
}

/// Children removed (or NAT pools shrunk) while NIC ipConfigurations still use them.
fn removed_in_use(existing: &Value, doc: &Value, configs: &[IpConfig]) -> ArmResult<()> {
    let checks = [
        (
            "loadBalancerBackendAddressPools",
            "backendAddressPools",
            "BackendAddressPool",
        ),
        (
            "loadBalancerInboundNatRules",
            "inboundNatRules",
            "InboundNatRule",
        ),
    ];
    for c in configs {
        for (property, collection, kind) in checks {
            for r in c.properties()[property]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["id"].as_str())
            {
                if resolves(existing, collection, r) && !resolves(doc, collection, r) {
                    let kind = match (kind, nat::pool_instance(existing, r)) {
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
        let sku = object_mut(&mut doc, "sku", "sku")?;
        let sku_value = Value::Object(sku.clone());
        let sku_name = body::one_of(
            &sku_value,
            "name",
            "sku.name",
            &["Basic", "Standard", "Gateway"],
        )?
        .unwrap_or("Standard");
        let tier = body::one_of(&sku_value, "tier", "sku.tier", &["Regional", "Global"])?
            .unwrap_or("Regional");
        sku.insert("name".into(), json!(sku_name));
        sku.insert("tier".into(), json!(tier));
        object_mut(&mut doc, "properties", "properties")?;

        collections(&mut doc, &lb_id)?;
        if let Some(existing) = existing {
            let sub = cx.id.subscription.clone();
            let configs = ip_configs_of(&rows_tx(cx, &sub, NIC_TYPE).await?);
            removed_in_use(existing, &doc, &configs)?;
        }
        children::resolve_references(&mut doc, &lb_id)?;
        frontends(cx, &mut doc, existing, sku_name).await?;
        backend_pools(cx, &mut doc).await?;
        cross_checks(&doc, sku_name)?;

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
        let sub = subscription_of(doc);
        for c in ip_configs_of(&rows_tx(cx, &sub, NIC_TYPE).await?) {
            let uses = [
                "loadBalancerBackendAddressPools",
                "loadBalancerInboundNatRules",
            ]
            .iter()
            .flat_map(|p| super::ref_ids(&c.properties()[*p]))
            .any(|id| id.to_ascii_lowercase().starts_with(&prefix));
            if uses {
                return Err(errors::load_balancer_in_use(lb_id, &c.id));
            }
        }
        Ok(())
    }

    async fn render(&self, app: &App, mut doc: Value) -> ArmResult<Value> {
        let sub = subscription_of(&doc);
        let configs = ip_configs_of(&rows(app, &sub, NIC_TYPE).await?);
        children::render(&mut doc, &configs);
        Ok(doc)
    }

    async fn route(
        &self,
        app: &Arc<App>,
        req: &ArmRequest,
        id: &ResourceId,
        rest: &[&str],
    ) -> ArmResult<Response> {
        actions::route(app, req, id, rest).await
    }
}

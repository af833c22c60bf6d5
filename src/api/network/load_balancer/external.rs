//! What a load balancer references outside itself, checked and resolved when it is written:
//! each frontend's public IP (it exists in the same region, its SKU matches, nothing else
//! uses it) or subnet (with a private address, allocated the way Azure does or checked when
//! Static), and the virtual networks and subnets of IP-based backend addresses.

use std::net::Ipv4Addr;

use serde_json::{Value, json};

use crate::api::network::address::{allocate_private_ip, find_subnet, used_private_ips};
use crate::api::network::body;
use crate::api::network::{
    LB_TYPE, NIC_TYPE, PUBLIC_IP_TYPE, VNET_TYPE, errors, is_type, public_ip, referring_tx,
    same_id, sub_resource,
};
use crate::arm::resource_type::WriteCx;
use crate::arm::{ArmError, ArmResult, ResourceId};

use super::validation;

fn items<'a>(doc: &'a Value, property: &str) -> &'a [Value] {
    doc["properties"][property]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// Resolves each frontend's public IP or subnet (and private address), with Azure's checks.
/// The SKU of a load balancer that names none: Basic when its public frontends use Basic
/// addresses (as templates written when Basic was Azure's default do), else Standard.
pub async fn default_sku(cx: &mut WriteCx<'_>, doc: &Value) -> ArmResult<&'static str> {
    let mut skus = Vec::new();
    for fe in items(doc, "frontendIPConfigurations") {
        let Ok(Some(pip)) =
            body::reference(&fe["properties"], "publicIPAddress", "publicIPAddress")
        else {
            continue;
        };
        if !is_type(pip, PUBLIC_IP_TYPE) {
            continue;
        }
        if let Some(row) = cx.get(&ResourceId::parse(pip)?.key()).await? {
            skus.push(
                row.body["sku"]["name"]
                    .as_str()
                    .unwrap_or("Basic")
                    .to_string(),
            );
        }
    }
    Ok(sku_for_addresses(&skus))
}

fn sku_for_addresses(pip_skus: &[String]) -> &'static str {
    match pip_skus.first().map(String::as_str) {
        Some("Basic") => "Basic",
        _ => "Standard",
    }
}

pub async fn frontends(
    cx: &mut WriteCx<'_>,
    doc: &mut Value,
    existing: Option<&Value>,
    sku: &str,
) -> ArmResult<()> {
    let lb_id = doc["id"].as_str().unwrap_or_default().to_string();
    let location = doc["location"].as_str().unwrap_or_default().to_string();
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
                let lbs = referring_tx(cx, &row.id, LB_TYPE).await?;
                let nics = referring_tx(cx, &row.id, NIC_TYPE).await?;
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
pub async fn backend_pools(cx: &mut WriteCx<'_>, doc: &mut Value) -> ArmResult<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_load_balancer_without_sku_takes_its_addresses_sku() {
        let skus = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(sku_for_addresses(&skus(&[])), "Standard");
        assert_eq!(sku_for_addresses(&skus(&["Standard"])), "Standard");
        assert_eq!(sku_for_addresses(&skus(&["Basic"])), "Basic");
    }
}

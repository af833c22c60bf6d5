//! `Microsoft.Network/publicIPAddresses`: Basic/Standard SKU, Static/Dynamic allocation, IPv4,
//! idle timeout, DNS label → `fqdn`.
//!
//! `ipAddress` is a loopback address from [`super::address::PUBLIC_IP_POOL`], assigned when
//! the address is created and kept until it is deleted, whatever the allocation method
//! (Azure assigns a Dynamic address only when it is attached; armlet assigns it at once so
//! the data plane always has an address to listen on). `ipConfiguration` (the frontend or NIC
//! ipConfiguration using the address) is computed when the address is read.

use async_trait::async_trait;
use serde_json::{Map, Value, json};

use super::body::{self, object_mut};
use super::{
    API_VERSIONS, LB_TYPE, NIC_TYPE, PUBLIC_IP_TYPE, address, errors, ip_configs_of, referring,
    referring_tx, same_id, sub_resource,
};
use crate::arm::Arm;
use crate::arm::resource_type::{ResourceType, WriteCx};
use crate::arm::{ArmError, ArmResult};
use crate::store::{Resource, resources};

pub struct PublicIpAddresses {
    /// This armlet's `--address-block` B: public IPs get addresses from 127.B.0.0/16.
    pub address_block: u8,
}

/// The ids of what uses public IP `pip_id`: load balancer frontends and NIC ipConfigurations.
pub fn users(pip_id: &str, lbs: &[Resource], nics: &[Resource]) -> Vec<String> {
    let frontends = lbs.iter().flat_map(|lb| {
        lb.body["properties"]["frontendIPConfigurations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|fe| {
                fe["properties"]["publicIPAddress"]["id"]
                    .as_str()
                    .is_some_and(|id| same_id(id, pip_id))
            })
            .filter_map(|fe| fe["id"].as_str().map(str::to_string))
    });
    let ip_configs = ip_configs_of(nics).into_iter().filter_map(|c| {
        c.public_ip
            .as_deref()
            .is_some_and(|id| same_id(id, pip_id))
            .then_some(c.id)
    });
    frontends.chain(ip_configs).collect()
}

/// Azure's rule for DNS labels: `^[a-z][a-z0-9-]{1,61}[a-z0-9]$`.
pub fn valid_dns_label(label: &str) -> bool {
    let b = label.as_bytes();
    (3..=63).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b[1..b.len() - 1]
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && (b[b.len() - 1].is_ascii_lowercase() || b[b.len() - 1].is_ascii_digit())
}

/// The name Azure publishes a DNS label under in a region.
/// The SKU of an address that names none: Standard, unless it asks for Dynamic allocation,
/// which only Basic has (templates written when Basic was Azure's default do this, e.g. the
/// `vmss-linux-nat` quickstart).
pub fn default_sku(props: &Value) -> &'static str {
    match props["publicIPAllocationMethod"].as_str() {
        Some(m) if m.eq_ignore_ascii_case("Dynamic") => "Basic",
        _ => "Standard",
    }
}

pub fn fqdn(label: &str, location: &str) -> String {
    format!("{label}.{location}.cloudapp.azure.com")
}

#[async_trait]
impl ResourceType for PublicIpAddresses {
    fn type_name(&self) -> &'static str {
        PUBLIC_IP_TYPE
    }

    fn api_versions(&self) -> &'static [&'static str] {
        API_VERSIONS
    }

    async fn prepare(
        &self,
        cx: &mut WriteCx<'_>,
        existing: Option<&Value>,
        body: Map<String, Value>,
    ) -> ArmResult<Value> {
        let mut doc = Value::Object(body);
        let id = doc["id"].as_str().unwrap_or_default().to_string();
        let name = doc["name"].as_str().unwrap_or_default().to_string();
        let location = doc["location"].as_str().unwrap_or_default().to_string();

        let sku_value = Value::Object(object_mut(&mut doc, "sku", "sku")?.clone());
        let implied = default_sku(&doc["properties"]);
        let sku = object_mut(&mut doc, "sku", "sku")?;
        let sku_name = body::one_of(&sku_value, "name", "sku.name", &["Basic", "Standard"])?
            .unwrap_or(implied);
        let tier = body::one_of(&sku_value, "tier", "sku.tier", &["Regional", "Global"])?
            .unwrap_or("Regional");
        sku.insert("name".into(), json!(sku_name));
        sku.insert("tier".into(), json!(tier));

        object_mut(&mut doc, "properties", "properties")?;
        let props = &doc["properties"];
        let allocation = body::one_of(
            props,
            "publicIPAllocationMethod",
            "properties.publicIPAllocationMethod",
            &["Static", "Dynamic"],
        )?
        .unwrap_or(if sku_name == "Standard" {
            "Static"
        } else {
            "Dynamic"
        });
        if sku_name == "Standard" && allocation == "Dynamic" {
            return Err(ArmError::bad_request(
                "StandardSkuPublicIPAddressesMustBeStatic",
                format!("Standard sku publicIp {id} must have AllocationMethod set to Static."),
            ));
        }
        let version = body::one_of(
            props,
            "publicIPAddressVersion",
            "properties.publicIPAddressVersion",
            &["IPv4", "IPv6"],
        )?
        .unwrap_or("IPv4");
        if version == "IPv6" {
            return Err(errors::invalid_format(
                "armlet serves IPv4 public IP addresses only (publicIPAddressVersion 'IPv4').",
            ));
        }
        let idle = body::int(
            props,
            "idleTimeoutInMinutes",
            "properties.idleTimeoutInMinutes",
        )?
        .unwrap_or(4);
        if !(4..=30).contains(&idle) {
            return Err(errors::invalid_format(format!(
                "Public IP address {name} has invalid Idle Timeout. The value must be between 4 and 30."
            )));
        }

        // DNS label: valid, and unique in the region across every public IP.
        let label = match &props["dnsSettings"] {
            Value::Null => None,
            settings => body::string(
                settings,
                "domainNameLabel",
                "properties.dnsSettings.domainNameLabel",
            )?
            .filter(|l| !l.is_empty())
            .map(str::to_string),
        };
        if let Some(label) = &label {
            if !valid_dns_label(label) {
                return Err(ArmError::bad_request(
                    "InvalidDomainNameLabel",
                    format!(
                        "The domain name label {label} is invalid. It must conform to the following regular expression: ^[a-z][a-z0-9-]{{1,61}}[a-z0-9]$."
                    ),
                ));
            }
            let wanted = fqdn(label, &location);
            let me = cx.id.key();
            let taken = resources::list_all_of_type(cx.conn, PUBLIC_IP_TYPE)
                .await?
                .into_iter()
                .any(|r| {
                    r.key() != me
                        && r.body["properties"]["dnsSettings"]["fqdn"]
                            .as_str()
                            .is_some_and(|f| f.eq_ignore_ascii_case(&wanted))
                });
            if taken {
                return Err(ArmError::bad_request(
                    "DnsRecordInUse",
                    format!("DNS record {wanted} is already used by another public IP."),
                ));
            }
        }

        let kept = |field: &str| {
            existing
                .map(|e| e["properties"][field].clone())
                .filter(|v| !v.is_null())
        };
        let ip_address = match kept("ipAddress") {
            Some(ip) => ip,
            None => json!(
                address::allocate_public_ip(cx, self.address_block)
                    .await?
                    .to_string()
            ),
        };
        let guid = kept("resourceGuid").unwrap_or_else(|| json!(uuid::Uuid::new_v4().to_string()));

        let props = doc["properties"]
            .as_object_mut()
            .expect("made an object above");
        props.remove("ipConfiguration");
        props.insert("publicIPAllocationMethod".into(), json!(allocation));
        props.insert("publicIPAddressVersion".into(), json!(version));
        props.insert("idleTimeoutInMinutes".into(), json!(idle));
        props.insert("ipAddress".into(), ip_address);
        props.insert("resourceGuid".into(), guid);
        props.insert("provisioningState".into(), json!("Succeeded"));
        if !props.get("ipTags").is_some_and(Value::is_array) {
            props.insert("ipTags".into(), json!([]));
        }
        match &label {
            Some(label) => {
                let settings = props.entry("dnsSettings").or_insert_with(|| json!({}));
                settings["domainNameLabel"] = json!(label);
                settings["fqdn"] = json!(fqdn(label, &location));
            }
            None => {
                props.remove("dnsSettings");
            }
        }
        if sku_name == "Standard" && props.get("ddosSettings").is_none_or(Value::is_null) {
            props.insert(
                "ddosSettings".into(),
                json!({"protectionMode": "VirtualNetworkInherited"}),
            );
        }
        Ok(doc)
    }

    async fn before_delete(&self, cx: &mut WriteCx<'_>, doc: &Value) -> ArmResult<()> {
        let id = doc["id"].as_str().unwrap_or_default();
        let lbs = referring_tx(cx, id, LB_TYPE).await?;
        let nics = referring_tx(cx, id, NIC_TYPE).await?;
        match users(id, &lbs, &nics).first() {
            Some(by) => Err(errors::public_ip_in_use(id, by)),
            None => Ok(()),
        }
    }

    async fn render(&self, app: &Arm, mut doc: Value) -> ArmResult<Value> {
        let id = doc["id"].as_str().unwrap_or_default().to_string();
        let lbs = referring(app, &id, LB_TYPE).await?;
        let nics = referring(app, &id, NIC_TYPE).await?;
        if let Some(by) = users(&id, &lbs, &nics).first() {
            doc["properties"]["ipConfiguration"] = sub_resource(by);
        }
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels_follow_azure_rules() {
        for ok in ["myapp", "a1b", "web-01", &format!("a{}", "b".repeat(62))] {
            assert!(valid_dns_label(ok), "{ok}");
        }
        for bad in [
            "ab",
            "1ab",
            "My-App",
            "app-",
            "a_b",
            &format!("a{}", "b".repeat(63)),
        ] {
            assert!(!valid_dns_label(bad), "{bad}");
        }
        assert_eq!(fqdn("web", "eastus"), "web.eastus.cloudapp.azure.com");
    }

    #[test]
    fn an_address_without_sku_is_basic_only_when_it_asks_for_dynamic_allocation() {
        assert_eq!(default_sku(&json!({})), "Standard");
        assert_eq!(
            default_sku(&json!({"publicIPAllocationMethod": "Static"})),
            "Standard"
        );
        assert_eq!(
            default_sku(&json!({"publicIPAllocationMethod": "Dynamic"})),
            "Basic"
        );
        assert_eq!(
            default_sku(&json!({"publicIPAllocationMethod": "dynamic"})),
            "Basic"
        );
    }
}

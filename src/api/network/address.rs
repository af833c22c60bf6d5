//! IPv4 address arithmetic for Microsoft.Network: CIDR prefixes (parsing, containment,
//! overlap), Azure's reserved addresses in a subnet, and the two allocators armlet runs:
//!
//! - **public IPs** get a distinct loopback address from [`PUBLIC_IP_POOL`] (127.1.0.1 upward,
//!   lowest free across every stored public IP in every subscription), so the address the API
//!   reports is the address the data plane listens on;
//! - **private IPs** come from a subnet the way Azure hands them out: the first free address
//!   from `.4` up (Azure reserves the network address, `.1`–`.3` and the broadcast address).
//!
//! The arithmetic is pure; the two `allocate_*` functions read the store through the write
//! transaction of the request, so a check and the write that depends on it are atomic.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use serde_json::Value;

use super::{NIC_TYPE, PUBLIC_IP_TYPE, VNET_TYPE, errors, ip_configurations, same_id};
use crate::arm::resource_type::WriteCx;
use crate::arm::{ArmError, ArmResult, ResourceId};
use crate::store::{ResourceQuery, resources};

/// Loopback addresses of public IPs with the default `--address-block 1`: 127.1.0.1 – 127.1.255.254.
pub const PUBLIC_IP_POOL: Cidr = public_ip_pool(1);
/// Reserved for the compute provider: bind addresses of scale-set instance NICs.
pub const INSTANCE_NIC_POOL: Cidr = Cidr::new_unchecked(Ipv4Addr::new(127, 2, 0, 0), 16);
/// Reserved for the data plane: bind addresses of internal load balancer frontends.
pub const INTERNAL_FRONTEND_POOL: Cidr = Cidr::new_unchecked(Ipv4Addr::new(127, 3, 0, 0), 16);

/// The public IP pool of an armlet started with `--address-block block`: 127.block.0.0/16.
pub const fn public_ip_pool(block: u8) -> Cidr {
    Cidr::new_unchecked(Ipv4Addr::new(127, block, 0, 0), 16)
}

pub use crate::model::network::cidr::{Cidr, CidrError, parse_cidr};

/// The lowest address of `range` not in `used`.
pub fn first_free(range: std::ops::RangeInclusive<u32>, used: &HashSet<u32>) -> Option<Ipv4Addr> {
    range
        .into_iter()
        .find(|a| !used.contains(a))
        .map(Ipv4Addr::from)
}

/// The addresses of the public IP pool that can be handed out (.0 and .255.255 are skipped).
fn public_pool_range(block: u8) -> std::ops::RangeInclusive<u32> {
    let pool = public_ip_pool(block);
    pool.first() + 1..=pool.last() - 1
}

/// The lowest free loopback address of [`PUBLIC_IP_POOL`], considering every stored public IP
/// in every subscription except the one being written (`cx.id`); `block` is this armlet's
/// `--address-block`.
pub async fn allocate_public_ip(cx: &mut WriteCx<'_>, block: u8) -> ArmResult<Ipv4Addr> {
    let me = cx.id.key();
    let used: HashSet<u32> = resources::list_all_of_type(cx.conn, PUBLIC_IP_TYPE)
        .await?
        .iter()
        .filter(|r| r.key() != me)
        .filter_map(|r| {
            r.body["properties"]["ipAddress"]
                .as_str()?
                .parse::<Ipv4Addr>()
                .ok()
        })
        .map(u32::from)
        .collect();
    first_free(public_pool_range(block), &used).ok_or_else(|| {
        ArmError::bad_request(
            "PublicIPCountLimitReached",
            format!(
                "Cannot create more than {} public IP addresses: armlet's loopback pool {} is exhausted.",
                public_pool_range(block).count(),
                public_ip_pool(block)
            ),
        )
    })
}

/// The subnet named by `subnet_id`, from its virtual network as stored in the transaction:
/// `(canonical subnet id, subnet name, prefix)`, or `None` when it does not exist.
pub async fn find_subnet(
    cx: &mut WriteCx<'_>,
    subnet_id: &str,
) -> ArmResult<Option<(String, String, Cidr)>> {
    let Ok(id) = ResourceId::parse(subnet_id) else {
        return Ok(None);
    };
    let is_subnet = id.segments.len() == 2
        && format!("{}/{}", id.namespace, id.segments[0].0).eq_ignore_ascii_case(VNET_TYPE)
        && id.segments[1].0.eq_ignore_ascii_case("subnets");
    if !is_subnet {
        return Ok(None);
    }
    let Some(vnet) = cx.get(&id.root().key()).await? else {
        return Ok(None);
    };
    let name = id.name();
    let subnet = vnet.body["properties"]["subnets"]
        .as_array()
        .and_then(|s| {
            s.iter().find(|s| {
                s["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            })
        })
        .cloned();
    Ok(subnet.and_then(|s| {
        let prefix = s["properties"]["addressPrefix"].as_str()?.parse().ok()?;
        Some((
            format!("{}/subnets/{}", vnet.id, s["name"].as_str()?),
            s["name"].as_str()?.to_string(),
            prefix,
        ))
    }))
}

/// Private addresses taken in a subnet: every NIC ipConfiguration and every internal load
/// balancer frontend that references it, in the subscription of `subnet_id`, except those of
/// the resource being written (`cx.id`), whose new addresses the caller knows.
pub async fn used_private_ips(cx: &mut WriteCx<'_>, subnet_id: &str) -> ArmResult<Vec<Ipv4Addr>> {
    let sub = ResourceId::parse(subnet_id)
        .map(|id| id.subscription)
        .unwrap_or_else(|_| cx.id.subscription.clone());
    let me = cx.id.key();
    let mut used = Vec::new();
    for type_name in [NIC_TYPE, super::LB_TYPE] {
        let q = ResourceQuery {
            subscription: sub.clone(),
            resource_group: None,
            type_name: Some(type_name.into()),
        };
        for r in cx.list(&q).await? {
            if r.key() == me {
                continue;
            }
            let configs: Vec<&Value> = if type_name == NIC_TYPE {
                ip_configurations(&r.body).collect()
            } else {
                r.body["properties"]["frontendIPConfigurations"]
                    .as_array()
                    .map(|a| a.iter().collect())
                    .unwrap_or_default()
            };
            used.extend(
                configs
                    .into_iter()
                    .filter(|c| {
                        c["properties"]["subnet"]["id"]
                            .as_str()
                            .is_some_and(|s| same_id(s, subnet_id))
                    })
                    .filter_map(|c| {
                        c["properties"]["privateIPAddress"]
                            .as_str()?
                            .parse::<Ipv4Addr>()
                            .ok()
                    }),
            );
        }
    }
    Ok(used)
}

/// The first free private address of a subnet, from `.4` up, the way Azure allocates:
/// addresses used by any NIC ipConfiguration or internal load balancer frontend in the subnet
/// and the addresses in `exclude` are taken. The resource being written (`cx.id`) is not
/// scanned: pass the addresses it already holds or has just chosen in `exclude`.
///
/// Errors: `InvalidResourceReference` when the subnet does not exist, `SubnetIsFull` when no
/// address is left.
pub async fn allocate_private_ip(
    cx: &mut WriteCx<'_>,
    subnet_id: &str,
    exclude: &[Ipv4Addr],
) -> ArmResult<Ipv4Addr> {
    let Some((_, name, prefix)) = find_subnet(cx, subnet_id).await? else {
        return Err(errors::invalid_reference(subnet_id, &cx.id.to_string()));
    };
    let mut used: HashSet<u32> = used_private_ips(cx, subnet_id)
        .await?
        .into_iter()
        .map(u32::from)
        .collect();
    used.extend(exclude.iter().copied().map(u32::from));
    first_free(prefix.azure_usable(), &used).ok_or_else(|| errors::subnet_full(&name, &prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Cidr {
        parse_cidr(s).unwrap()
    }

    #[test]
    fn parses_canonical_prefixes_and_rejects_the_rest() {
        assert_eq!(cidr("10.0.0.0/16").to_string(), "10.0.0.0/16");
        assert_eq!(cidr("0.0.0.0/0").size(), 1 << 32);
        assert_eq!(cidr("10.1.2.3/32").size(), 1);
        for bad in [
            "10.0.0.0",
            "10.0.0.0/33",
            "10.0.0/8",
            "10.0.0.0/-1",
            "10.0.0.0/ 8",
            "fd00::/8",
            "",
        ] {
            assert_eq!(parse_cidr(bad), Err(CidrError::Malformed), "{bad}");
        }
        assert_eq!(
            parse_cidr("10.0.0.1/24"),
            Err(CidrError::HostBitsSet {
                canonical: cidr("10.0.0.0/24")
            })
        );
    }

    #[test]
    fn containment_and_overlap() {
        let space = cidr("10.0.0.0/16");
        assert!(space.contains(&cidr("10.0.1.0/24")));
        assert!(space.contains(&space));
        assert!(!space.contains(&cidr("10.1.0.0/24")));
        assert!(!cidr("10.0.1.0/24").contains(&space));
        assert!(cidr("10.0.0.0/23").overlaps(&cidr("10.0.1.0/24")));
        assert!(cidr("10.0.1.0/24").overlaps(&cidr("10.0.0.0/23")));
        assert!(!cidr("10.0.0.0/24").overlaps(&cidr("10.0.1.0/24")));
        assert!(space.contains_addr("10.0.255.255".parse().unwrap()));
        assert!(!space.contains_addr("10.1.0.0".parse().unwrap()));
    }

    #[test]
    fn azure_hands_out_dot_four_to_broadcast_minus_one() {
        let s = cidr("10.0.0.0/24");
        assert_eq!(
            Ipv4Addr::from(*s.azure_usable().start()),
            Ipv4Addr::new(10, 0, 0, 4)
        );
        assert_eq!(
            Ipv4Addr::from(*s.azure_usable().end()),
            Ipv4Addr::new(10, 0, 0, 254)
        );
        for reserved in ["10.0.0.0", "10.0.0.1", "10.0.0.3", "10.0.0.255"] {
            assert!(s.is_azure_reserved(reserved.parse().unwrap()), "{reserved}");
        }
        assert!(!s.is_azure_reserved("10.0.0.4".parse().unwrap()));
        assert!(!s.is_azure_reserved("10.0.1.4".parse().unwrap()));
        // A /29 has three usable addresses, a /30 none.
        assert_eq!(cidr("10.0.0.0/29").azure_usable().count(), 3);
        assert_eq!(cidr("10.0.0.0/30").azure_usable().count(), 0);
    }

    #[test]
    fn first_free_takes_the_lowest_gap() {
        let s = cidr("10.0.0.0/29");
        let used: HashSet<u32> = [Ipv4Addr::new(10, 0, 0, 4), Ipv4Addr::new(10, 0, 0, 6)]
            .into_iter()
            .map(u32::from)
            .collect();
        assert_eq!(
            first_free(s.azure_usable(), &used),
            Some(Ipv4Addr::new(10, 0, 0, 5))
        );
        let all: HashSet<u32> = s.azure_usable().collect();
        assert_eq!(first_free(s.azure_usable(), &all), None);
    }

    #[test]
    fn public_pool_is_127_1_and_starts_at_dot_one() {
        assert_eq!(PUBLIC_IP_POOL.to_string(), "127.1.0.0/16");
        assert_eq!(
            first_free(public_pool_range(1), &HashSet::new()),
            Some(Ipv4Addr::new(127, 1, 0, 1))
        );
        assert_eq!(
            Ipv4Addr::from(*public_pool_range(1).end()),
            Ipv4Addr::new(127, 1, 255, 254)
        );
        assert!(!PUBLIC_IP_POOL.overlaps(&INSTANCE_NIC_POOL));
        assert!(!PUBLIC_IP_POOL.overlaps(&INTERNAL_FRONTEND_POOL));
    }
}

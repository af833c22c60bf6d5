//! Private IP allocation in a subnet (placeholder until the network provider lands).

use std::net::Ipv4Addr;

use crate::arm::resource_type::WriteCx;
use crate::arm::{ArmError, ArmResult, ResourceId};

pub async fn allocate_private_ip(
    cx: &mut WriteCx<'_>,
    subnet_id: &str,
    exclude: &[Ipv4Addr],
) -> ArmResult<Ipv4Addr> {
    let subnet = ResourceId::parse(subnet_id)?;
    let vnet = cx.get(&subnet.root().to_string()).await?.ok_or_else(|| {
        ArmError::bad_request(
            "InvalidResourceReference",
            format!(
                "Resource {subnet_id} referenced by resource {} was not found.",
                cx.id
            ),
        )
    })?;
    let prefix = vnet.body["properties"]["subnets"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| {
            s["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(subnet.name()))
        })
        .and_then(|s| s["properties"]["addressPrefix"].as_str())
        .ok_or_else(|| {
            ArmError::bad_request(
                "InvalidResourceReference",
                format!("Resource {subnet_id} was not found."),
            )
        })?;
    let (net, len) = prefix
        .split_once('/')
        .ok_or_else(|| ArmError::internal("bad prefix"))?;
    let base = u32::from(net.parse::<Ipv4Addr>().map_err(ArmError::internal)?);
    let size = 1u32 << (32 - len.parse::<u32>().map_err(ArmError::internal)?);
    (4..size - 1)
        .map(|i| Ipv4Addr::from(base + i))
        .find(|a| !exclude.contains(a))
        .ok_or_else(|| ArmError::bad_request("SubnetIsFull", "full"))
}

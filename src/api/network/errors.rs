//! The errors Microsoft.Network answers with, in one place so codes and wording stay
//! consistent.
//!
//! Codes and messages marked *verified* were checked against errors real Azure returned (as
//! quoted in public issue trackers); the others follow Azure's naming but could not be
//! confirmed and are armlet's choice.

use crate::arm::ArmError;

use super::address::Cidr;

/// *Verified.* A reference to a resource (or child) that does not exist.
pub fn invalid_reference(referenced: &str, by: &str) -> ArmError {
    ArmError::bad_request(
        "InvalidResourceReference",
        format!(
            "Resource {referenced} referenced by resource {by} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region."
        ),
    )
}

/// *Verified code* (`InvalidRequestFormat` is what the network provider answers for values it
/// cannot accept); the message names the property and the allowed range.
pub fn out_of_range(what: &str, value: i64, min: i64, max: i64) -> ArmError {
    ArmError::bad_request(
        "InvalidRequestFormat",
        format!("{what} has an invalid value {value}. The value must be between {min} and {max}."),
    )
}

/// *Verified code.* A property that is missing or has a value outside its enumeration.
pub fn invalid_format(message: impl Into<String>) -> ArmError {
    ArmError::bad_request("InvalidRequestFormat", message)
}

/// *Verified.* A public IP still used by a frontend or NIC.
pub fn public_ip_in_use(ip_id: &str, by: &str) -> ArmError {
    ArmError::bad_request(
        "PublicIPAddressCannotBeDeleted",
        format!(
            "Public IP address {ip_id} can not be deleted since it is still allocated to resource {by}. In order to delete the public IP, disassociate/detach the Public IP address from the resource.  To learn how to do this, see aka.ms/deletepublicip."
        ),
    )
}

/// *Verified.* A subnet still used by a NIC or an internal frontend.
pub fn subnet_in_use(subnet_name: &str, by: &str) -> ArmError {
    ArmError::bad_request(
        "InUseSubnetCannotBeDeleted",
        format!(
            "Subnet {subnet_name} is in use by {by} and cannot be deleted. In order to delete the subnet, delete all the resources within the subnet. See aka.ms/deletesubnet."
        ),
    )
}

/// *Verified.* No private address left in a subnet.
pub fn subnet_full(subnet_name: &str, prefix: &Cidr) -> ArmError {
    ArmError::bad_request(
        "SubnetIsFull",
        format!(
            "Subnet {subnet_name} with address prefix {prefix} does not have enough capacity for 1 IP addresses."
        ),
    )
}

/// A child of a load balancer (backend pool, NAT rule or NAT pool) that NIC ipConfigurations
/// still reference. Code in the style of `InUseSubnetCannotBeDeleted`.
pub fn lb_child_in_use(kind: &str, child_id: &str, by: &str) -> ArmError {
    ArmError::bad_request(
        &format!("InUse{kind}CannotBeDeleted"),
        format!(
            "{kind} {child_id} is in use by {by} and cannot be deleted. Remove the reference from the network interface IP configuration first."
        ),
    )
}

/// A load balancer whose pools or NAT rules NIC ipConfigurations still reference.
pub fn load_balancer_in_use(lb_id: &str, by: &str) -> ArmError {
    let code = if by
        .to_ascii_lowercase()
        .contains("/virtualmachinescalesets/")
    {
        "LoadBalancerInUseByVirtualMachineScaleSet"
    } else {
        "InUseLoadBalancerCannotBeDeleted"
    };
    ArmError::bad_request(
        code,
        format!(
            "Cannot delete load balancer {lb_id} since its child resources are in use by {by}."
        ),
    )
}

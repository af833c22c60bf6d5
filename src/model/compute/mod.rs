//! Typed views and pure rules of Microsoft.Compute: the scale-set model's validation and
//! defaults ([`scale_set`]), the state an instance runs with, shared by the API and the
//! runtime ([`instance`]), and the VM image catalogue ([`image`]).

pub mod image;
pub mod instance;
pub mod quota;
pub mod scale_set;

pub const SCALE_SET_TYPE: &str = "Microsoft.Compute/virtualMachineScaleSets";
/// A Uniform scale set's instance.
pub const VM_TYPE: &str = "Microsoft.Compute/virtualMachineScaleSets/virtualMachines";
/// A Flexible scale set's instance: an ordinary virtual machine.
pub const FLEX_VM_TYPE: &str = "Microsoft.Compute/virtualMachines";

/// Where stored documents keep armlet's own fields; never rendered to clients.
pub const INTERNAL: &str = "_armlet";

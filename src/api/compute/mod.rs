//! Microsoft.Compute: virtual machine scale sets whose instances are real local processes,
//! their instances and NICs, and the VM image catalogue.

pub mod extensions;
pub mod fleet;
pub mod images;
pub mod instances;
pub mod lifecycle;
pub mod limits;
pub mod rolling_upgrades;
pub mod scale_set;
pub mod virtual_machine;
pub mod vm;

//! The runtime that makes armlet real: the clock, and (as they land) instance processes,
//! health probes, the data-plane proxy, autoscale and upgrades.

pub mod clock;
pub mod instance;
pub mod plan;
pub mod ports;
pub mod view;

//! The runtime that makes armlet real: the clock, and (as they land) instance processes,
//! health probes ([`probe`]), the data-plane proxy ([`proxy`]), autoscale and upgrades.

pub mod clock;
pub mod instance;
pub mod plan;
pub mod ports;
pub mod probe;
pub mod proxy;
pub mod view;

//! The generic ARM layer, written once for every resource type: ids, api-version, request
//! bodies and preconditions, the error envelope, listings, long-running operations, locations,
//! plus what Microsoft.Resources owns and every provider shares: resource groups, tags, the
//! provider catalogue and the operation workers. It never imports a provider.

pub mod extension;
pub mod groups;
pub mod list;
pub mod location;
pub mod lro;
pub mod operations;
pub mod providers;
pub mod request;
pub mod resource_type;
pub mod resources;
pub mod response;
pub mod service;
pub mod tags;

// The error envelope and resource ids are plain model types; the ARM layer re-exports them.
pub use crate::model::{error, id};

pub use error::{ArmError, ArmResult};
pub use id::ResourceId;
pub use request::ArmRequest;
pub use service::Arm;

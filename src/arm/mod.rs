//! The generic ARM layer, written once for every resource type: ids, api-version, request
//! bodies and preconditions, the error envelope, listings, long-running operations, locations.

pub mod error;
pub mod id;
pub mod list;
pub mod location;
pub mod lro;
pub mod request;
pub mod resource_type;
pub mod resources;

pub use error::{ArmError, ArmResult};
pub use id::ResourceId;
pub use request::ArmRequest;

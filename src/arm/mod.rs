//! The generic ARM layer, written once for every resource type: ids, api-version, request
//! bodies and preconditions, the error envelope, listings, long-running operations, locations.

pub mod list;
pub mod location;
pub mod lro;
pub mod request;
pub mod resource_type;
pub mod resources;

// The error envelope and resource ids are plain model types; the ARM layer re-exports them.
pub use crate::model::{error, id};

pub use error::{ArmError, ArmResult};
pub use id::ResourceId;
pub use request::ArmRequest;

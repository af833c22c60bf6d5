//! Value types shared by the providers and the runtime, parsed once (parse, don't validate).

pub mod autoscale;
pub mod duration;
pub mod error;
pub mod id;
pub mod merge;

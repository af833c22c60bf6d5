//! Value types shared by the providers and the runtime, parsed once (parse, don't validate).

pub mod action_group;
pub mod duration;
pub mod error;
pub mod global;
pub mod id;
pub mod merge;
pub mod metric_alert;

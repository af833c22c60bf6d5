//! What the runtime knows about an instance, added to its instance view: the process state
//! (running, exited with a code), the loopback address and ports it binds, health.

use serde_json::Value;

use crate::app::App;
use crate::store::Resource;

/// Adds runtime facts about the instance in `row` to its instance view.
pub async fn annotate_instance(
    _app: &App,
    row: &Resource,
    view: &mut Value,
    _statuses: &mut Vec<Value>,
) {
    let internal = &row.body[crate::api::compute::instances::INTERNAL];
    view["armlet"] = serde_json::json!({ "bindAddress": internal["bindAddress"] });
}

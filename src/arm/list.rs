//! `{"value": [...], "nextLink": ...}` listings with `$top` and `$skiptoken` paging.

use serde_json::{Value, json};

use super::error::{ArmError, ArmResult};
use super::request::ArmRequest;

/// The page size when the client does not ask for one.
pub const DEFAULT_PAGE: usize = 100;

/// One page of `items`, with a `nextLink` that continues where it ends.
pub fn page(req: &ArmRequest, items: Vec<Value>) -> ArmResult<Value> {
    let skip = match req.query("$skiptoken") {
        Some(t) => t.parse::<usize>().map_err(|_| {
            ArmError::bad_request(
                "InvalidSkipToken",
                format!("The skip token '{t}' is invalid."),
            )
        })?,
        None => 0,
    };
    let top = match req.query("$top") {
        Some(t) => t
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| ArmError::bad_request("InvalidTopValue", format!("The value '{t}' of query parameter '$top' is invalid. It must be a positive integer.")))?,
        None => DEFAULT_PAGE,
    };
    let total = items.len();
    let value: Vec<Value> = items.into_iter().skip(skip).take(top).collect();
    let mut body = json!({ "value": value });
    if skip + top < total {
        body["nextLink"] = json!(req.url_with("$skiptoken", &(skip + top).to_string()));
    }
    Ok(body)
}

//! `{"value": [...], "nextLink": ...}` listings with `$top` and `$skiptoken` paging.

use serde_json::{Value, json};

use super::error::{ArmError, ArmResult};
use super::request::ArmRequest;

/// The page size when the client does not ask for one.
pub const DEFAULT_PAGE: usize = 100;

/// One page of `items`, with a `nextLink` that continues where it ends.
pub fn page(req: &ArmRequest, items: Vec<Value>) -> ArmResult<Value> {
    let (skip, top) = window(req, DEFAULT_PAGE)?;
    let total = items.len();
    let value: Vec<Value> = items.into_iter().skip(skip).take(top).collect();
    Ok(fetched_page(
        req,
        value,
        skip,
        top,
        skip.saturating_add(top) < total,
    ))
}

/// Where the requested page starts and how long it is (`$skiptoken`, `$top`, else
/// `default_top`), for listings that fetch only the page.
pub fn window(req: &ArmRequest, default_top: usize) -> ArmResult<(usize, usize)> {
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
        None => default_top,
    };
    Ok((skip, top))
}

/// The page `value` fetched at `skip`, `top` long; `more` says whether items follow it.
pub fn fetched_page(
    req: &ArmRequest,
    value: Vec<Value>,
    skip: usize,
    top: usize,
    more: bool,
) -> Value {
    let mut body = json!({ "value": value });
    if more {
        body["nextLink"] = json!(req.url_with("$skiptoken", &skip.saturating_add(top).to_string()));
    }
    body
}

//! `GET /subscriptions/{s}/providers/Microsoft.Insights/eventtypes/management/values`: the
//! activity log (`az monitor activity-log list`), filtered as Azure filters it, newest first.

use axum::Json;
use axum::http::Method;
use axum::response::{IntoResponse, Response};

use crate::api::{ApiState, only};
use crate::arm::{ArmRequest, ArmResult, list};
use crate::model::activity_log::ActivityFilter;

pub async fn list(app: &ApiState, req: &ArmRequest, sub: &str) -> ArmResult<Response> {
    only(req, &[Method::GET])?;
    let filter = ActivityFilter::parse(req.query("$filter").unwrap_or_default())?;
    let mut events = app.arm.store.activity(sub, &filter).await?;
    // `$select` keeps only the named top-level properties, as Azure does.
    if let Some(select) = req.query("$select").filter(|s| !s.trim().is_empty()) {
        let keep: Vec<&str> = select.split(',').map(str::trim).collect();
        for e in &mut events {
            if let Some(o) = e.as_object_mut() {
                o.retain(|k, _| keep.iter().any(|s| s.eq_ignore_ascii_case(k)));
            }
        }
    }
    Ok(Json(list::page(req, events)?).into_response())
}

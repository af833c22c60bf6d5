//! `Microsoft.AlertsManagement/alerts`: the alerts metric alert rules fired, at subscription,
//! resource-group and resource scope (`{scope}/providers/Microsoft.AlertsManagement/alerts`):
//! list with the spec's filters (`monitorCondition`, `severity`, `alertState`, `alertRule`,
//! `targetResource...`, `timeRange`, `sortBy`, `pageCount`, `includeContext`), get by id, and
//! `changestate` (the user's New / Acknowledged / Closed). The alerts controller writes them.

use axum::Json;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

use crate::api::{ApiState, only};
use crate::arm::{ArmError, ArmRequest, ArmResult, ResourceId};
use crate::model::alerts_management::{AlertQuery, new_state};
use crate::runtime::alert::payload::time;
use crate::store::alerts::FiredAlert;

/// Which alerts a scope holds.
pub enum AlertScope {
    Subscription,
    ResourceGroup(String),
    /// The resource and what is below it.
    Resource(ResourceId),
}

impl AlertScope {
    fn holds(&self, a: &FiredAlert) -> bool {
        match self {
            AlertScope::Subscription => true,
            AlertScope::ResourceGroup(rg) => a
                .resource_group
                .as_deref()
                .is_some_and(|g| g.eq_ignore_ascii_case(rg)),
            AlertScope::Resource(id) => {
                let key = id.key();
                a.target_resource == key || a.target_resource.starts_with(&format!("{key}/"))
            }
        }
    }
}

/// `rest` is lower case and starts after `.../providers/Microsoft.AlertsManagement/alerts`;
/// `id_at` is the index of the alert id in `req.segments`.
pub async fn handle(
    app: &ApiState,
    req: &ArmRequest,
    sub: &str,
    scope: AlertScope,
    rest: &[&str],
) -> ArmResult<Response> {
    match rest {
        [] => {
            only(req, &[Method::GET])?;
            list(app, req, sub, &scope).await
        }
        [id] => {
            only(req, &[Method::GET])?;
            let a = find(app, sub, id).await?;
            Ok(Json(a.body).into_response())
        }
        [id, "changestate"] => {
            only(req, &[Method::POST])?;
            change_state(app, req, sub, id).await
        }
        _ => Err(ArmError::not_found(
            "NotFound",
            format!(
                "The requested resource path '{}' does not exist.",
                req.uri.path()
            ),
        )),
    }
}

async fn find(app: &ApiState, sub: &str, id: &str) -> ArmResult<FiredAlert> {
    app.arm.store.fired_alert(sub, id).await?.ok_or_else(|| {
        ArmError::not_found(
            "ResourceNotFound",
            format!("The alert '{id}' could not be found in subscription '{sub}'."),
        )
    })
}

async fn list(
    app: &ApiState,
    req: &ArmRequest,
    sub: &str,
    scope: &AlertScope,
) -> ArmResult<Response> {
    let q = AlertQuery::parse(|name| req.query(name))?;
    let now = app.runtime.clock.now_utc();
    let mut alerts: Vec<Value> = app
        .arm
        .store
        .fired_alerts(sub, now - q.time_range)
        .await?
        .into_iter()
        .filter(|a| scope.holds(a))
        .map(|mut a| {
            if !q.include_context {
                a.body["properties"]["context"] = json!({});
            }
            a.body
        })
        .filter(|a| q.matches(a))
        .collect();
    q.sort(&mut alerts);
    let skip = match req.query("$skiptoken") {
        Some(t) => t.parse::<usize>().map_err(|_| {
            ArmError::bad_request(
                "InvalidSkipToken",
                format!("The skip token '{t}' is invalid."),
            )
        })?,
        None => 0,
    };
    let total = alerts.len();
    let value: Vec<Value> = alerts.into_iter().skip(skip).take(q.page_count).collect();
    let mut body = json!({"value": value});
    if skip + q.page_count < total {
        body["nextLink"] = json!(req.url_with("$skiptoken", &(skip + q.page_count).to_string()));
    }
    Ok(Json(body).into_response())
}

/// Who the bearer token names (`upn`, `unique_name`, `appid` or `oid`), for
/// `lastModifiedUserName`; armlet's tokens are JWTs, read here without checking again.
fn caller(req: &ArmRequest) -> String {
    let claims = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .and_then(|t| t.split('.').nth(1))
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .unwrap_or_default();
    ["upn", "unique_name", "appid", "oid"]
        .iter()
        .find_map(|k| claims[*k].as_str().map(str::to_string))
        .unwrap_or_else(|| "user".into())
}

async fn change_state(
    app: &ApiState,
    req: &ArmRequest,
    sub: &str,
    id: &str,
) -> ArmResult<Response> {
    let state = new_state(req.query("newState"))?;
    let alert = find(app, sub, id).await?;
    let now = app.runtime.clock.now_utc();
    let mut body = alert.body.clone();
    let e = &mut body["properties"]["essentials"];
    e["alertState"] = json!(state);
    e["lastModifiedDateTime"] = json!(time(now));
    e["lastModifiedUserName"] = json!(caller(req));
    app.arm
        .store
        .set_alert_state(&alert, state, now, &body)
        .await?;
    Ok(Json(body).into_response())
}

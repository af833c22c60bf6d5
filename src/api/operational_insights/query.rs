//! The Log Analytics query API: `POST /v1/workspaces/{customerId}/query` with
//! `{"query", "timespan", "workspaces"}` (and `GET` with the same as query parameters), what
//! `az monitor log-analytics query` (the `log-analytics` extension), azure-cli's
//! `vm monitor log show` and `azure-monitor-query`'s `LogsQueryClient` send to
//! `{cloud.endpoints.log_analytics_resource_id}/v1/...`. `armlet az-env` registers that
//! endpoint as armlet itself.
//!
//! The answer is `{"tables": [{"name": "PrimaryResult", "columns", "rows"}]}`. `timespan`
//! (ISO 8601: a duration ending now, or `start/end`) limits `TimeGenerated`; absent, the
//! query sees all retained data. Errors use the query API's envelope: 404
//! `WorkspaceNotFoundError`, and 400 `BadArgumentError` whose `innererror` says
//! `SyntaxError`, `SemanticError`, or `NotSupportedByArmlet` for valid KQL outside the subset
//! ([`crate::model::log_analytics::kql`]); the top-level message carries the specific reason.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::ApiState;
use crate::metrics::timespan::parse_timespan;
use crate::model::log_analytics::kql::{self, KqlError};
use crate::model::log_analytics::{Table, WORKSPACE_TYPE};
use crate::model::log_analytics::{alb_health_event, azure_metrics};

/// The longest Log Analytics retention (12 years), bounding `timespan`.
const MAX_RETENTION: TimeDelta = TimeDelta::days(4383);

#[derive(Debug, Default, Deserialize)]
pub struct QueryBody {
    query: Option<String>,
    timespan: Option<String>,
    /// More workspaces to union; clients send `null` for none.
    workspaces: Option<Vec<String>>,
}

fn error(status: StatusCode, code: &str, message: &str, inner: Option<(&str, &str)>) -> Response {
    let mut body = json!({"error": {
        "message": message,
        "code": code,
        "correlationId": uuid::Uuid::new_v4().to_string(),
    }});
    if let Some((inner_code, inner_message)) = inner {
        body["error"]["innererror"] = json!({"code": inner_code, "message": inner_message});
    }
    (status, Json(body)).into_response()
}

fn bad_argument(inner_code: &str, message: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "BadArgumentError",
        message,
        Some((inner_code, message)),
    )
}

pub async fn post(
    State(app): State<ApiState>,
    Path(workspace): Path<String>,
    body: Bytes,
) -> Response {
    let body: QueryBody = if body.is_empty() {
        QueryBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => {
                return bad_argument(
                    "InvalidBody",
                    &format!("The request body is not valid JSON: {e}"),
                );
            }
        }
    };
    run(&app, &workspace, body).await
}

pub async fn get(
    State(app): State<ApiState>,
    Path(workspace): Path<String>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let body = QueryBody {
        query: q.get("query").cloned(),
        timespan: q.get("timespan").cloned(),
        workspaces: None,
    };
    run(&app, &workspace, body).await
}

/// The workspace whose `customerId` is `id` (case-insensitively): its key and customer id.
async fn workspace(app: &ApiState, id: &str) -> Result<Option<(String, String)>, sqlx::Error> {
    Ok(app
        .arm
        .store
        .list_types(&[WORKSPACE_TYPE])
        .await?
        .into_iter()
        .find_map(|w| {
            let customer = w.body["properties"]["customerId"].as_str()?.to_string();
            customer
                .eq_ignore_ascii_case(id.trim())
                .then(|| (w.key(), customer))
        }))
}

async fn run(app: &ApiState, workspace_id: &str, body: QueryBody) -> Response {
    let Some(text) = body.query.filter(|q| !q.trim().is_empty()) else {
        return bad_argument("MissingQuery", "The request has no 'query'.");
    };
    let now = app.runtime.clock.now_utc();
    let (from, to) = match body
        .timespan
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => (DateTime::<Utc>::UNIX_EPOCH, now + TimeDelta::days(1)),
        Some(raw) => match parse_timespan(Some(raw), now, MAX_RETENTION) {
            Ok(r) => (r.start, r.end),
            Err(e) => return bad_argument("InvalidTimespan", &e.message),
        },
    };
    // The tables a workspace holds; other names fail in the query as unknown tables.
    let table_name = kql::source_table(&text).ok();
    let mut table = match table_name.as_deref() {
        Some(azure_metrics::TABLE) => Some(azure_metrics::table(&[], "")),
        Some(alb_health_event::TABLE) => Some(alb_health_event::table(&[])),
        _ => None,
    };
    for id in std::iter::once(workspace_id.to_string()).chain(body.workspaces.unwrap_or_default()) {
        let (key, customer) = match workspace(app, &id).await {
            Ok(Some(w)) => w,
            Ok(None) => {
                return error(
                    StatusCode::NOT_FOUND,
                    "WorkspaceNotFoundError",
                    &format!("The workspace '{id}' could not be found."),
                    None,
                );
            }
            Err(e) => return internal(e),
        };
        let store = &app.arm.store;
        let rows = match table_name.as_deref() {
            Some(azure_metrics::TABLE) => store
                .azure_metrics(&key, from, to)
                .await
                .map(|rs| rs.iter().map(|r| r.row(&customer)).collect()),
            Some(alb_health_event::TABLE) => {
                store.alb_health_events(&key, from, to).await.map(|es| {
                    es.iter()
                        .map(|e| alb_health_event::row(e, &customer))
                        .collect()
                })
            }
            _ => Ok(Vec::new()),
        };
        match (rows, table.as_mut()) {
            (Ok(rows), Some(t)) => t.rows.extend(rows),
            (Ok(_), None) => {}
            (Err(e), _) => return internal(e),
        }
    }
    let result = kql::run(
        &text,
        |name| table.filter(|_| table_name.as_deref() == Some(name)),
        now,
    );
    match result {
        Ok(table) => Json(json!({"tables": [table_json(&table)]})).into_response(),
        Err(KqlError::Syntax(m)) => bad_argument("SyntaxError", &m),
        Err(KqlError::Semantic(m)) => bad_argument("SemanticError", &m),
        Err(KqlError::Unsupported(m)) => bad_argument("NotSupportedByArmlet", &m),
    }
}

fn table_json(t: &Table) -> Value {
    t.to_json("PrimaryResult")
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "log analytics query failed");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalServerError",
        "The query could not be run.",
        None,
    )
}

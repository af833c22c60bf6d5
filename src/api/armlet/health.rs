//! `GET /_armlet/health`: 200 once the store is open and the runtime started (the listener
//! only opens after both) and the store still answers; 503 `unavailable` when it does not.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;

use crate::api::ApiState;

/// The management surface's own state.
pub struct Management {
    /// When this armlet started (wall clock).
    pub started: DateTime<Utc>,
    /// One reset at a time: a second waits for the first rather than interleaving.
    pub reset_lock: tokio::sync::Mutex<()>,
}

impl Default for Management {
    fn default() -> Self {
        Management {
            started: Utc::now(),
            reset_lock: Default::default(),
        }
    }
}

pub async fn get(State(app): State<ApiState>) -> Response {
    let clock = app.runtime.clock;
    let store: Result<i64, sqlx::Error> = sqlx::query_scalar("SELECT count(*) FROM subscriptions")
        .fetch_one(app.arm.store.pool())
        .await;
    let mut body = json!({
        "status": "ready",
        "version": env!("CARGO_PKG_VERSION"),
        "startedAt": app.management.started.to_rfc3339_opts(SecondsFormat::Secs, true),
        "now": clock.now_utc().to_rfc3339_opts(SecondsFormat::Millis, true),
        "timeScale": clock.scale(),
        "instances": app.runtime.supervisor.list().len(),
    });
    match store {
        Ok(_) => (StatusCode::OK, Json(body)).into_response(),
        Err(e) => {
            body["status"] = json!("unavailable");
            body["detail"] = json!(format!("the store does not answer: {e}"));
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

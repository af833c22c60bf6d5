//! `GET /_armlet/health`: 200 once the store is open and the runtime started (the listener
//! only opens after both), the start-up fixture (`serve --deploy`) is deployed, and the
//! store still answers; 503 `starting` while the fixture deploys, `failed` if it failed,
//! `unavailable` when the store does not answer.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;
use tokio::sync::watch;

use crate::api::ApiState;

/// Where start-up stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// Still preparing; the text says what (the fixture being deployed).
    Starting(String),
    /// The start-up fixture failed: armlet serves, but not what the caller asked for.
    Failed(String),
}

/// The management surface's own state.
pub struct Management {
    /// When this armlet started (wall clock).
    pub started: DateTime<Utc>,
    pub readiness: watch::Sender<Readiness>,
    /// One reset at a time: a second waits for the first rather than interleaving.
    pub reset_lock: tokio::sync::Mutex<()>,
}

impl Management {
    pub fn new(readiness: Readiness) -> Self {
        Management {
            started: Utc::now(),
            readiness: watch::Sender::new(readiness),
            reset_lock: Default::default(),
        }
    }
}

pub async fn get(State(app): State<ApiState>) -> Response {
    let clock = app.runtime.clock;
    let store: Result<i64, sqlx::Error> = sqlx::query_scalar("SELECT count(*) FROM subscriptions")
        .fetch_one(app.arm.store.pool())
        .await;
    let readiness = app.management.readiness.borrow().clone();
    let (status, detail) = match (readiness, store) {
        (_, Err(e)) => (
            "unavailable",
            Some(format!("the store does not answer: {e}")),
        ),
        (Readiness::Ready, Ok(_)) => ("ready", None),
        (Readiness::Starting(d), Ok(_)) => ("starting", Some(d)),
        (Readiness::Failed(d), Ok(_)) => ("failed", Some(d)),
    };
    let mut body = json!({
        "status": status,
        "version": env!("CARGO_PKG_VERSION"),
        "startedAt": app.management.started.to_rfc3339_opts(SecondsFormat::Secs, true),
        "now": clock.now_utc().to_rfc3339_opts(SecondsFormat::Millis, true),
        "timeScale": clock.scale(),
        "instances": app.runtime.supervisor.list().len(),
    });
    let code = match detail {
        None => StatusCode::OK,
        Some(d) => {
            body["detail"] = json!(d);
            StatusCode::SERVICE_UNAVAILABLE
        }
    };
    (code, Json(body)).into_response()
}

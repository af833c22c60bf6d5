//! `GET /_armlet/snapshot`: a consistent copy of armlet's whole store, as an SQLite
//! database file. Everything needed to bring the resources and their running instances back
//! is in it (the runtime starts instances from the store), so `armlet serve --from-snapshot
//! FILE` restores it. Refused with 409 `SnapshotDuringOperation` while a long-running
//! operation or a rolling upgrade is in progress, which a restored copy would find half done.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::api::ApiState;
use crate::arm::ArmError;
use crate::store::reset::BusyError;

pub const MEDIA_TYPE: &str = "application/vnd.sqlite3";

pub async fn get(State(app): State<ApiState>) -> Response {
    match snapshot(&app).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, MEDIA_TYPE),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"armlet-snapshot.db\"",
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

async fn snapshot(app: &ApiState) -> Result<Vec<u8>, ArmError> {
    let dir = tempfile::tempdir().map_err(ArmError::internal)?;
    let path = dir.path().join("snapshot.db");
    match app.arm.store.snapshot_into(&path).await {
        Ok(()) => {}
        Err(BusyError::Busy(ops)) => {
            let list: Vec<String> = ops.iter().map(|(k, t)| format!("{k} of {t}")).collect();
            return Err(ArmError::conflict(
                "SnapshotDuringOperation",
                format!(
                    "armlet cannot take a snapshot while {} long-running operation(s) are in progress ({}); wait for them to end and retry.",
                    ops.len(),
                    list.join(", ")
                ),
            ));
        }
        Err(BusyError::Store(e)) => return Err(ArmError::internal(e)),
    }
    tokio::fs::read(&path).await.map_err(ArmError::internal)
}

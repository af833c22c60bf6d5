//! Long-running operation records: what `Azure-AsyncOperation` and `Location` URLs report.

use serde_json::Value;
use sqlx::{Row, SqliteConnection};

use super::{Store, now};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationStatus {
    InProgress,
    Succeeded,
    Failed,
    Canceled,
}

impl OperationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "InProgress",
            Self::Succeeded => "Succeeded",
            Self::Failed => "Failed",
            Self::Canceled => "Canceled",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "Succeeded" => Self::Succeeded,
            "Failed" => Self::Failed,
            "Canceled" => Self::Canceled,
            _ => Self::InProgress,
        }
    }

    pub fn is_terminal(self) -> bool {
        self != Self::InProgress
    }
}

#[derive(Debug, Clone)]
pub struct Operation {
    pub id: String,
    pub subscription: String,
    pub kind: String,
    pub target: String,
    pub status: OperationStatus,
    pub error: Option<Value>,
    pub start_time: String,
    pub end_time: Option<String>,
}

impl Store {
    pub async fn operation(&self, id: &str) -> Result<Option<Operation>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT id, subscription, kind, target, status, error, start_time, end_time FROM operations WHERE id = ?",
        )
        .bind(id.to_ascii_lowercase())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            let error: Option<String> = row.try_get("error")?;
            let status: String = row.try_get("status")?;
            Ok(Operation {
                id: row.try_get("id")?,
                subscription: row.try_get("subscription")?,
                kind: row.try_get("kind")?,
                target: row.try_get("target")?,
                status: OperationStatus::parse(&status),
                error: error.and_then(|e| serde_json::from_str(&e).ok()),
                start_time: row.try_get("start_time")?,
                end_time: row.try_get("end_time")?,
            })
        })
        .transpose()
    }

    /// Operations that were running when the process stopped; they are resumed at boot.
    pub async fn unfinished_operations(&self) -> Result<Vec<Operation>, sqlx::Error> {
        let ids: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM operations WHERE status = 'InProgress' ORDER BY start_time",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut ops = Vec::new();
        for (id,) in ids {
            if let Some(op) = self.operation(&id).await? {
                ops.push(op);
            }
        }
        Ok(ops)
    }

    /// Marks an operation finished.
    pub async fn finish_operation(
        &self,
        id: &str,
        status: OperationStatus,
        error: Option<&Value>,
    ) -> Result<(), sqlx::Error> {
        let mut w = self.write().await?;
        sqlx::query("UPDATE operations SET status = ?, error = ?, end_time = ? WHERE id = ?")
            .bind(status.as_str())
            .bind(error.map(Value::to_string))
            .bind(now())
            .bind(id)
            .execute(&mut *w.tx)
            .await?;
        w.commit().await
    }
}

/// Records a new operation inside the caller's transaction, so the operation exists exactly
/// when the change that started it does.
pub async fn insert(
    conn: &mut SqliteConnection,
    subscription: &str,
    kind: &str,
    target: &str,
) -> Result<String, sqlx::Error> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    sqlx::query(
        "INSERT INTO operations (id, subscription, kind, target, status, start_time) VALUES (?, ?, ?, ?, 'InProgress', ?)",
    )
    .bind(&id)
    .bind(subscription.to_ascii_lowercase())
    .bind(kind)
    .bind(target)
    .bind(now())
    .execute(conn)
    .await?;
    Ok(id)
}

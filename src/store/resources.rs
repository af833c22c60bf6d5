//! Resource rows: one JSON document per ARM resource, keyed by the case-folded id.

use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use super::{Store, now, references};

/// A stored resource.
#[derive(Debug, Clone)]
pub struct Resource {
    pub id: String,
    pub subscription: String,
    pub resource_group: Option<String>,
    pub type_name: String,
    pub name: String,
    pub body: Value,
    pub etag: String,
}

impl Resource {
    pub fn key(&self) -> String {
        self.id.to_ascii_lowercase()
    }

    pub(super) fn from_row(row: SqliteRow) -> Result<Self, sqlx::Error> {
        let body: String = row.try_get("body")?;
        Ok(Resource {
            id: row.try_get("id")?,
            subscription: row.try_get("subscription")?,
            resource_group: row.try_get("resource_group")?,
            type_name: row.try_get("type")?,
            name: row.try_get("name")?,
            body: serde_json::from_str(&body).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            etag: row.try_get("etag")?,
        })
    }
}

/// Which resources a listing returns. All filters match case-insensitively.
#[derive(Debug, Clone, Default)]
pub struct ResourceQuery {
    pub subscription: String,
    pub resource_group: Option<String>,
    pub type_name: Option<String>,
}

impl Store {
    pub async fn get(&self, key: &str) -> Result<Option<Resource>, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        get(&mut conn, key).await
    }

    pub async fn list(&self, q: &ResourceQuery) -> Result<Vec<Resource>, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        list(&mut conn, q).await
    }

    /// See [`referring_to`].
    pub async fn referring_to(
        &self,
        key: &str,
        type_name: &str,
    ) -> Result<Vec<Resource>, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        referring_to(&mut conn, key, type_name).await
    }

    /// See [`referred_by`].
    pub async fn referred_by(
        &self,
        key: &str,
        type_name: &str,
    ) -> Result<Vec<Resource>, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        referred_by(&mut conn, key, type_name).await
    }
}

pub async fn get(conn: &mut SqliteConnection, key: &str) -> Result<Option<Resource>, sqlx::Error> {
    sqlx::query("SELECT id, subscription, resource_group, type, name, body, etag FROM resources WHERE key = ?")
        .bind(key.to_ascii_lowercase())
        .fetch_optional(conn)
        .await?
        .map(Resource::from_row)
        .transpose()
}

/// Lists in creation order, which is the order ARM lists in.
pub async fn list(
    conn: &mut SqliteConnection,
    q: &ResourceQuery,
) -> Result<Vec<Resource>, sqlx::Error> {
    let query = sqlx::query(
        "SELECT id, subscription, resource_group, type, name, body, etag FROM resources
         WHERE subscription = ?1 AND (?2 IS NULL OR resource_group = ?2) AND (?3 IS NULL OR lower(type) = ?3)
         ORDER BY created_at, key",
    )
    .bind(q.subscription.to_ascii_lowercase())
    .bind(q.resource_group.as_ref().map(|g| g.to_ascii_lowercase()))
    .bind(q.type_name.as_ref().map(|t| t.to_ascii_lowercase()));
    query
        .fetch_all(conn)
        .await?
        .into_iter()
        .map(Resource::from_row)
        .collect()
}

/// Every resource of one type in every subscription, in creation order (for what is unique
/// across the whole instance, such as the loopback addresses of public IPs).
pub async fn list_all_of_type(
    conn: &mut SqliteConnection,
    type_name: &str,
) -> Result<Vec<Resource>, sqlx::Error> {
    sqlx::query(
        "SELECT id, subscription, resource_group, type, name, body, etag FROM resources
         WHERE lower(type) = ? ORDER BY created_at, key",
    )
    .bind(type_name.to_ascii_lowercase())
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(Resource::from_row)
    .collect()
}

/// Inserts or replaces a resource; the creation time of an existing row is kept.
pub async fn put(conn: &mut SqliteConnection, r: &Resource) -> Result<(), sqlx::Error> {
    let ts = now();
    sqlx::query(
        "INSERT INTO resources (key, id, subscription, resource_group, type, name, body, etag, created_at, changed_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET body = excluded.body, etag = excluded.etag, changed_at = excluded.changed_at",
    )
    .bind(r.key())
    .bind(&r.id)
    .bind(r.subscription.to_ascii_lowercase())
    .bind(r.resource_group.as_ref().map(|g| g.to_ascii_lowercase()))
    .bind(&r.type_name)
    .bind(&r.name)
    .bind(r.body.to_string())
    .bind(&r.etag)
    .bind(&ts)
    .bind(&ts)
    .execute(&mut *conn)
    .await?;
    references::record(conn, &r.key(), &r.body).await
}

pub async fn delete(conn: &mut SqliteConnection, key: &str) -> Result<bool, sqlx::Error> {
    let key = key.to_ascii_lowercase();
    let done = sqlx::query("DELETE FROM resources WHERE key = ?")
        .bind(&key)
        .execute(&mut *conn)
        .await?;
    references::forget(conn, &key).await?;
    Ok(done.rows_affected() > 0)
}

/// Resources of `type_name` whose documents refer to `key`'s top-level resource (`key` itself,
/// a child of it or the resource it is a child of), in creation order: an index lookup (see
/// [`references`]).
pub async fn referring_to(
    conn: &mut SqliteConnection,
    key: &str,
    type_name: &str,
) -> Result<Vec<Resource>, sqlx::Error> {
    sqlx::query(
        "SELECT r.id, r.subscription, r.resource_group, r.type, r.name, r.body, r.etag
         FROM resource_references x JOIN resources r ON r.key = x.from_key
         WHERE x.to_key = ?1 AND lower(r.type) = ?2 ORDER BY r.created_at, r.key",
    )
    .bind(index_key(key))
    .bind(type_name.to_ascii_lowercase())
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(Resource::from_row)
    .collect()
}

/// Resources of `type_name` that `key`'s document refers to, in creation order.
pub async fn referred_by(
    conn: &mut SqliteConnection,
    key: &str,
    type_name: &str,
) -> Result<Vec<Resource>, sqlx::Error> {
    sqlx::query(
        "SELECT r.id, r.subscription, r.resource_group, r.type, r.name, r.body, r.etag
         FROM resource_references x JOIN resources r ON r.key = x.to_key
         WHERE x.from_key = ?1 AND lower(r.type) = ?2 ORDER BY r.created_at, r.key",
    )
    .bind(key.to_ascii_lowercase())
    .bind(type_name.to_ascii_lowercase())
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(Resource::from_row)
    .collect()
}

/// The key the index records references to `id` under: its top-level resource's.
fn index_key(id: &str) -> String {
    references::top_level_key(id).unwrap_or_else(|| id.to_ascii_lowercase())
}

impl Store {
    /// Every resource of the given types, in every subscription (what the runtime plans from).
    pub async fn list_types(&self, types: &[&str]) -> Result<Vec<Resource>, sqlx::Error> {
        let wanted: Vec<String> = types.iter().map(|t| t.to_ascii_lowercase()).collect();
        let rows = sqlx::query(
            "SELECT id, subscription, resource_group, type, name, body, etag FROM resources
             WHERE lower(type) IN (SELECT value FROM json_each(?1)) ORDER BY created_at, key",
        )
        .bind(serde_json::to_string(&wanted).unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(Resource::from_row).collect()
    }
}

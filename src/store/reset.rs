//! The whole store at once: emptying it for `POST /_armlet/reset` (every table but the
//! migration history, in one write transaction), copying it for `GET /_armlet/snapshot`,
//! and opening such a copy (`serve --from-snapshot`). Reset and snapshot are refused while
//! a long-running operation or a rolling upgrade is in progress (its worker would write
//! again into an emptied store; a copy would hold it half done).

use super::Store;

/// What a reset removed: rows per table, tables in name order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removed {
    pub tables: Vec<(String, u64)>,
}

impl Removed {
    pub fn rows(&self, table: &str) -> u64 {
        self.tables
            .iter()
            .find(|(t, _)| t == table)
            .map_or(0, |(_, n)| *n)
    }
}

/// Why a reset or a snapshot did not happen.
#[derive(Debug, thiserror::Error)]
pub enum BusyError {
    /// `(kind, target)` of each operation still in progress.
    #[error("{} operation(s) in progress", .0.len())]
    Busy(Vec<(String, String)>),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

/// `(kind, target)` of every long-running operation in progress, and of every rolling
/// upgrade (a model change starts one without an operation row).
async fn in_progress(
    conn: &mut sqlx::SqliteConnection,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT kind, target FROM operations WHERE status = 'InProgress'
         UNION ALL
         SELECT 'rolling upgrade', scale_set FROM rolling_upgrades WHERE active = 1",
    )
    .fetch_all(conn)
    .await
}

impl Store {
    /// Writes a consistent copy of the whole database to `path`, which must not exist
    /// (SQLite's `VACUUM INTO`: one read transaction), refused while work is in progress
    /// that a restored copy would find half done. Writers wait meanwhile.
    pub async fn snapshot_into(&self, path: &std::path::Path) -> Result<(), BusyError> {
        let _no_writes = self.writer.lock().await;
        let mut conn = self.pool.acquire().await?;
        let busy = in_progress(&mut conn).await?;
        if !busy.is_empty() {
            return Err(BusyError::Busy(busy));
        }
        // As a URI with `mode=rwc`: the target inherits the connection's open flags, and an
        // in-memory store's would make the copy in memory too (written nowhere).
        const PATH: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
            .remove(b'/')
            .remove(b'.')
            .remove(b'-')
            .remove(b'_');
        let uri = format!(
            "file:{}?mode=rwc",
            percent_encoding::utf8_percent_encode(&path.display().to_string(), PATH)
        );
        sqlx::query("VACUUM INTO ?")
            .bind(uri)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// Opens a copy of the snapshot `from` at `to` (a new database file: an existing one
    /// is never overwritten), migrated to this armlet's schema.
    pub async fn restore(from: &std::path::Path, to: &std::path::Path) -> anyhow::Result<Self> {
        use anyhow::Context;
        let mut header = [0u8; 16];
        {
            use std::io::Read;
            std::fs::File::open(from)
                .and_then(|mut f| f.read_exact(&mut header))
                .with_context(|| format!("reading the snapshot {}", from.display()))?;
        }
        if &header != b"SQLite format 3\0" {
            anyhow::bail!(
                "{} is not an armlet snapshot (not an SQLite database)",
                from.display()
            );
        }
        if to.exists() {
            anyhow::bail!(
                "{} already holds a store; restore a snapshot into an empty data directory (or with --in-memory)",
                to.display()
            );
        }
        std::fs::copy(from, to)
            .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
        let store = Self::open(to).await?;
        let armlets: i64 =
            sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE version = 1")
                .fetch_one(&store.pool)
                .await?;
        anyhow::ensure!(armlets == 1, "{} is not an armlet snapshot", from.display());
        Ok(store)
    }

    /// Deletes every row of every table (the schema and its migration history stay), then
    /// records `default_subscription` again, all in one transaction. Tables are found in
    /// the schema rather than listed here, so a table a later migration adds is emptied too.
    pub async fn reset_all(&self, default_subscription: &str) -> Result<Removed, BusyError> {
        let mut w = self.write().await?;
        let busy = in_progress(&mut w.tx).await?;
        if !busy.is_empty() {
            return Err(BusyError::Busy(busy));
        }
        let tables: Vec<(String,)> = sqlx::query_as(
            "SELECT name FROM sqlite_master WHERE type = 'table'
               AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx_%' ORDER BY name",
        )
        .fetch_all(&mut *w.tx)
        .await?;
        // Rows referring to each other go in one statement each; the checks run at commit.
        sqlx::query("PRAGMA defer_foreign_keys = ON")
            .execute(&mut *w.tx)
            .await?;
        let mut removed = Removed::default();
        for (table,) in tables {
            // The name comes from sqlite_master, not from a client; quoted all the same.
            let sql = format!("DELETE FROM \"{}\"", table.replace('"', "\"\""));
            let done = sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *w.tx)
                .await?;
            removed.tables.push((table, done.rows_affected()));
        }
        sqlx::query(
            "INSERT INTO subscriptions (id, display_name, created_at) VALUES (?, 'armlet', ?)",
        )
        .bind(default_subscription.to_ascii_lowercase())
        .bind(super::now())
        .execute(&mut *w.tx)
        .await?;
        w.commit().await?;
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn rows(store: &Store, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(store.pool())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn everything_goes_but_the_default_subscription_and_the_schema() {
        let store = Store::in_memory().await.unwrap();
        store.ensure_subscription("S1", "one").await.unwrap();
        store.ensure_subscription("S2", "two").await.unwrap();
        sqlx::query("INSERT INTO operations (id, subscription, kind, target, status, start_time) VALUES ('o', 's1', 'k', 't', 'Succeeded', 'x')")
            .execute(store.pool())
            .await
            .unwrap();
        let removed = store.reset_all("S1").await.unwrap();
        assert_eq!(removed.rows("subscriptions"), 2);
        assert_eq!(removed.rows("operations"), 1);
        assert_eq!(rows(&store, "SELECT count(*) FROM operations").await, 0);
        assert_eq!(
            store.subscriptions().await.unwrap(),
            [("s1".to_string(), "armlet".to_string())]
        );
        assert!(rows(&store, "SELECT count(*) FROM _sqlx_migrations").await > 0);
    }

    #[tokio::test]
    async fn an_operation_in_progress_refuses_and_nothing_changes() {
        let store = Store::in_memory().await.unwrap();
        store.ensure_subscription("S1", "one").await.unwrap();
        sqlx::query("INSERT INTO operations (id, subscription, kind, target, status, start_time) VALUES ('o', 's1', 'deployment', '/x', 'InProgress', 'x')")
            .execute(store.pool())
            .await
            .unwrap();
        match store.reset_all("S1").await {
            Err(BusyError::Busy(ops)) => assert_eq!(ops, [("deployment".into(), "/x".into())]),
            other => panic!("{other:?}"),
        }
        assert_eq!(rows(&store, "SELECT count(*) FROM subscriptions").await, 1);
        assert_eq!(rows(&store, "SELECT count(*) FROM operations").await, 1);
    }

    #[tokio::test]
    async fn a_rolling_upgrade_in_progress_refuses_too() {
        let store = Store::in_memory().await.unwrap();
        sqlx::query("INSERT INTO rolling_upgrades (scale_set, kind, active, version, record) VALUES ('/ss', 'Model', 1, 1, '{}')")
            .execute(store.pool())
            .await
            .unwrap();
        match store.reset_all("S1").await {
            Err(BusyError::Busy(ops)) => {
                assert_eq!(ops, [("rolling upgrade".into(), "/ss".into())])
            }
            other => panic!("{other:?}"),
        }
        sqlx::query("UPDATE rolling_upgrades SET active = 0")
            .execute(store.pool())
            .await
            .unwrap();
        assert_eq!(
            store
                .reset_all("S1")
                .await
                .unwrap()
                .rows("rolling_upgrades"),
            1
        );
    }

    #[tokio::test]
    async fn a_snapshot_opens_as_the_same_store_elsewhere() {
        let store = Store::in_memory().await.unwrap();
        store.ensure_subscription("S1", "one").await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("snap.db");
        store.snapshot_into(&file).await.unwrap();
        let copy = Store::restore(&file, &dir.path().join("copy.db"))
            .await
            .unwrap();
        assert_eq!(
            copy.subscriptions().await.unwrap(),
            store.subscriptions().await.unwrap()
        );
        let e = Store::restore(&file, &dir.path().join("copy.db"))
            .await
            .err()
            .unwrap();
        assert!(e.to_string().contains("already holds a store"), "{e}");
    }
}

//! Durable state in SQLite (through sqlx): subscriptions, resources as JSON documents, and
//! long-running operation records.
//!
//! Writes go through [`Store::write`], which serialises writers with one async mutex and runs
//! them in a transaction: a handler can read what it depends on, validate, and write several
//! rows with no other writer in between, and a failed handler writes nothing.

pub mod activity_log;
pub mod alerts;
pub mod autoscale;
pub mod health_events;
pub mod instances;
pub mod lifecycle;
pub mod log_analytics;
pub mod metrics;
pub mod operations;
pub mod references;
pub mod reset;
pub mod resources;

pub use operations::{Operation, OperationStatus};
pub use resources::{Resource, ResourceQuery};

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Executor, Sqlite, SqlitePool};
use tokio::sync::{Mutex, MutexGuard};

#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
    /// One writer at a time: SQLite allows one anyway, and holding this across
    /// read-validate-write keeps every check and its write atomic.
    writer: Arc<Mutex<()>>,
}

/// A write transaction; dropped without [`WriteTx::commit`] it rolls back.
///
/// The transaction is driven with plain `BEGIN IMMEDIATE` / `COMMIT` / `ROLLBACK` rather
/// than sqlx's `Transaction`: when a COMMIT fails because the disk is full, SQLite rolls the
/// transaction back by itself, sqlx's own ROLLBACK then fails, and sqlx would keep counting
/// the connection as inside a transaction, so it could never begin one again.
pub struct WriteTx<'a> {
    pub tx: WriteConn,
    open: bool,
    _guard: MutexGuard<'a, ()>,
}

/// The connection of a [`WriteTx`]; reads and writes go through it (`&mut w.tx`).
pub struct WriteConn(Option<PoolConnection<Sqlite>>);

impl std::ops::Deref for WriteConn {
    type Target = sqlx::SqliteConnection;
    fn deref(&self) -> &Self::Target {
        self.0.as_ref().expect("connection of an open write")
    }
}

impl std::ops::DerefMut for WriteConn {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.0.as_mut().expect("connection of an open write")
    }
}

impl WriteTx<'_> {
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        let result = (&mut *self.tx).execute("COMMIT").await.map(|_| ());
        if result.is_err() {
            // SQLite may have rolled back already (SQLITE_FULL, SQLITE_IOERR); if it did not,
            // this does. Either way the connection leaves clean.
            let _ = (&mut *self.tx).execute("ROLLBACK").await;
        }
        self.open = false;
        result
    }
}

impl Drop for WriteTx<'_> {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        let Some(mut conn) = self.tx.0.take() else {
            return;
        };
        // Roll back before the connection goes back to the pool; the next writer waits for
        // SQLite's write lock (busy timeout) until then.
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move {
                    if (&mut *conn).execute("ROLLBACK").await.is_err() {
                        conn.close_on_drop();
                    }
                });
            }
            Err(_) => conn.close_on_drop(),
        }
    }
}

impl Store {
    /// Opens (creating if needed) the database file and applies migrations.
    pub async fn open(path: &Path) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: an acknowledged write survives a crash of the process or of the machine.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        Self::init(pool).await
    }

    /// A database that lives only as long as the process.
    pub async fn in_memory() -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
        // One connection: every connection to `:memory:` would be a separate database.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        Self::init(pool).await
    }

    async fn init(pool: SqlitePool) -> anyhow::Result<Self> {
        sqlx::migrate!("./migrations").run(&pool).await?;
        references::backfill(&mut *pool.acquire().await?).await?;
        Ok(Store {
            pool,
            writer: Arc::new(Mutex::new(())),
        })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Starts the one write transaction allowed at a time. `BEGIN IMMEDIATE` takes SQLite's
    /// write lock first (waiting up to the busy timeout): a deferred transaction that reads
    /// and then writes would fail at once with `SQLITE_BUSY` if a writer outside this mutex
    /// (process records, metrics) committed in between.
    pub async fn write(&self) -> Result<WriteTx<'_>, sqlx::Error> {
        let guard = self.writer.lock().await;
        let mut conn = self.pool.acquire().await?;
        (&mut *conn).execute("BEGIN IMMEDIATE").await?;
        Ok(WriteTx {
            tx: WriteConn(Some(conn)),
            open: true,
            _guard: guard,
        })
    }

    /// Records a subscription the first time it is used; returns whether it was new.
    pub async fn ensure_subscription(
        &self,
        id: &str,
        display_name: &str,
    ) -> Result<bool, sqlx::Error> {
        let id = id.to_ascii_lowercase();
        if self.subscription_exists(&id).await? {
            return Ok(false);
        }
        let mut w = self.write().await?;
        let done = sqlx::query(
            "INSERT INTO subscriptions (id, display_name, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(&id)
        .bind(display_name)
        .bind(now())
        .execute(&mut *w.tx)
        .await?;
        w.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn subscription_exists(&self, id: &str) -> Result<bool, sqlx::Error> {
        let row: Option<(String,)> = sqlx::query_as("SELECT id FROM subscriptions WHERE id = ?")
            .bind(id.to_ascii_lowercase())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// `(id, display name)` of every subscription, oldest first.
    pub async fn subscriptions(&self) -> Result<Vec<(String, String)>, sqlx::Error> {
        sqlx::query_as("SELECT id, display_name FROM subscriptions ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await
    }
}

pub use crate::model::time::now;

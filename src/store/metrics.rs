//! Metric minutes: the one-minute aggregates of every time series (see
//! [`crate::metrics::series`]), written in batches by the collector and read by time range
//! for the metrics API.
//!
//! A minute written twice (two flushes, or two sources of the same series) is merged, not
//! replaced: totals and counts add up, minimum and maximum keep the extremes.

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::metrics::series::{Aggregate, MinutePoint, dimension_key, parse_dimension_key};

use super::Store;

/// Rows per INSERT statement (8 parameters each, far below SQLite's limit of 32 766).
const ROWS_PER_INSERT: usize = 100;

impl Store {
    /// Writes a batch of minute aggregates in one transaction, merging each into a stored row
    /// of the same (resource, metric, dimensions, minute). All or nothing.
    pub async fn write_metric_minutes(&self, points: &[MinutePoint]) -> Result<(), sqlx::Error> {
        if points.is_empty() {
            return Ok(());
        }
        let mut w = self.write().await?;
        // Many rows per statement: each statement is a round trip to SQLite's thread, which
        // dominated a collector pass row by row. SQLite applies the upsert row by row, so
        // two rows of one series in one statement merge as well.
        for chunk in points.chunks(ROWS_PER_INSERT) {
            let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
            let sql = format!(
                "INSERT INTO metric_minutes (resource_key, metric, dimensions, minute, total, count, minimum, maximum)
                 VALUES {rows}
                 ON CONFLICT (resource_key, metric, dimensions, minute) DO UPDATE SET
                     total = total + excluded.total,
                     count = count + excluded.count,
                     minimum = MIN(minimum, excluded.minimum),
                     maximum = MAX(maximum, excluded.maximum)"
            );
            // Only placeholders are formatted in; every value is bound.
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for p in chunk {
                q = q
                    .bind(p.resource_key.to_ascii_lowercase())
                    .bind(&p.metric)
                    .bind(dimension_key(&p.dimensions))
                    .bind(p.minute.timestamp())
                    .bind(p.value.total)
                    .bind(p.value.count as i64)
                    .bind(p.value.minimum)
                    .bind(p.value.maximum);
            }
            q.execute(&mut *w.tx).await?;
        }
        w.commit().await
    }

    /// The minutes of one metric of one resource with `from <= minute < to`, oldest first.
    pub async fn metric_minutes(
        &self,
        resource_key: &str,
        metric: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<MinutePoint>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT resource_key, metric, dimensions, minute, total, count, minimum, maximum
             FROM metric_minutes
             WHERE resource_key = ? AND metric = ? AND minute >= ? AND minute < ?
             ORDER BY minute, dimensions",
        )
        .bind(resource_key.to_ascii_lowercase())
        .bind(metric)
        .bind(from.timestamp())
        .bind(to.timestamp())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let minute: i64 = row.try_get("minute")?;
                let count: i64 = row.try_get("count")?;
                let dims: String = row.try_get("dimensions")?;
                Ok(MinutePoint {
                    resource_key: row.try_get("resource_key")?,
                    metric: row.try_get("metric")?,
                    dimensions: parse_dimension_key(&dims),
                    minute: DateTime::from_timestamp(minute, 0).ok_or_else(|| {
                        sqlx::Error::Decode(format!("minute {minute} is out of range").into())
                    })?,
                    value: Aggregate {
                        total: row.try_get("total")?,
                        count: count.max(0) as u64,
                        minimum: row.try_get("minimum")?,
                        maximum: row.try_get("maximum")?,
                    },
                })
            })
            .collect()
    }

    /// Deletes every minute before `cutoff` (the retention window's start); returns how many.
    pub async fn prune_metric_minutes(&self, cutoff: DateTime<Utc>) -> Result<u64, sqlx::Error> {
        let mut w = self.write().await?;
        let done = sqlx::query("DELETE FROM metric_minutes WHERE minute < ?")
            .bind(cutoff.timestamp())
            .execute(&mut *w.tx)
            .await?;
        w.commit().await?;
        Ok(done.rows_affected())
    }

    /// Deletes the series of a resource and of its child resources (a scale set's VMs);
    /// returns how many minutes went.
    pub async fn delete_resource_metrics(&self, resource_key: &str) -> Result<u64, sqlx::Error> {
        let key = resource_key.to_ascii_lowercase();
        let mut w = self.write().await?;
        // Children by prefix without LIKE: names may hold `_` and `%`.
        let done = sqlx::query(
            "DELETE FROM metric_minutes
             WHERE resource_key = ?1 OR substr(resource_key, 1, length(?1) + 1) = ?1 || '/'",
        )
        .bind(&key)
        .execute(&mut *w.tx)
        .await?;
        w.commit().await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, TimeZone};

    use super::*;
    use crate::metrics::series::dimensions;

    const LB: &str =
        "/subscriptions/s/resourcegroups/rg/providers/microsoft.network/loadbalancers/lb";
    const VMSS: &str = "/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/virtualmachinescalesets/web_1";

    fn t(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, h, m, s).unwrap()
    }

    fn bytes(port: &str, at: DateTime<Utc>, v: f64) -> MinutePoint {
        let dims = dimensions([("FrontendPort", port), ("Direction", "In")]);
        MinutePoint::new(LB, "ByteCount", dims, at, Aggregate::sample(v))
    }

    #[tokio::test]
    async fn minutes_round_trip_by_range() {
        let store = Store::in_memory().await.unwrap();
        store
            .write_metric_minutes(&[
                bytes("80", t(10, 0, 5), 10.0),
                bytes("443", t(10, 1, 0), 20.0),
                bytes("80", t(10, 2, 0), 30.0),
            ])
            .await
            .unwrap();
        let got = store
            .metric_minutes(&LB.to_uppercase(), "ByteCount", t(10, 0, 0), t(10, 2, 0))
            .await
            .unwrap();
        assert_eq!(
            got,
            [
                bytes("80", t(10, 0, 0), 10.0),
                bytes("443", t(10, 1, 0), 20.0)
            ]
        );
        assert!(
            store
                .metric_minutes(LB, "PacketCount", t(10, 0, 0), t(11, 0, 0))
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn a_minute_written_twice_is_merged() {
        let store = Store::in_memory().await.unwrap();
        store
            .write_metric_minutes(&[bytes("80", t(10, 0, 0), 10.0)])
            .await
            .unwrap();
        // A later flush of the same minute, with two values in one batch.
        store
            .write_metric_minutes(&[
                bytes("80", t(10, 0, 30), 4.0),
                bytes("80", t(10, 0, 59), 25.0),
            ])
            .await
            .unwrap();
        let got = store
            .metric_minutes(LB, "ByteCount", t(10, 0, 0), t(10, 1, 0))
            .await
            .unwrap();
        assert_eq!(got.len(), 1);
        let a = got[0].value;
        assert_eq!(
            (a.total, a.count, a.minimum, a.maximum),
            (39.0, 3, 4.0, 25.0)
        );
    }

    #[tokio::test]
    async fn a_batch_of_several_statements_merges_across_them() {
        let store = Store::in_memory().await.unwrap();
        // 250 points of one series: three statements, every one merging into the same row.
        let batch: Vec<MinutePoint> = (0..250)
            .map(|i| bytes("80", t(10, 0, 1), i as f64))
            .collect();
        store.write_metric_minutes(&batch).await.unwrap();
        let got = store
            .metric_minutes(LB, "ByteCount", t(10, 0, 0), t(10, 1, 0))
            .await
            .unwrap();
        let a = got[0].value;
        assert_eq!(
            (got.len(), a.total, a.count, a.minimum, a.maximum),
            (1, (0..250).sum::<i32>() as f64, 250, 0.0, 249.0)
        );
    }

    #[tokio::test]
    async fn pruning_deletes_only_minutes_before_the_cutoff() {
        let store = Store::in_memory().await.unwrap();
        let old = t(10, 0, 0) - TimeDelta::days(94);
        store
            .write_metric_minutes(&[bytes("80", old, 1.0), bytes("80", t(10, 0, 0), 2.0)])
            .await
            .unwrap();
        let gone = store
            .prune_metric_minutes(t(10, 0, 0) - TimeDelta::days(93))
            .await
            .unwrap();
        assert_eq!(gone, 1);
        let left = store
            .metric_minutes(LB, "ByteCount", old, t(11, 0, 0))
            .await
            .unwrap();
        assert_eq!(left, [bytes("80", t(10, 0, 0), 2.0)]);
    }

    #[tokio::test]
    async fn deleting_a_resource_deletes_its_children_but_not_lookalikes() {
        let store = Store::in_memory().await.unwrap();
        let cpu = |key: &str| {
            MinutePoint::new(
                key,
                "Percentage CPU",
                dimensions([]),
                t(10, 0, 0),
                Aggregate::sample(5.0),
            )
        };
        let vm = format!("{VMSS}/virtualmachines/0");
        let lookalike = format!("{VMSS}2");
        let underscore = VMSS.replace("web_1", "webx1");
        store
            .write_metric_minutes(&[
                cpu(VMSS),
                cpu(&vm),
                cpu(&lookalike),
                cpu(&underscore),
                bytes("80", t(10, 0, 0), 1.0),
            ])
            .await
            .unwrap();
        assert_eq!(
            store
                .delete_resource_metrics(&VMSS.to_uppercase())
                .await
                .unwrap(),
            2
        );
        for (key, left) in [
            (VMSS, 0),
            (vm.as_str(), 0),
            (lookalike.as_str(), 1),
            (underscore.as_str(), 1),
        ] {
            let got = store
                .metric_minutes(key, "Percentage CPU", t(10, 0, 0), t(11, 0, 0))
                .await
                .unwrap();
            assert_eq!(got.len(), left, "{key}");
        }
        assert_eq!(
            store
                .metric_minutes(LB, "ByteCount", t(10, 0, 0), t(11, 0, 0))
                .await
                .unwrap()
                .len(),
            1
        );
    }

    #[tokio::test]
    async fn a_failed_batch_writes_nothing() {
        let store = Store::in_memory().await.unwrap();
        let mut bad = bytes("80", t(10, 0, 0), 1.0);
        bad.value.total = f64::NAN; // SQLite stores NaN as NULL, which NOT NULL refuses
        let err = store
            .write_metric_minutes(&[bytes("443", t(10, 0, 0), 1.0), bad])
            .await;
        assert!(err.is_err());
        assert!(
            store
                .metric_minutes(LB, "ByteCount", t(10, 0, 0), t(11, 0, 0))
                .await
                .unwrap()
                .is_empty()
        );
    }
}

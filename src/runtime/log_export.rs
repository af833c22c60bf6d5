//! The diagnostic-settings exporter: a level-triggered loop that makes every workspace hold
//! the rows its settings owe it. A setting that sends `AllMetrics` (enabled) to a workspace
//! that exists exports its resource's minute aggregates as `AzureMetrics` rows, and one that
//! sends `LoadBalancerHealthEvent` (by name or through `allLogs`) the load balancer's
//! published health events as `ALBHealthEvent` rows, from the minute the exporter first saw
//! it (Azure exports from the setting's creation on, without backfill).
//!
//! Each pass, per setting: the minutes in the [`window`] are read from the metric store,
//! flattened across dimension values as Azure does for this table ([`records`]), written
//! (replacing what a previous pass wrote for the same minutes) and the progress recorded. A
//! minute is exported once it is over and [`GRACE`] has passed (the collector may still be
//! flushing it); the last [`TAIL`] is exported again, so a late flush is not lost. Passes run
//! on every stored change and every [`PERIOD`] of Azure time; a pass that fails is retried by
//! the next one. Rows older than their workspace's `retentionInDays` are pruned every
//! [`PRUNE_EVERY`].

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::clock::Clock;
use crate::metrics::catalog;
use crate::metrics::series::{Aggregate, MinutePoint, minute_of};
use crate::model::diagnostic_settings::{self, categories_for, exports_log_to, exports_metrics_to};
use crate::model::id::ResourceId;
use crate::model::log_analytics::WORKSPACE_TYPE;
use crate::model::log_analytics::alb_health_event;
use crate::model::log_analytics::azure_metrics::MetricRecord;
use crate::store::Store;
use crate::store::log_analytics::ExportProgress;

/// How long after a minute ends it is first exported.
pub const GRACE: TimeDelta = TimeDelta::minutes(1);
/// How much of what was exported is sent again each pass.
pub const TAIL: TimeDelta = TimeDelta::minutes(2);
/// Azure time between passes when nothing changes.
pub const PERIOD: Duration = Duration::from_secs(30);
/// Azure time between prunings of rows past their workspace's retention.
pub const PRUNE_EVERY: TimeDelta = TimeDelta::hours(1);

/// The minutes `[start, end)` to export now, or `None` when none are due.
pub fn window(
    progress: &ExportProgress,
    now: DateTime<Utc>,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let end = minute_of(now - GRACE);
    let start = progress.since.max(progress.through - TAIL);
    (start < end).then_some((start, end))
}

/// One `AzureMetrics` row per minute of `points` (one metric of one resource): the minute's
/// series merged across dimension values.
pub fn records(points: &[MinutePoint], workspace_key: &str, unit: &str) -> Vec<MetricRecord> {
    let mut minutes: BTreeMap<DateTime<Utc>, (&MinutePoint, Aggregate)> = BTreeMap::new();
    for p in points {
        minutes
            .entry(p.minute)
            .and_modify(|(_, a)| a.merge(&p.value))
            .or_insert((p, p.value));
    }
    minutes
        .into_values()
        .map(|(p, a)| MetricRecord {
            workspace_key: workspace_key.to_ascii_lowercase(),
            resource_key: p.resource_key.clone(),
            metric: p.metric.clone(),
            minute: p.minute,
            total: a.total,
            count: a.count as f64,
            minimum: a.minimum,
            maximum: a.maximum,
            average: a.average().unwrap_or(0.0),
            unit: unit.to_string(),
        })
        .collect()
}

/// Runs passes until `shutdown`.
pub async fn run(
    store: Store,
    clock: Clock,
    mut changes: watch::Receiver<u64>,
    shutdown: CancellationToken,
) {
    let mut tick = clock.interval(PERIOD);
    let mut pruned: Option<DateTime<Utc>> = None;
    loop {
        let now = clock.now_utc();
        let prune = prune_due(pruned, now);
        match pass(&store, now, prune).await {
            Ok(()) if prune => pruned = Some(now),
            Ok(()) => {}
            Err(e) => tracing::warn!(error = %e, "log analytics export failed; retrying"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = changes.changed() => {}
            _ = tick.tick() => {}
        }
    }
}

/// Whether rows past retention are due to be pruned, the last pruning having been at `last`.
pub fn prune_due(last: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    last.is_none_or(|at| now - at >= PRUNE_EVERY)
}

/// The resource a setting belongs to: its id up to `/providers/microsoft.insights/...`.
fn target_of(setting_key: &str) -> Option<&str> {
    setting_key
        .rfind("/providers/microsoft.insights/diagnosticsettings/")
        .map(|i| &setting_key[..i])
}

/// One pass over every setting; with `prune`, rows past their workspace's retention go too.
pub async fn pass(store: &Store, now: DateTime<Utc>, prune: bool) -> Result<(), sqlx::Error> {
    let settings = store.list_types(&[diagnostic_settings::TYPE]).await?;
    let workspaces = store.list_types(&[WORKSPACE_TYPE]).await?;
    let progress: BTreeMap<String, ExportProgress> = store
        .log_exports()
        .await?
        .into_iter()
        .map(|p| (p.setting_key.clone(), p))
        .collect();
    let mut active = Vec::new();
    for s in &settings {
        let key = s.key();
        let props = &s.body["properties"];
        let (Some(target), Some(workspace)) = (target_of(&key), props["workspaceId"].as_str())
        else {
            continue;
        };
        let Ok(target_id) = ResourceId::parse(target) else {
            continue;
        };
        let workspace_key = workspace.to_ascii_lowercase();
        let metrics = exports_metrics_to(props).is_some();
        let health = categories_for(&target_id.type_name())
            .and_then(|c| c.logs.iter().find(|l| l.name == alb_health_event::CATEGORY))
            .is_some_and(|l| exports_log_to(props, l).is_some());
        if !metrics && !health {
            continue;
        }
        // A workspace deleted after the setting was made: nothing is exported until it exists.
        if !workspaces.iter().any(|w| w.key() == workspace_key) {
            continue;
        }
        active.push(key.clone());
        let p = match progress.get(&key) {
            Some(p) if p.workspace_key == workspace_key => p.clone(),
            _ => {
                let since = minute_of(now);
                let fresh = ExportProgress {
                    setting_key: key.clone(),
                    workspace_key: workspace_key.clone(),
                    since,
                    through: since,
                };
                store.put_log_export(&fresh).await?;
                fresh
            }
        };
        let Some((start, end)) = window(&p, now) else {
            continue;
        };
        let namespace = catalog::for_resource_type(&target_id.type_name());
        if let (true, Some(namespace)) = (metrics, namespace) {
            let mut out = Vec::new();
            for metric in namespace.metrics {
                let points = store
                    .metric_minutes(target, metric.name, start, end)
                    .await?;
                out.extend(records(&points, &workspace_key, metric.unit.as_str()));
            }
            store.write_azure_metrics(&out).await?;
        }
        if health {
            let events = store.health_events(target, start, end).await?;
            store
                .write_alb_health_events(&workspace_key, &events)
                .await?;
        }
        store
            .put_log_export(&ExportProgress { through: end, ..p })
            .await?;
    }
    for gone in progress.keys().filter(|k| !active.contains(k)) {
        store.delete_log_export(gone).await?;
    }
    for w in workspaces.iter().filter(|_| prune) {
        let days = w.body["properties"]["retentionInDays"]
            .as_i64()
            .unwrap_or(30);
        let cutoff = now - TimeDelta::days(days);
        store.prune_azure_metrics(&w.key(), cutoff).await?;
        store.prune_alb_health_events(&w.key(), cutoff).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::metrics::series::dimensions;

    fn t(m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, 10, m, s).unwrap()
    }

    #[test]
    fn a_minute_is_exported_after_its_grace_and_the_tail_again() {
        let p = ExportProgress {
            setting_key: "s".into(),
            workspace_key: "w".into(),
            since: t(0, 0),
            through: t(0, 0),
        };
        assert_eq!(
            window(&p, t(1, 30)),
            None,
            "minute 0 is still in its grace period"
        );
        assert_eq!(window(&p, t(2, 0)), Some((t(0, 0), t(1, 0))));
        let later = ExportProgress {
            through: t(5, 0),
            ..p.clone()
        };
        assert_eq!(window(&later, t(7, 10)), Some((t(3, 0), t(6, 0))));
        let fresh = ExportProgress {
            since: t(4, 0),
            ..later
        };
        assert_eq!(
            window(&fresh, t(7, 10)).unwrap().0,
            t(4, 0),
            "never before the setting"
        );
    }

    #[test]
    fn dimension_values_merge_into_one_row_per_minute() {
        let lb = "/subscriptions/s/resourcegroups/rg/providers/microsoft.network/loadbalancers/lb";
        let point = |port: &str, at, v: f64| {
            MinutePoint::new(
                lb,
                "ByteCount",
                dimensions([("FrontendPort", port)]),
                at,
                Aggregate::sample(v),
            )
        };
        let rows = records(
            &[
                point("80", t(0, 0), 100.0),
                point("443", t(0, 0), 50.0),
                point("80", t(1, 0), 7.0),
            ],
            "W",
            "Bytes",
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (
                rows[0].total,
                rows[0].count,
                rows[0].minimum,
                rows[0].maximum,
                rows[0].average
            ),
            (150.0, 2.0, 50.0, 100.0, 75.0)
        );
        assert_eq!(
            (rows[1].minute, rows[1].total, rows[1].unit.as_str()),
            (t(1, 0), 7.0, "Bytes")
        );
        assert_eq!(rows[0].workspace_key, "w");
    }

    #[test]
    fn pruning_is_hourly_and_first_at_start() {
        assert!(prune_due(None, t(0, 0)));
        assert!(!prune_due(Some(t(0, 0)), t(59, 59)));
        assert!(prune_due(Some(t(0, 0)), t(0, 0) + PRUNE_EVERY));
    }

    #[test]
    fn settings_name_their_resource() {
        assert_eq!(
            target_of(
                "/subscriptions/s/resourcegroups/rg/providers/microsoft.network/loadbalancers/lb/providers/microsoft.insights/diagnosticsettings/d"
            ),
            Some("/subscriptions/s/resourcegroups/rg/providers/microsoft.network/loadbalancers/lb")
        );
    }
}

//! `GET .../autoscalesettings/{name}/predictiveMetrics` (`az monitor autoscale
//! show-predictive-metric`): the forecast of the target's CPU that predictive autoscale
//! works from, per [`crate::runtime::autoscale::predictive`]. Until the scale set has seven
//! days of `Percentage CPU` history (or while predictive autoscale is off) the answer has
//! no data and the metric name suffixed `;-1`, as Azure answers; after that, each interval
//! is forecast from the same interval one and two weeks earlier, the scale set's total CPU
//! being the sum of its instances' averages.

use std::collections::BTreeMap;

use axum::Json;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use chrono::TimeDelta;

use crate::api::only;
use crate::arm::{Arm, ArmError, ArmRequest, ArmResult, ResourceId, resources};
use crate::metrics::series::Aggregate;
use crate::metrics::timespan::{self, Interval, TimeRange};
use crate::model::autoscale::parse_setting;
use crate::runtime::autoscale::predictive::{
    ForecastStatus, Point, forecast_status, predictive_response, seasonal_forecast,
};
use crate::runtime::clock::Clock;

const CPU: &str = "Percentage CPU";

pub async fn get(
    arm: &Arm,
    clock: Clock,
    req: &ArmRequest,
    id: &ResourceId,
) -> ArmResult<Response> {
    only(req, &[Method::GET])?;
    let row = resources::get_stored(arm, id).await?;
    let setting = parse_setting(&row.body["properties"], &row.name)?;
    let required = |name: &str| {
        req.query(name)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| {
                ArmError::bad_request(
                    "BadRequest",
                    format!("The query parameter '{name}' is required."),
                )
            })
    };
    let (raw_timespan, raw_interval) = (required("timespan")?, required("interval")?);
    required("aggregation")?;
    let metric_name = req.query("metricName").unwrap_or("PercentageCPU");
    let now = clock.now_utc();
    let range = timespan::parse_timespan(Some(raw_timespan), now, timespan::DEFAULT_RETENTION)?;
    let interval = timespan::parse_interval(Some(raw_interval))?;
    let target = &setting.target_resource_uri;
    let key = target.to_ascii_lowercase();
    let since = arm.store.first_metric_minute(&key, CPU).await?;
    let forecast = match forecast_status(&setting.predictive, since, now) {
        ForecastStatus::Disabled | ForecastStatus::Training { .. } => None,
        ForecastStatus::Ready => Some(forecast(arm, &key, &range, interval).await?),
    };
    Ok(Json(predictive_response(
        target,
        metric_name,
        raw_timespan,
        raw_interval,
        forecast.as_deref(),
    ))
    .into_response())
}

/// The seasonal forecast of the scale set's total CPU over `range`.
async fn forecast(
    arm: &Arm,
    key: &str,
    range: &TimeRange,
    interval: Interval,
) -> ArmResult<Vec<Point>> {
    let buckets = timespan::buckets(range, interval);
    let Some(first) = buckets.first() else {
        return Ok(Vec::new());
    };
    let grain = first.end - first.start;
    let mut history = Vec::new();
    for lag in [TimeDelta::weeks(1), TimeDelta::weeks(2)] {
        let (from, to) = (first.start - lag, range.end - lag);
        let minutes = arm.store.metric_minutes(key, CPU, from, to).await?;
        for b in &buckets {
            let (start, end) = (b.start - lag, b.end - lag);
            // Per VM, the interval's average; the scale set's total is their sum.
            let mut per_vm: BTreeMap<String, Aggregate> = BTreeMap::new();
            for m in minutes
                .iter()
                .filter(|m| start <= m.minute && m.minute < end)
            {
                let vm = m.dimensions.values().next().cloned().unwrap_or_default();
                per_vm
                    .entry(vm)
                    .and_modify(|a| a.merge(&m.value))
                    .or_insert(m.value);
            }
            let total: Option<f64> = per_vm.values().map(Aggregate::average).sum();
            if let Some(total) = total.filter(|_| !per_vm.is_empty()) {
                history.push((start, total));
            }
        }
    }
    Ok(seasonal_forecast(&history, first.start, range.end, grain))
}

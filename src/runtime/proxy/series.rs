//! Per-minute time series of the proxy's counters, in Azure time, for Azure Monitor
//! metrics (ByteCount, PacketCount, SYNCount, HealthProbeStatus / DipAvailability).
//!
//! Once per Azure minute the sampler records, for every frontend rule and every backend of
//! it, what moved during that minute and the share of backends in rotation. Each series
//! keeps the last 24 hours (1440 points).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::counters::CounterSnapshot;
use super::frontend::FrontendRt;
use crate::runtime::clock::Clock;
use crate::runtime::probe::HealthView;

/// Points kept per series: 24 h at 1-minute grain.
pub const MINUTES_KEPT: usize = 1440;

/// One minute of one series.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MinutePoint {
    /// Azure minutes since the clock started; the point covers `[minute-1, minute)`.
    pub minute: u64,
    /// Traffic during the minute (`flows` is the gauge at the sample).
    pub traffic: CounterSnapshot,
    /// Percent of backends in rotation at the sample (100 or 0 for one backend); `None`
    /// when no backend is probed.
    pub health_percent: Option<f64>,
}

#[derive(Debug, Default)]
struct Series {
    points: VecDeque<MinutePoint>,
    last: CounterSnapshot,
}

impl Series {
    fn record(&mut self, minute: u64, now: CounterSnapshot, health_percent: Option<f64>) {
        self.points.push_back(MinutePoint {
            minute,
            traffic: now.since(&self.last),
            health_percent,
        });
        self.last = now;
        while self.points.len() > MINUTES_KEPT {
            self.points.pop_front();
        }
    }
}

/// Series key: (frontend key, backend key or `None` for the frontend's totals).
type SeriesKey = (String, Option<String>);

/// All series, shared between the sampler and readers.
#[derive(Debug, Default)]
pub struct MetricSeries {
    series: Mutex<HashMap<SeriesKey, Series>>,
}

impl MetricSeries {
    /// The points of a frontend's totals (`backend = None`) or of one of its backends.
    pub fn points(&self, frontend: &str, backend: Option<&str>) -> Vec<MinutePoint> {
        let map = self.series.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&(frontend.to_string(), backend.map(str::to_string)))
            .map(|s| s.points.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Records one sample of every live frontend.
    pub fn sample(&self, minute: u64, frontends: &[Arc<FrontendRt>], health: &HealthView) {
        let health = health.load();
        let mut map = self.series.lock().unwrap_or_else(|p| p.into_inner());
        for fe in frontends {
            let rule = fe.rule.load();
            let mut probed = 0u32;
            let mut up = 0u32;
            for b in &rule.backends {
                let pct = b.probe.as_ref().map(|p| {
                    probed += 1;
                    let ok = health.health(p).in_rotation();
                    up += u32::from(ok);
                    if ok { 100.0 } else { 0.0 }
                });
                map.entry((fe.key.clone(), Some(b.key.clone())))
                    .or_default()
                    .record(minute, b.counters.snapshot(), pct);
            }
            let pct = (probed > 0).then(|| f64::from(up) * 100.0 / f64::from(probed));
            map.entry((fe.key.clone(), None)).or_default().record(
                minute,
                fe.counters.snapshot(),
                pct,
            );
        }
    }
}

/// Samples every Azure minute until `stop` resolves. `frontends` gives the live set.
pub async fn run_sampler(
    clock: Clock,
    series: Arc<MetricSeries>,
    health: HealthView,
    frontends: impl Fn() -> Vec<Arc<FrontendRt>>,
) {
    let mut ticker = clock.interval(Duration::from_secs(60));
    ticker.tick().await; // the first tick is immediate
    loop {
        ticker.tick().await;
        let minute = clock.elapsed().as_secs() / 60;
        series.sample(minute, &frontends(), &health);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_a_day_of_deltas() {
        let mut s = Series::default();
        let mut c = CounterSnapshot::default();
        for m in 0..(MINUTES_KEPT as u64 + 10) {
            c.bytes_in += 10;
            s.record(m, c, None);
        }
        assert_eq!(s.points.len(), MINUTES_KEPT);
        assert_eq!(s.points.front().unwrap().minute, 10);
        assert!(s.points.iter().all(|p| p.traffic.bytes_in == 10));
    }
}

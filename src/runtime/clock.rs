//! One clock for the runtime, with a scale factor: at `--time-scale 60` a minute of Azure
//! time passes per real second, so 5-minute autoscale windows run in 5 s in CI.
//!
//! Everything time-dependent (probe intervals, idle timeouts, cooldowns, batch pauses) goes
//! through [`Clock`], which is built on tokio's time, so tests can also pause it.

use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Azure seconds per real second; always positive.
    scale: f64,
    start: Instant,
    /// The wall time when the clock started: Azure time begins there and then runs
    /// `scale` times faster.
    wall_start: chrono::DateTime<chrono::Utc>,
}

impl Clock {
    pub fn new(scale: f64) -> Self {
        assert!(
            scale.is_finite() && scale > 0.0,
            "time scale must be positive"
        );
        Clock {
            scale,
            start: Instant::now(),
            wall_start: chrono::Utc::now(),
        }
    }

    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// The real duration that `azure` lasts on this clock.
    pub fn real(&self, azure: Duration) -> Duration {
        azure.div_f64(self.scale)
    }

    /// The Azure duration a real duration stands for.
    pub fn azure(&self, real: Duration) -> Duration {
        real.mul_f64(self.scale)
    }

    /// Sleeps for `azure` of Azure time.
    pub async fn sleep(&self, azure: Duration) {
        tokio::time::sleep(self.real(azure)).await
    }

    /// Azure time elapsed since the clock started.
    pub fn elapsed(&self) -> Duration {
        self.azure(self.start.elapsed())
    }

    /// Azure's "now": the wall time the clock started at plus the Azure time elapsed since.
    /// Equal to the wall clock at scale 1; ahead of it when time runs faster. Metrics,
    /// autoscale and alert windows are in this time.
    pub fn now_utc(&self) -> chrono::DateTime<chrono::Utc> {
        self.wall_start
            + chrono::TimeDelta::from_std(self.elapsed()).unwrap_or(chrono::TimeDelta::MAX)
    }

    /// The Azure date-time of a moment given as [`Self::elapsed`] (health entries keep
    /// their `since` that way).
    pub fn utc_at(&self, elapsed: Duration) -> chrono::DateTime<chrono::Utc> {
        self.wall_start + chrono::TimeDelta::from_std(elapsed).unwrap_or(chrono::TimeDelta::MAX)
    }

    /// A tokio interval ticking every `azure` of Azure time.
    pub fn interval(&self, azure: Duration) -> tokio::time::Interval {
        let mut i = tokio::time::interval(self.real(azure).max(Duration::from_millis(1)));
        i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        i
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_converts_both_ways() {
        let c = Clock::new(60.0);
        assert_eq!(c.real(Duration::from_secs(300)), Duration::from_secs(5));
        assert_eq!(c.azure(Duration::from_secs(2)), Duration::from_secs(120));
    }

    #[tokio::test(start_paused = true)]
    async fn sleeping_follows_the_scale() {
        let c = Clock::new(10.0);
        let t = Instant::now();
        c.sleep(Duration::from_secs(30)).await;
        assert_eq!(t.elapsed(), Duration::from_secs(3));
        assert!(c.elapsed() >= Duration::from_secs(30));
        let azure_now = c.now_utc() - c.wall_start;
        assert_eq!(
            azure_now.num_seconds(),
            30,
            "Azure time ran ten times faster"
        );
    }
}

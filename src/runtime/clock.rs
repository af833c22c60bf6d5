//! One clock for the runtime, with a scale factor: at `--time-scale 60` a minute of Azure
//! time passes per real second, so 5-minute autoscale windows run in 5 s in CI.
//!
//! Everything time-dependent (probe intervals, cooldowns, batch pauses, metric minutes) goes
//! through [`Clock`], which is built on tokio's time, so tests can also pause it. The clock
//! can also be moved forward at once ([`Clock::advance`]): sleepers and tickers wake and see
//! the new time, so a test can say "ten minutes later" without waiting.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// What every copy of one clock shares: how far it was moved forward, and a signal for
/// sleepers. Leaked once per clock (a few per process) so that `Clock` stays `Copy`.
#[derive(Debug)]
struct Jumps {
    /// Azure nanoseconds added by [`Clock::advance`].
    offset_nanos: AtomicU64,
    advanced: watch::Sender<u64>,
}

#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Azure seconds per real second; always positive.
    scale: f64,
    start: Instant,
    /// The wall time when the clock started: Azure time begins there and then runs
    /// `scale` times faster.
    wall_start: chrono::DateTime<chrono::Utc>,
    jumps: &'static Jumps,
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
            jumps: Box::leak(Box::new(Jumps {
                offset_nanos: AtomicU64::new(0),
                advanced: watch::Sender::new(0),
            })),
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

    /// Moves Azure time forward by `azure` at once; sleepers and tickers wake up.
    pub fn advance(&self, azure: Duration) {
        let nanos = u64::try_from(azure.as_nanos()).unwrap_or(u64::MAX);
        self.jumps.offset_nanos.fetch_add(nanos, Ordering::SeqCst);
        self.jumps.advanced.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// How far the clock has been moved forward in all.
    pub fn advanced(&self) -> Duration {
        Duration::from_nanos(self.jumps.offset_nanos.load(Ordering::SeqCst))
    }

    /// Sleeps for `azure` of Azure time (less if the clock is moved forward meanwhile).
    pub async fn sleep(&self, azure: Duration) {
        self.sleep_until(self.elapsed() + azure).await
    }

    /// Sleeps until the clock reads `target` (Azure time since the start).
    pub async fn sleep_until(&self, target: Duration) {
        let mut advanced = self.jumps.advanced.subscribe();
        loop {
            advanced.borrow_and_update();
            let now = self.elapsed();
            if now >= target {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(self.real(target - now)) => {}
                _ = advanced.changed() => {}
            }
        }
    }

    /// Azure time elapsed since the clock started.
    pub fn elapsed(&self) -> Duration {
        self.azure(self.start.elapsed()) + self.advanced()
    }

    /// Azure's "now": the wall time the clock started at plus the Azure time elapsed since.
    /// Equal to the wall clock at scale 1; ahead of it when time runs faster. Metrics,
    /// autoscale and alert windows are in this time.
    pub fn now_utc(&self) -> chrono::DateTime<chrono::Utc> {
        self.wall_start
            + chrono::TimeDelta::from_std(self.elapsed()).unwrap_or(chrono::TimeDelta::MAX)
    }

    /// A ticker firing every `azure` of Azure time: at once, then one period after the
    /// previous tick; a tick that is late (or skipped over by [`Self::advance`]) fires once,
    /// as soon as possible, and the next one is a period later.
    pub fn interval(&self, azure: Duration) -> Ticker {
        Ticker {
            clock: *self,
            period: azure.max(Duration::from_millis(1)),
            next: None,
        }
    }

    /// The Azure date-time of a moment given as [`Self::elapsed`] (health entries keep
    /// their `since` that way).
    pub fn utc_at(&self, elapsed: Duration) -> chrono::DateTime<chrono::Utc> {
        self.wall_start + chrono::TimeDelta::from_std(elapsed).unwrap_or(chrono::TimeDelta::MAX)
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new(1.0)
    }
}

/// See [`Clock::interval`].
#[derive(Debug)]
pub struct Ticker {
    clock: Clock,
    period: Duration,
    /// The Azure time of the next tick; `None` before the first.
    next: Option<Duration>,
}

impl Ticker {
    /// Waits for the next tick; returns the Azure time it fired at.
    pub async fn tick(&mut self) -> Duration {
        if let Some(next) = self.next {
            self.clock.sleep_until(next).await;
        }
        let now = self.clock.elapsed();
        self.next = Some(now + self.period);
        now
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

    #[tokio::test(start_paused = true)]
    async fn advancing_wakes_sleepers_and_moves_now() {
        let c = Clock::new(1.0);
        let before = c.now_utc();
        let sleeper = tokio::spawn(async move {
            c.sleep(Duration::from_secs(600)).await;
            c.elapsed()
        });
        tokio::task::yield_now().await;
        let t = Instant::now();
        c.advance(Duration::from_secs(600));
        let woke_at = sleeper.await.unwrap();
        assert!(woke_at >= Duration::from_secs(600));
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "it did not wait ten real minutes"
        );
        assert!((c.now_utc() - before).num_seconds() >= 600);
    }

    #[tokio::test(start_paused = true)]
    async fn tickers_fire_at_once_then_every_period_and_once_after_a_jump() {
        let c = Clock::new(60.0);
        let mut t = c.interval(Duration::from_secs(60));
        let first = t.tick().await;
        assert!(first < Duration::from_secs(1));
        let start = Instant::now();
        let second = t.tick().await;
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(1),
            "one Azure minute = one second"
        );
        assert!(second >= Duration::from_secs(60));
        c.advance(Duration::from_secs(3600));
        let start = Instant::now();
        let after_jump = t.tick().await;
        assert!(start.elapsed() < Duration::from_millis(10));
        assert!(after_jump >= Duration::from_secs(3600));
        let start = Instant::now();
        t.tick().await;
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(1),
            "then a period later"
        );
    }
}

//! How an action group calls a webhook, as data and decisions (the HTTP client is the
//! notifier's). From the Azure docs ("Action groups", webhook retry behavior):
//!
//! * a failed call is retried up to 5 times, with delays of 5, 20, 5, 40 and 5 seconds;
//! * only failures that can be retried are: status 408, 429, 503, 504, or no response
//!   (connection error, timeout);
//! * after the retries fail, no action group calls that endpoint for 15 minutes.
//!
//! The per-attempt timeout, 10 seconds, is from the earlier version of the same page ("The first
//! call waits 10 seconds for a response"). Durations are Azure time: on a scaled clock the caller
//! converts them (`Clock::real`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::model::action_group::receivers::Delivery;
use crate::runtime::webhook::{self, RetryPolicy};

#[derive(Debug, Clone, PartialEq)]
pub struct WebhookPolicy {
    /// How long one attempt waits for a response.
    pub timeout: Duration,
    /// Delay before each retry; its length is the number of retries.
    pub retry_delays: Vec<Duration>,
    pub retryable_statuses: Vec<u16>,
    /// How long an endpoint is left alone after every attempt failed.
    pub suspension: Duration,
}

impl Default for WebhookPolicy {
    fn default() -> Self {
        WebhookPolicy {
            timeout: Duration::from_secs(10),
            retry_delays: [5, 20, 5, 40, 5].map(Duration::from_secs).to_vec(),
            retryable_statuses: vec![408, 429, 503, 504],
            suspension: Duration::from_secs(15 * 60),
        }
    }
}

/// What one attempt got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    Status(u16),
    /// No response within [`WebhookPolicy::timeout`].
    Timeout,
    /// The connection failed.
    TransportError,
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Delivered,
    RetryAfter(Duration),
    /// Failed for good; the endpoint is suspended for [`WebhookPolicy::suspension`].
    Failed,
}

impl WebhookPolicy {
    /// After attempt number `attempt` (1 = the first call) ended with `result`.
    pub fn next(&self, attempt: usize, result: Attempt) -> Next {
        let retryable = match result {
            Attempt::Status(s) if (200..300).contains(&s) => return Next::Delivered,
            Attempt::Status(s) => self.retryable_statuses.contains(&s),
            Attempt::Timeout | Attempt::TransportError => true,
        };
        match self.retry_delays.get(attempt.saturating_sub(1)) {
            Some(d) if retryable => Next::RetryAfter(*d),
            _ => Next::Failed,
        }
    }

    /// Whether an endpoint whose last delivery failed for good at `failed_at` is still
    /// suspended at `now`.
    pub fn suspended(&self, failed_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        failed_at
            .is_some_and(|f| chrono::Duration::from_std(self.suspension).is_ok_and(|s| now < f + s))
    }
}

/// The background sender ([`crate::runtime::webhook`]) follows this policy: its attempts map
/// onto ours (no response is a timeout or a transport error, both retried alike).
impl RetryPolicy for WebhookPolicy {
    fn next(&self, attempt: u32, outcome: webhook::Attempt) -> Option<Duration> {
        let result = match outcome {
            webhook::Attempt::Status(s) => Attempt::Status(s),
            webhook::Attempt::NoResponse => Attempt::Timeout,
        };
        match WebhookPolicy::next(self, attempt as usize, result) {
            Next::RetryAfter(d) => Some(d),
            Next::Delivered | Next::Failed => None,
        }
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// The body a receiver gets: the common alert schema when it asked for it, else the older
/// metric alert schema.
pub fn body_for<'a>(delivery: &Delivery, common: &'a Value, legacy: &'a Value) -> &'a Value {
    if delivery.use_common_alert_schema {
        common
    } else {
        legacy
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::action_group::receivers::Mechanism;
    use chrono::TimeZone;
    use serde_json::json;

    #[test]
    fn success_ends_and_retryable_failures_follow_the_documented_delays() {
        let p = WebhookPolicy::default();
        assert_eq!(p.next(1, Attempt::Status(200)), Next::Delivered);
        assert_eq!(p.next(3, Attempt::Status(204)), Next::Delivered);
        let delays: Vec<_> = (1..=5).map(|a| p.next(a, Attempt::Status(503))).collect();
        assert_eq!(
            delays,
            [5, 20, 5, 40, 5].map(|s| Next::RetryAfter(Duration::from_secs(s)))
        );
        assert_eq!(p.next(6, Attempt::Status(503)), Next::Failed);
        assert_eq!(
            p.next(1, Attempt::Timeout),
            Next::RetryAfter(Duration::from_secs(5))
        );
        assert_eq!(
            p.next(2, Attempt::TransportError),
            Next::RetryAfter(Duration::from_secs(20))
        );
        for s in [408, 429, 504] {
            assert!(
                matches!(p.next(1, Attempt::Status(s)), Next::RetryAfter(_)),
                "{s}"
            );
        }
    }

    #[test]
    fn other_failures_are_not_retried() {
        let p = WebhookPolicy::default();
        assert_eq!(p.next(1, Attempt::Status(500)), Next::Failed);
        assert_eq!(p.next(1, Attempt::Status(404)), Next::Failed);
        assert_eq!(p.timeout, Duration::from_secs(10));
    }

    #[test]
    fn the_background_sender_follows_the_documented_retries() {
        let p: &dyn RetryPolicy = &WebhookPolicy::default();
        let waits: Vec<_> = (1..=6)
            .map(|a| p.next(a, webhook::Attempt::NoResponse))
            .collect();
        let secs = |s: u64| Some(Duration::from_secs(s));
        assert_eq!(waits, [secs(5), secs(20), secs(5), secs(40), secs(5), None]);
        assert_eq!(p.next(1, webhook::Attempt::Status(500)), None);
        assert_eq!(p.next(1, webhook::Attempt::Status(429)), secs(5));
        assert_eq!(p.next(1, webhook::Attempt::Status(200)), None);
        assert_eq!(p.timeout(), Duration::from_secs(10));
    }

    #[test]
    fn a_failed_endpoint_rests_for_fifteen_minutes() {
        let p = WebhookPolicy::default();
        let f = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
        assert!(!p.suspended(None, f));
        assert!(p.suspended(Some(f), f + chrono::Duration::minutes(14)));
        assert!(!p.suspended(Some(f), f + chrono::Duration::minutes(15)));
    }

    #[test]
    fn receivers_get_the_schema_they_asked_for() {
        let (common, legacy) = (
            json!({"schemaId": "azureMonitorCommonAlertSchema"}),
            json!({"schemaId": "AzureMonitorMetricAlert"}),
        );
        let mut d = Delivery {
            mechanism: Mechanism::Webhook,
            name: "h".into(),
            url: Some("http://x".into()),
            use_common_alert_schema: true,
        };
        assert_eq!(body_for(&d, &common, &legacy), &common);
        d.use_common_alert_schema = false;
        assert_eq!(body_for(&d, &common, &legacy), &legacy);
    }
}

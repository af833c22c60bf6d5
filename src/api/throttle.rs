//! Throttling as ARM does it, and a cap on what one client may have in flight.
//!
//! ARM throttles with token buckets per subscription (or tenant), per security principal and
//! per kind of operation, and a global bucket per subscription 15 times as large shared by
//! every principal ("Understand how Azure Resource Manager throttles requests",
//! learn.microsoft.com, regional throttling since 2024):
//!
//! | operations | bucket | refill per second |
//! |------------|--------|-------------------|
//! | reads      | 250    | 25                |
//! | writes     | 200    | 10                |
//! | deletes    | 200    | 10                |
//!
//! Every answer says what is left (`x-ms-ratelimit-remaining-subscription-reads`, `...-writes`,
//! `...-deletes`, and the `-global-` ones); an empty bucket answers 429
//! `SubscriptionRequestsThrottled` with `Retry-After`, worded as ARM words it.
//!
//! The in-flight cap is armlet's own guard (ARM has the capacity of a region behind it): one
//! client may have at most `--client-concurrency` requests being served at once, so a runaway
//! loop cannot starve everyone else; the next one gets a 429 `TooManyRequests` with
//! `Retry-After: 1`, which `az` and the SDKs retry like any throttling answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::auth::Caller;
use crate::arm::ArmError;

/// The kinds of operation ARM counts separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Reads,
    Writes,
    Deletes,
}

impl Kind {
    pub fn of(method: &Method) -> Kind {
        match *method {
            Method::GET | Method::HEAD | Method::OPTIONS => Kind::Reads,
            Method::DELETE => Kind::Deletes,
            _ => Kind::Writes,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Reads => "reads",
            Kind::Writes => "writes",
            Kind::Deletes => "deletes",
        }
    }

    fn singular(self) -> &'static str {
        match self {
            Kind::Reads => "read",
            Kind::Writes => "write",
            Kind::Deletes => "delete",
        }
    }

    /// ARM's bucket size and refill rate per second for one principal.
    fn bucket(self) -> (f64, f64) {
        match self {
            Kind::Reads => (250.0, 25.0),
            Kind::Writes | Kind::Deletes => (200.0, 10.0),
        }
    }
}

/// The global bucket of a subscription is this many times a principal's.
const GLOBAL_FACTOR: f64 = 15.0;

/// A token bucket; time is passed in, so the arithmetic is testable.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    capacity: f64,
    refill_per_sec: f64,
    tokens: f64,
    last: f64,
}

impl TokenBucket {
    pub fn full(capacity: f64, refill_per_sec: f64, now: f64) -> Self {
        TokenBucket {
            capacity,
            refill_per_sec,
            tokens: capacity,
            last: now,
        }
    }

    fn refill(&mut self, now: f64) {
        let elapsed = (now - self.last).max(0.0);
        self.tokens = (self.tokens + elapsed * self.refill_per_sec).min(self.capacity);
        self.last = now;
    }

    /// Whether one token is there (without taking it).
    pub fn has_token(&mut self, now: f64) -> bool {
        self.refill(now);
        self.tokens >= 1.0
    }

    /// Takes a token; the tokens left.
    pub fn take(&mut self, now: f64) -> u64 {
        self.refill(now);
        self.tokens = (self.tokens - 1.0).max(0.0);
        self.tokens.floor() as u64
    }

    /// Whole seconds until a token is there again (at least 1).
    pub fn retry_after(&self) -> u64 {
        ((1.0 - self.tokens) / self.refill_per_sec).ceil().max(1.0) as u64
    }
}

/// How requests are limited (from the command line).
#[derive(Debug, Clone, Copy)]
pub struct ThrottleConfig {
    /// ARM's token buckets; off with `--throttling none`.
    pub buckets: bool,
    /// Requests one client may have in flight.
    pub client_concurrency: usize,
}

/// A bucket's scope (subscription id, or empty for the tenant), principal (`None` for the
/// scope's global bucket) and kind of operation.
type BucketKey = (String, Option<String>, Kind);

/// The limiter every ARM request passes.
pub struct Throttle {
    config: ThrottleConfig,
    started: Instant,
    /// (scope, actor, kind) → bucket; the global ones have actor `None`.
    buckets: Mutex<HashMap<BucketKey, TokenBucket>>,
    /// Requests in flight per actor.
    in_flight: Arc<Mutex<HashMap<String, usize>>>,
}

/// An admitted request: holds its in-flight slot until dropped, and knows which headers
/// report what is left.
pub struct Admission {
    slot: Slot,
    headers: Vec<(String, u64)>,
}

struct Slot {
    actor: String,
    in_flight: Arc<Mutex<HashMap<String, usize>>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut m = self.in_flight.lock().expect("in-flight map");
        if let Some(n) = m.get_mut(&self.actor) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.actor);
            }
        }
    }
}

impl Admission {
    /// Adds the remaining-requests headers to the response.
    pub fn finish(self, mut response: Response) -> Response {
        for (name, left) in &self.headers {
            if let (Ok(n), Ok(v)) = (
                axum::http::HeaderName::try_from(name.as_str()),
                HeaderValue::from_str(&left.to_string()),
            ) {
                response.headers_mut().insert(n, v);
            }
        }
        drop(self.slot);
        response
    }
}

/// `subscriptions/{id}` requests count against the subscription, the rest against the tenant.
fn scope_of(path: &str) -> (String, &'static str) {
    let mut segments = path.split('/').filter(|s| !s.is_empty());
    match (segments.next(), segments.next()) {
        (Some(first), Some(sub)) if first.eq_ignore_ascii_case("subscriptions") => {
            (sub.to_ascii_lowercase(), "subscription")
        }
        _ => (String::new(), "tenant"),
    }
}

impl Throttle {
    pub fn new(config: ThrottleConfig) -> Self {
        Throttle {
            config,
            started: Instant::now(),
            buckets: Mutex::default(),
            in_flight: Arc::default(),
        }
    }

    /// Admits a request or answers 429.
    pub fn admit(
        &self,
        caller: &Caller,
        method: &Method,
        path: &str,
    ) -> Result<Admission, Box<Response>> {
        let slot = self.take_slot(&caller.actor)?;
        let mut headers = Vec::new();
        if self.config.buckets {
            let kind = Kind::of(method);
            let (scope, scope_kind) = scope_of(path);
            let now = self.started.elapsed().as_secs_f64();
            let (cap, rate) = kind.bucket();
            let mut buckets = self.buckets.lock().expect("bucket map");
            let own_key = (scope.clone(), Some(caller.actor.clone()), kind);
            let global_key = (scope.clone(), None, kind);
            let own = buckets
                .entry(own_key.clone())
                .or_insert_with(|| TokenBucket::full(cap, rate, now));
            let own_ok = own.has_token(now);
            let own_retry = own.retry_after();
            let global = buckets.entry(global_key.clone()).or_insert_with(|| {
                TokenBucket::full(cap * GLOBAL_FACTOR, rate * GLOBAL_FACTOR, now)
            });
            let global_ok = global.has_token(now);
            let global_retry = global.retry_after();
            if !own_ok || !global_ok {
                let wait = if own_ok { global_retry } else { own_retry };
                return Err(Box::new(throttled(
                    kind,
                    scope_kind,
                    &scope,
                    &caller.actor,
                    wait,
                )));
            }
            let own_left = buckets.get_mut(&own_key).expect("bucket").take(now);
            let global_left = buckets.get_mut(&global_key).expect("bucket").take(now);
            headers.push((
                format!("x-ms-ratelimit-remaining-{scope_kind}-{}", kind.name()),
                own_left,
            ));
            headers.push((
                format!(
                    "x-ms-ratelimit-remaining-{scope_kind}-global-{}",
                    kind.name()
                ),
                global_left,
            ));
        }
        Ok(Admission { slot, headers })
    }

    fn take_slot(&self, actor: &str) -> Result<Slot, Box<Response>> {
        let mut m = self.in_flight.lock().expect("in-flight map");
        let n = m.entry(actor.to_string()).or_insert(0);
        if *n >= self.config.client_concurrency {
            let limit = self.config.client_concurrency;
            drop(m);
            let mut r = ArmError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                format!(
                    "The client '{actor}' already has {limit} requests in progress, the most armlet serves at once for one client (--client-concurrency). Please try again after '1' seconds."
                ),
            )
            .into_response();
            r.headers_mut()
                .insert("retry-after", HeaderValue::from_static("1"));
            return Err(Box::new(r));
        }
        *n += 1;
        Ok(Slot {
            actor: actor.to_string(),
            in_flight: self.in_flight.clone(),
        })
    }
}

fn throttled(kind: Kind, scope_kind: &str, scope: &str, actor: &str, wait: u64) -> Response {
    let (code, what) = if scope_kind == "subscription" {
        (
            "SubscriptionRequestsThrottled",
            format!("subscription '{scope}'"),
        )
    } else {
        ("TenantRequestsThrottled", "tenant".to_string())
    };
    let mut r = ArmError::new(
        StatusCode::TOO_MANY_REQUESTS,
        code,
        format!(
            "Number of '{}' requests for {what} actor '{actor}' exceeded. Please try again after '{wait}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling for additional information.",
            kind.singular()
        ),
    )
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
        r.headers_mut().insert("retry-after", v);
    }
    r.headers_mut().insert(
        axum::http::HeaderName::try_from(format!(
            "x-ms-ratelimit-remaining-{scope_kind}-{}",
            kind.name()
        ))
        .expect("static header name"),
        HeaderValue::from_static("0"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(a: &str) -> Caller {
        Caller { actor: a.into() }
    }

    #[test]
    fn a_bucket_empties_then_refills_at_its_rate() {
        let mut b = TokenBucket::full(3.0, 1.0, 0.0);
        assert_eq!(b.take(0.0), 2);
        assert_eq!(b.take(0.0), 1);
        assert_eq!(b.take(0.0), 0);
        assert!(!b.has_token(0.5));
        assert_eq!(b.retry_after(), 1);
        assert!(b.has_token(1.0));
        assert!(b.has_token(100.0));
        assert_eq!(b.take(100.0), 2, "never more than its capacity");
    }

    #[test]
    fn reads_are_throttled_per_principal_after_arm_bucket() {
        let t = Throttle::new(ThrottleConfig {
            buckets: true,
            client_concurrency: 10,
        });
        let path = "/subscriptions/S/resourceGroups";
        let mut last = None;
        for _ in 0..250 {
            last = Some(t.admit(&caller("a"), &Method::GET, path).unwrap());
        }
        let r = last.unwrap().finish(Response::default());
        assert_eq!(
            r.headers()["x-ms-ratelimit-remaining-subscription-reads"],
            "0"
        );
        assert_eq!(
            r.headers()["x-ms-ratelimit-remaining-subscription-global-reads"],
            "3500"
        );
        let refused = t
            .admit(&caller("a"), &Method::GET, path)
            .err()
            .expect("251st read in the same instant is throttled");
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.headers()["retry-after"], "1");
        // Another principal and another kind have their own buckets.
        assert!(t.admit(&caller("b"), &Method::GET, path).is_ok());
        assert!(t.admit(&caller("a"), &Method::PUT, path).is_ok());
    }

    #[test]
    fn one_client_cannot_hold_more_than_its_share_in_flight() {
        let t = Throttle::new(ThrottleConfig {
            buckets: false,
            client_concurrency: 2,
        });
        let a1 = t.admit(&caller("a"), &Method::GET, "/").unwrap();
        let _a2 = t.admit(&caller("a"), &Method::GET, "/").unwrap();
        let refused = t.admit(&caller("a"), &Method::GET, "/").err().unwrap();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.headers()["retry-after"], "1");
        assert!(t.admit(&caller("b"), &Method::GET, "/").is_ok());
        drop(a1.finish(Response::default()));
        assert!(t.admit(&caller("a"), &Method::GET, "/").is_ok());
    }

    #[test]
    fn scopes_are_subscriptions_or_the_tenant() {
        assert_eq!(
            scope_of("/subscriptions/ABC/x"),
            ("abc".into(), "subscription")
        );
        assert_eq!(scope_of("/tenants"), (String::new(), "tenant"));
        assert_eq!(scope_of("/subscriptions"), (String::new(), "tenant"));
    }
}

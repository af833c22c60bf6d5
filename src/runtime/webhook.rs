//! Outgoing webhooks (autoscale notifications, action-group receivers): each delivery runs
//! in its own task, with the sender's retry policy on armlet's scaled clock, so a receiver
//! that hangs or fails never blocks an engine. The last deliveries are kept for views and
//! tests.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::clock::Clock;

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The receiver answered with this status.
    Status(u16),
    /// No answer: connection refused, reset or timed out.
    NoResponse,
}

/// When to try again: the caller's policy (Azure documents one per service).
pub trait RetryPolicy: Send + Sync + 'static {
    /// The wait (Azure time) before attempt `attempt + 1`, or `None` to give up / stop.
    /// `attempt` counts from 1.
    fn next(&self, attempt: u32, outcome: Attempt) -> Option<Duration>;
    /// How long (Azure time) one attempt may take.
    fn timeout(&self) -> Duration;
}

/// One delivery as it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivered {
    pub url: String,
    /// What asked for it, e.g. the autoscale setting or alert rule id.
    pub source: String,
    pub attempts: u32,
    pub last: Attempt,
    pub ok: bool,
}

/// Deliveries kept for views.
const KEPT: usize = 200;

/// The least real time one attempt gets, however fast Azure time runs: at `--time-scale 60`
/// Azure's 10-second webhook timeout would be 0.17 s, less than a receiver on a busy machine
/// may need, and a spurious timeout would deliver the same payload twice.
const MIN_REAL_TIMEOUT: Duration = Duration::from_secs(2);

/// Called with how a delivery ended.
pub type OnDelivered = Box<dyn FnOnce(Delivered) + Send + 'static>;

#[derive(Clone)]
pub struct Webhooks {
    client: reqwest::Client,
    clock: Clock,
    tasks: TaskTracker,
    shutdown: CancellationToken,
    recent: Arc<Mutex<VecDeque<Delivered>>>,
}

impl Webhooks {
    pub fn new(clock: Clock, tasks: TaskTracker, shutdown: CancellationToken) -> Self {
        let client = reqwest::Client::builder()
            .user_agent("armlet-webhook")
            .build()
            .expect("an HTTP client with default settings builds");
        Webhooks {
            client,
            clock,
            tasks,
            shutdown,
            recent: Default::default(),
        }
    }

    /// POSTs `body` as JSON to `url` in the background, retrying per `policy`.
    pub fn send(&self, source: &str, url: &str, body: Value, policy: Arc<dyn RetryPolicy>) {
        self.send_then(source, url, body, policy, Box::new(|_| {}));
    }

    /// Like [`Self::send`], and calls `done` when the delivery has ended (not on shutdown).
    pub fn send_then(
        &self,
        source: &str,
        url: &str,
        body: Value,
        policy: Arc<dyn RetryPolicy>,
        done: OnDelivered,
    ) {
        let this = self.clone();
        let (source, url) = (source.to_string(), url.to_string());
        self.tasks.spawn(async move {
            let mut attempt = 1;
            loop {
                let outcome = this.attempt(&url, &body, policy.timeout()).await;
                let ok = matches!(outcome, Attempt::Status(s) if (200..300).contains(&s));
                let retry = if ok {
                    None
                } else {
                    policy.next(attempt, outcome)
                };
                match retry {
                    Some(wait) => {
                        let to = redacted(&url);
                        tracing::info!(url = %to, source, attempt, ?outcome, "webhook failed; retrying");
                        tokio::select! {
                            _ = this.clock.sleep(wait) => {}
                            _ = this.shutdown.cancelled() => return,
                        }
                        attempt += 1;
                    }
                    None => {
                        if !ok {
                            let to = redacted(&url);
                            tracing::warn!(url = %to, source, attempt, ?outcome, "webhook gave up");
                        }
                        let d = Delivered {
                            url,
                            source,
                            attempts: attempt,
                            last: outcome,
                            ok,
                        };
                        this.remember(d.clone());
                        done(d);
                        return;
                    }
                }
            }
        });
    }

    async fn attempt(&self, url: &str, body: &Value, timeout: Duration) -> Attempt {
        let request = self
            .client
            .post(url)
            .json(body)
            .timeout(self.clock.real(timeout).max(MIN_REAL_TIMEOUT))
            .send();
        match request.await {
            Ok(r) => Attempt::Status(r.status().as_u16()),
            Err(_) => Attempt::NoResponse,
        }
    }

    fn remember(&self, d: Delivered) {
        let mut recent = self.recent.lock().expect("webhook log lock");
        recent.push_back(d);
        while recent.len() > KEPT {
            recent.pop_front();
        }
    }

    /// The last deliveries, oldest first.
    pub fn recent(&self) -> Vec<Delivered> {
        self.recent
            .lock()
            .expect("webhook log lock")
            .iter()
            .cloned()
            .collect()
    }
}

/// A webhook URL for the log: without its query and user info, which often carry keys
/// (e.g. a function's `?code=`).
fn redacted(url: &str) -> String {
    let no_query = url.split(['?', '#']).next().unwrap_or_default();
    match no_query.split_once("://") {
        Some((scheme, rest)) => {
            let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
            format!("{scheme}://{rest}")
        }
        None => no_query.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn logged_urls_lose_their_keys() {
        assert_eq!(
            redacted("https://user:pw@fn.example/api/hook?code=KEY#x"),
            "https://fn.example/api/hook"
        );
        assert_eq!(redacted("http://h:8080/p"), "http://h:8080/p");
    }

    struct ThreeTries;

    impl RetryPolicy for ThreeTries {
        fn next(&self, attempt: u32, outcome: Attempt) -> Option<Duration> {
            (attempt < 3 && outcome != Attempt::Status(400)).then_some(Duration::from_secs(5))
        }
        fn timeout(&self) -> Duration {
            Duration::from_secs(10)
        }
    }

    /// A receiver answering 503 `fails` times, then 200; counts requests.
    async fn receiver(fails: u32) -> (String, Arc<AtomicU32>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", l.local_addr().unwrap());
        let seen = Arc::new(AtomicU32::new(0));
        let s = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut c, _)) = l.accept().await {
                let n = s.fetch_add(1, Ordering::SeqCst);
                let mut buf = [0u8; 4096];
                let _ = c.read(&mut buf).await;
                let status = if n < fails { "503 Busy" } else { "200 OK" };
                let _ = c
                    .write_all(
                        format!(
                            "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        )
                        .as_bytes(),
                    )
                    .await;
            }
        });
        (url, seen)
    }

    fn hooks() -> (Webhooks, TaskTracker) {
        let tasks = TaskTracker::new();
        (
            Webhooks::new(Clock::new(100.0), tasks.clone(), CancellationToken::new()),
            tasks,
        )
    }

    #[tokio::test]
    async fn retries_until_the_receiver_accepts() {
        let (hooks, tasks) = hooks();
        let (url, seen) = receiver(2).await;
        hooks.send(
            "test",
            &url,
            serde_json::json!({"a": 1}),
            Arc::new(ThreeTries),
        );
        tasks.close();
        tasks.wait().await;
        assert_eq!(seen.load(Ordering::SeqCst), 3);
        let d = &hooks.recent()[0];
        assert!(
            d.ok && d.attempts == 3 && d.last == Attempt::Status(200),
            "{d:?}"
        );
    }

    #[tokio::test]
    async fn gives_up_per_policy_and_never_blocks_the_caller() {
        let (hooks, tasks) = hooks();
        let (url, seen) = receiver(10).await;
        hooks.send("test", &url, serde_json::json!({}), Arc::new(ThreeTries));
        // Nothing listens here: no response at all.
        hooks.send(
            "test",
            "http://127.0.0.1:9/nothing",
            serde_json::json!({}),
            Arc::new(ThreeTries),
        );
        tasks.close();
        tasks.wait().await;
        assert_eq!(seen.load(Ordering::SeqCst), 3);
        let recent = hooks.recent();
        assert_eq!(recent.len(), 2);
        assert!(recent.iter().all(|d| !d.ok && d.attempts == 3));
        assert!(recent.iter().any(|d| d.last == Attempt::NoResponse));
    }
}

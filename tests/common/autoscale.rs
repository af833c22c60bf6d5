//! Autoscale test helpers: armlet on a scaled clock, CPU minutes written into the metrics
//! store (standing in for, or outweighing, the metrics collector), a webhook receiver, and
//! readers of capacity, engine state and activity log.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use armlet::config::ServeConfig;
use armlet::metrics::series::{Aggregate, MinutePoint, dimensions};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{SUB, TestArmlet};

pub const INSIGHTS: &str = "2022-10-01";

/// armlet in memory, `scale` Azure seconds per real second.
pub async fn start_scaled(scale: f64) -> TestArmlet {
    let dir = tempfile::tempdir().unwrap();
    let config = ServeConfig {
        time_scale: scale,
        ..ServeConfig::for_tests(dir.path().to_path_buf())
    };
    TestArmlet::start_with(config, dir).await
}

pub fn setting_id(rg: &str, name: &str) -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Insights/autoscalesettings/{name}"
    )
}

pub fn setting_path(rg: &str, name: &str) -> String {
    format!("{}?api-version={INSIGHTS}", setting_id(rg, name))
}

/// Writes `Percentage CPU` minutes for every instance of a scale set, as the collector does
/// (under the scale set with `VMName`), every 100 ms real time, at the value last set. Each
/// write counts as 100 samples, so the value dominates a minute the real collector also
/// wrote to.
pub struct FakeCpu {
    percent: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeCpu {
    pub fn start(t: &TestArmlet, scale_set_id: &str, percent: f64) -> Self {
        let value = Arc::new(AtomicU64::new(percent.to_bits()));
        let app = t.armlet.app.clone();
        let key = scale_set_id.to_ascii_lowercase();
        let shared = value.clone();
        let task = tokio::spawn(async move {
            loop {
                let p = f64::from_bits(shared.load(Ordering::Relaxed));
                let now = app.runtime.clock.now_utc();
                let rows = app.store.instances_of(&key).await.unwrap_or_default();
                let points: Vec<MinutePoint> = rows
                    .iter()
                    .map(|r| {
                        MinutePoint::new(
                            &key,
                            "Percentage CPU",
                            dimensions([("VMName", r.name.as_str())]),
                            now,
                            Aggregate {
                                total: p * 100.0,
                                count: 100,
                                minimum: p,
                                maximum: p,
                            },
                        )
                    })
                    .collect();
                let _ = app.store.write_metric_minutes(&points).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        FakeCpu {
            percent: value,
            task,
        }
    }

    pub fn set(&self, percent: f64) {
        self.percent.store(percent.to_bits(), Ordering::Relaxed);
    }
}

impl Drop for FakeCpu {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A local HTTP server that keeps the JSON body of every POST and answers 200.
pub struct WebhookReceiver {
    pub url: String,
    pub bodies: Arc<Mutex<Vec<Value>>>,
}

impl WebhookReceiver {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/autoscale-hook", listener.local_addr().unwrap());
        let bodies: Arc<Mutex<Vec<Value>>> = Default::default();
        let seen = bodies.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let body = loop {
                        let Ok(n) = conn.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        let text = String::from_utf8_lossy(&buf).into_owned();
                        let Some(end) = text.find("\r\n\r\n") else {
                            continue;
                        };
                        let length = text[..end]
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + length {
                            break buf[end + 4..end + 4 + length].to_vec();
                        }
                    };
                    if let Ok(v) = serde_json::from_slice(&body) {
                        seen.lock().unwrap().push(v);
                    }
                    let _ = conn
                        .write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        )
                        .await;
                });
            }
        });
        WebhookReceiver { url, bodies }
    }

    pub fn received(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }
}

/// `sku.capacity` of a scale set (its id).
pub async fn capacity(t: &TestArmlet, scale_set_id: &str) -> u64 {
    let (s, body) = t
        .get(&format!("{scale_set_id}?api-version=2024-11-01"))
        .await;
    assert_eq!(s, 200, "{body}");
    body["sku"]["capacity"].as_u64().unwrap()
}

/// The activity-log events of a resource, oldest first.
pub async fn activity(t: &TestArmlet, resource_id: &str) -> Vec<Value> {
    let filter = format!("resourceId eq '{resource_id}'");
    let url = t.url(&format!(
        "/subscriptions/{SUB}/providers/Microsoft.Insights/eventtypes/management/values"
    ));
    let resp = t
        .client
        .get(url)
        .query(&[("api-version", "2015-04-01"), ("$filter", filter.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.unwrap();
    let mut events = body["value"].as_array().cloned().unwrap_or_default();
    events.reverse();
    events
}

/// `(operation, status, old, new)` of the scale actions among `events`.
pub fn scale_actions(events: &[Value]) -> Vec<(String, String, String, String)> {
    events
        .iter()
        .filter(|e| {
            e["eventName"]["value"] == "AutoscaleAction"
                || e["eventName"]["value"] == "GetOperationStatusResult"
        })
        .map(|e| {
            let op = e["operationName"]["value"].as_str().unwrap_or_default();
            let op = op.split('/').nth(2).unwrap_or_default().to_string();
            (
                op,
                e["status"]["value"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                e["properties"]["OldInstancesCount"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                e["properties"]["NewInstancesCount"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

/// One request through a frontend: when it ended (Azure time since armlet started) and the
/// instance that answered, or `None` when it failed.
pub type Served = (Duration, Option<String>);

/// Requests sent back to back through a load-balancer frontend, one connection each, until
/// stopped: what a client sees while instances come and go.
pub struct Traffic {
    log: Arc<Mutex<Vec<Served>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Traffic {
    pub fn start(t: &TestArmlet, frontend: std::net::SocketAddr) -> Self {
        let clock = t.armlet.app.runtime.clock;
        let log: Arc<Mutex<Vec<Served>>> = Default::default();
        let out = log.clone();
        let task = tokio::spawn(async move {
            loop {
                let sent = clock.elapsed();
                let answer = request(frontend).await;
                let name = match answer {
                    Ok(name) => Some(name),
                    Err(why) => {
                        eprintln!(
                            "request sent at {sent:?} failed at {:?}: {why}",
                            clock.elapsed()
                        );
                        None
                    }
                };
                out.lock().unwrap().push((clock.elapsed(), name));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        Traffic { log, task }
    }

    /// Everything served so far.
    pub fn log(&self) -> Vec<Served> {
        self.log.lock().unwrap().clone()
    }

    /// How many requests failed so far.
    pub fn failures(&self) -> usize {
        self.log().iter().filter(|(_, n)| n.is_none()).count()
    }

    /// When `instance` first answered.
    pub fn first_served(&self, instance: &str) -> Option<Duration> {
        self.log()
            .iter()
            .find(|(_, n)| n.as_deref() == Some(instance))
            .map(|(at, _)| *at)
    }

    /// When `instance` last answered.
    pub fn last_served(&self, instance: &str) -> Option<Duration> {
        self.log()
            .iter()
            .rev()
            .find(|(_, n)| n.as_deref() == Some(instance))
            .map(|(at, _)| *at)
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// When (Azure time since start) the health probes put the instance `instance_id` of a
/// scale set in rotation, if they have.
pub fn in_rotation_since(t: &TestArmlet, instance_id: &str) -> Option<Duration> {
    let table = t.armlet.app.runtime.prober.health().snapshot();
    let needle = format!("/virtualmachines/{instance_id}");
    table
        .iter()
        .filter(|(k, _)| {
            let backend = k.backend.to_ascii_lowercase();
            backend.ends_with(&needle) || backend.contains(&format!("{needle}/"))
        })
        .filter(|(_, e)| e.health.in_rotation())
        .map(|(_, e)| e.since)
        .max()
}

/// Names of the instances of a scale set (`web_0`, ...), from the store.
pub async fn instance_names(t: &TestArmlet, scale_set_id: &str) -> Vec<String> {
    let rows = t
        .armlet
        .app
        .store
        .instances_of(&scale_set_id.to_ascii_lowercase())
        .await
        .unwrap();
    rows.into_iter().map(|r| r.name).collect()
}

/// `GET /` on a new connection: the instance that answered, or what went wrong.
async fn request(frontend: std::net::SocketAddr) -> Result<String, String> {
    let mut s = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::net::TcpStream::connect(frontend),
    )
    .await
    .map_err(|_| "connect timed out".to_string())?
    .map_err(|e| format!("connect: {e}"))?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
        .await
        .map_err(|_| "read timed out".to_string())?
        .map_err(|e| format!("read: {e}"))?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    if !text.starts_with("HTTP/1.1 200") {
        return Err(format!(
            "answer: {:?}",
            text.lines().next().unwrap_or_default()
        ));
    }
    super::http::instance_name(&text).ok_or_else(|| format!("no instance name in {text:?}"))
}

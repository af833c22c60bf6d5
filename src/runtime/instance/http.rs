//! The built-in app's HTTP routes, the same on `http` and `https` ports:
//!
//! | route | answer |
//! |---|---|
//! | `GET /` | 200 JSON naming the instance (name, id, scale set, private IP, model version, port, requests in flight) and the client address it sees (`clientAddress`, as `$remote_addr` in an access log) |
//! | `GET /health` | 200 `healthy`, or 503 `unhealthy` after `POST /admin/unhealthy` (until `POST /admin/healthy`) |
//! | `GET /burn?seconds=N&percent=P` | burns CPU on a thread for N s (default 10) at P % of a core (default 100); also `POST /admin/cpu` |
//! | `GET /slow?ms=N` | answers after N ms (at most 10 minutes): in-flight requests for drain tests |
//! | other `GET` | a file under `<instance dir>/root/var/www/html` (what a cloud-config wrote), else 404 |
//!
//! Every response carries `x-armlet-instance: <instance name>`.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::{Deserialize, Serialize};

use super::cloud_config::reroot;
use super::spec::PortSpec;

/// Who the instance is, as `GET /` reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub name: String,
    pub instance_id: String,
    pub scale_set: String,
    pub private_ip: Ipv4Addr,
    pub model_version: String,
    /// A host name derived from the instance name (`web_0` → `web-0`).
    pub hostname: String,
}

/// State shared by every port of the app.
pub struct Shared {
    identity: Identity,
    /// Flipped by `/admin/unhealthy` and `/admin/healthy`.
    healthy: AtomicBool,
    /// CPU burners currently running.
    burning: AtomicUsize,
    /// Requests being served (on every port), so drains can be observed.
    in_flight: AtomicUsize,
    /// Static files served for unknown paths.
    www_root: PathBuf,
    started: Instant,
}

impl Shared {
    pub fn new(identity: Identity, www_root: PathBuf) -> Self {
        Shared {
            identity,
            healthy: AtomicBool::new(true),
            burning: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            www_root,
            started: Instant::now(),
        }
    }
}

#[derive(Clone)]
struct PortState {
    shared: Arc<Shared>,
    port: PortSpec,
}

/// The routes for one port.
pub fn router(shared: Arc<Shared>, port: PortSpec) -> Router {
    let name = HeaderValue::from_str(&shared.identity.name)
        .unwrap_or(HeaderValue::from_static("instance"));
    Router::new()
        .route("/", get(identity))
        .route("/health", get(health))
        .route("/admin/unhealthy", post(set_unhealthy))
        .route("/admin/healthy", post(set_healthy))
        .route("/burn", get(burn))
        .route("/admin/cpu", post(burn))
        .route("/slow", get(slow))
        .fallback(static_file)
        .with_state(PortState {
            shared: shared.clone(),
            port,
        })
        .layer(axum::middleware::from_fn(move |req, next: Next| {
            let (shared, name) = (shared.clone(), name.clone());
            async move {
                let _in_flight = InFlight::enter(&shared);
                let mut res = next.run(req).await;
                res.headers_mut().insert("x-armlet-instance", name);
                res
            }
        }))
}

/// Counts a request as in flight until dropped (also when the client goes away).
struct InFlight(Arc<Shared>);

impl InFlight {
    fn enter(shared: &Arc<Shared>) -> Self {
        shared.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(shared.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn identity(
    State(s): State<PortState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
) -> Json<serde_json::Value> {
    let id = &s.shared.identity;
    Json(serde_json::json!({
        "name": id.name,
        "instanceId": id.instance_id,
        "scaleSet": id.scale_set,
        "privateIp": id.private_ip,
        "modelVersion": id.model_version,
        "hostname": id.hostname,
        "port": s.port.port,
        "boundPort": s.port.bound,
        "scheme": s.port.kind.to_string(),
        "healthy": s.shared.healthy.load(Ordering::Relaxed),
        "cpuBurners": s.shared.burning.load(Ordering::Relaxed),
        // Other requests in flight (this one excluded).
        "inFlight": s.shared.in_flight.load(Ordering::Relaxed).saturating_sub(1),
        "uptimeSeconds": s.shared.started.elapsed().as_secs(),
        "pid": std::process::id(),
        // The TCP peer of this request: the client's IP through a load balancer (the proxy
        // keeps it), with the proxy's source port.
        "clientAddress": peer.map(|Extension(ConnectInfo(p))| p.to_string()),
    }))
}

async fn health(State(s): State<PortState>) -> (StatusCode, &'static str) {
    if s.shared.healthy.load(Ordering::Relaxed) {
        (StatusCode::OK, "healthy\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "unhealthy\n")
    }
}

async fn set_unhealthy(State(s): State<PortState>) -> &'static str {
    s.shared.healthy.store(false, Ordering::Relaxed);
    tracing::info!("marked unhealthy");
    "unhealthy\n"
}

async fn set_healthy(State(s): State<PortState>) -> &'static str {
    s.shared.healthy.store(true, Ordering::Relaxed);
    tracing::info!("marked healthy");
    "healthy\n"
}

#[derive(Debug, Deserialize)]
struct BurnParams {
    seconds: Option<f64>,
    percent: Option<f64>,
}

/// The longest burn or delay a request may ask for.
const MAX_SECONDS: f64 = 3600.0;

async fn burn(State(s): State<PortState>, Query(p): Query<BurnParams>) -> Response {
    let seconds = p.seconds.unwrap_or(10.0);
    let percent = p.percent.unwrap_or(100.0);
    let valid = seconds.is_finite()
        && (0.0..=MAX_SECONDS).contains(&seconds)
        && (1.0..=100.0).contains(&percent);
    if !valid {
        return (
            StatusCode::BAD_REQUEST,
            "seconds must be 0..=3600 and percent 1..=100\n",
        )
            .into_response();
    }
    let shared = s.shared.clone();
    shared.burning.fetch_add(1, Ordering::Relaxed);
    std::thread::spawn(move || {
        burn_cpu(Duration::from_secs_f64(seconds), percent / 100.0);
        shared.burning.fetch_sub(1, Ordering::Relaxed);
    });
    tracing::info!(seconds, percent, "burning CPU");
    Json(serde_json::json!({ "burning": { "seconds": seconds, "percent": percent } }))
        .into_response()
}

/// Keeps one core busy for `share` of each 100 ms slice until `length` has passed.
fn burn_cpu(length: Duration, share: f64) {
    let end = Instant::now() + length;
    let slice = Duration::from_millis(100);
    let mut x = 0u64;
    while Instant::now() < end {
        let busy_until = Instant::now() + slice.mul_f64(share);
        while Instant::now() < busy_until {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        let idle = slice.mul_f64(1.0 - share);
        if !idle.is_zero() {
            std::thread::sleep(idle);
        }
    }
}

#[derive(Debug, Deserialize)]
struct SlowParams {
    ms: Option<u64>,
}

async fn slow(Query(p): Query<SlowParams>) -> String {
    let ms = p.ms.unwrap_or(1000).min(600_000);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    format!("slept {ms} ms\n")
}

async fn static_file(State(s): State<PortState>, method: axum::http::Method, uri: Uri) -> Response {
    if method != axum::http::Method::GET && method != axum::http::Method::HEAD {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    }
    let mut path = reroot(&s.shared.www_root, uri.path());
    if path.is_dir() {
        path.push("index.html");
    }
    match tokio::fs::read(&path).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, content_type(&path))], bytes).into_response(),
        Err(_) => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    }
}

fn content_type(path: &std::path::Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
    {
        "html" | "htm" => "text/html; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "json" => "application/json",
        "css" => "text/css",
        "js" => "text/javascript",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::instance::spec::PortKind;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    fn app(www: PathBuf) -> Router {
        let identity = Identity {
            name: "web_1".into(),
            instance_id: "1".into(),
            scale_set: "web".into(),
            private_ip: Ipv4Addr::new(10, 0, 0, 5),
            model_version: "7".into(),
            hostname: "web-1".into(),
        };
        let port = PortSpec {
            port: 80,
            bound: 10080,
            kind: PortKind::Http,
        };
        router(Arc::new(Shared::new(identity, www)), port)
    }

    async fn call(app: &Router, method: &str, uri: &str) -> (StatusCode, String) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        let res = app.clone().oneshot(req).await.unwrap();
        assert_eq!(res.headers()["x-armlet-instance"], "web_1");
        let status = res.status();
        let body = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn identity_health_and_not_found() {
        let app = app(PathBuf::from("/nonexistent"));
        let (status, body) = call(&app, "GET", "/").await;
        assert_eq!(status, StatusCode::OK);
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["name"], "web_1");
        assert_eq!(json["privateIp"], "10.0.0.5");
        assert_eq!(json["port"], 80);
        assert_eq!(
            call(&app, "GET", "/health").await,
            (StatusCode::OK, "healthy\n".into())
        );
        call(&app, "POST", "/admin/unhealthy").await;
        assert_eq!(
            call(&app, "GET", "/health").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        call(&app, "POST", "/admin/healthy").await;
        assert_eq!(call(&app, "GET", "/health").await.0, StatusCode::OK);
        assert_eq!(call(&app, "GET", "/nope").await.0, StatusCode::NOT_FOUND);
        assert_eq!(call(&app, "POST", "/nope").await.0, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn burn_validates_and_slow_waits() {
        let app = app(PathBuf::from("/nonexistent"));
        assert_eq!(
            call(&app, "GET", "/burn?seconds=0.05").await.0,
            StatusCode::OK
        );
        assert_eq!(
            call(&app, "POST", "/admin/cpu?seconds=0.05&percent=50")
                .await
                .0,
            StatusCode::OK
        );
        assert_eq!(
            call(&app, "GET", "/burn?seconds=-1").await.0,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            call(&app, "GET", "/burn?percent=0").await.0,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            call(&app, "GET", "/slow?ms=1").await,
            (StatusCode::OK, "slept 1 ms\n".into())
        );
    }

    #[tokio::test]
    async fn files_written_by_cloud_config_are_served() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "<h1>Hello</h1>").unwrap();
        std::fs::write(dir.path().join("health.html"), "healthy\n").unwrap();
        let app = app(dir.path().to_path_buf());
        assert_eq!(call(&app, "GET", "/health.html").await.1, "healthy\n");
        assert_eq!(call(&app, "GET", "/index.html").await.1, "<h1>Hello</h1>");
        assert_eq!(
            call(&app, "GET", "/../../etc/passwd").await.0,
            StatusCode::NOT_FOUND
        );
    }
}

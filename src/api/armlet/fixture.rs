//! `armlet serve --deploy FILE.json [--parameters FILE.json]`: a CI fixture, an ARM
//! template deployed at start into `--deploy-group` (created in `--deploy-location`)
//! through the same ARM routes a client uses, so it is validated and behaves exactly as
//! `az deployment group create` would. `GET /_armlet/health` answers `starting` until the
//! deployment ends, then `ready`, or `failed` with the deployment's error.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::health::Readiness;
use crate::api::ApiState;
use crate::config::ServeConfig;

/// The deployment's name in its group.
pub const DEPLOYMENT: &str = "armlet-fixture";
const GROUPS_API: &str = "2024-11-01";
const DEPLOYMENTS_API: &str = "2024-03-01";
/// How often the deployment's state is read while it runs.
const POLL: Duration = Duration::from_millis(200);

/// A template and its parameters, read (and checked to be JSON) at start.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub source: PathBuf,
    pub template: Value,
    pub parameters: Option<Value>,
    pub group: String,
    pub location: String,
}

fn read_json(path: &Path, what: &str) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the {what} {}", path.display()))?;
    crate::deploy::jsonc::parse(&text)
        .map_err(|e| anyhow::anyhow!("the {what} {} is not JSON: {e}", path.display()))
}

impl Fixture {
    /// The fixture `--deploy` names, if any; a file that does not read stops the start.
    pub fn load(config: &ServeConfig) -> anyhow::Result<Option<Fixture>> {
        let Some(source) = &config.deploy else {
            return Ok(None);
        };
        let template = read_json(source, "template")?;
        let parameters = match &config.parameters {
            Some(p) => Some(read_json(p, "parameter file")?),
            None => None,
        };
        Ok(Some(Fixture {
            source: source.clone(),
            template,
            parameters,
            group: config.deploy_group.clone(),
            location: config.deploy_location.clone(),
        }))
    }

    pub fn describe(&self) -> String {
        format!(
            "deploying {} into resource group '{}'",
            self.source.display(),
            self.group
        )
    }
}

/// Deploys the fixture and publishes the outcome as armlet's readiness.
pub async fn deploy(app: ApiState, fixture: Fixture, shutdown: CancellationToken) {
    tracing::info!("{}", fixture.describe());
    let outcome = tokio::select! {
        _ = shutdown.cancelled() => return,
        r = run(&app, &fixture) => r,
    };
    let readiness = match outcome {
        Ok(()) => {
            tracing::info!(group = fixture.group, "fixture deployed; armlet is ready");
            Readiness::Ready
        }
        Err(message) => {
            tracing::error!(group = fixture.group, "the fixture failed: {message}");
            Readiness::Failed(format!(
                "deploying {} failed: {message}",
                fixture.source.display()
            ))
        }
    };
    app.management.readiness.send_replace(readiness);
}

/// One request through armlet's own router, signed in as the application
/// `armlet-fixture` (a token armlet issues, as its token endpoint would): the status and
/// the JSON body.
async fn call(app: &ApiState, method: Method, path: &str, body: Option<&Value>) -> (u16, Value) {
    let token = app.tokens.issue(
        "https://localhost",
        crate::api::auth::ARM_AUDIENCES[0],
        &crate::api::identity::Subject {
            tenant: &app.tokens.tenant_id,
            client_id: "armlet-fixture",
            user: None,
        },
    );
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .expect("a request of static parts");
    let response = match crate::api::router(app.clone()).oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The ARM error of a response, as one line.
fn error_text(body: &Value) -> String {
    let e = if body["error"].is_object() {
        &body["error"]
    } else {
        &body["properties"]["error"]
    };
    let mut text = format!(
        "{}: {}",
        e["code"].as_str().unwrap_or("Error"),
        e["message"].as_str().unwrap_or("no message")
    );
    for d in e["details"].as_array().into_iter().flatten() {
        text.push_str(&format!(
            " [{}: {}]",
            d["code"].as_str().unwrap_or_default(),
            d["message"].as_str().unwrap_or_default()
        ));
    }
    text
}

async fn run(app: &ApiState, f: &Fixture) -> Result<(), String> {
    let group = format!(
        "/subscriptions/{}/resourcegroups/{}",
        app.arm.default_subscription, f.group
    );
    let (s, body) = call(
        app,
        Method::PUT,
        &format!("{group}?api-version={GROUPS_API}"),
        Some(&json!({"location": f.location})),
    )
    .await;
    if s >= 300 {
        return Err(format!(
            "creating the resource group: {}",
            error_text(&body)
        ));
    }
    let deployment = format!(
        "{group}/providers/Microsoft.Resources/deployments/{DEPLOYMENT}?api-version={DEPLOYMENTS_API}"
    );
    let mut properties = json!({"mode": "Incremental", "template": f.template});
    if let Some(p) = &f.parameters {
        properties["parameters"] = p.clone();
    }
    let (s, body) = call(
        app,
        Method::PUT,
        &deployment,
        Some(&json!({ "properties": properties })),
    )
    .await;
    if s >= 300 {
        return Err(error_text(&body));
    }
    loop {
        let (s, body) = call(app, Method::GET, &deployment, None).await;
        if s >= 300 {
            return Err(error_text(&body));
        }
        match body["properties"]["provisioningState"].as_str() {
            Some("Succeeded") => return Ok(()),
            Some("Failed" | "Canceled") => return Err(error_text(&body)),
            _ => tokio::time::sleep(POLL).await,
        }
    }
}

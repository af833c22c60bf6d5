//! A deployment as stored: one row of type `Microsoft.Resources/deployments` whose body is
//! the document ARM returns (`DeploymentExtended`) plus, under `armlet`, what armlet needs
//! to run it again after a restart (the template and parameters as supplied) and its
//! deployment operations. [`Record::public`] is what clients see.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::arm::Arm;
use crate::arm::{ArmError, ArmResult};
use crate::store::{Resource, resources};

pub use target::Target;

pub const TYPE: &str = "Microsoft.Resources/deployments";

/// What a deployment was asked to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Spec {
    pub template: Value,
    /// As supplied (`{"name": {"value": ...}}`); secure values included, never rendered.
    pub parameters: Value,
    /// `Incremental` or `Complete`.
    pub mode: String,
    pub location: Option<String>,
    pub tags: Option<Value>,
    /// `https://host:port` as the client reached armlet (for `environment()`).
    pub base: String,
    pub correlation_id: String,
    /// `templateLink` as recorded (`{uri, contentVersion?, relativePath?}`, `uri` absolute):
    /// where `template` was read from, what `deployment()` shows, the base of nested
    /// `relativePath` links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_link: Option<Value>,
    /// `parametersLink` as recorded, when `parameters` were read from a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters_link: Option<Value>,
}

/// Why a run stopped before finishing.
#[derive(Debug)]
pub enum Stop {
    Canceled,
    /// The deployment (or its resource group) was deleted meanwhile.
    Deleted,
    Store(ArmError),
}

/// A deployment being created or run.
pub struct Record {
    pub target: Target,
    body: Value,
    /// Whether the row exists (so a missing row means it was deleted).
    stored: bool,
}

impl Record {
    pub fn new(target: Target, spec: Spec) -> Record {
        let now = Utc::now();
        let mut body = json!({
            "id": target.id(),
            "name": target.name,
            "type": TYPE,
            "properties": {
                "templateHash": template_hash(&spec.template),
                "parameters": {},
                "mode": spec.mode,
                "provisioningState": "Accepted",
                "timestamp": timestamp(now),
                "duration": "PT0S",
                "correlationId": spec.correlation_id,
                "providers": [],
                "dependencies": [],
            },
            "armlet": {"started": timestamp(now), "operations": []},
        });
        if let Some(l) = &spec.location {
            body["location"] = json!(l);
        }
        if let Some(t) = &spec.tags {
            body["tags"] = t.clone();
        }
        if let Some(l) = &spec.template_link {
            body["properties"]["templateLink"] = l.clone();
        }
        if let Some(l) = &spec.parameters_link {
            body["properties"]["parametersLink"] = l.clone();
        }
        body["armlet"]["spec"] = serde_json::to_value(&spec).unwrap_or_default();
        Record {
            target,
            body,
            stored: false,
        }
    }

    pub async fn load(app: &Arm, target: &Target) -> ArmResult<Option<Record>> {
        Ok(app.store.get(&target.key()).await?.map(|row| Record {
            target: Target {
                name: row.name.clone(),
                ..target.clone()
            },
            body: row.body,
            stored: true,
        }))
    }

    pub fn spec(&self) -> ArmResult<Spec> {
        serde_json::from_value(self.body["armlet"]["spec"].clone()).map_err(ArmError::internal)
    }

    pub fn state(&self) -> &str {
        self.body["properties"]["provisioningState"]
            .as_str()
            .unwrap_or("Accepted")
    }

    pub fn is_active(&self) -> bool {
        matches!(self.state(), "Accepted" | "Running")
    }

    pub fn set_state(&mut self, state: &str) {
        self.body["properties"]["provisioningState"] = json!(state);
    }

    /// Sets a field of `properties` (outputs, parameters, providers, ...).
    pub fn set(&mut self, field: &str, value: Value) {
        self.body["properties"][field] = value;
    }

    /// Ends the run in `state` (Succeeded, Failed, Canceled) with its error, if any.
    pub fn finish(&mut self, state: &str, error: Option<&ArmError>) {
        self.set_state(state);
        match error {
            Some(e) => self.body["properties"]["error"] = e.body()["error"].clone(),
            None => {
                if let Some(p) = self.body["properties"].as_object_mut() {
                    p.remove("error");
                }
            }
        }
    }

    /// The error the run ended with (for the operation status), or a generic one.
    pub fn error(&self) -> ArmError {
        let e = &self.body["properties"]["error"];
        serde_json::from_value::<ErrorBody>(e.clone())
            .map(ErrorBody::into_arm)
            .unwrap_or_else(|_| ArmError::bad_request("DeploymentFailed", "The deployment failed."))
    }

    /// The document clients see.
    pub fn public(&self) -> Value {
        public(&self.body)
    }

    pub fn template(&self) -> Value {
        self.body["armlet"]["spec"]["template"].clone()
    }

    pub fn operations(&self) -> Vec<Value> {
        self.body["armlet"]["operations"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Starts (or restarts, on a re-run) the operation on `target_resource`; returns its index.
    pub fn op_begin(&mut self, target_resource: Value, provisioning: &str) -> usize {
        let id_src = format!(
            "{}|{}|{provisioning}",
            self.target.key(),
            target_resource["id"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_lowercase()
        );
        let digest = Sha256::digest(id_src.as_bytes());
        let op_id: String = digest[..8].iter().map(|b| format!("{b:02X}")).collect();
        let op = json!({
            "id": format!("{}/operations/{op_id}", self.target.id()),
            "operationId": op_id,
            "properties": {
                "provisioningOperation": provisioning,
                "provisioningState": "Running",
                "timestamp": timestamp(Utc::now()),
                "duration": "PT0S",
                "trackingId": uuid::Uuid::new_v4().to_string(),
                "serviceRequestId": uuid::Uuid::new_v4().to_string(),
                "targetResource": target_resource,
            }
        });
        let ops = self.body["armlet"]["operations"]
            .as_array_mut()
            .expect("operations array");
        match ops
            .iter()
            .position(|o| o["operationId"] == op["operationId"])
        {
            Some(i) => {
                ops[i] = op;
                i
            }
            None => {
                ops.push(op);
                ops.len() - 1
            }
        }
    }

    /// Ends operation `i`: `Ok(status code)` or the resource's error.
    pub fn op_end(&mut self, i: usize, result: Result<&str, &ArmError>) {
        let op = &mut self.body["armlet"]["operations"][i]["properties"];
        let started = op["timestamp"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok());
        let now = Utc::now();
        if let Some(s) = started {
            op["duration"] = json!(duration(now - s.with_timezone(&Utc)));
        }
        op["timestamp"] = json!(timestamp(now));
        match result {
            Ok(code) => {
                op["provisioningState"] = json!("Succeeded");
                op["statusCode"] = json!(code);
            }
            Err(e) => {
                op["provisioningState"] = json!("Failed");
                op["statusCode"] = json!(
                    e.status
                        .canonical_reason()
                        .unwrap_or("BadRequest")
                        .replace(' ', "")
                );
                op["statusMessage"] = json!({"status": "Failed", "error": e.body()["error"]});
            }
        }
    }

    fn touch(&mut self) {
        let now = Utc::now();
        let started = self.body["armlet"]["started"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok());
        self.body["properties"]["timestamp"] = json!(timestamp(now));
        if let Some(s) = started {
            self.body["properties"]["duration"] = json!(duration(now - s.with_timezone(&Utc)));
        }
    }

    /// The row to store, inside the caller's transaction.
    pub fn row(&mut self) -> Resource {
        self.touch();
        self.stored = true;
        Resource {
            id: self.target.id(),
            subscription: self.target.sub.clone(),
            resource_group: self.target.rg.clone(),
            type_name: TYPE.into(),
            name: self.target.name.clone(),
            body: self.body.clone(),
            etag: crate::arm::tags::new_etag(),
        }
    }

    /// Stores the record, unless it was canceled or deleted meanwhile (then says so).
    pub async fn save(&mut self, app: &Arm) -> Result<(), Stop> {
        let mut w = app.store.write().await.map_err(|e| Stop::Store(e.into()))?;
        let current = resources::get(&mut w.tx, &self.target.key())
            .await
            .map_err(|e| Stop::Store(e.into()))?;
        match &current {
            None if self.stored => return Err(Stop::Deleted),
            Some(row)
                if row.body["properties"]["provisioningState"] == "Canceled"
                    && self.state() != "Canceled" =>
            {
                return Err(Stop::Canceled);
            }
            _ => {}
        }
        let row = self.row();
        resources::put(&mut w.tx, &row)
            .await
            .map_err(|e| Stop::Store(e.into()))?;
        w.commit().await.map_err(|e| Stop::Store(e.into()))?;
        Ok(())
    }
}

/// A stored deployment body as clients see it.
pub fn public(body: &Value) -> Value {
    let mut doc = body.clone();
    if let Some(o) = doc.as_object_mut() {
        o.remove("armlet");
        o.remove("etag");
    }
    doc
}

#[derive(Deserialize)]
struct ErrorBody {
    code: String,
    message: String,
    target: Option<String>,
    #[serde(default)]
    details: Vec<ErrorBody>,
}

impl ErrorBody {
    fn into_arm(self) -> ArmError {
        let mut e = ArmError::bad_request(&self.code, self.message);
        e.target = self.target;
        e.details = self.details.into_iter().map(ErrorBody::into_arm).collect();
        e
    }
}

/// ARM's `templateHash`: a number derived from the minified template.
pub fn template_hash(template: &Value) -> String {
    let digest = Sha256::digest(minified(template).as_bytes());
    let mut n = [0u8; 8];
    n.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(n).to_string()
}

pub fn minified(template: &Value) -> String {
    serde_json::to_string(template).unwrap_or_default()
}

fn timestamp(t: DateTime<Utc>) -> String {
    use chrono::Timelike;
    format!(
        "{}.{:07}Z",
        t.format("%Y-%m-%dT%H:%M:%S"),
        t.nanosecond() % 1_000_000_000 / 100
    )
}

/// ISO 8601 duration, as ARM writes it (`PT1.2345678S`).
pub fn duration(d: chrono::Duration) -> String {
    let secs = d.num_microseconds().unwrap_or(0).max(0) as f64 / 1e6;
    let s = format!("{secs:.7}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("PT{s}S")
}

mod target;
#[cfg(test)]
mod tests;

//! `Microsoft.Insights/metricAlerts` (location `global`): metric alert rules. CRUD and listings
//! are generic; PATCH merges `properties` and tags into the stored rule. A write is validated
//! by [`metric_alert::parse`] and then against what exists, as Azure does: the scopes exist and
//! share one type and region, each metric is in the scope type's metric definitions (Azure's
//! name or the display name without spaces, e.g. `HealthProbeStatus`), each dimension is one
//! of the metric's, and each action group exists. A refused write stores nothing.
//!
//! `GET .../metricAlerts/{rule}/status[/{statusName}]` lists the monitored series of the last
//! evaluation (`controllers::alerts` evaluates the rules).

use std::sync::Arc;

use async_trait::async_trait;
use axum::Json;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::api::only;
use crate::arm::resource_type::{Patch, ResourceType, WriteCx};
use crate::arm::{Arm, ArmError, ArmRequest, ArmResult, ResourceId, resources};
use crate::metrics::catalog;
use crate::model::global;
use crate::model::id::resource_group_id;
use crate::model::metric_alert::criteria::Criterion;
use crate::model::metric_alert::{
    self, MetricAlert, RESOURCE_TYPE, Scope, action_group_invalid, bad, metric_not_found,
    scope_not_found, scopes_differ,
};
use crate::runtime::clock::Clock;
use crate::store::alerts::delete_alert_rule_state;

pub struct MetricAlerts {
    /// `lastUpdatedTime` is Azure time.
    pub clock: Clock,
}

/// Characters a metric alert name can't have (Azure naming rules).
const FORBIDDEN: &str = "*#&+:<>?@%{}\\/";

#[async_trait]
impl ResourceType for MetricAlerts {
    fn type_name(&self) -> &'static str {
        RESOURCE_TYPE
    }

    fn api_versions(&self) -> &'static [&'static str] {
        &["2018-03-01", "2024-03-01-preview"]
    }

    fn validate_name(&self, name: &str) -> ArmResult<()> {
        global::check_name(RESOURCE_TYPE, name, FORBIDDEN)
    }

    fn location(&self, given: &str) -> ArmResult<String> {
        global::check_location(Some(given), RESOURCE_TYPE)?;
        Ok("global".into())
    }

    fn patch(&self) -> Patch {
        Patch::Merge
    }

    fn created_with_ok(&self) -> bool {
        true
    }

    async fn prepare(
        &self,
        cx: &mut WriteCx<'_>,
        _existing: Option<&Value>,
        body: Map<String, Value>,
    ) -> ArmResult<Value> {
        let body = Value::Object(body);
        let alert = metric_alert::parse(&body)?;
        check_references(cx, &alert).await?;
        let mut doc = alert.to_json(cx.id, self.clock.now_utc());
        doc["id"] = body["id"].clone();
        doc["name"] = body["name"].clone();
        Ok(doc)
    }

    async fn before_delete(&self, cx: &mut WriteCx<'_>, _doc: &Value) -> ArmResult<()> {
        Ok(delete_alert_rule_state(cx.conn, &cx.id.key()).await?)
    }

    async fn route(
        &self,
        arm: &Arc<Arm>,
        req: &ArmRequest,
        id: &ResourceId,
        rest: &[&str],
    ) -> ArmResult<Response> {
        let id = resources::canonical(self, id);
        match rest {
            ["status"] | ["status", _] => {
                only(req, &[Method::GET])?;
                let stored = resources::get_stored(arm, &id).await?;
                let mut status = arm
                    .store
                    .alert_rule_status(&stored.id)
                    .await?
                    .unwrap_or_else(|| json!({"value": []}));
                if let [_, _] = rest {
                    let wanted = req.segments.last().cloned().unwrap_or_default();
                    if let Some(list) = status["value"].as_array_mut() {
                        list.retain(|s| s["name"].as_str() == Some(wanted.as_str()));
                    }
                }
                Ok(Json(status).into_response())
            }
            _ => Err(ArmError::not_found(
                "NotFound",
                format!(
                    "The requested resource path '{}' does not exist.",
                    req.uri.path()
                ),
            )),
        }
    }
}

/// A watched resource: `(scope as given, type, location)`.
struct Watched {
    scope: String,
    type_name: String,
    location: String,
}

fn same(a: &str, b: &str) -> bool {
    a.replace(' ', "").eq_ignore_ascii_case(&b.replace(' ', ""))
}

/// What the rule names must exist, and its resources must share one type and region.
async fn check_references(cx: &mut WriteCx<'_>, alert: &MetricAlert) -> ArmResult<()> {
    let p = &alert.properties;
    let checks = alert.checks();
    let mut watched: Vec<Watched> = Vec::new();
    for (raw, scope) in p.scopes.iter().zip(&checks.scopes) {
        match scope {
            Scope::Resource(id) => {
                let r = cx
                    .get(&id.key())
                    .await?
                    .ok_or_else(|| scope_not_found(raw))?;
                watched.push(Watched {
                    scope: raw.clone(),
                    type_name: r.type_name,
                    location: r.body["location"].as_str().unwrap_or_default().to_string(),
                });
            }
            Scope::ResourceGroup { subscription, name } => {
                cx.get(&resource_group_id(subscription, name))
                    .await?
                    .ok_or_else(|| scope_not_found(raw))?;
            }
            Scope::Subscription(s) => {
                if !cx.arm.store.subscription_exists(s).await? {
                    return Err(scope_not_found(raw));
                }
            }
        }
    }
    let expected_type = p
        .target_resource_type
        .clone()
        .or_else(|| watched.first().map(|w| w.type_name.clone()));
    let expected_region = p
        .target_resource_region
        .clone()
        .filter(|r| !r.eq_ignore_ascii_case("global"))
        .or_else(|| watched.first().map(|w| w.location.clone()));
    for w in &watched {
        if let Some(t) = &expected_type
            && !same(t, &w.type_name)
        {
            return Err(scopes_differ(&format!(
                "'{}' is a {}, not a {t}",
                w.scope, w.type_name
            )));
        }
        if let Some(r) = &expected_region
            && !same(r, &w.location)
        {
            return Err(scopes_differ(&format!(
                "'{}' is in {}, not in {r}",
                w.scope, w.location
            )));
        }
    }
    // Each criterion against the metric definitions of the type it watches.
    for c in p.criteria.all_of() {
        if c.skip_metric_validation {
            continue;
        }
        let types: Vec<&str> = if watched.is_empty() {
            expected_type.as_deref().into_iter().collect()
        } else {
            watched.iter().map(|w| w.type_name.as_str()).collect()
        };
        for t in types {
            check_metric(t, c)?;
        }
    }
    for group in &checks.action_groups {
        let found = cx.get(&group.key()).await?;
        if found.is_none_or(|r| !same(&r.type_name, crate::model::action_group::RESOURCE_TYPE)) {
            return Err(action_group_invalid(&group.to_string()));
        }
    }
    Ok(())
}

/// The criterion's metric is in the metric definitions of `type_name` (in its namespace, when
/// the criterion names one), and its dimensions are the metric's.
fn check_metric(type_name: &str, c: &Criterion) -> ArmResult<()> {
    let namespace = catalog::for_resource_type(type_name).filter(|ns| {
        c.metric_namespace
            .as_deref()
            .is_none_or(|m| same(m, ns.name))
    });
    let def = namespace
        .and_then(|ns| ns.resolve(&c.metric_name))
        .ok_or_else(|| metric_not_found(&c.metric_name))?;
    for d in &c.dimensions {
        if def.dimension(&d.name).is_none() {
            return Err(bad(format!(
                "The dimension '{}' isn't supported by metric '{}'. Supported dimensions are: {}.",
                d.name,
                c.metric_name,
                def.dimensions.join(", ")
            )));
        }
    }
    Ok(())
}

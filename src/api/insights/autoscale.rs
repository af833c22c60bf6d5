//! `Microsoft.Insights/autoscalesettings`: create, read, update (PUT and PATCH), delete and
//! list, validated as Azure validates them. The body's rules are
//! [`crate::model::autoscale::parse_setting`]'s; here are the checks that need the store:
//!
//! - the target exists (`TargetResourceNotFound`, the code Azure/azure-powershell#11710
//!   shows) and can scale: armlet scales virtual machine scale sets;
//! - the target of an existing setting cannot change (`TargetResourceIdIsImmutable`,
//!   Azure's message verbatim from Azure/Moodle#311);
//! - one setting per target: Azure answers a second one with 409 Conflict
//!   (hashicorp/terraform-provider-azurerm#8712: a scale set that already had a setting);
//! - every rule's metric exists for its resource (`UnsupportedMetric`, see
//!   [`crate::controllers::autoscale::metrics::resolve`]).
//!
//! The stored document is the setting as Azure answers it ([`AutoscaleSetting::to_json`]).
//! A GET adds `armlet`: the engine's last evaluation, last scale action and any scale still
//! in progress (read-only; a PUT ignores it). `.../predictiveMetrics` is
//! [`super::predictive_metrics`].

use std::sync::Arc;

use async_trait::async_trait;
use axum::response::Response;
use serde_json::{Map, Value};

use crate::arm::Arm;
use crate::arm::resource_type::{Patch, ResourceType, WriteCx};
use crate::arm::{ArmError, ArmRequest, ArmResult, ResourceId};
use crate::controllers::autoscale::metrics;
use crate::controllers::autoscale::state::EngineState;
use crate::model::autoscale::{AutoscaleSetting, TYPE, parse_setting};
use crate::model::compute::SCALE_SET_TYPE;
use crate::runtime::clock::Clock;
use crate::store::{ResourceQuery, autoscale};

pub struct AutoscaleSettings {
    /// Azure's now, for the predictive forecast.
    pub clock: Clock,
}

#[async_trait]
impl ResourceType for AutoscaleSettings {
    fn type_name(&self) -> &'static str {
        TYPE
    }

    fn api_versions(&self) -> &'static [&'static str] {
        &["2022-10-01", "2021-05-01-preview", "2015-04-01"]
    }

    /// Azure's naming rules for `autoscalesettings`: 1–260 characters, none of
    /// `:<>+/&%\?|` or control characters, not ending in a space or a period
    /// (azure-resource-manager/management/resource-name-rules).
    fn validate_name(&self, name: &str) -> ArmResult<()> {
        let ok = (1..=260).contains(&name.chars().count())
            && !name
                .chars()
                .any(|c| c.is_control() || ":<>+/&%\\?|".contains(c))
            && !name.ends_with([' ', '.']);
        if ok {
            Ok(())
        } else {
            Err(ArmError::bad_request(
                "InvalidResourceName",
                format!(
                    "Resource name {name} is invalid. The name can be up to 260 characters long. It can't contain ':<>+/&%\\?|' or control characters, and it can't end with a space or a period."
                ),
            )
            .with_target(TYPE))
        }
    }

    fn patch(&self) -> Patch {
        Patch::Merge
    }

    async fn prepare(
        &self,
        cx: &mut WriteCx<'_>,
        existing: Option<&Value>,
        body: Map<String, Value>,
    ) -> ArmResult<Value> {
        let properties = body
            .get("properties")
            .filter(|p| !p.is_null())
            .ok_or_else(|| {
                ArmError::bad_request(
                    "UnsupportedRequestContent",
                    "Request content is not well formed or supported.",
                )
            })?;
        let setting = parse_setting(properties, cx.id.name())?;
        check_target(cx, existing, &setting).await?;
        for rule in setting.profiles.iter().flat_map(|p| &p.rules) {
            metrics::resolve(&rule.metric_trigger)?;
        }
        let mut doc = Map::new();
        for key in ["id", "name", "type", "location", "tags"] {
            if let Some(v) = body.get(key) {
                doc.insert(key.into(), v.clone());
            }
        }
        doc.insert("properties".into(), setting.to_json());
        Ok(Value::Object(doc))
    }

    async fn before_delete(&self, cx: &mut WriteCx<'_>, _doc: &Value) -> ArmResult<()> {
        autoscale::delete_state(cx.conn, &cx.id.key()).await?;
        Ok(())
    }

    /// `.../predictiveMetrics`.
    async fn route(
        &self,
        arm: &Arc<Arm>,
        req: &ArmRequest,
        id: &ResourceId,
        rest: &[&str],
    ) -> ArmResult<Response> {
        match rest {
            ["predictivemetrics"] => super::predictive_metrics::get(arm, self.clock, req, id).await,
            _ => Err(ArmError::not_found(
                "NotFound",
                format!(
                    "The requested resource path '{}' does not exist.",
                    req.uri.path()
                ),
            )),
        }
    }

    async fn render(&self, arm: &Arm, mut doc: Value) -> ArmResult<Value> {
        let key = doc["id"].as_str().unwrap_or_default().to_ascii_lowercase();
        let state = EngineState::from_stored(arm.store.autoscale_state(&key).await?);
        doc["armlet"] = state.to_value();
        Ok(doc)
    }
}

/// The target must be a scale set that exists, the same one as before, and no other
/// setting's target.
async fn check_target(
    cx: &mut WriteCx<'_>,
    existing: Option<&Value>,
    setting: &AutoscaleSetting,
) -> ArmResult<()> {
    let uri = &setting.target_resource_uri;
    let target = ResourceId::parse(uri)?;
    if let Some(before) = existing.and_then(|e| e["properties"]["targetResourceUri"].as_str())
        && !ResourceId::parse(before).is_ok_and(|b| b.same_as(&target))
    {
        return Err(ArmError::bad_request(
            "TargetResourceIdIsImmutable",
            format!(
                "The autoscale setting '{}' under resource group '{}' is referencing target resource '{before}'. The target resource reference is immutable. If you want to change it, please create a new autoscale setting with a different name.",
                cx.id.name(),
                cx.id.resource_group.as_deref().unwrap_or_default()
            ),
        ));
    }
    let exists = target.segments.len() == 1 && cx.get(&target.key()).await?.is_some();
    if !exists {
        return Err(ArmError::bad_request(
            "TargetResourceNotFound",
            format!("The target resource id '{uri}' was not found."),
        ));
    }
    if !target.type_name().eq_ignore_ascii_case(SCALE_SET_TYPE) {
        return Err(ArmError::bad_request(
            "UnsupportedTargetResource",
            format!(
                "The target resource '{uri}' of type '{}' does not support autoscale. armlet autoscales virtual machine scale sets ({SCALE_SET_TYPE}).",
                target.type_name()
            ),
        ));
    }
    let others = cx
        .list(&ResourceQuery {
            subscription: cx.id.subscription.clone(),
            resource_group: None,
            type_name: Some(TYPE.into()),
        })
        .await?;
    let own = cx.id.key();
    if let Some(other) = others.iter().find(|r| {
        r.key() != own
            && r.body["properties"]["targetResourceUri"]
                .as_str()
                .and_then(|t| ResourceId::parse(t).ok())
                .is_some_and(|t| t.same_as(&target))
    }) {
        return Err(ArmError::conflict(
            "Conflict",
            format!(
                "The target resource '{uri}' already has an autoscale setting: '{}'. A resource can have only one autoscale setting; update that one or delete it first.",
                other.id
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_azure_rules() {
        let t = AutoscaleSettings {
            clock: Clock::default(),
        };
        for ok in [
            "vmss-autoscale",
            "Auto created scale condition",
            "a",
            "x_(1)",
        ] {
            assert!(t.validate_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a/b",
            "a:b",
            "a?",
            "ends.",
            "ends ",
            "tab\t",
            &"a".repeat(261),
        ] {
            assert_eq!(
                t.validate_name(bad).unwrap_err().code,
                "InvalidResourceName",
                "{bad:?}"
            );
        }
    }
}

//! Subscriptions, tenants and locations. Any well-formed subscription id works: it is
//! created on first use. The configured default subscription always exists and lists first.

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::api::ApiState;
use crate::arm::location::REGIONS;
use crate::arm::{ArmError, ArmRequest, ArmResult, list};

/// Validates a subscription id from a URL and records it on first use; returns it lower-cased.
pub async fn resolve(app: &ApiState, raw: &str) -> ArmResult<String> {
    let well_formed = raw.len() == 36 && uuid::Uuid::try_parse(raw).is_ok();
    if !well_formed {
        return Err(ArmError::bad_request(
            "InvalidSubscriptionId",
            format!("The provided subscription identifier '{raw}' is malformed or invalid."),
        ));
    }
    let sub = raw.to_ascii_lowercase();
    if app
        .arm
        .store
        .ensure_subscription(&sub, &display_name(app, &sub))
        .await?
    {
        tracing::info!(subscription = sub, "subscription created on first use");
    }
    Ok(sub)
}

fn display_name(app: &ApiState, sub: &str) -> String {
    if sub.eq_ignore_ascii_case(&app.arm.default_subscription) {
        "armlet".into()
    } else {
        format!("armlet-{}", &sub[..8])
    }
}

fn subscription_body(app: &ApiState, id: &str, name: &str) -> Value {
    json!({
        "id": format!("/subscriptions/{id}"),
        "authorizationSource": "RoleBased",
        "managedByTenants": [],
        "subscriptionId": id,
        "tenantId": app.tokens.tenant_id,
        "displayName": name,
        "state": "Enabled",
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "PayAsYouGo_2014-09-01",
            "spendingLimit": "Off"
        }
    })
}

pub async fn list(app: &ApiState, req: &ArmRequest) -> ArmResult<Response> {
    let default = app.arm.default_subscription.clone();
    let mut subs = app.arm.store.subscriptions().await?;
    subs.sort_by_key(|(id, _)| *id != default);
    let items = subs
        .iter()
        .map(|(id, name)| subscription_body(app, id, name))
        .collect();
    Ok(Json(list::page(req, items)?).into_response())
}

pub async fn get(app: &ApiState, _req: &ArmRequest, sub: &str) -> ArmResult<Response> {
    Ok(Json(subscription_body(app, sub, &display_name(app, sub))).into_response())
}

pub async fn tenants(app: &ApiState, req: &ArmRequest) -> ArmResult<Response> {
    let t = &app.tokens.tenant_id;
    let items = vec![json!({
        "id": format!("/tenants/{t}"),
        "tenantId": t,
        "countryCode": "US",
        "displayName": "armlet",
        "domains": ["armlet.onmicrosoft.com"],
        "defaultDomain": "armlet.onmicrosoft.com",
        "tenantCategory": "Home",
        "tenantType": "AAD"
    })];
    Ok(Json(list::page(req, items)?).into_response())
}

pub fn locations(req: &ArmRequest, sub: &str) -> ArmResult<Response> {
    let items = REGIONS
        .iter()
        .map(|(name, display)| {
            json!({
                "id": format!("/subscriptions/{sub}/locations/{name}"),
                "name": name,
                "type": "Region",
                "displayName": display,
                "regionalDisplayName": format!("(armlet) {display}"),
                "metadata": {"regionType": "Physical", "regionCategory": "Recommended"}
            })
        })
        .collect();
    Ok(Json(list::page(req, items)?).into_response())
}

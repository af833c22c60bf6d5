//! What the scope functions (`subscription()`, `resourceGroup()`, `deployment()`,
//! `environment()`, `providers()`) return for one deployment.

use serde_json::{Value, json};

use crate::arm::{groups, providers};
use std::sync::Arc;

use crate::arm::Arm;
use crate::arm::ArmResult;
use crate::deploy::record::{Spec, Target};
use crate::deploy::scope::ScopeInfo;

/// `planned_group`: what `resourceGroup()` returns when the group does not exist yet
/// (what-if of a subscription deployment that creates it).
pub(super) async fn scope_info(
    app: &Arc<Arm>,
    target: &Target,
    spec: &Spec,
    planned_group: Option<Value>,
) -> ArmResult<ScopeInfo> {
    let display_name = app
        .store
        .subscriptions()
        .await?
        .into_iter()
        .find(|(id, _)| id.eq_ignore_ascii_case(&target.sub))
        .map(|(_, name)| name)
        .unwrap_or_else(|| "armlet".into());
    let resource_group = match (&target.rg, planned_group) {
        (Some(_), Some(planned)) => planned,
        (Some(rg), None) => {
            let mut doc = groups::require(app, &target.sub, rg, true).await?.body;
            if doc.get("tags").is_none() {
                doc["tags"] = json!({});
            }
            doc
        }
        (None, _) => Value::Null,
    };
    let mut deployment = json!({
        "name": target.name,
        "properties": {
            "template": spec.template,
            "templateHash": crate::deploy::record::template_hash(&spec.template),
            "mode": spec.mode,
            "provisioningState": "Running",
        }
    });
    if let Some(l) = &spec.location {
        deployment["location"] = json!(l);
    }
    // Only a linked deployment has `templateLink` (quickstarts read
    // `deployment().properties.templateLink.uri` as their `_artifactsLocation`).
    if let Some(link) = &spec.template_link {
        deployment["properties"]["templateLink"] = link.clone();
    }
    let base = format!("{}/", spec.base.trim_end_matches('/'));
    Ok(ScopeInfo {
        subscription: json!({
            "id": format!("/subscriptions/{}", target.sub),
            "subscriptionId": target.sub,
            "tenantId": app.tenant_id,
            "displayName": display_name,
        }),
        resource_group,
        deployment,
        environment: json!({
            "name": "AzureCloud",
            "gallery": "https://gallery.azure.com/",
            "graph": "https://graph.windows.net/",
            "portal": "https://portal.azure.com",
            "graphAudience": "https://graph.windows.net/",
            "activeDirectoryDataLake": "https://datalake.azure.net/",
            "batch": "https://batch.core.windows.net/",
            "media": "https://rest.media.azure.net",
            "sqlManagement": "https://management.core.windows.net:8443/",
            "resourceManager": base,
            "authentication": {
                "loginEndpoint": base,
                "audiences": ["https://management.core.windows.net/", "https://management.azure.com/"],
                "tenant": "common",
                "identityProvider": "AAD"
            },
            "suffixes": {
                "acrLoginServer": ".azurecr.io",
                "keyvaultDns": ".vault.azure.net",
                "sqlServerHostname": ".database.windows.net",
                "storage": "core.windows.net"
            }
        }),
        providers: providers::catalog(app),
    })
}

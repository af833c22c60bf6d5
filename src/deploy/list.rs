//! `list*()` template functions, performed the way ARM performs them: as the resource's
//! POST action of the same name (`POST {resourceId}/{function}?api-version=...`, with
//! `functionValues` as the body), through the same resource-type routes the HTTP API uses.
//! So any resource type armlet serves gets the list functions its API has, and a function
//! the type has no action for is an error naming the function and the type.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use serde_json::Value;

use crate::arm::request::MAX_BODY_BYTES;
use crate::arm::resources::{canonical, get_stored, resolve_type};
use crate::arm::{Arm, ArmRequest, ResourceId};
use crate::deploy::scope::{ListCall, ListFailure};

/// Performs one `list*()` call. `base`: `https://host:port` as the client reached armlet.
pub async fn perform(app: &Arc<Arm>, call: &ListCall, base: &str) -> Result<Value, ListFailure> {
    let f = &call.function;
    let invalid = |why: String| {
        ListFailure::Invalid(format!(
            "The template function '{f}' is not valid for the resource '{}': {why}",
            call.id
        ))
    };
    let id = ResourceId::parse(&call.id).map_err(|e| invalid(e.message))?;
    let ty = resolve_type(app, &id, &call.api_version).map_err(|e| {
        invalid(format!(
            "armlet does not serve its resource type ({}: {})",
            e.code, e.message
        ))
    })?;
    let root = canonical(ty.as_ref(), &id.root());
    if let Err(e) = get_stored(app, &root).await {
        return Err(if e.status == StatusCode::NOT_FOUND {
            ListFailure::Missing(e.message)
        } else {
            ListFailure::Invalid(e.message)
        });
    }
    let mut rest: Vec<String> = id
        .segments
        .iter()
        .skip(1)
        .flat_map(|(t, n)| [t.to_ascii_lowercase(), n.to_ascii_lowercase()])
        .collect();
    rest.push(f.to_ascii_lowercase());
    let req = request(&id, call, base)?;
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    let response = match ty.route(app, &req, &root, &rest).await {
        Ok(r) => r,
        // The generic "no such path": the type has no action by this name.
        Err(e) if e.status == StatusCode::NOT_FOUND && e.code == "NotFound" => {
            return Err(ListFailure::Invalid(format!(
                "The template function '{f}' is not valid: the resource type '{}' has no '{f}' action, so '{f}' cannot be used with it. Please see https://aka.ms/arm-resource-functions for usage details.",
                ty.type_name()
            )));
        }
        Err(e) => return Err(invalid(format!("{} ({})", e.message, e.code))),
    };
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|e| invalid(e.to_string()))?;
    let body: Value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?
    };
    if status.is_success() {
        Ok(body)
    } else {
        Err(invalid(
            body["error"]["message"]
                .as_str()
                .unwrap_or("the action failed")
                .to_string(),
        ))
    }
}

/// Characters a URI path cannot carry as they are (`/` stays a separator).
const PATH: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// The POST request ARM would send the resource provider.
fn request(id: &ResourceId, call: &ListCall, base: &str) -> Result<ArmRequest, ListFailure> {
    let path = format!("{}/{}", id.to_string().trim_end_matches('/'), call.function);
    let query = format!(
        "api-version={}",
        form_urlencoded::byte_serialize(call.api_version.as_bytes()).collect::<String>()
    );
    let uri: Uri = format!(
        "{}?{query}",
        percent_encoding::utf8_percent_encode(&path, PATH)
    )
    .parse()
    .map_err(|e| ListFailure::Invalid(format!("'{path}' is not a valid request path: {e}")))?;
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    Ok(ArmRequest {
        method: Method::POST,
        uri,
        lower: segments.iter().map(|s| s.to_ascii_lowercase()).collect(),
        segments,
        query: vec![("api-version".into(), call.api_version.clone())],
        headers,
        body: Bytes::from(call.body.clone().unwrap_or_default()),
        base: base.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arm::operations::Workers;
    use crate::arm::resource_type::{Registry, ResourceType, WriteCx};
    use crate::arm::service::ArmParts;
    use crate::arm::{ArmError, ArmResult, groups, resources};
    use async_trait::async_trait;
    use axum::Json;
    use axum::response::{IntoResponse, Response};
    use serde_json::{Map, json};

    const SUB: &str = "00000000-0000-0000-0000-00000000000a";

    /// A type with one list action, as a storage account has `listKeys`.
    struct Vaults;

    #[async_trait]
    impl ResourceType for Vaults {
        fn type_name(&self) -> &'static str {
            "Microsoft.Test/vaults"
        }
        fn api_versions(&self) -> &'static [&'static str] {
            &["2024-01-01"]
        }
        async fn prepare(
            &self,
            _cx: &mut WriteCx<'_>,
            _existing: Option<&Value>,
            body: Map<String, Value>,
        ) -> ArmResult<Value> {
            Ok(Value::Object(body))
        }
        async fn route(
            &self,
            _arm: &Arc<Arm>,
            req: &ArmRequest,
            id: &ResourceId,
            rest: &[&str],
        ) -> ArmResult<Response> {
            match rest {
                ["listkeys"] if req.method == Method::POST => {
                    let echo: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
                    Ok(Json(json!({
                        "keys": [{"keyName": "key1", "value": format!("secret-of-{}", id.name())}],
                        "functionValues": echo,
                        "apiVersion": req.api_version()?,
                        "path": req.uri.path(),
                    }))
                    .into_response())
                }
                _ => Err(ArmError::not_found("NotFound", "no such path")),
            }
        }
    }

    async fn arm() -> Arc<Arm> {
        let mut registry = Registry::default();
        registry.register(Vaults);
        let arm = Arc::new(Arm::new(ArmParts {
            store: crate::store::Store::in_memory().await.unwrap(),
            registry,
            workers: Workers::default(),
            tenant_id: "t".into(),
            default_subscription: SUB.into(),
            shutdown: Default::default(),
            tasks: Default::default(),
        }));
        let rg = json!({"location": "eastus"});
        groups::create_or_update(&arm, SUB, "rg", rg.as_object().unwrap(), None)
            .await
            .unwrap();
        arm
    }

    fn call(function: &str, name: &str, body: Option<&str>) -> ListCall {
        ListCall {
            function: function.into(),
            id: format!(
                "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Test/vaults/{name}"
            ),
            api_version: "2024-01-01".into(),
            body: body.map(str::to_string),
        }
    }

    #[tokio::test]
    async fn list_functions_are_the_resource_types_post_actions() {
        let app = arm().await;
        let id = ResourceId::parse(&call("listKeys", "v1", None).id).unwrap();
        let body = json!({"location": "eastus"});
        resources::put(
            &app,
            &id,
            "2024-01-01",
            body.as_object().unwrap().clone(),
            None,
        )
        .await
        .unwrap();

        let out = perform(
            &app,
            &call("listKeys", "v1", Some(r#"{"expiry":"1h"}"#)),
            "https://h",
        )
        .await
        .unwrap();
        assert_eq!(out["keys"][0]["value"], "secret-of-v1");
        assert_eq!(out["functionValues"], json!({"expiry": "1h"}));
        assert_eq!(out["apiVersion"], "2024-01-01");
        assert!(
            out["path"]
                .as_str()
                .unwrap()
                .ends_with("/vaults/v1/listKeys")
        );

        // An action the type does not have: an error naming the function and the type.
        let Err(ListFailure::Invalid(m)) =
            perform(&app, &call("listSecrets", "v1", None), "https://h").await
        else {
            panic!("listSecrets should fail");
        };
        assert!(
            m.contains("The template function 'listSecrets' is not valid"),
            "{m}"
        );
        assert!(
            m.contains("'Microsoft.Test/vaults' has no 'listSecrets' action"),
            "{m}"
        );

        // A resource that does not exist, and a type armlet does not serve.
        assert!(matches!(
            perform(&app, &call("listKeys", "nope", None), "https://h").await,
            Err(ListFailure::Missing(_))
        ));
        let mut storage = call("listKeys", "sa", None);
        storage.id = format!(
            "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa"
        );
        let Err(ListFailure::Invalid(m)) = perform(&app, &storage, "https://h").await else {
            panic!("storage accounts are not served");
        };
        assert!(
            m.contains("'listKeys'") && m.contains("armlet does not serve"),
            "{m}"
        );
    }
}

//! Identity, so `az login` and the SDK credentials work offline: the cloud metadata endpoint,
//! OpenID discovery, an OAuth2 token endpoint (client credentials, password, refresh token)
//! and the managed-identity token endpoints (IMDS and App Service styles).
//!
//! Any credentials are accepted, as in other emulators. Tokens are JWTs signed by armlet
//! (HS256, key in the data dir) carrying the claims clients read: `tid`, `oid`, `aud`, `exp`.

use std::collections::HashMap;

use axum::Form;
use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde::Serialize;
use serde_json::{Value, json};

use crate::api::ApiState;
use crate::arm::request::base_url;

/// The audience `az` and the SDKs ask tokens for.
pub const ARM_AUDIENCE: &str = "https://management.core.windows.net/";
const TOKEN_LIFETIME_SECS: i64 = 24 * 3600;

pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/metadata/endpoints", get(metadata_endpoints))
        .route(
            "/metadata/identity/oauth2/token",
            get(managed_identity_token),
        )
        .route("/msi/token", get(managed_identity_token))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(openid_configuration),
        )
        .route(
            "/{tenant}/.well-known/openid-configuration",
            get(openid_configuration),
        )
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/{tenant}/oauth2/token", post(token))
        .route("/{tenant}/discovery/v2.0/keys", get(keys))
}

/// Signs access tokens.
pub struct Tokens {
    key: jsonwebtoken::EncodingKey,
    /// The same secret, to check the tokens ARM requests carry ([`super::auth`]).
    pub verifier: jsonwebtoken::DecodingKey,
    pub tenant_id: String,
}

#[derive(Serialize)]
struct Claims<'a> {
    aud: &'a str,
    iss: String,
    iat: i64,
    nbf: i64,
    exp: i64,
    tid: &'a str,
    oid: &'a str,
    sub: &'a str,
    appid: &'a str,
    idtyp: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    upn: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unique_name: Option<&'a str>,
    ver: &'a str,
}

/// Who a token is for.
pub struct Subject<'a> {
    pub tenant: &'a str,
    pub client_id: &'a str,
    /// A user's name for user tokens; `None` for applications and managed identities.
    pub user: Option<&'a str>,
}

impl Tokens {
    pub fn new(secret: &[u8], tenant_id: &str) -> Self {
        Tokens {
            key: jsonwebtoken::EncodingKey::from_secret(secret),
            verifier: jsonwebtoken::DecodingKey::from_secret(secret),
            tenant_id: tenant_id.to_string(),
        }
    }

    /// A signed access token for `audience`.
    pub fn issue(&self, base: &str, audience: &str, who: &Subject<'_>) -> String {
        let now = chrono::Utc::now().timestamp();
        let oid = stable_guid(who.user.unwrap_or(who.client_id));
        let claims = Claims {
            aud: audience,
            iss: format!("{base}/{}/v2.0", who.tenant),
            iat: now,
            nbf: now - 60,
            exp: now + TOKEN_LIFETIME_SECS,
            tid: who.tenant,
            oid: &oid,
            sub: &oid,
            appid: who.client_id,
            idtyp: if who.user.is_some() { "user" } else { "app" },
            upn: who.user,
            unique_name: who.user,
            ver: "2.0",
        };
        jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &self.key)
            .expect("HS256 signing cannot fail")
    }
}

/// A GUID derived from a name, so a principal keeps its object id across tokens.
fn stable_guid(name: &str) -> String {
    let digest = <sha2::Sha256 as sha2::Digest>::digest(name.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// The cloud's endpoints. api-versions before 2022-09-01 answer the list form
/// (`ARM_CLOUD_METADATA_URL`), later ones a single object (`az cloud register`).
async fn metadata_endpoints(
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    let base = base_url(&headers);
    let cloud = cloud_metadata(&base);
    let version = q
        .get("api-version")
        .map(String::as_str)
        .unwrap_or("2022-09-01");
    if version < "2022-09-01" {
        Json(json!([cloud]))
    } else {
        Json(cloud)
    }
}

/// The cloud metadata document for an armlet reachable at `base` (no trailing slash).
pub fn cloud_metadata(base: &str) -> Value {
    json!({
        "name": "armlet",
        "portal": format!("{base}/"),
        "resourceManager": format!("{base}/"),
        "authentication": {
            "loginEndpoint": format!("{base}/"),
            "audiences": [ARM_AUDIENCE, "https://management.azure.com/"],
            "tenant": "common",
            "identityProvider": "AAD"
        },
        "media": format!("{base}/"),
        "graphAudience": "https://graph.windows.net/",
        "graph": "https://graph.windows.net/",
        "gallery": format!("{base}/"),
        "batch": "https://batch.core.windows.net/",
        "sqlManagement": "https://management.core.windows.net:8443/",
        "vmImageAliasDoc": format!("{base}/armlet/vm-image-aliases.json"),
        "microsoftGraphResourceId": "https://graph.microsoft.com/",
        "appInsightsResourceId": "https://api.applicationinsights.io",
        "appInsightsTelemetryChannelResourceId": "https://dc.applicationinsights.azure.com/v2/track",
        "attestationResourceId": "https://attest.azure.net",
        "synapseAnalyticsResourceId": "https://dev.azuresynapse.net",
        // The Log Analytics query API is served by armlet itself (`/v1/workspaces/...`).
        "logAnalyticsResourceId": base,
        // The same, under the index the az `log-analytics` extension's generated client looks
        // up (`_CLOUD_HOST_METADATA_INDEX`); az core reads only `logAnalyticsResourceId`.
        "logAnalyticslogAnalyticsResourceId": base,
        "ossrDbmsResourceId": "https://ossrdbms-aad.database.windows.net",
        "suffixes": {
            "azureDataLakeStoreFileSystem": "azuredatalakestore.net",
            "acrLoginServer": "azurecr.io",
            "sqlServerHostname": "database.windows.net",
            "azureDataLakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
            "keyVaultDns": "vault.azure.net",
            "storage": "core.windows.net",
            "azureFrontDoorEndpointSuffix": "azurefd.net",
            "storageSyncEndpointSuffix": "afs.azure.net",
            "mhsmDns": "managedhsm.azure.net",
            "mysqlServerEndpoint": "mysql.database.azure.com",
            "postgresqlServerEndpoint": "postgres.database.azure.com",
            "mariadbServerEndpoint": "mariadb.database.azure.com",
            "synapseAnalytics": "dev.azuresynapse.net",
            "attestationEndpoint": "attest.azure.net"
        }
    })
}

async fn openid_configuration(headers: HeaderMap, Path(tenant): Path<String>) -> Json<Value> {
    let base = base_url(&headers);
    Json(json!({
        "issuer": format!("{base}/{tenant}/v2.0"),
        "authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/authorize"),
        "token_endpoint": format!("{base}/{tenant}/oauth2/v2.0/token"),
        "device_authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/devicecode"),
        "jwks_uri": format!("{base}/{tenant}/discovery/v2.0/keys"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["HS256"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "tenant_region_scope": null,
        "cloud_instance_name": "armlet",
        "request_uri_parameter_supported": false
    }))
}

/// armlet signs with a symmetric key, so there is no public key to publish.
async fn keys() -> Json<Value> {
    Json(json!({ "keys": [] }))
}

/// `POST /{tenant}/oauth2/v2.0/token`: client credentials, password and refresh-token grants.
async fn token(
    State(app): State<ApiState>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let base = base_url(&headers);
    let tenant = resolve_tenant(&app, &tenant);
    let client_id = form
        .get("client_id")
        .map(String::as_str)
        .unwrap_or("armlet-client");
    let grant = form.get("grant_type").map(String::as_str).unwrap_or("");
    let audience = form
        .get("scope")
        .and_then(|s| audience_from_scope(s))
        .or_else(|| form.get("resource").cloned())
        .unwrap_or_else(|| ARM_AUDIENCE.to_string());
    let user = match grant {
        "client_credentials" => None,
        "password" => Some(
            form.get("username")
                .cloned()
                .unwrap_or_else(|| "user@armlet.local".into()),
        ),
        // A refresh token is the user's name, base64url-encoded: there is nothing to revoke.
        "refresh_token" => Some(
            form.get("refresh_token")
                .and_then(|t| {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(t)
                        .ok()
                })
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or_else(|| "user@armlet.local".into()),
        ),
        other => {
            return oauth_error(
                "unsupported_grant_type",
                &format!("AADSTS70003: The grant type '{other}' is not supported by armlet."),
            );
        }
    };
    let who = Subject {
        tenant: &tenant,
        client_id,
        user: user.as_deref(),
    };
    let access_token = app.tokens.issue(&base, &audience, &who);
    let mut body = json!({
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME_SECS,
        "ext_expires_in": TOKEN_LIFETIME_SECS,
        "access_token": access_token,
    });
    if let Some(user) = &user {
        // MSAL keeps an account for user flows: it needs an id token, client_info and a refresh token.
        let oid = stable_guid(user);
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        body["client_info"] = json!(b64.encode(json!({"uid": oid, "utid": tenant}).to_string()));
        body["id_token"] = json!(app.tokens.issue(&base, client_id, &who));
        body["refresh_token"] = json!(b64.encode(user));
        body["scope"] = json!(format!("{audience}/user_impersonation"));
    }
    Json(body).into_response()
}

/// The managed-identity endpoints (IMDS `/metadata/identity/oauth2/token`, App Service `/msi/token`).
pub(crate) async fn managed_identity_token(
    State(app): State<ApiState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let base = base_url(&headers);
    let Some(resource) = q.get("resource") else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_request", "error_description": "Required query variable 'resource' is missing"})),
        )
            .into_response();
    };
    let client_id = q
        .get("client_id")
        .map(String::as_str)
        .unwrap_or("armlet-managed-identity");
    let who = Subject {
        tenant: &app.tokens.tenant_id,
        client_id,
        user: None,
    };
    let token = app.tokens.issue(&base, resource, &who);
    let expires_on = chrono::Utc::now().timestamp() + TOKEN_LIFETIME_SECS;
    Json(json!({
        "access_token": token,
        "refresh_token": "",
        "expires_in": TOKEN_LIFETIME_SECS.to_string(),
        "expires_on": expires_on.to_string(),
        "not_before": (expires_on - TOKEN_LIFETIME_SECS).to_string(),
        "resource": resource,
        "token_type": "Bearer",
        "client_id": client_id,
    }))
    .into_response()
}

/// `common`/`organizations` and other non-GUID tenants mean armlet's own tenant.
fn resolve_tenant(app: &ApiState, tenant: &str) -> String {
    if uuid::Uuid::parse_str(tenant).is_ok() {
        tenant.to_string()
    } else {
        app.tokens.tenant_id.clone()
    }
}

/// `https://management.core.windows.net//.default offline_access` → `https://management.core.windows.net/`.
fn audience_from_scope(scope: &str) -> Option<String> {
    scope
        .split_whitespace()
        .find_map(|s| s.strip_suffix(".default"))
        .map(|s| {
            s.strip_suffix('/')
                .filter(|a| a.ends_with('/'))
                .unwrap_or(s)
                .to_string()
        })
}

fn oauth_error(code: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": code, "error_description": description})),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_maps_back_to_audience() {
        assert_eq!(
            audience_from_scope("https://management.core.windows.net//.default offline_access")
                .as_deref(),
            Some("https://management.core.windows.net/")
        );
        assert_eq!(
            audience_from_scope("https://management.azure.com/.default").as_deref(),
            Some("https://management.azure.com/")
        );
        assert_eq!(audience_from_scope("openid profile"), None);
    }

    #[test]
    fn tokens_are_jwts_with_the_claims_clients_read() {
        let tokens = Tokens::new(b"secret", "t");
        let jwt = tokens.issue(
            "https://localhost",
            ARM_AUDIENCE,
            &Subject {
                tenant: "t",
                client_id: "c",
                user: None,
            },
        );
        let payload = jwt.split('.').nth(1).unwrap();
        let claims: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(claims["tid"], "t");
        assert_eq!(claims["aud"], ARM_AUDIENCE);
        assert!(claims["exp"].as_i64().unwrap() > chrono::Utc::now().timestamp());
        assert_eq!(claims["oid"], stable_guid("c"));
    }
}

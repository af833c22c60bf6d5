//! Authentication as ARM does it: every ARM request carries `Authorization: Bearer <token>`,
//! a token armlet's identity endpoints signed, for the management audience, not expired.
//! Anything else is a 401 with ARM's error code and a `WWW-Authenticate` challenge that
//! names where to get a token.
//!
//! Login stays open (the token endpoints accept any credentials), so `az`, the SDKs and
//! templates work unchanged; `--auth none` turns the check off. The codes, messages and the
//! challenge are ARM's, as clients see them:
//! - no header: `AuthenticationFailed` "Authentication failed. The 'Authorization' header is
//!   missing." with `Bearer authorization_uri="...", error="invalid_token",
//!   error_description="The authentication failed because of missing 'Authorization' header."`
//!   (the challenge azure-sdk-for-go and azure-core's tests parse as ARM's);
//! - not `Bearer <token>`: `AuthenticationFailed` "... provided in an invalid format.";
//! - bad signature or not a JWT: `InvalidAuthenticationToken` "The access token is invalid.";
//! - another audience: `InvalidAuthenticationTokenAudience`, listing the four audiences ARM
//!   accepts;
//! - expired: `ExpiredAuthenticationToken` "The access token expiry UTC time '6/15/2026 8:22:51
//!   AM' is earlier than current UTC time '...'." (times as ARM prints them).
//!
//! ARM validates with Microsoft.IdentityModel's default clock skew of five minutes
//! (`TokenValidationParameters.DefaultClockSkew`), so a token is accepted up to five minutes
//! past `exp` and from five minutes before `nbf`.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::arm::ArmError;
pub use crate::config::AuthMode;

/// Microsoft.IdentityModel's default clock skew, which ARM's token validation uses.
pub const CLOCK_SKEW_SECS: i64 = 300;

/// The audiences ARM accepts (from its `InvalidAuthenticationTokenAudience` message).
pub const ARM_AUDIENCES: &[&str] = &[
    "https://management.core.windows.net/",
    "https://management.core.windows.net",
    "https://management.azure.com/",
    "https://management.azure.com",
];

/// Who sent a request, for throttling: the token's object id, or `anonymous`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Caller {
    pub actor: String,
}

/// The claims armlet checks.
#[derive(Debug, Deserialize)]
struct Claims {
    #[serde(default)]
    aud: String,
    #[serde(default)]
    exp: Option<i64>,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    oid: Option<String>,
    #[serde(default)]
    appid: Option<String>,
}

/// Why a request is not authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    Missing,
    InvalidFormat,
    InvalidToken,
    WrongAudience(String),
    Expired { expiry: i64, now: i64 },
    NotYetValid,
}

impl AuthFailure {
    pub fn error(&self) -> ArmError {
        let (code, message) = match self {
            AuthFailure::Missing => (
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.".to_string(),
            ),
            AuthFailure::InvalidFormat => (
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is provided in an invalid format."
                    .to_string(),
            ),
            AuthFailure::InvalidToken => (
                "InvalidAuthenticationToken",
                "The access token is invalid.".to_string(),
            ),
            AuthFailure::NotYetValid => (
                "InvalidAuthenticationToken",
                "The access token is not yet valid.".to_string(),
            ),
            AuthFailure::WrongAudience(aud) => (
                "InvalidAuthenticationTokenAudience",
                format!(
                    "The access token has been obtained for wrong audience or resource '{aud}'. It should exactly match with one of the allowed audiences {}.",
                    ARM_AUDIENCES
                        .iter()
                        .map(|a| format!("'{a}'"))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            ),
            AuthFailure::Expired { expiry, now } => (
                "ExpiredAuthenticationToken",
                format!(
                    "The access token expiry UTC time '{}' is earlier than current UTC time '{}'.",
                    arm_time(*expiry),
                    arm_time(*now)
                ),
            ),
        };
        ArmError::new(StatusCode::UNAUTHORIZED, code, message)
    }

    /// The `error_description` of the challenge.
    fn description(&self) -> String {
        match self {
            AuthFailure::Missing => {
                "The authentication failed because of missing 'Authorization' header.".into()
            }
            other => other.error().message,
        }
    }

    /// The 401 response: the ARM error and the challenge naming armlet's login endpoint.
    pub fn response(&self, base: &str, tenant: &str) -> Response {
        let mut response = self.error().into_response();
        let challenge = format!(
            "Bearer authorization_uri=\"{base}/{tenant}\", error=\"invalid_token\", error_description=\"{}\"",
            self.description().replace('"', "'")
        );
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            response.headers_mut().insert("www-authenticate", v);
        }
        response
    }
}

/// `6/15/2026 8:22:51 AM`: how ARM prints times in its token messages.
fn arm_time(secs: i64) -> String {
    DateTime::<Utc>::from_timestamp(secs, 0)
        .map(|t| t.format("%-m/%-d/%Y %-I:%M:%S %p").to_string())
        .unwrap_or_else(|| secs.to_string())
}

/// The bearer token of a request, or why there is none.
pub fn bearer(headers: &HeaderMap) -> Result<&str, AuthFailure> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or(AuthFailure::Missing)?
        .to_str()
        .map_err(|_| AuthFailure::InvalidFormat)?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or(AuthFailure::InvalidFormat)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(AuthFailure::InvalidFormat);
    }
    Ok(token)
}

/// Checks a token against armlet's signing key at `now` (Unix seconds).
pub fn verify(
    key: &jsonwebtoken::DecodingKey,
    token: &str,
    now: i64,
) -> Result<Caller, AuthFailure> {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    // Expiry, not-before and audience are checked below, to answer with ARM's own errors.
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Claims>(token, key, &validation)
        .map_err(|_| AuthFailure::InvalidToken)?
        .claims;
    if !ARM_AUDIENCES.contains(&claims.aud.as_str()) {
        return Err(AuthFailure::WrongAudience(claims.aud));
    }
    let expiry = claims.exp.ok_or(AuthFailure::InvalidToken)?;
    if expiry + CLOCK_SKEW_SECS < now {
        return Err(AuthFailure::Expired { expiry, now });
    }
    if claims.nbf.is_some_and(|nbf| nbf - CLOCK_SKEW_SECS > now) {
        return Err(AuthFailure::NotYetValid);
    }
    Ok(Caller {
        actor: claims
            .oid
            .or(claims.appid)
            .unwrap_or_else(|| "anonymous".into()),
    })
}

/// Who a request says it is without checking (for `--auth none`): the token's object id if
/// it carries a readable one.
pub fn unverified_caller(headers: &HeaderMap) -> Caller {
    let actor = bearer(headers)
        .ok()
        .and_then(|t| jsonwebtoken::dangerous::insecure_decode::<Claims>(t).ok())
        .and_then(|d| d.claims.oid)
        .unwrap_or_else(|| "anonymous".into());
    Caller { actor }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &[u8] = b"test-secret";

    fn token(claims: serde_json::Value) -> String {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(SECRET),
        )
        .unwrap()
    }

    fn key() -> jsonwebtoken::DecodingKey {
        jsonwebtoken::DecodingKey::from_secret(SECRET)
    }

    #[test]
    fn a_signed_management_token_names_its_caller() {
        let t = token(json!({"aud": "https://management.azure.com", "exp": 1000, "oid": "o"}));
        assert_eq!(verify(&key(), &t, 900).unwrap().actor, "o");
    }

    #[test]
    fn expiry_allows_five_minutes_of_clock_skew() {
        let t = token(json!({"aud": ARM_AUDIENCES[0], "exp": 1000, "oid": "o"}));
        assert!(verify(&key(), &t, 1300).is_ok());
        assert_eq!(
            verify(&key(), &t, 1301),
            Err(AuthFailure::Expired {
                expiry: 1000,
                now: 1301
            })
        );
        let nbf = token(json!({"aud": ARM_AUDIENCES[0], "exp": 9000, "nbf": 2000}));
        assert_eq!(verify(&key(), &nbf, 1699), Err(AuthFailure::NotYetValid));
        assert!(verify(&key(), &nbf, 1700).is_ok());
    }

    #[test]
    fn other_audiences_unsigned_and_foreign_tokens_are_refused() {
        let graph = token(json!({"aud": "https://graph.microsoft.com/", "exp": 9000}));
        assert!(matches!(
            verify(&key(), &graph, 0),
            Err(AuthFailure::WrongAudience(a)) if a == "https://graph.microsoft.com/"
        ));
        let foreign = jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &json!({"aud": ARM_AUDIENCES[0], "exp": 9000}),
            &jsonwebtoken::EncodingKey::from_secret(b"another key"),
        )
        .unwrap();
        assert_eq!(verify(&key(), &foreign, 0), Err(AuthFailure::InvalidToken));
        assert_eq!(
            verify(&key(), "not.a.jwt", 0),
            Err(AuthFailure::InvalidToken)
        );
        // alg "none" is never accepted.
        let unsigned = format!(
            "{}.{}.",
            base64_url(br#"{"alg":"none","typ":"JWT"}"#),
            base64_url(br#"{"aud":"https://management.azure.com","exp":9000}"#)
        );
        assert_eq!(verify(&key(), &unsigned, 0), Err(AuthFailure::InvalidToken));
    }

    fn base64_url(b: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    }

    #[test]
    fn the_header_must_be_bearer_and_a_token() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), Err(AuthFailure::Missing));
        h.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(bearer(&h), Err(AuthFailure::InvalidFormat));
        h.insert("authorization", "Bearer ".parse().unwrap());
        assert_eq!(bearer(&h), Err(AuthFailure::InvalidFormat));
        h.insert("authorization", "bearer abc".parse().unwrap());
        assert_eq!(bearer(&h), Ok("abc"));
    }

    #[test]
    fn errors_and_challenge_read_as_arm_writes_them() {
        let e = AuthFailure::Expired {
            expiry: 1_781_511_771,
            now: 1_781_515_645,
        }
        .error();
        assert_eq!(e.code, "ExpiredAuthenticationToken");
        assert_eq!(
            e.message,
            "The access token expiry UTC time '6/15/2026 8:22:51 AM' is earlier than current UTC time '6/15/2026 9:27:25 AM'."
        );
        let r = AuthFailure::Missing.response("https://localhost:8443", "t");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.headers()["www-authenticate"],
            "Bearer authorization_uri=\"https://localhost:8443/t\", error=\"invalid_token\", error_description=\"The authentication failed because of missing 'Authorization' header.\""
        );
    }
}

//! What every ARM request passes before it is read: the size limits of ARM's front end, then
//! authentication ([`super::auth`]), then throttling ([`super::throttle`]). Identity,
//! metadata and the image alias document are not ARM requests and never come here.
//!
//! Size limits: ARM's front ends run on http.sys, whose documented defaults (KB 820129,
//! "Http.sys registry settings for Windows") are 16 KB for the request line and headers
//! together (`MaxRequestBytes`) and for any one header (`MaxFieldLength`), at most 255 path
//! segments (`UrlSegmentMaxCount`) of at most 260 characters each (`UrlSegmentMaxLength`).
//! Bodies are limited to ARM's 4 MB where they are read ([`crate::arm::request`]). http.sys
//! answers these with a bare 400 page; armlet answers a 400 in ARM's error envelope.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};

use super::ApiState;
use super::auth::{self, AuthMode, Caller};
use super::throttle::Admission;
use crate::arm::ArmError;
use crate::arm::request::base_url;

/// http.sys `MaxRequestBytes`: the request line and all headers.
pub const MAX_REQUEST_HEADER_BYTES: usize = 16 * 1024;
/// http.sys `UrlSegmentMaxLength`.
pub const MAX_URL_SEGMENT_CHARS: usize = 260;
/// http.sys `UrlSegmentMaxCount`.
pub const MAX_URL_SEGMENTS: usize = 255;

/// Checks sizes, the token and the throttle; the admission must live as long as the request.
pub fn admit(app: &ApiState, req: &Request<Body>) -> Result<Admission, Box<Response>> {
    check_sizes(req).map_err(|e| Box::new(e.into_response()))?;
    let caller = match app.auth {
        AuthMode::None => auth::unverified_caller(req.headers()),
        AuthMode::Bearer => authenticate(app, req)?,
    };
    app.throttle.admit(&caller, req.method(), req.uri().path())
}

fn authenticate(app: &ApiState, req: &Request<Body>) -> Result<Caller, Box<Response>> {
    let now = chrono::Utc::now().timestamp();
    auth::bearer(req.headers())
        .and_then(|token| auth::verify(&app.tokens.verifier, token, now))
        .map_err(|failure| {
            Box::new(failure.response(&base_url(req.headers()), &app.tokens.tenant_id))
        })
}

/// http.sys's limits on the request line, headers and path.
pub fn check_sizes(req: &Request<Body>) -> Result<(), ArmError> {
    let line = req.method().as_str().len() + req.uri().to_string().len() + 12;
    let headers: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if line + headers > MAX_REQUEST_HEADER_BYTES {
        return Err(ArmError::new(
            StatusCode::BAD_REQUEST,
            "RequestHeaderTooLong",
            format!(
                "The size of the request line and headers ({} bytes) is more than the {MAX_REQUEST_HEADER_BYTES} bytes ARM accepts.",
                line + headers
            ),
        ));
    }
    let segments: Vec<&str> = req
        .uri()
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let longest = segments
        .iter()
        .map(|s| s.chars().count())
        .max()
        .unwrap_or(0);
    if segments.len() > MAX_URL_SEGMENTS || longest > MAX_URL_SEGMENT_CHARS {
        return Err(ArmError::bad_request(
            "InvalidUrl",
            format!(
                "The request URL is invalid: it may have at most {MAX_URL_SEGMENTS} path segments of at most {MAX_URL_SEGMENT_CHARS} characters each."
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(path: &str, header: usize) -> Request<Body> {
        Request::builder()
            .uri(path)
            .header("x-filler", "a".repeat(header))
            .body(Body::empty())
            .unwrap()
    }

    #[test]
    fn request_line_and_headers_stay_within_http_sys_limits() {
        assert!(check_sizes(&req("/subscriptions", 100)).is_ok());
        let e = check_sizes(&req("/subscriptions", 16 * 1024)).unwrap_err();
        assert_eq!(
            (e.status, e.code.as_str()),
            (StatusCode::BAD_REQUEST, "RequestHeaderTooLong")
        );
    }

    #[test]
    fn path_segments_are_at_most_260_characters() {
        let ok = format!("/subscriptions/{}", "a".repeat(260));
        assert!(check_sizes(&req(&ok, 1)).is_ok());
        let long = format!("/subscriptions/{}", "a".repeat(261));
        assert_eq!(check_sizes(&req(&long, 1)).unwrap_err().code, "InvalidUrl");
        let deep = "/a".repeat(256);
        assert_eq!(check_sizes(&req(&deep, 1)).unwrap_err().code, "InvalidUrl");
    }
}

//! One ARM request as the generic layer sees it: decoded path segments matched
//! case-insensitively, the query, headers, and the body read under a size limit.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::Value;

use super::error::{ArmError, ArmResult};

/// ARM's own limit on request bodies (template deployments included): 4 MB, answered with
/// 413 `RequestContentTooLarge` "The request content size exceeds the maximum size of 4 MB."
/// (as `az deployment` users report it).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

pub struct ArmRequest {
    pub method: Method,
    pub uri: Uri,
    /// Percent-decoded path segments with the user's casing.
    pub segments: Vec<String>,
    /// The same, lower-cased, for matching.
    pub lower: Vec<String>,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// `https://host:port` as the client addressed armlet, for URLs in responses.
    pub base: String,
}

impl ArmRequest {
    pub async fn read(req: axum::http::Request<Body>) -> ArmResult<Self> {
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
            .await
            .map_err(|_| {
                ArmError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "RequestContentTooLarge",
                    "The request content size exceeds the maximum size of 4 MB.",
                )
            })?;
        let segments: Vec<String> = parts
            .uri
            .path()
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .collect();
        let lower = segments.iter().map(|s| s.to_ascii_lowercase()).collect();
        let query = parts
            .uri
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        Ok(ArmRequest {
            base: base_url(&parts.headers),
            method: parts.method,
            uri: parts.uri,
            segments,
            lower,
            query,
            headers: parts.headers,
            body,
        })
    }

    /// A query parameter, by case-insensitive name.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `api-version`, which every ARM request must carry in a valid form.
    pub fn api_version(&self) -> ArmResult<&str> {
        let v = self.query("api-version").ok_or_else(|| {
            ArmError::bad_request(
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        })?;
        if is_valid_api_version(v) {
            Ok(v)
        } else {
            Err(ArmError::bad_request(
                "InvalidApiVersionParameter",
                format!(
                    "The api-version '{v}' is invalid. The supported versions are in the form 'yyyy-MM-dd' or 'yyyy-MM-dd-preview'."
                ),
            ))
        }
    }

    /// The body as a JSON object; ARM takes only `application/json`.
    pub fn json_object(&self) -> ArmResult<serde_json::Map<String, Value>> {
        let content_type = self
            .headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let is_json = content_type
            .map(|ct| {
                ct.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case("application/json")
            })
            .unwrap_or(false);
        if !is_json && !self.body.is_empty() {
            return Err(ArmError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                format!(
                    "The content media type '{}' is not supported. Only 'application/json' is supported.",
                    content_type.unwrap_or("<null>")
                ),
            ));
        }
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Err(ArmError::bad_request(
                "InvalidRequestContent",
                "The request content was invalid and could not be deserialized: 'The request body is empty.'.",
            ));
        }
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(ArmError::invalid_request_content(
                "The request body must be a JSON object.",
            )),
            Err(e) => Err(ArmError::invalid_request_content(e)),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Enforces `If-Match` / `If-None-Match` against the current ETag (`None`: no resource).
    pub fn check_preconditions(&self, current: Option<&str>) -> ArmResult<()> {
        if let Some(want) = self.header("if-match") {
            let ok = match current {
                None => false,
                Some(etag) => want
                    .split(',')
                    .map(str::trim)
                    .any(|w| w == "*" || same_etag(w, etag)),
            };
            if !ok {
                return Err(ArmError::precondition_failed());
            }
        }
        if let Some(want) = self.header("if-none-match") {
            let clash = match current {
                None => false,
                Some(etag) => want
                    .split(',')
                    .map(str::trim)
                    .any(|w| w == "*" || same_etag(w, etag)),
            };
            if clash {
                return Err(ArmError::precondition_failed());
            }
        }
        Ok(())
    }

    /// This request's URL with one query parameter replaced, for `nextLink`.
    pub fn url_with(&self, name: &str, value: &str) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in self
            .query
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case(name))
        {
            q.append_pair(k, v);
        }
        q.append_pair(name, value);
        format!("{}{}?{}", self.base, self.uri.path(), q.finish())
    }
}

/// `W/"x"`, `"x"` and `x` name the same entity tag.
fn same_etag(a: &str, b: &str) -> bool {
    fn bare(s: &str) -> &str {
        s.trim().trim_start_matches("W/").trim_matches('"')
    }
    bare(a) == bare(b)
}

/// `yyyy-MM-dd` with an optional `-preview`-style suffix.
pub fn is_valid_api_version(v: &str) -> bool {
    let (date, suffix) = match v.get(10..) {
        Some(rest) => (&v[..10], rest),
        None => return false,
    };
    let date_ok = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok() && date.len() == 10;
    let suffix_ok = suffix.is_empty()
        || (suffix.starts_with('-')
            && suffix.len() > 1
            && suffix[1..].chars().all(|c| c.is_ascii_alphanumeric()));
    date_ok && suffix_ok
}

/// The base URL clients used to reach armlet (ARM is HTTPS only).
pub fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("https://{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_are_dates_with_optional_suffix() {
        for ok in [
            "2024-11-01",
            "2023-04-01-preview",
            "2015-06-15",
            "2021-01-01-privatepreview",
        ] {
            assert!(is_valid_api_version(ok), "{ok}");
        }
        for bad in [
            "",
            "2024",
            "2024-13-01",
            "latest",
            "2024-11-01-",
            "2024-11-01x",
            "2024-1-01",
        ] {
            assert!(!is_valid_api_version(bad), "{bad}");
        }
    }

    #[test]
    fn etags_compare_without_weakness_or_quotes() {
        assert!(same_etag("W/\"abc\"", "\"abc\""));
        assert!(!same_etag("\"abc\"", "\"abd\""));
    }
}

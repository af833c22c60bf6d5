//! Linked templates and parameter files: `templateLink` and `parametersLink` of a deployment
//! or of a nested `Microsoft.Resources/deployments` resource.
//!
//! armlet has no internet access, so a link must name a local file: a `file://` URI or an
//! absolute path. `relativePath` is resolved against the parent deployment's link the way
//! ARM combines the two URIs ("the child deployment will be a combination of the parent and
//! relativePath URIs", `TemplateLink.relativePath` in the Microsoft.Resources spec), keeping
//! the parent's query string (the SAS token of `_artifactsLocationSasToken` patterns). A
//! query string is never part of a local file's path.
//!
//! Errors: a link that cannot be read is ARM's `InvalidContentLink` ("Unable to download
//! deployment content from '...'", the message ARM gives for unreachable links); a
//! `contentVersion` that does not match the file's is `InvalidTemplate` with ARM's wording
//! ("The content version contained in the template '...' does not match the content version
//! found in the deployment object's TemplateLink property '...'").

use std::path::PathBuf;

use serde_json::{Map, Value, json};

use crate::arm::request::MAX_BODY_BYTES;
use crate::arm::{ArmError, ArmResult};
use crate::deploy::jsonc;
use crate::deploy::template::TemplateError;

/// A template read through a link, and the link as the deployment records it
/// (`{uri, contentVersion?, relativePath?}` with `uri` absolute).
#[derive(Debug, Clone)]
pub struct Linked {
    pub content: Value,
    pub link: Value,
}

/// Reads the template a `templateLink` names. `parent`: the parent deployment's link URI,
/// for `relativePath`.
pub async fn template(link: &Value, parent: Option<&str>, deployment: &str) -> ArmResult<Linked> {
    let map = link_object(link, "templateLink", deployment)?;
    if str_field(map, "id").is_some() {
        return Err(ArmError::bad_request(
            "InvalidContentLink",
            format!(
                "The templateLink of deployment '{deployment}' names a template spec ('id'); armlet does not serve template specs: use 'uri' or 'relativePath'."
            ),
        ));
    }
    let uri = resolve(map, parent, deployment)?;
    let content = read_json(&uri).await?;
    check_content_version(map, &content, "TemplateLink")?;
    let mut recorded = json!({ "uri": uri });
    for key in ["contentVersion", "relativePath"] {
        if let Some(v) = str_field(map, key) {
            recorded[key] = json!(v);
        }
    }
    Ok(Linked {
        content,
        link: recorded,
    })
}

/// Reads the parameter file a `parametersLink` names (`uri` required).
pub async fn parameters(link: &Value, deployment: &str) -> ArmResult<Linked> {
    let map = link_object(link, "parametersLink", deployment)?;
    let Some(uri) = str_field(map, "uri") else {
        return Err(invalid_link(format!(
            "The parametersLink of deployment '{deployment}' has no 'uri'."
        )));
    };
    check_absolute(uri, deployment)?;
    let content = read_json(uri).await?;
    check_content_version(map, &content, "ParametersLink")?;
    let mut recorded = json!({ "uri": uri });
    if let Some(v) = str_field(map, "contentVersion") {
        recorded["contentVersion"] = json!(v);
    }
    Ok(Linked {
        content,
        link: recorded,
    })
}

/// The `uri` a recorded link points at.
pub fn uri_of(link: Option<&Value>) -> Option<&str> {
    link.and_then(|l| l.get("uri")).and_then(Value::as_str)
}

fn link_object<'a>(
    link: &'a Value,
    what: &str,
    deployment: &str,
) -> ArmResult<&'a Map<String, Value>> {
    link.as_object().ok_or_else(|| {
        invalid_link(format!(
            "The {what} of deployment '{deployment}' must be an object."
        ))
    })
}

fn str_field<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .and_then(|(_, v)| v.as_str())
        .filter(|s| !s.is_empty())
}

fn invalid_link(message: String) -> ArmError {
    ArmError::bad_request("InvalidContentLink", message)
}

/// The absolute URI of a template link: `uri` (with `queryString`), or `relativePath`
/// combined with the parent's URI.
fn resolve(map: &Map<String, Value>, parent: Option<&str>, deployment: &str) -> ArmResult<String> {
    match (str_field(map, "uri"), str_field(map, "relativePath")) {
        (Some(_), Some(_)) => Err(invalid_link(format!(
            "The templateLink of deployment '{deployment}' has both 'uri' and 'relativePath'; use one."
        ))),
        (Some(uri), None) => {
            check_absolute(uri, deployment)?;
            Ok(match str_field(map, "queryString") {
                Some(q) => with_query(uri, q),
                None => uri.to_string(),
            })
        }
        (None, Some(relative)) => match parent {
            Some(base) => Ok(combine(base, relative)),
            None => Err(invalid_link(format!(
                "The templateLink of deployment '{deployment}' uses 'relativePath', which needs a parent deployment that was itself deployed from a link (templateLink.uri); its parent's template was sent inline."
            ))),
        },
        (None, None) => Err(invalid_link(format!(
            "The templateLink of deployment '{deployment}' has neither 'uri' nor 'relativePath'."
        ))),
    }
}

/// ARM takes only absolute content links.
fn check_absolute(uri: &str, deployment: &str) -> ArmResult<()> {
    if uri.contains("://") || uri.starts_with('/') {
        Ok(())
    } else {
        Err(invalid_link(format!(
            "The content link '{uri}' of deployment '{deployment}' is invalid: a content link must be an absolute URI (armlet reads file:// URIs and absolute paths)."
        )))
    }
}

fn with_query(uri: &str, query: &str) -> String {
    let query = query.trim_start_matches('?');
    match uri.contains('?') {
        true => format!("{uri}&{query}"),
        false => format!("{uri}?{query}"),
    }
}

/// `relative` resolved against `base` (RFC 3986 reference resolution of a path, `.` and `..`
/// segments removed); the base's query string is kept unless `relative` has its own.
pub fn combine(base: &str, relative: &str) -> String {
    let (base_no_query, base_query) = match base.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (base, None),
    };
    let (relative_path, relative_query) = match relative.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (relative, None),
    };
    let (prefix, path) = match base_no_query.find("://") {
        Some(i) => {
            let after = &base_no_query[i + 3..];
            let authority_end = after.find('/').map_or(base_no_query.len(), |j| i + 3 + j);
            base_no_query.split_at(authority_end)
        }
        None => ("", base_no_query),
    };
    let joined = if relative_path.starts_with('/') {
        relative_path.to_string()
    } else {
        let dir = path.rfind('/').map_or("/", |i| &path[..=i]);
        format!("{dir}{relative_path}")
    };
    let mut segments: Vec<&str> = Vec::new();
    for segment in joined.split('/').skip(1) {
        match segment {
            "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = format!("{prefix}/{}", segments.join("/"));
    if let Some(q) = relative_query.or(base_query) {
        out = format!("{out}?{q}");
    }
    out
}

/// The local file a link names: `file:///path`, `file://localhost/path` or `/path`, with its
/// percent-escapes decoded and its query string and fragment dropped.
pub fn local_path(uri: &str) -> Option<PathBuf> {
    let without_query = uri.split(['?', '#']).next().unwrap_or_default();
    let path = if let Some(rest) = strip_prefix_ignore_case(without_query, "file://") {
        let rest = strip_prefix_ignore_case(rest, "localhost").unwrap_or(rest);
        rest.starts_with('/').then_some(rest)?
    } else if without_query.starts_with('/') {
        without_query
    } else {
        return None;
    };
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .ok()?;
    Some(PathBuf::from(decoded.into_owned()))
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Reads and parses the JSON (with comments, as ARM accepts) a link names.
async fn read_json(uri: &str) -> ArmResult<Value> {
    let unreachable = |why: &str| {
        ArmError::bad_request(
            "InvalidContentLink",
            format!(
                "Unable to download deployment content from '{uri}': {why}. Please see https://aka.ms/arm-deploy for usage details."
            ),
        )
    };
    let Some(path) = local_path(uri) else {
        let scheme = uri
            .split("://")
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        return Err(unreachable(if scheme == "http" || scheme == "https" {
            "armlet has no internet access and reads linked templates and parameter files only from local files (file:// URIs or absolute paths); download the file and link it with a file:// URI"
        } else {
            "armlet reads linked content only from file:// URIs and absolute paths"
        }));
    };
    let bytes = match tokio::fs::read(&path).await {
        Ok(b) => b,
        Err(e) => {
            return Err(unreachable(&format!(
                "the file '{}' cannot be read ({e})",
                path.display()
            )));
        }
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(unreachable(&format!(
            "the file is larger than ARM's limit of {MAX_BODY_BYTES} bytes"
        )));
    }
    let text = String::from_utf8(bytes).map_err(|_| unreachable("the file is not UTF-8 text"))?;
    match jsonc::parse(&text) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(unreachable("the content is not a JSON object")),
        Err(e) => Err(unreachable(&format!("the content is not valid JSON: {e}"))),
    }
}

/// A link's `contentVersion`, when given, must equal the content's.
fn check_content_version(
    map: &Map<String, Value>,
    content: &Value,
    property: &str,
) -> ArmResult<()> {
    let Some(wanted) = str_field(map, "contentVersion") else {
        return Ok(());
    };
    let found = content
        .as_object()
        .and_then(|o| {
            o.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("contentVersion"))
        })
        .and_then(|(_, v)| v.as_str())
        .unwrap_or_default();
    if found == wanted {
        return Ok(());
    }
    Err(TemplateError(format!(
        "The content version contained in the {} '{found}' does not match the content version found in the deployment object's {property} property '{wanted}'. Please see https://aka.ms/arm-deploy for usage details",
        if property == "TemplateLink" { "template" } else { "parameters file" },
    ))
    .into_arm())
}

#[cfg(test)]
mod tests;

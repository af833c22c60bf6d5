//! Pieces shared by the `Microsoft.Insights` resources whose location is `global`
//! (action groups, metric alerts): the location check and the tags of a PUT body.

use std::collections::BTreeMap;

use serde_json::Value;

use super::error::{ArmError, ArmResult};

/// Checks that a PUT body's `location` is `global` (any casing), as ARM does for these types.
pub fn check_location(location: Option<&str>, resource_type: &str) -> ArmResult<()> {
    match location {
        None | Some("") => Err(ArmError::bad_request(
            "LocationRequired",
            "The location property is required for this definition.",
        )),
        Some(l) if l.eq_ignore_ascii_case("global") => Ok(()),
        Some(l) => Err(ArmError::bad_request(
            "LocationNotAvailableForResourceType",
            format!(
                "The provided location '{l}' is not available for resource type '{resource_type}'. \
                 List of available regions for the resource type is 'global'."
            ),
        )),
    }
}

/// The `tags` of a body: absent or null is empty, anything but strings is invalid content.
pub fn tags(body: &Value) -> ArmResult<BTreeMap<String, String>> {
    match body.get("tags") {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(t) => serde_json::from_value(t.clone()).map_err(ArmError::invalid_request_content),
    }
}

/// Azure's naming rule for these types ("Naming rules and restrictions for Azure resources",
/// Microsoft.Insights): 1-260 characters, none of `forbidden` or control characters, not
/// ending with a space or a period.
pub fn check_name(type_name: &str, name: &str, forbidden: &str) -> ArmResult<()> {
    let ok = (1..=260).contains(&name.chars().count())
        && !name
            .chars()
            .any(|c| c.is_control() || forbidden.contains(c))
        && !name.ends_with([' ', '.']);
    if ok {
        Ok(())
    } else {
        Err(ArmError::bad_request(
            "InvalidResourceName",
            format!(
                "Resource name {name} is invalid. The name can be up to 260 characters long, can't contain {forbidden} or control characters, and can't end with a space or a period."
            ),
        )
        .with_target(type_name.to_string()))
    }
}

/// True when `s` is an absolute `http`/`https` URL with a host (what a receiver can be called at).
pub fn is_http_url(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty() && !host.contains(char::is_whitespace)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_global_is_a_location() {
        assert!(check_location(Some("Global"), "t").is_ok());
        assert!(check_location(Some("global"), "t").is_ok());
        assert_eq!(
            check_location(Some("eastus"), "t").unwrap_err().code,
            "LocationNotAvailableForResourceType"
        );
        assert_eq!(
            check_location(None, "t").unwrap_err().code,
            "LocationRequired"
        );
    }

    #[test]
    fn tags_must_be_strings() {
        assert_eq!(tags(&json!({})).unwrap().len(), 0);
        assert_eq!(tags(&json!({"tags": {"a": "b"}})).unwrap()["a"], "b");
        assert_eq!(
            tags(&json!({"tags": {"a": 1}})).unwrap_err().code,
            "InvalidRequestContent"
        );
    }

    #[test]
    fn names_follow_the_insights_rule() {
        assert!(check_name("t", "VMSS-UnhealthyInstances", "*#&+:<>?@%{}\\/").is_ok());
        assert!(check_name("t", "my alert (prod)", "*#").is_ok());
        for bad in ["", "a#b", "a.", "a ", "a\nb"] {
            assert!(check_name("t", bad, "*#").is_err(), "{bad:?}");
        }
        assert!(check_name("t", &"a".repeat(261), "").is_err());
    }

    #[test]
    fn urls_need_a_scheme_and_a_host() {
        assert!(is_http_url("http://127.0.0.1:8080/hook"));
        assert!(is_http_url("HTTPS://example.com"));
        assert!(!is_http_url("ftp://example.com"));
        assert!(!is_http_url("http:///path"));
        assert!(!is_http_url("example.com/hook"));
    }
}

//! What every resource carries whatever its type: tags (validated as ARM validates them) and
//! weak ETags.

use serde_json::{Map, Value};

use super::error::{ArmError, ArmResult};

/// A fresh weak ETag; every write of a resource gets a new one.
pub fn new_etag() -> String {
    format!("W/\"{}\"", uuid::Uuid::new_v4())
}

/// Tags: an object of string values, at most 50, with Azure's length limits.
pub fn parse_tags(v: Option<&Value>) -> ArmResult<Option<Map<String, Value>>> {
    let tags = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(tags)) => tags,
        Some(_) => {
            return Err(ArmError::invalid_request_content(
                "'tags' must be an object of strings.",
            ));
        }
    };
    if tags.len() > 50 {
        return Err(ArmError::bad_request(
            "InvalidTagCount",
            "The number of tags exceeds the limit of 50.",
        ));
    }
    for (k, v) in tags {
        let Some(s) = v.as_str() else {
            return Err(ArmError::invalid_request_content(format!(
                "The value of tag '{k}' must be a string."
            )));
        };
        if k.is_empty()
            || k.chars().count() > 512
            || k.contains(['<', '>', '%', '&', '\\', '?', '/'])
        {
            return Err(ArmError::bad_request(
                "InvalidTagNameCharacters",
                format!("The tag name '{k}' is invalid."),
            ));
        }
        if s.chars().count() > 256 {
            return Err(ArmError::bad_request(
                "InvalidTagValueLength",
                format!("The value of tag '{k}' exceeds 256 characters."),
            ));
        }
    }
    Ok(Some(tags.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tags_must_be_strings() {
        assert!(parse_tags(Some(&json!({"a": "b"}))).is_ok());
        assert!(parse_tags(Some(&json!({"a": 1}))).is_err());
        assert!(parse_tags(Some(&json!(["a"]))).is_err());
    }
}

//! The generic resource listings `/subscriptions/{s}/resources` and
//! `/subscriptions/{s}/resourceGroups/{rg}/resources`, with `$filter` as ARM supports it:
//! `resourceGroup`, `name`, `resourceType`, `location` and `tagName`/`tagValue` equality,
//! `substringof('x', name)`, joined with `and`.

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::api::ApiState;
use crate::arm::{ArmError, ArmRequest, ArmResult, ResourceId, list};
use crate::store::ResourceQuery;

use crate::arm::groups;

/// A parsed `$filter`: every clause must hold.
#[derive(Debug, Default)]
pub struct Filter {
    clauses: Vec<Clause>,
}

#[derive(Debug)]
enum Clause {
    Eq(Field, String),
    NameContains(String),
}

#[derive(Debug, Clone, Copy)]
enum Field {
    ResourceGroup,
    Name,
    ResourceType,
    Location,
    TagName,
    TagValue,
}

fn invalid(filter: &str) -> ArmError {
    ArmError::bad_request(
        "InvalidFilterInQueryString",
        format!(
            "The $filter '{filter}' is invalid. Supported: resourceGroup, name, resourceType, location, tagName and tagValue with 'eq', substringof('value', name), joined with 'and'."
        ),
    )
}

impl Filter {
    /// Parses `$filter`; an empty one (what `az resource list` sends with no arguments)
    /// selects everything, as in Azure.
    pub fn parse(filter: &str) -> ArmResult<Filter> {
        let mut clauses = Vec::new();
        if filter.trim().is_empty() {
            return Ok(Filter { clauses });
        }
        for part in split_and(filter) {
            let part = part.trim();
            let lower = part.to_ascii_lowercase();
            if let Some(inner) = lower
                .strip_prefix("substringof(")
                .and_then(|r| r.strip_suffix(')'))
            {
                let (value, field) = inner.rsplit_once(',').ok_or_else(|| invalid(filter))?;
                if field.trim() != "name" {
                    return Err(invalid(filter));
                }
                // Take the value from the original text to keep its casing.
                let start = part.find('\'').ok_or_else(|| invalid(filter))?;
                let len = value.trim().len();
                clauses.push(Clause::NameContains(
                    unquote(&part[start..start + len]).ok_or_else(|| invalid(filter))?,
                ));
                continue;
            }
            let mut words = part.splitn(3, ' ');
            let (field, op, value) = (words.next(), words.next(), words.next());
            let (Some(field), Some(op), Some(value)) = (field, op, value) else {
                return Err(invalid(filter));
            };
            if !op.eq_ignore_ascii_case("eq") {
                return Err(invalid(filter));
            }
            let field = match field.to_ascii_lowercase().as_str() {
                "resourcegroup" => Field::ResourceGroup,
                "name" => Field::Name,
                "resourcetype" => Field::ResourceType,
                "location" => Field::Location,
                "tagname" => Field::TagName,
                "tagvalue" => Field::TagValue,
                _ => return Err(invalid(filter)),
            };
            clauses.push(Clause::Eq(
                field,
                unquote(value.trim()).ok_or_else(|| invalid(filter))?,
            ));
        }
        Ok(Filter { clauses })
    }

    /// Whether a resource (its generic body and resource group) passes the filter.
    pub fn matches(&self, body: &Value, resource_group: &str) -> bool {
        let tags = body["tags"].as_object().cloned().unwrap_or_default();
        let tag_name = self.clauses.iter().find_map(|c| match c {
            Clause::Eq(Field::TagName, v) => Some(v.clone()),
            _ => None,
        });
        self.clauses.iter().all(|c| match c {
            Clause::Eq(Field::ResourceGroup, v) => resource_group.eq_ignore_ascii_case(v),
            Clause::Eq(Field::Name, v) => str_field(body, "name").eq_ignore_ascii_case(v),
            Clause::Eq(Field::ResourceType, v) => str_field(body, "type").eq_ignore_ascii_case(v),
            Clause::Eq(Field::Location, v) => str_field(body, "location").eq_ignore_ascii_case(v),
            Clause::Eq(Field::TagName, v) => tags.keys().any(|k| k.eq_ignore_ascii_case(v)),
            Clause::Eq(Field::TagValue, v) => match &tag_name {
                Some(name) => tag_value(&tags, name).is_some_and(|t| t == v),
                None => tags.values().any(|t| t.as_str() == Some(v.as_str())),
            },
            Clause::NameContains(v) => str_field(body, "name")
                .to_lowercase()
                .contains(&v.to_lowercase()),
        })
    }
}

fn tag_value<'a>(tags: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    tags.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_str())
}

fn str_field<'a>(body: &'a Value, field: &str) -> &'a str {
    body[field].as_str().unwrap_or_default()
}

/// Splits on ` and ` outside quotes, case-insensitively.
fn split_and(filter: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let chars: Vec<char> = filter.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            quoted = !quoted;
        }
        if !quoted && c == ' ' {
            let rest: String = chars[i..].iter().take(5).collect();
            if rest.eq_ignore_ascii_case(" and ") {
                parts.push(std::mem::take(&mut current));
                i += 5;
                continue;
            }
        }
        current.push(c);
        i += 1;
    }
    parts.push(current);
    parts
}

/// `'it''s'` → `it's`.
fn unquote(s: &str) -> Option<String> {
    let inner = s.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(inner.replace("''", "'"))
}

/// The generic resource shape: no `properties`, as ARM lists them.
pub fn generic_view(body: &Value) -> Value {
    let mut out = json!({});
    for key in [
        "id",
        "name",
        "type",
        "kind",
        "location",
        "extendedLocation",
        "managedBy",
        "sku",
        "plan",
        "identity",
        "zones",
        "tags",
    ] {
        if let Some(v) = body.get(key).filter(|v| !v.is_null()) {
            out[key] = v.clone();
        }
    }
    out
}

pub async fn list(
    app: &ApiState,
    req: &ArmRequest,
    sub: &str,
    resource_group: Option<&str>,
) -> ArmResult<Response> {
    if let Some(rg) = resource_group {
        groups::require(&app.arm, sub, rg, false).await?;
    }
    let filter = req
        .query("$filter")
        .map(Filter::parse)
        .transpose()?
        .unwrap_or_default();
    let q = ResourceQuery {
        subscription: sub.into(),
        resource_group: resource_group.map(str::to_string),
        ..Default::default()
    };
    let items = app
        .arm
        .store
        .list(&q)
        .await?
        .into_iter()
        .filter(|r| !r.type_name.eq_ignore_ascii_case(groups::TYPE))
        // Deployments are not resources in ARM's listings.
        .filter(|r| {
            !r.type_name
                .eq_ignore_ascii_case(crate::deploy::record::TYPE)
        })
        // Only top-level resources: a scale-set instance's NIC is stored but not listed here.
        .filter(|r| ResourceId::parse(&r.id).is_ok_and(|id| id.segments.len() == 1))
        .map(|r| (generic_view(&r.body), r.resource_group.unwrap_or_default()))
        .filter(|(body, rg)| filter.matches(body, rg))
        .map(|(body, _)| body)
        .collect();
    Ok(Json(list::page(req, items)?).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_filter_selects_everything() {
        let f = Filter::parse(" ").unwrap();
        assert!(f.matches(&serde_json::json!({"name": "x", "type": "t"}), "rg"));
    }

    #[test]
    fn az_lb_create_filter_matches_exactly_one_resource() {
        let f = Filter::parse("resourceGroup eq 'rg' and name eq 'ip' and resourceType eq 'Microsoft.Network/publicIPAddresses'").unwrap();
        let ip = json!({"name": "ip", "type": "Microsoft.Network/publicIPAddresses"});
        assert!(f.matches(&ip, "RG"));
        assert!(!f.matches(&ip, "other"));
        assert!(!f.matches(
            &json!({"name": "ip", "type": "Microsoft.Network/loadBalancers"}),
            "rg"
        ));
    }

    #[test]
    fn tag_and_substring_filters() {
        let r = json!({"name": "web-lb", "tags": {"env": "prod"}});
        assert!(
            Filter::parse("tagName eq 'env' and tagValue eq 'prod'")
                .unwrap()
                .matches(&r, "rg")
        );
        assert!(
            !Filter::parse("tagName eq 'env' and tagValue eq 'dev'")
                .unwrap()
                .matches(&r, "rg")
        );
        assert!(
            Filter::parse("substringof('LB', name)")
                .unwrap()
                .matches(&r, "rg")
        );
        assert!(
            Filter::parse("name eq 'it''s'")
                .unwrap()
                .matches(&json!({"name": "it's"}), "rg")
        );
    }

    #[test]
    fn unsupported_filters_are_rejected() {
        for bad in [
            "name ne 'x'",
            "foo eq 'x'",
            "name eq x",
            "substringof('x', type)",
        ] {
            assert_eq!(
                Filter::parse(bad).unwrap_err().code,
                "InvalidFilterInQueryString",
                "{bad}"
            );
        }
    }
}

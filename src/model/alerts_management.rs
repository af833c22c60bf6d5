//! The query of `GET {scope}/providers/Microsoft.AlertsManagement/alerts` (AlertsManagement
//! 2019-03-01 `Alerts_GetAll`): filters on the alerts' essentials, `timeRange`, sorting and
//! page size, checked as the spec's enums allow; and the `newState` of `changestate`.

use chrono::Duration;
use serde_json::Value;

use super::error::{ArmError, ArmResult};

/// Filters an alert list, parsed from the query.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertQuery {
    /// `(essentials field, wanted value)`, compared without case.
    pub filters: Vec<(&'static str, String)>,
    pub include_context: bool,
    /// Alerts last modified within this much of now (`timeRange`, default 1d).
    pub time_range: Duration,
    pub sort_by: &'static str,
    pub descending: bool,
    /// `pageCount`: 1..=250, default 25.
    pub page_count: usize,
}

fn invalid(name: &str, value: &str, allowed: &[&str]) -> ArmError {
    ArmError::bad_request(
        "BadRequest",
        format!(
            "The value '{value}' of query parameter '{name}' is invalid. Allowed values are: {}.",
            allowed.join(", ")
        ),
    )
}

fn one_of(name: &str, value: &str, allowed: &[&'static str]) -> ArmResult<&'static str> {
    allowed
        .iter()
        .copied()
        .find(|a| a.eq_ignore_ascii_case(value))
        .ok_or_else(|| invalid(name, value, allowed))
}

pub const SEVERITIES: &[&str] = &["Sev0", "Sev1", "Sev2", "Sev3", "Sev4"];
pub const ALERT_STATES: &[&str] = &["New", "Acknowledged", "Closed"];
pub const MONITOR_CONDITIONS: &[&str] = &["Fired", "Resolved"];
const TIME_RANGES: &[&str] = &["1h", "1d", "7d", "30d"];
const SORT_FIELDS: &[&str] = &[
    "name",
    "severity",
    "alertState",
    "monitorCondition",
    "targetResource",
    "targetResourceName",
    "targetResourceGroup",
    "targetResourceType",
    "startDateTime",
    "lastModifiedDateTime",
];

/// `newState` of `POST .../alerts/{id}/changestate`.
pub fn new_state(value: Option<&str>) -> ArmResult<&'static str> {
    let value = value.ok_or_else(|| {
        ArmError::bad_request("BadRequest", "The query parameter 'newState' is required.")
    })?;
    one_of("newState", value, ALERT_STATES)
}

impl AlertQuery {
    /// Reads the query through `get` (a query parameter by name).
    pub fn parse<'a>(get: impl Fn(&str) -> Option<&'a str>) -> ArmResult<AlertQuery> {
        let mut filters = Vec::new();
        for (param, field) in [
            ("targetResource", "targetResource"),
            ("targetResourceType", "targetResourceType"),
            ("targetResourceGroup", "targetResourceGroup"),
            ("monitorService", "monitorService"),
            ("alertRule", "alertRule"),
        ] {
            if let Some(v) = get(param).filter(|v| !v.is_empty()) {
                filters.push((field, v.to_string()));
            }
        }
        for (param, allowed) in [
            ("severity", SEVERITIES),
            ("alertState", ALERT_STATES),
            ("monitorCondition", MONITOR_CONDITIONS),
        ] {
            if let Some(v) = get(param).filter(|v| !v.is_empty()) {
                let field = SORT_FIELDS
                    .iter()
                    .copied()
                    .find(|f| f.eq_ignore_ascii_case(param))
                    .unwrap_or("severity");
                filters.push((field, one_of(param, v, allowed)?.to_string()));
            }
        }
        let time_range = match get("timeRange").map(|v| one_of("timeRange", v, TIME_RANGES)) {
            None => Duration::days(1),
            Some(r) => match r? {
                "1h" => Duration::hours(1),
                "7d" => Duration::days(7),
                "30d" => Duration::days(30),
                _ => Duration::days(1),
            },
        };
        let sort_by = match get("sortBy") {
            None => "lastModifiedDateTime",
            Some(v) => one_of("sortBy", v, SORT_FIELDS)?,
        };
        // "Default value is 'desc' for time fields and 'asc' for others."
        let descending = match get("sortOrder") {
            None => sort_by.ends_with("DateTime"),
            Some(v) => one_of("sortOrder", v, &["asc", "desc"])? == "desc",
        };
        let page_count = match get("pageCount") {
            None => 25,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=250).contains(n))
                .ok_or_else(|| invalid("pageCount", v, &["1..250"]))?,
        };
        let include_context = get("includeContext").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        Ok(AlertQuery {
            filters,
            include_context,
            time_range,
            sort_by,
            descending,
            page_count,
        })
    }

    /// Whether an alert document passes the filters.
    pub fn matches(&self, alert: &Value) -> bool {
        let e = &alert["properties"]["essentials"];
        self.filters.iter().all(|(field, wanted)| {
            e[*field]
                .as_str()
                .is_some_and(|v| v.eq_ignore_ascii_case(wanted))
        })
    }

    /// Sorts alert documents by `sortBy` / `sortOrder`.
    pub fn sort(&self, alerts: &mut [Value]) {
        let key = |a: &Value| -> String {
            let v = if self.sort_by == "name" {
                &a["name"]
            } else {
                &a["properties"]["essentials"][self.sort_by]
            };
            v.as_str().unwrap_or_default().to_ascii_lowercase()
        };
        alerts.sort_by(|a, b| {
            let o = key(a).cmp(&key(b));
            if self.descending { o.reverse() } else { o }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> ArmResult<AlertQuery> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect();
        AlertQuery::parse(|name| m.get(&name.to_ascii_lowercase()).map(String::as_str))
    }

    fn alert(name: &str, severity: &str, condition: &str, modified: &str) -> Value {
        json!({"name": name, "properties": {"essentials": {"severity": severity,
            "monitorCondition": condition, "lastModifiedDateTime": modified,
            "targetResourceGroup": "myResourceGroup"}}})
    }

    #[test]
    fn defaults_follow_the_spec() {
        let q = parse(&[]).unwrap();
        assert_eq!(q.time_range, Duration::days(1));
        assert_eq!((q.sort_by, q.descending), ("lastModifiedDateTime", true));
        assert_eq!(q.page_count, 25);
        assert!(!q.include_context);
        let q = parse(&[("sortBy", "severity"), ("includeContext", "true")]).unwrap();
        assert!(!q.descending && q.include_context);
    }

    #[test]
    fn enums_are_checked() {
        for (k, v) in [
            ("severity", "Sev9"),
            ("monitorCondition", "Open"),
            ("alertState", "Gone"),
            ("timeRange", "2d"),
            ("sortBy", "color"),
            ("pageCount", "0"),
        ] {
            let e = parse(&[(k, v)]).unwrap_err();
            assert_eq!(e.code, "BadRequest", "{k}");
            assert!(e.message.contains(v), "{}", e.message);
        }
        assert_eq!(new_state(Some("acknowledged")).unwrap(), "Acknowledged");
        assert!(new_state(Some("Open")).is_err());
        assert!(new_state(None).is_err());
    }

    #[test]
    fn filters_and_sorting_read_the_essentials() {
        let q = parse(&[
            ("monitorCondition", "fired"),
            ("targetResourceGroup", "MYRESOURCEGROUP"),
        ])
        .unwrap();
        assert!(q.matches(&alert("a", "Sev2", "Fired", "t")));
        assert!(!q.matches(&alert("a", "Sev2", "Resolved", "t")));
        let q = parse(&[("sortBy", "severity"), ("sortOrder", "desc")]).unwrap();
        let mut list = vec![
            alert("a", "Sev1", "Fired", "1"),
            alert("b", "Sev3", "Fired", "2"),
        ];
        q.sort(&mut list);
        assert_eq!(list[0]["name"], "b");
    }
}

//! The activity log's query language: the restricted `$filter` of
//! `GET /subscriptions/{s}/providers/Microsoft.Insights/eventtypes/management/values`
//! (activityLogs_API 2015-04-01): a time range `eventTimestamp ge '...' and eventTimestamp
//! le '...'`, optionally `and` one scope (`resourceGroupName`, `resourceUri` / `resourceId`,
//! `resourceProvider`, `correlationId`) and `status` / `caller` / `levels` equalities.

use chrono::{DateTime, Utc};

use super::error::{ArmError, ArmResult};

/// Azure keeps activity-log events for 90 days.
pub const RETENTION_DAYS: i64 = 90;

/// A parsed activity-log filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActivityFilter {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub resource_group: Option<String>,
    /// `resourceUri` or `resourceId` (compared case-insensitively).
    pub resource_uri: Option<String>,
    pub resource_provider: Option<String>,
    pub correlation_id: Option<String>,
    pub status: Option<String>,
    pub caller: Option<String>,
    pub level: Option<String>,
}

fn invalid(detail: impl std::fmt::Display) -> ArmError {
    ArmError::bad_request(
        "BadRequest",
        format!(
            "The $filter is not supported: {detail}. Supported: eventTimestamp ge/le '<time>' joined by 'and' with resourceGroupName, resourceUri, resourceId, resourceProvider, correlationId, status, caller or levels eq '<value>'."
        ),
    )
}

fn timestamp(text: &str) -> ArmResult<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    // Azure accepts a time without an offset (UTC), as az sends it.
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .map(|t| t.and_utc())
        .map_err(|_| invalid(format!("'{text}' is not a time")))
}

impl ActivityFilter {
    /// Parses `$filter`; an empty one means "everything" (Azure then requires a time range,
    /// but listing everything kept is what a client asking that way wants).
    pub fn parse(filter: &str) -> ArmResult<Self> {
        let mut f = ActivityFilter::default();
        if filter.trim().is_empty() {
            return Ok(f);
        }
        for clause in split_and(filter) {
            let (field, op, value) = clause_parts(&clause)?;
            let set = |slot: &mut Option<String>| {
                if slot.is_some() {
                    return Err(invalid(format!("'{field}' appears twice")));
                }
                *slot = Some(value.clone());
                Ok(())
            };
            match (field.to_ascii_lowercase().as_str(), op.as_str()) {
                ("eventtimestamp", "ge") => f.from = Some(timestamp(&value)?),
                ("eventtimestamp", "le") => f.to = Some(timestamp(&value)?),
                ("resourcegroupname", "eq") => set(&mut f.resource_group)?,
                ("resourceuri" | "resourceid", "eq") => set(&mut f.resource_uri)?,
                ("resourceprovider", "eq") => set(&mut f.resource_provider)?,
                ("correlationid", "eq") => set(&mut f.correlation_id)?,
                ("status", "eq") => set(&mut f.status)?,
                ("caller", "eq") => set(&mut f.caller)?,
                ("levels", "eq") => set(&mut f.level)?,
                _ => return Err(invalid(format!("'{clause}'"))),
            }
        }
        if let (Some(from), Some(to)) = (f.from, f.to)
            && from > to
        {
            return Err(invalid("the start of the time range is after its end"));
        }
        Ok(f)
    }
}

/// Splits on ` and ` outside quotes.
fn split_and(filter: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let chars: Vec<char> = filter.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            quoted = !quoted;
        }
        let rest: String = chars[i..chars.len().min(i + 5)].iter().collect();
        if !quoted && rest.eq_ignore_ascii_case(" and ") {
            out.push(current.trim().to_string());
            current.clear();
            i += 5;
            continue;
        }
        current.push(c);
        i += 1;
    }
    out.push(current.trim().to_string());
    out
}

/// `field op 'value'`.
fn clause_parts(clause: &str) -> ArmResult<(String, String, String)> {
    let mut parts = clause.splitn(3, ' ');
    let (Some(field), Some(op), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid(format!("'{clause}'")));
    };
    let value = value.trim();
    // az writes the time range unquoted (`eventTimestamp ge 2024-07-16T04:36:37.640789`,
    // azure-cli's `_build_activity_log_odata_filter`) and the other values quoted.
    let unquoted = match value.strip_prefix('\'') {
        Some(v) => v
            .strip_suffix('\'')
            .ok_or_else(|| invalid(format!("the value in '{clause}' is not closed by a quote")))?,
        None if !value.is_empty() && !value.contains([' ', '\'']) => value,
        None => return Err(invalid(format!("the value in '{clause}' must be quoted"))),
    };
    Ok((
        field.to_string(),
        op.to_ascii_lowercase(),
        unquoted.to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_patterns_parse() {
        let f = ActivityFilter::parse("eventTimestamp ge '2024-07-16T04:36:37.6407898Z' and eventTimestamp le '2024-07-20T04:36:37Z' and resourceUri eq '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Insights/autoscalesettings/a and b'").unwrap();
        assert_eq!(
            f.from.unwrap().to_rfc3339(),
            "2024-07-16T04:36:37.640789800+00:00"
        );
        assert!(
            f.resource_uri.unwrap().ends_with("a and b"),
            "quotes protect ' and '"
        );
        let g = ActivityFilter::parse("eventTimestamp ge '2024-07-16T04:36:37' and resourceGroupName eq 'rg' and status eq 'Succeeded'").unwrap();
        assert_eq!(
            (g.resource_group.as_deref(), g.status.as_deref()),
            (Some("rg"), Some("Succeeded"))
        );
        assert_eq!(
            ActivityFilter::parse("").unwrap(),
            ActivityFilter::default()
        );
        // What az 2.91 sends for `activity-log list --resource-id X`: the times unquoted.
        let az = ActivityFilter::parse("eventTimestamp ge 2024-07-16T04:36:37.640789 and eventTimestamp le 2024-07-16T10:36:37.640789 and resourceId eq '/subscriptions/s/x'").unwrap();
        assert_eq!(
            az.from.unwrap().to_rfc3339(),
            "2024-07-16T04:36:37.640789+00:00"
        );
        assert_eq!(az.resource_uri.as_deref(), Some("/subscriptions/s/x"));
    }

    #[test]
    fn anything_else_is_a_bad_request() {
        for bad in [
            "eventTimestamp gt '2024-01-01T00:00:00Z'",
            "resourceGroupName eq 'rg",
            "resourceGroupName eq r g",
            "foo eq 'x'",
            "eventTimestamp ge 'yesterday'",
            "eventTimestamp ge '2024-02-01T00:00:00Z' and eventTimestamp le '2024-01-01T00:00:00Z'",
            "resourceGroupName eq 'a' and resourceGroupName eq 'b'",
        ] {
            assert_eq!(
                ActivityFilter::parse(bad).unwrap_err().code,
                "BadRequest",
                "{bad}"
            );
        }
    }
}

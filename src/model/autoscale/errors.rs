//! The errors Azure answers for invalid autoscale settings.
//!
//! Verbatim from Azure where a real answer was found:
//! - `UnsupportedRequestContent` "Request content is not well formed or supported." for a body
//!   that does not deserialise (e.g. no `targetResourceUri`; Azure/azure-sdk-for-net#43948,
//!   MicrosoftDocs/azure-docs#119223);
//! - `BadRequest` "The minimum capacity value '6' that you specified in the autoscale setting
//!   is greater than the default capacity of '1'.  Enter a minimum capacity less than '1'."
//!   (microsoft/onefuzz#2249; the double space is Azure's);
//! - `InvalidActionValue` "The autoscale setting you provided has an invalid scale action
//!   value ('10'). Specify a scale value less than or equal to the difference between the
//!   capacity maximum 10 and the capacity minimum 1." (Azure/bicep-types-az#1859).
//!
//! The other limits (from the spec's descriptions and Azure's docs) have no published
//! answer; their messages follow the same wording so a client sees one voice.

use std::time::Duration;

use super::json::xml_duration;
use crate::model::error::ArmError;

pub fn malformed() -> ArmError {
    ArmError::bad_request(
        "UnsupportedRequestContent",
        "Request content is not well formed or supported.",
    )
}

fn bad(message: String) -> ArmError {
    ArmError::bad_request("BadRequest", message)
}

pub fn min_above_default(min: u32, default: u32) -> ArmError {
    bad(format!(
        "The minimum capacity value '{min}' that you specified in the autoscale setting is greater than the default capacity of '{default}'.  Enter a minimum capacity less than '{default}'."
    ))
}

pub fn default_above_max(default: u32, max: u32) -> ArmError {
    bad(format!(
        "The default capacity value '{default}' that you specified in the autoscale setting is greater than the maximum capacity of '{max}'.  Enter a default capacity less than '{max}'."
    ))
}

pub fn max_above_limit(max: u32, limit: u32) -> ArmError {
    bad(format!(
        "The maximum capacity value '{max}' that you specified in the autoscale setting is greater than the allowed maximum capacity of '{limit}'.  Enter a maximum capacity less than or equal to '{limit}'."
    ))
}

pub fn invalid_capacity(value: &str) -> ArmError {
    bad(format!(
        "The capacity value '{value}' that you specified in the autoscale setting is not a valid number of instances."
    ))
}

pub fn too_many_profiles(count: usize, max: usize) -> ArmError {
    bad(format!(
        "The autoscale setting you provided has {count} profiles. A maximum of {max} profiles can be specified."
    ))
}

pub fn no_profiles() -> ArmError {
    bad("The autoscale setting you provided has no profiles. Specify at least one profile.".into())
}

pub fn too_many_rules(profile: &str, count: usize, max: usize) -> ArmError {
    bad(format!(
        "The autoscale profile '{profile}' you provided has {count} rules. A maximum of {max} rules can be specified."
    ))
}

/// A duration outside `[min, max]`; `what` is e.g. "time grain".
pub fn duration_out_of_range(what: &str, value: &str, min: Duration, max: Duration) -> ArmError {
    bad(format!(
        "The autoscale setting you provided has an invalid {what} ('{value}'). Specify a {what} between {} and {}.",
        xml_duration(min),
        xml_duration(max)
    ))
}

pub fn window_below_grain(window: &str, grain: &str) -> ArmError {
    bad(format!(
        "The autoscale setting you provided has a time window ('{window}') shorter than its time grain ('{grain}'). Specify a time window greater than or equal to the time grain."
    ))
}

pub fn invalid_action_value(value: &str, max: u32, min: u32) -> ArmError {
    ArmError::bad_request(
        "InvalidActionValue",
        format!(
            "The autoscale setting you provided has an invalid scale action value ('{value}'). Specify a scale value less than or equal to the difference between the capacity maximum {max} and the capacity minimum {min}."
        ),
    )
}

pub fn action_value_below_one(value: &str) -> ArmError {
    ArmError::bad_request(
        "InvalidActionValue",
        format!(
            "The autoscale setting you provided has an invalid scale action value ('{value}'). Specify a scale value of 1 or greater."
        ),
    )
}

pub fn unknown_time_zone(zone: &str) -> ArmError {
    bad(format!(
        "The time zone '{zone}' that you specified in the autoscale setting is not a valid time zone. Specify a Windows time zone name such as 'UTC' or 'Pacific Standard Time'."
    ))
}

pub fn both_schedules(profile: &str) -> ArmError {
    bad(format!(
        "The autoscale profile '{profile}' you provided has both a fixed date and a recurrence. Specify only one of them."
    ))
}

pub fn fixed_date_order(profile: &str) -> ArmError {
    bad(format!(
        "The autoscale profile '{profile}' you provided has a fixed date whose end is not after its start."
    ))
}

pub fn fixed_date_too_long(profile: &str) -> ArmError {
    bad(format!(
        "The autoscale profile '{profile}' you provided has a fixed date longer than 365 days. The number of days between the start and end times can't exceed 365 days."
    ))
}

pub fn recurrence_not_weekly(frequency: &str) -> ArmError {
    bad(format!(
        "The autoscale setting you provided has a recurrence frequency '{frequency}'. The recurrence frequency must be 'Week'."
    ))
}

pub fn schedule_value(what: &str, value: i64, max: u32) -> ArmError {
    bad(format!(
        "The autoscale setting you provided has an invalid recurrence {what} ({value}). Specify {what} between 0 and {max}."
    ))
}

pub fn empty_schedule(profile: &str) -> ArmError {
    bad(format!(
        "The recurrence of the autoscale profile '{profile}' you provided needs at least one day, one hour and one minute."
    ))
}

pub fn invalid_webhook_uri(uri: &str) -> ArmError {
    bad(format!(
        "The webhook service uri '{uri}' that you specified in the autoscale setting is not a valid absolute http or https uri."
    ))
}

//! `Microsoft.Insights/autoscalesettings`: the typed properties of an autoscale setting
//! (api-version 2022-10-01, `autoscale_API.json`).
//!
//! [`parse::parse_setting`] turns a request's `properties` into an [`AutoscaleSetting`] or the
//! ARM error Azure answers; [`AutoscaleSetting::to_json`] writes it back as Azure returns it
//! (canonical enum spellings, counts as strings, defaults filled in). Time zones are Windows
//! names resolved through [`timezone`].

mod errors;
mod json;
pub mod parse;
mod read;
#[cfg(test)]
mod tests;
pub mod timezone;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{NaiveDateTime, Weekday};

pub use json::xml_duration;
pub use parse::{MAX_CAPACITY, parse_setting};
pub use timezone::TimeZone;

/// The resource type, in the casing Azure answers (`getAutoscaleSetting.json`).
pub const TYPE: &str = "Microsoft.Insights/autoscaleSettings";

/// "A maximum of 20 profiles can be specified" (spec, `AutoscaleSetting.profiles`).
pub const MAX_PROFILES: usize = 20;
/// "A maximum of 10 rules can be specified" (spec, `AutoscaleProfile.rules`).
pub const MAX_RULES: usize = 10;

/// Declares an Azure enum that parses case-insensitively and serialises in Azure's spelling.
macro_rules! azure_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Azure's spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => stringify!($variant)),+ }
            }

            /// Case-insensitive, as Azure accepts enum values.
            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str().eq_ignore_ascii_case(s))
            }
        }
    };
}

azure_enum!(
    /// How one time grain's values from several instances are combined.
    Statistic { Average, Min, Max, Sum, Count }
);
azure_enum!(
    /// How the time grains of the time window are combined.
    TimeAggregation { Average, Minimum, Maximum, Total, Count, Last }
);
azure_enum!(
    /// Compares the aggregated metric with the threshold.
    ComparisonOperator { Equals, NotEquals, GreaterThan, GreaterThanOrEqual, LessThan, LessThanOrEqual }
);
azure_enum!(
    /// `Increase` scales out, `Decrease` scales in; az writes `None` for `--scale to N`.
    ScaleDirection { None, Increase, Decrease }
);
azure_enum!(
    /// How a fired rule computes the new instance count.
    ScaleType { ChangeCount, PercentChangeCount, ExactCount, ServiceAllowedNextValue }
);
azure_enum!(
    /// The spec allows these; Azure only runs `Week` ("This value must be Week").
    RecurrenceFrequency { None, Second, Minute, Hour, Day, Week, Month, Year }
);
azure_enum!(
    /// Dimension filter: `Equals` any of the values, `NotEquals` all of them.
    DimensionOperator { Equals, NotEquals }
);
azure_enum!(
    /// Predictive autoscale: off, forecast shown but not acted on, or acted on.
    PredictiveScaleMode { Disabled, ForecastOnly, Enabled }
);

impl ComparisonOperator {
    /// Whether `value <op> threshold` holds.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            ComparisonOperator::Equals => value == threshold,
            ComparisonOperator::NotEquals => value != threshold,
            ComparisonOperator::GreaterThan => value > threshold,
            ComparisonOperator::GreaterThanOrEqual => value >= threshold,
            ComparisonOperator::LessThan => value < threshold,
            ComparisonOperator::LessThanOrEqual => value <= threshold,
        }
    }
}

/// The `properties` of an autoscale setting.
#[derive(Debug, Clone, PartialEq)]
pub struct AutoscaleSetting {
    /// `properties.name`; Azure echoes the resource name here.
    pub name: String,
    pub profiles: Vec<Profile>,
    pub notifications: Vec<Notification>,
    /// Defaults to `true` (spec).
    pub enabled: bool,
    pub target_resource_uri: String,
    pub target_resource_location: Option<String>,
    /// Azure answers `{"scaleMode": "Disabled", "scaleLookAheadTime": null}` when absent.
    pub predictive: PredictivePolicy,
}

impl AutoscaleSetting {
    /// The default profile: the one with neither `fixedDate` nor `recurrence`.
    pub fn default_profile(&self) -> Option<&Profile> {
        self.profiles
            .iter()
            .find(|p| p.schedule() == ProfileSchedule::Default)
    }
}

/// One scale condition: instance limits, rules, and when it applies.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub name: String,
    pub capacity: Capacity,
    pub rules: Vec<Rule>,
    pub fixed_date: Option<FixedDate>,
    pub recurrence: Option<Recurrence>,
}

/// Which kind of profile this is (Azure evaluates fixed-date, then recurring, then default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileSchedule {
    FixedDate,
    Recurrence,
    Default,
}

impl Profile {
    pub fn schedule(&self) -> ProfileSchedule {
        match (&self.fixed_date, &self.recurrence) {
            (Some(_), _) => ProfileSchedule::FixedDate,
            (None, Some(_)) => ProfileSchedule::Recurrence,
            (None, None) => ProfileSchedule::Default,
        }
    }
}

/// Instance limits; Azure carries them as strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    pub minimum: u32,
    pub maximum: u32,
    /// Used when metrics cannot be read and the current count is below it.
    pub default: u32,
}

impl Capacity {
    /// `count` brought into `[minimum, maximum]`.
    pub fn clamp(&self, count: u32) -> u32 {
        count.clamp(self.minimum, self.maximum)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub metric_trigger: MetricTrigger,
    pub scale_action: ScaleAction,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MetricTrigger {
    pub metric_name: String,
    /// Azure answers `""` when absent.
    pub metric_namespace: String,
    pub metric_resource_uri: String,
    pub metric_resource_location: Option<String>,
    pub time_grain: Duration,
    pub statistic: Statistic,
    pub time_window: Duration,
    pub time_aggregation: TimeAggregation,
    pub operator: ComparisonOperator,
    pub threshold: f64,
    /// `None` when absent (Azure answers `null`).
    pub dimensions: Option<Vec<Dimension>>,
    /// Azure answers `false` when absent.
    pub divide_per_instance: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dimension {
    pub dimension_name: String,
    pub operator: DimensionOperator,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScaleAction {
    pub direction: ScaleDirection,
    pub scale_type: ScaleType,
    /// Instances (or percent for `PercentChangeCount`); a string on the wire, default "1".
    pub value: u32,
    pub cooldown: Duration,
}

/// A one-off window. `start`/`end` are wall-clock times in `time_zone`.
#[derive(Debug, Clone, PartialEq)]
pub struct FixedDate {
    /// `None` when the client sent none; evaluated as UTC.
    pub time_zone: Option<TimeZone>,
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
}

/// A weekly schedule: the profile starts at each (day, hour, minute) and runs until the
/// next profile starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Recurrence {
    pub frequency: RecurrenceFrequency,
    pub time_zone: TimeZone,
    pub days: Vec<Weekday>,
    pub hours: Vec<u32>,
    pub minutes: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// `operation` is always "Scale" (az sends "scale"; Azure answers "Scale").
    pub email: Option<Email>,
    pub webhooks: Vec<Webhook>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Email {
    pub send_to_subscription_administrator: bool,
    pub send_to_subscription_co_administrators: bool,
    pub custom_emails: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub service_uri: String,
    pub properties: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PredictivePolicy {
    pub scale_mode: PredictiveScaleMode,
    /// 1–60 minutes (spec).
    pub scale_look_ahead_time: Option<Duration>,
}

impl Default for PredictivePolicy {
    fn default() -> Self {
        PredictivePolicy {
            scale_mode: PredictiveScaleMode::Disabled,
            scale_look_ahead_time: None,
        }
    }
}

//! The `criteria` of a metric alert: single-resource, multi-resource and web-test criteria, and
//! the static/dynamic threshold criteria in their `allOf`.
//!
//! Rules from the Azure docs ("Create or edit a metric alert rule"): at most five conditions per
//! rule; with several conditions each dimension names exactly one value, `*` is not allowed and
//! dynamic thresholds are not allowed. Dynamic operators are `GreaterThan`, `LessThan`,
//! `GreaterOrLessThan`; static ones are the 2018-03-01 enum (which includes `NotEquals`).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::bad;
use super::criterion;
use crate::model::error::ArmResult;

pub const SINGLE_RESOURCE: &str = "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria";
pub const MULTIPLE_RESOURCE: &str =
    "Microsoft.Azure.Monitor.MultipleResourceMultipleMetricCriteria";
pub const WEBTEST: &str = "Microsoft.Azure.Monitor.WebtestLocationAvailabilityCriteria";
/// "Metric alerts support ... up to five conditions per alert rule."
pub const MAX_CRITERIA: usize = 5;

macro_rules! named_enum {
    ($name:ident, $what:literal, [$($v:ident),+]) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($v),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => stringify!($v)),+ }
            }
            /// Case-insensitive, like the service's enum parsing.
            pub fn parse(s: &str) -> ArmResult<$name> {
                Self::ALL.iter().copied().find(|v| v.as_str().eq_ignore_ascii_case(s)).ok_or_else(|| {
                    let all: Vec<_> = Self::ALL.iter().map(|v| v.as_str()).collect();
                    bad(format!("Invalid {} '{s}'. Supported values are: {}.", $what, all.join(", ")))
                })
            }
        }
    };
}

named_enum!(
    Operator,
    "operator",
    [
        Equals,
        NotEquals,
        GreaterThan,
        GreaterThanOrEqual,
        LessThan,
        LessThanOrEqual,
        GreaterOrLessThan
    ]
);
named_enum!(
    TimeAggregation,
    "time aggregation",
    [Average, Count, Minimum, Maximum, Total]
);
named_enum!(Sensitivity, "alert sensitivity", [Low, Medium, High]);
named_enum!(DimensionOperator, "dimension operator", [Include, Exclude]);

#[derive(Debug, Clone, PartialEq)]
pub struct Dimension {
    pub name: String,
    pub operator: DimensionOperator,
    /// `*` (with `Include`) means every value, present and future.
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FailingPeriods {
    pub number_of_evaluation_periods: u32,
    pub min_failing_periods_to_alert: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Threshold {
    Static {
        operator: Operator,
        threshold: f64,
    },
    Dynamic {
        operator: Operator,
        sensitivity: Sensitivity,
        failing_periods: FailingPeriods,
        ignore_data_before: Option<DateTime<Utc>>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Criterion {
    pub name: String,
    pub metric_name: String,
    pub metric_namespace: Option<String>,
    pub time_aggregation: TimeAggregation,
    pub dimensions: Vec<Dimension>,
    pub skip_metric_validation: bool,
    pub threshold: Threshold,
}

impl Criterion {
    pub fn operator(&self) -> Operator {
        match self.threshold {
            Threshold::Static { operator, .. } | Threshold::Dynamic { operator, .. } => operator,
        }
    }

    pub fn is_dynamic(&self) -> bool {
        matches!(self.threshold, Threshold::Dynamic { .. })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Criteria {
    SingleResource(Vec<Criterion>),
    MultipleResource(Vec<Criterion>),
    WebtestLocationAvailability {
        web_test_id: String,
        component_id: String,
        failed_location_count: f64,
    },
}

impl Criteria {
    pub fn odata_type(&self) -> &'static str {
        match self {
            Criteria::SingleResource(_) => SINGLE_RESOURCE,
            Criteria::MultipleResource(_) => MULTIPLE_RESOURCE,
            Criteria::WebtestLocationAvailability { .. } => WEBTEST,
        }
    }

    /// The threshold criteria (none for a web test).
    pub fn all_of(&self) -> &[Criterion] {
        match self {
            Criteria::SingleResource(c) | Criteria::MultipleResource(c) => c,
            Criteria::WebtestLocationAvailability { .. } => &[],
        }
    }

    pub fn is_dynamic(&self) -> bool {
        self.all_of().iter().any(Criterion::is_dynamic)
    }
}

pub(super) fn text<'a>(v: &'a Value, field: &str) -> ArmResult<Option<&'a str>> {
    match v.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(other) => Err(bad(format!(
            "The '{field}' value {other} must be a string."
        ))),
    }
}

pub(super) fn required<'a>(v: &'a Value, field: &str, what: &str) -> ArmResult<&'a str> {
    match text(v, field)? {
        Some(s) if !s.trim().is_empty() => Ok(s),
        _ => Err(bad(format!("The '{field}' of {what} is required."))),
    }
}

/// Parses `criteria` (nulls already stripped).
pub fn parse(v: &Value) -> ArmResult<Criteria> {
    let odata = required(v, "odata.type", "the criteria")?;
    let list = || -> ArmResult<Vec<Value>> {
        match v.get("allOf") {
            Some(Value::Array(a)) if !a.is_empty() => Ok(a.clone()),
            _ => Err(bad(
                "The criteria must have at least one condition in 'allOf'.",
            )),
        }
    };
    let criteria = if odata.eq_ignore_ascii_case(SINGLE_RESOURCE) {
        let all = list()?
            .iter()
            .map(|c| criterion::parse(c, true))
            .collect::<ArmResult<Vec<_>>>()?;
        Criteria::SingleResource(all)
    } else if odata.eq_ignore_ascii_case(MULTIPLE_RESOURCE) {
        let all = list()?
            .iter()
            .map(|c| criterion::parse(c, false))
            .collect::<ArmResult<Vec<_>>>()?;
        Criteria::MultipleResource(all)
    } else if odata.eq_ignore_ascii_case(WEBTEST) {
        let count = v
            .get("failedLocationCount")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        if count < 1.0 {
            return Err(bad(
                "The 'failedLocationCount' of a web test criteria must be at least 1.",
            ));
        }
        Criteria::WebtestLocationAvailability {
            web_test_id: required(v, "webTestId", "a web test criteria")?.to_string(),
            component_id: required(v, "componentId", "a web test criteria")?.to_string(),
            failed_location_count: count,
        }
    } else {
        return Err(bad(format!(
            "The criteria type '{odata}' is not supported. Supported types are: {SINGLE_RESOURCE}, {MULTIPLE_RESOURCE}, {WEBTEST}."
        )));
    };
    check_all_of(criteria.all_of())?;
    Ok(criteria)
}

fn check_all_of(all: &[Criterion]) -> ArmResult<()> {
    if all.len() > MAX_CRITERIA {
        return Err(bad(format!(
            "An alert rule can have at most {MAX_CRITERIA} conditions; {} were given.",
            all.len()
        )));
    }
    for (i, c) in all.iter().enumerate() {
        if all[..i]
            .iter()
            .any(|o| o.name.eq_ignore_ascii_case(&c.name))
        {
            return Err(bad(format!(
                "The condition name '{}' is used more than once.",
                c.name
            )));
        }
    }
    if all.len() > 1 {
        if all.iter().any(Criterion::is_dynamic) {
            return Err(bad(
                "Dynamic thresholds can't be used in alert rules with multiple conditions.",
            ));
        }
        for d in all.iter().flat_map(|c| &c.dimensions) {
            if d.values.len() != 1 || d.values[0] == "*" {
                return Err(bad(format!(
                    "In alert rules with multiple conditions each dimension must select exactly one value and can't use '*'; dimension '{}' doesn't.",
                    d.name
                )));
            }
        }
    }
    Ok(())
}

/// A number as ARM writes it: whole numbers without a fraction.
pub fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

impl Criterion {
    /// The criterion as Azure returns it.
    pub fn to_json(&self) -> Value {
        let dims: Vec<Value> = self
            .dimensions
            .iter()
            .map(|d| json!({"name": d.name, "operator": d.operator.as_str(), "values": d.values}))
            .collect();
        let mut j = json!({
            "name": self.name,
            "metricName": self.metric_name,
            "dimensions": dims,
            "operator": self.operator().as_str(),
            "timeAggregation": self.time_aggregation.as_str(),
        });
        if let Some(ns) = &self.metric_namespace {
            j["metricNamespace"] = json!(ns);
        }
        if self.skip_metric_validation {
            j["skipMetricValidation"] = json!(true);
        }
        match &self.threshold {
            Threshold::Static { threshold, .. } => {
                j["criterionType"] = json!("StaticThresholdCriterion");
                j["threshold"] = number(*threshold);
            }
            Threshold::Dynamic {
                sensitivity,
                failing_periods,
                ignore_data_before,
                ..
            } => {
                j["criterionType"] = json!("DynamicThresholdCriterion");
                j["alertSensitivity"] = json!(sensitivity.as_str());
                j["failingPeriods"] = json!({
                    "numberOfEvaluationPeriods": failing_periods.number_of_evaluation_periods,
                    "minFailingPeriodsToAlert": failing_periods.min_failing_periods_to_alert,
                });
                if let Some(t) = ignore_data_before {
                    j["ignoreDataBefore"] =
                        json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
                }
            }
        }
        j
    }
}

impl Criteria {
    pub fn to_json(&self) -> Value {
        match self {
            Criteria::WebtestLocationAvailability {
                web_test_id,
                component_id,
                failed_location_count,
            } => json!({
                "odata.type": WEBTEST,
                "webTestId": web_test_id,
                "componentId": component_id,
                "failedLocationCount": number(*failed_location_count),
            }),
            other => json!({
                "odata.type": other.odata_type(),
                "allOf": other.all_of().iter().map(Criterion::to_json).collect::<Vec<_>>(),
            }),
        }
    }
}

//! One condition of a metric alert's `allOf`: a `StaticThresholdCriterion` or a
//! `DynamicThresholdCriterion` (the latter only in multi-resource criteria), with its
//! dimensions.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::bad;
use super::criteria::{
    Criterion, Dimension, DimensionOperator, FailingPeriods, MULTIPLE_RESOURCE, Operator,
    SINGLE_RESOURCE, Sensitivity, Threshold, TimeAggregation, required, text,
};
use crate::model::error::ArmResult;

pub fn parse(v: &Value, single_resource: bool) -> ArmResult<Criterion> {
    let name = required(v, "name", "a condition")?.to_string();
    let what = format!("condition '{name}'");
    let kind = text(v, "criterionType")?.unwrap_or(if single_resource {
        "StaticThresholdCriterion"
    } else {
        ""
    });
    let dynamic = if kind.eq_ignore_ascii_case("StaticThresholdCriterion") {
        false
    } else if kind.eq_ignore_ascii_case("DynamicThresholdCriterion") && !single_resource {
        true
    } else if kind.is_empty() {
        return Err(bad(format!("The 'criterionType' of {what} is required.")));
    } else {
        return Err(bad(format!(
            "The criterion type '{kind}' of {what} is not supported by {}.",
            if single_resource {
                SINGLE_RESOURCE
            } else {
                MULTIPLE_RESOURCE
            }
        )));
    };
    let operator = Operator::parse(required(v, "operator", &what)?)?;
    let threshold = if dynamic {
        if !matches!(
            operator,
            Operator::GreaterThan | Operator::LessThan | Operator::GreaterOrLessThan
        ) {
            return Err(bad(format!(
                "The operator '{}' of {what} isn't supported for dynamic thresholds. Supported values are: GreaterThan, LessThan, GreaterOrLessThan.",
                operator.as_str()
            )));
        }
        let fp = v
            .get("failingPeriods")
            .ok_or_else(|| bad(format!("The 'failingPeriods' of {what} is required.")))?;
        let count = |f: &str| {
            fp.get(f)
                .and_then(Value::as_f64)
                .filter(|n| *n >= 1.0 && n.fract() == 0.0)
        };
        let (Some(n), Some(m)) = (
            count("numberOfEvaluationPeriods"),
            count("minFailingPeriodsToAlert"),
        ) else {
            return Err(bad(format!(
                "The 'failingPeriods' of {what} need whole numbers of at least 1 for 'numberOfEvaluationPeriods' and 'minFailingPeriodsToAlert'."
            )));
        };
        if m > n {
            return Err(bad(format!(
                "The 'minFailingPeriodsToAlert' of {what} must be smaller than or equal to 'numberOfEvaluationPeriods'."
            )));
        }
        let ignore_data_before = match text(v, "ignoreDataBefore")?.filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(
                DateTime::parse_from_rfc3339(s)
                    .map_err(|_| {
                        bad(format!(
                            "The 'ignoreDataBefore' of {what} ('{s}') is not an ISO 8601 date-time."
                        ))
                    })?
                    .with_timezone(&Utc),
            ),
        };
        Threshold::Dynamic {
            operator,
            sensitivity: Sensitivity::parse(required(v, "alertSensitivity", &what)?)?,
            failing_periods: FailingPeriods {
                number_of_evaluation_periods: n as u32,
                min_failing_periods_to_alert: m as u32,
            },
            ignore_data_before,
        }
    } else {
        if operator == Operator::GreaterOrLessThan {
            return Err(bad(format!(
                "The operator 'GreaterOrLessThan' of {what} is only supported for dynamic thresholds."
            )));
        }
        let threshold = v.get("threshold").and_then(Value::as_f64).ok_or_else(|| {
            bad(format!(
                "The 'threshold' of {what} is required and must be a number."
            ))
        })?;
        Threshold::Static {
            operator,
            threshold,
        }
    };
    Ok(Criterion {
        metric_name: required(v, "metricName", &what)?.to_string(),
        metric_namespace: text(v, "metricNamespace")?
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        time_aggregation: TimeAggregation::parse(required(v, "timeAggregation", &what)?)?,
        dimensions: dimensions(v, &what)?,
        skip_metric_validation: v
            .get("skipMetricValidation")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        threshold,
        name,
    })
}

fn dimensions(v: &Value, what: &str) -> ArmResult<Vec<Dimension>> {
    let Some(list) = v.get("dimensions") else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| bad(format!("The 'dimensions' of {what} must be an array.")))?;
    let mut out: Vec<Dimension> = Vec::new();
    for d in list {
        let name = required(d, "name", &format!("a dimension of {what}"))?.to_string();
        let operator =
            DimensionOperator::parse(required(d, "operator", &format!("dimension '{name}'"))?)?;
        let values: Vec<String> = match d.get("values") {
            Some(Value::Array(a)) => a
                .iter()
                .map(|x| x.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .ok_or_else(|| bad(format!("The values of dimension '{name}' must be strings.")))?,
            _ => Vec::new(),
        };
        if values.is_empty() {
            return Err(bad(format!(
                "Dimension '{name}' of {what} must have at least one value."
            )));
        }
        if operator == DimensionOperator::Exclude && values.iter().any(|x| x == "*") {
            return Err(bad(format!(
                "Dimension '{name}' of {what} can't exclude '*'."
            )));
        }
        if out.iter().any(|o| o.name.eq_ignore_ascii_case(&name)) {
            return Err(bad(format!(
                "Dimension '{name}' appears more than once in {what}."
            )));
        }
        out.push(Dimension {
            name,
            operator,
            values,
        });
    }
    Ok(out)
}

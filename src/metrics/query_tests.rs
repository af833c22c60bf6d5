//! Tests of [`super`]: every parameter, its default and its errors.

use chrono::TimeZone;

use super::*;
use crate::metrics::catalog::{LOAD_BALANCERS, SCALE_SETS, Unit};
use crate::metrics::filter::Condition;
use crate::metrics::timespan::DEFAULT_RETENTION;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap()
}

fn raw(pairs: &[(&str, &str)]) -> RawQuery {
    RawQuery::from_pairs(pairs.iter().copied())
}

fn lb(pairs: &[(&str, &str)]) -> ArmResult<MetricsQuery> {
    parse(&LOAD_BALANCERS, &raw(pairs), now(), DEFAULT_RETENTION)
}

fn names(q: &MetricsQuery) -> Vec<&str> {
    q.metrics.iter().map(|m| m.definition.name).collect()
}

#[test]
fn defaults_when_nothing_is_given() {
    let q = lb(&[("api-version", "2018-01-01")]).unwrap();
    assert_eq!(names(&q), ["VipAvailability"]);
    assert_eq!(q.aggregations, [Aggregation::Average]);
    assert_eq!(q.interval, Interval::Grain(TimeDelta::minutes(1)));
    assert_eq!(q.range.end, now());
    assert_eq!(q.range.start, now() - TimeDelta::hours(1));
    assert_eq!(
        (q.top, q.order_by, q.result_type),
        (10, None, ResultType::Data)
    );
    assert!(q.metrics[0].filter.is_none());
}

#[test]
fn parameter_names_are_case_insensitive() {
    let q = raw(&[
        ("ResultType", "metadata"),
        ("$FILTER", "x eq 'y'"),
        ("MetricNames", "a"),
    ]);
    assert_eq!(q.result_type.as_deref(), Some("metadata"));
    assert_eq!(q.filter.as_deref(), Some("x eq 'y'"));
    assert_eq!(q.metricnames.as_deref(), Some("a"));
}

#[test]
fn several_metric_names_with_spaces_and_aliases() {
    let q = parse(
        &SCALE_SETS,
        &raw(&[(
            "metricnames",
            "Percentage CPU,Network In Total, percentagecpu",
        )]),
        now(),
        DEFAULT_RETENTION,
    )
    .unwrap();
    assert_eq!(names(&q), ["Percentage CPU", "Network In Total"]);
    let q = lb(&[("metricnames", "HealthProbeStatus,ByteCount,")]).unwrap();
    assert_eq!(names(&q), ["DipAvailability", "ByteCount"]);
}

#[test]
fn default_aggregation_is_the_first_metrics_primary() {
    let q = lb(&[("metricnames", "ByteCount,VipAvailability")]).unwrap();
    assert_eq!(q.aggregations, [Aggregation::Total]);
    let q = lb(&[("metricnames", "VipAvailability,ByteCount")]).unwrap();
    assert_eq!(q.aggregations, [Aggregation::Average]);
}

#[test]
fn unknown_metrics_name_the_valid_ones() {
    let e = lb(&[("metricnames", "ByteCount,Bogus")]).unwrap_err();
    assert_eq!((e.status.as_u16(), e.code.as_str()), (400, "BadRequest"));
    assert_eq!(
        e.message,
        "Failed to find metric configuration for provider: microsoft.network, resource Type: loadbalancers, metric: Bogus, Valid metrics: VipAvailability,DipAvailability,ByteCount,PacketCount,SYNCount,SnatConnectionCount,AllocatedSnatPorts,UsedSnatPorts"
    );
}

#[test]
fn several_aggregations_case_insensitively() {
    let q = lb(&[("aggregation", "average, COUNT,Maximum,count,minimum,total")]).unwrap();
    use Aggregation::*;
    assert_eq!(q.aggregations, [Average, Count, Maximum, Minimum, Total]);
}

#[test]
fn invalid_aggregations_are_named() {
    let e = lb(&[("aggregation", "Average,Sum")]).unwrap_err();
    assert_eq!(e.message, "Detected invalid Aggregation type: sum");
}

#[test]
fn aggregations_a_metric_does_not_support_are_rejected() {
    static LIMITED: Namespace = Namespace {
        name: "Test.Provider/things",
        metrics: &[MetricDefinition {
            name: "Level",
            display_name: "Level",
            description: "",
            unit: Unit::Count,
            primary: Aggregation::Average,
            supported: &[Aggregation::Average, Aggregation::Maximum],
            dimensions: &[],
        }],
    };
    let ok = parse(
        &LIMITED,
        &raw(&[("aggregation", "maximum")]),
        now(),
        DEFAULT_RETENTION,
    );
    assert!(ok.is_ok());
    let e = parse(
        &LIMITED,
        &raw(&[("aggregation", "Total")]),
        now(),
        DEFAULT_RETENTION,
    )
    .unwrap_err();
    assert_eq!(
        e.message,
        "Metric: Level does not support requested aggregation type: Total, supported ones are: Average,Maximum"
    );
}

#[test]
fn interval_and_timespan_errors_pass_through() {
    let e = lb(&[("interval", "PT2M")]).unwrap_err();
    assert!(e.message.starts_with("Invalid time grain duration: PT2M"));
    let e = lb(&[("timespan", "2024-05-01T11:00:00Z/2024-05-01T10:00:00Z")]).unwrap_err();
    assert!(e.message.contains("must be earlier than the end time"));
    let q = lb(&[
        ("timespan", "2024-05-01T10:00:00Z/2024-05-01T11:00:00Z"),
        ("interval", "FULL"),
    ]);
    assert_eq!(q.unwrap().interval, Interval::Full);
}

#[test]
fn the_filter_is_checked_against_every_metric() {
    let q = lb(&[
        ("metricnames", "ByteCount,PacketCount"),
        ("$filter", "FrontendPort eq '*'"),
    ])
    .unwrap();
    for m in &q.metrics {
        assert_eq!(
            m.filter.as_ref().unwrap().clauses,
            [("FrontendPort", Condition::Any)]
        );
    }
    let e = lb(&[
        ("metricnames", "ByteCount,DipAvailability"),
        ("$filter", "BackendPort eq '80'"),
    ])
    .unwrap_err();
    assert!(e.message.starts_with(
        "Metric: ByteCount does not support requested dimension combination: backendport"
    ));
    let e = lb(&[("$filter", "FrontendPort eq")]).unwrap_err();
    assert!(e.message.starts_with("Invalid $filter"));
    assert!(
        lb(&[("$filter", "  ")]).unwrap().metrics[0]
            .filter
            .is_none()
    );
}

#[test]
fn top_must_be_a_positive_integer() {
    assert_eq!(lb(&[("top", "3")]).unwrap().top, 3);
    for bad in ["0", "-1", "ten", "99999999999"] {
        let e = lb(&[("top", bad)]).unwrap_err();
        assert_eq!(
            e.message,
            format!("Invalid top '{bad}': it must be a positive 32-bit integer.")
        );
    }
}

#[test]
fn orderby_takes_an_aggregation_and_a_direction() {
    let o = |s: &str| lb(&[("orderby", s)]).map(|q| q.order_by);
    let sum_desc = OrderBy {
        aggregation: Aggregation::Total,
        descending: true,
    };
    assert_eq!(o("sum desc").unwrap(), Some(sum_desc));
    assert_eq!(o("Total DESC").unwrap(), Some(sum_desc));
    assert_eq!(
        o("average").unwrap(),
        Some(OrderBy {
            aggregation: Aggregation::Average,
            descending: false
        })
    );
    assert_eq!(
        o("max asc").unwrap().unwrap().aggregation,
        Aggregation::Maximum
    );
    for bad in ["median desc", "sum sideways", "sum desc now"] {
        assert!(
            o(bad)
                .unwrap_err()
                .message
                .starts_with(&format!("Invalid orderby '{bad}'"))
        );
    }
}

#[test]
fn result_type_is_data_or_metadata() {
    assert_eq!(
        lb(&[("resultType", "Metadata")]).unwrap().result_type,
        ResultType::Metadata
    );
    assert_eq!(
        lb(&[("resulttype", "data")]).unwrap().result_type,
        ResultType::Data
    );
    let e = lb(&[("resultType", "Everything")]).unwrap_err();
    assert_eq!(
        e.message,
        "Invalid resultType 'Everything'. Allowed values are: Data, Metadata."
    );
}

#[test]
fn metric_namespace_must_be_the_resource_types() {
    assert!(lb(&[("metricnamespace", "microsoft.network/loadbalancers")]).is_ok());
    let e = lb(&[("metricnamespace", "Microsoft.Compute/virtualMachines")]).unwrap_err();
    assert!(
        e.message
            .contains("Valid metric namespaces: Microsoft.Network/loadBalancers")
    );
}

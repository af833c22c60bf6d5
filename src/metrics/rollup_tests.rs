//! Tests of [`super`]: intervals, empty intervals, splitting, `top` and `orderby`.

use chrono::{TimeDelta, TimeZone};

use super::*;
use crate::metrics::catalog::{LOAD_BALANCERS, SCALE_SETS};
use crate::metrics::query::{RawQuery, parse};
use crate::metrics::series::{Dimensions, dimensions};
use crate::metrics::timespan::DEFAULT_RETENTION;

fn t(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, h, m, 0).unwrap()
}

fn query(ns: &'static crate::metrics::catalog::Namespace, pairs: &[(&str, &str)]) -> MetricsQuery {
    let raw = RawQuery::from_pairs(pairs.iter().copied());
    parse(ns, &raw, t(12, 0), DEFAULT_RETENTION).unwrap()
}

fn point(metric: &str, dims: Dimensions, at: DateTime<Utc>, value: f64) -> MinutePoint {
    MinutePoint::new(
        "/subscriptions/s/x",
        metric,
        dims,
        at,
        Aggregate::sample(value),
    )
}

fn port(p: &str) -> Dimensions {
    dimensions([
        ("FrontendPort", p),
        ("Direction", "In"),
        ("FrontendIPAddress", "1.2.3.4"),
    ])
}

#[test]
fn minutes_merge_into_aligned_intervals_and_every_interval_has_a_point() {
    let q = query(
        &LOAD_BALANCERS,
        &[
            ("metricnames", "ByteCount"),
            ("timespan", "2024-05-01T10:02:30Z/2024-05-01T10:20:00Z"),
            ("interval", "PT5M"),
        ],
    );
    let points = [
        point("ByteCount", port("80"), t(10, 1), 1000.0), // before the start's minute: out
        point("ByteCount", port("80"), t(10, 2), 1.0),    // the start's minute: in
        point("ByteCount", port("443"), t(10, 4), 2.0),
        point("ByteCount", port("80"), t(10, 6), 4.0),
        point("ByteCount", port("80"), t(10, 20), 1000.0), // the end: out
        point("PacketCount", port("80"), t(10, 6), 1000.0), // another metric: out
    ];
    let r = run(&q, &q.metrics[0], &points);
    assert_eq!(r.minutes_read, 3);
    assert_eq!(r.series.len(), 1);
    let s = &r.series[0];
    assert!(s.metadata.is_empty());
    let at: Vec<_> = s.data.iter().map(|(t, _)| *t).collect();
    assert_eq!(at, [t(10, 0), t(10, 5), t(10, 10), t(10, 15)]);
    let first = s.data[0].1.unwrap();
    assert_eq!(
        (first.total, first.count, first.minimum, first.maximum),
        (3.0, 2, 1.0, 2.0)
    );
    assert_eq!(s.data[1].1.unwrap().total, 4.0);
    assert_eq!((s.data[2].1, s.data[3].1), (None, None));
}

#[test]
fn empty_intervals_show_zero_total_and_count_and_no_average() {
    assert_eq!(shown(None, Aggregation::Total), Some(0.0));
    assert_eq!(shown(None, Aggregation::Count), Some(0.0));
    for a in [
        Aggregation::Average,
        Aggregation::Minimum,
        Aggregation::Maximum,
    ] {
        assert_eq!(shown(None, a), None);
    }
    let a = Aggregate::from_samples(&[2.0, 4.0]).unwrap();
    assert_eq!(shown(Some(&a), Aggregation::Average), Some(3.0));
}

#[test]
fn an_unfiltered_query_without_data_still_has_one_series() {
    let q = query(&LOAD_BALANCERS, &[("timespan", "PT10M")]);
    let r = run(&q, &q.metrics[0], &[]);
    assert_eq!(r.series.len(), 1);
    assert_eq!(r.series[0].data.len(), 10);
    assert!(r.series[0].data.iter().all(|(_, a)| a.is_none()));
    let split = query(
        &LOAD_BALANCERS,
        &[("timespan", "PT10M"), ("$filter", "FrontendPort eq '*'")],
    );
    assert!(run(&split, &split.metrics[0], &[]).series.is_empty());
}

#[test]
fn full_is_one_point_at_the_start_of_the_timespan() {
    let q = query(
        &SCALE_SETS,
        &[
            ("timespan", "2024-05-01T10:00:30Z/2024-05-01T11:00:00Z"),
            ("interval", "FULL"),
        ],
    );
    let vm = |n: &str| dimensions([("VMName", n)]);
    let points = [
        point("Percentage CPU", vm("a"), t(10, 0), 10.0),
        point("Percentage CPU", vm("b"), t(10, 59), 30.0),
    ];
    let r = run(&q, &q.metrics[0], &points);
    let (at, a) = r.series[0].data[0];
    assert_eq!(r.series[0].data.len(), 1);
    assert_eq!(at, t(10, 0) + TimeDelta::seconds(30));
    assert_eq!(a.unwrap().average(), Some(20.0));
}

#[test]
fn a_wildcard_splits_by_dimension_and_orderby_ranks_the_series() {
    let q = query(
        &LOAD_BALANCERS,
        &[
            ("metricnames", "ByteCount"),
            ("timespan", "PT1H"),
            ("$filter", "FrontendPort eq '*'"),
            ("orderby", "sum desc"),
            ("top", "2"),
        ],
    );
    let points = [
        point("ByteCount", port("80"), t(11, 10), 5.0),
        point("ByteCount", port("80"), t(11, 11), 5.0),
        point("ByteCount", port("443"), t(11, 10), 30.0),
        point("ByteCount", port("22"), t(11, 12), 1.0),
    ];
    let r = run(&q, &q.metrics[0], &points);
    let ports: Vec<_> = r.series.iter().map(|s| s.metadata.clone()).collect();
    assert_eq!(
        ports,
        [
            vec![("FrontendPort", "443".to_string())],
            vec![("FrontendPort", "80".to_string())]
        ]
    );
    assert_eq!(r.series[1].overall().unwrap().total, 10.0);
    assert_eq!(r.series[0].data.len(), 60);

    let asc = query(
        &LOAD_BALANCERS,
        &[
            ("metricnames", "ByteCount"),
            ("timespan", "PT1H"),
            ("$filter", "FrontendPort eq '*'"),
            ("orderby", "sum asc"),
        ],
    );
    let r = run(&asc, &asc.metrics[0], &points);
    let first: Vec<_> = r.series.iter().map(|s| s.metadata[0].1.as_str()).collect();
    assert_eq!(first, ["22", "80", "443"]);
}

#[test]
fn without_orderby_the_largest_series_come_first() {
    let q = query(
        &SCALE_SETS,
        &[
            ("timespan", "PT1H"),
            ("$filter", "VMName eq '*'"),
            ("top", "1"),
        ],
    );
    let vm = |n: &str| dimensions([("VMName", n)]);
    let points = [
        point("Percentage CPU", vm("idle"), t(11, 0), 2.0),
        point("Percentage CPU", vm("busy"), t(11, 0), 90.0),
    ];
    let r = run(&q, &q.metrics[0], &points);
    assert_eq!(r.series.len(), 1);
    assert_eq!(r.series[0].metadata, [("VMName", "busy".to_string())]);
}

#[test]
fn filters_select_values_and_every_named_dimension_keys_the_series() {
    let q = query(
        &LOAD_BALANCERS,
        &[
            ("metricnames", "DipAvailability"),
            ("timespan", "PT1H"),
            (
                "$filter",
                "BackendIPAddress eq '10.0.0.4' or BackendIPAddress eq '10.0.0.5' and BackendPort eq '*'",
            ),
        ],
    );
    let dip = |ip: &str, port: &str| {
        dimensions([
            ("BackendIPAddress", ip),
            ("BackendPort", port),
            ("ProtocolType", "Tcp"),
        ])
    };
    let points = [
        point("DipAvailability", dip("10.0.0.4", "80"), t(11, 0), 100.0),
        point("DipAvailability", dip("10.0.0.4", "80"), t(11, 1), 0.0),
        point("DipAvailability", dip("10.0.0.5", "80"), t(11, 0), 100.0),
        point("DipAvailability", dip("10.0.0.6", "80"), t(11, 0), 100.0),
    ];
    let r = run(&q, &q.metrics[0], &points);
    assert_eq!(r.series.len(), 2);
    let keys: Vec<_> = r.series.iter().map(|s| s.metadata.clone()).collect();
    assert!(keys.contains(&vec![
        ("BackendIPAddress", "10.0.0.4".into()),
        ("BackendPort", "80".into())
    ]));
    let four = r
        .series
        .iter()
        .find(|s| s.metadata[0].1 == "10.0.0.4")
        .unwrap();
    assert_eq!(four.overall().unwrap().average(), Some(50.0));
}

#[test]
fn unsplit_series_aggregate_across_dimension_values() {
    let q = query(
        &SCALE_SETS,
        &[
            ("timespan", "PT1H"),
            ("aggregation", "Average,Maximum,Count"),
        ],
    );
    let vm = |n: &str| dimensions([("VMName", n)]);
    let points = [
        point("Percentage CPU", vm("a"), t(11, 30), 10.0),
        point("Percentage CPU", vm("b"), t(11, 30), 50.0),
    ];
    let results = run_all(&q, |_| &points[..]);
    let a = results[0].series[0].data[30].1.unwrap();
    assert_eq!((a.average(), a.maximum, a.count), (Some(30.0), 50.0, 2));
}

//! Tests of [`super`]: the answers against the specs' schemas and examples.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use super::*;
use crate::metrics::catalog::NAMESPACES;
use crate::metrics::catalog::{LOAD_BALANCERS, SCALE_SETS, VIRTUAL_MACHINES};
use crate::metrics::query::{RawQuery, parse};
use crate::metrics::rollup::run_all;
use crate::metrics::series::{Aggregate, MinutePoint, dimensions};
use crate::metrics::spec_check::Spec;
use crate::metrics::timespan::DEFAULT_RETENTION;

const LB: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb";

fn t(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, h, m, 0).unwrap()
}

fn answer(pairs: &[(&str, &str)], points: &[MinutePoint]) -> Value {
    let raw = RawQuery::from_pairs(pairs.iter().copied());
    let q = parse(&LOAD_BALANCERS, &raw, t(12, 0), DEFAULT_RETENTION).unwrap();
    let results = run_all(&q, |_| points);
    metrics_response(LB, "westeurope", &q, &results)
}

fn bytes(port: &str, at: DateTime<Utc>, v: f64) -> MinutePoint {
    let dims = dimensions([("FrontendPort", port), ("Direction", "In")]);
    MinutePoint::new(LB, "ByteCount", dims, at, Aggregate::sample(v))
}

/// The `required` properties of the spec's `Response`, `Metric`, `MetricValue`.
fn assert_response_schema(body: &Value, with_data: bool) {
    assert!(body["timespan"].is_string() && body["value"].is_array());
    for m in body["value"].as_array().unwrap() {
        for key in ["id", "type", "name", "unit", "timeseries"] {
            assert!(!m[key].is_null(), "metric lacks {key}");
        }
        assert!(m["name"]["value"].is_string());
        for s in m["timeseries"].as_array().unwrap() {
            assert!(s["metadatavalues"].is_array());
            if with_data {
                for p in s["data"].as_array().unwrap() {
                    assert!(p["timeStamp"].is_string());
                }
            } else {
                assert!(s.get("data").is_none());
            }
        }
    }
}

#[test]
fn a_data_answer_matches_the_spec() {
    let body = answer(
        &[
            ("metricnames", "ByteCount"),
            ("timespan", "2024-05-01T11:00:00Z/2024-05-01T11:03:00Z"),
            ("aggregation", "Total,Average"),
        ],
        &[bytes("80", t(11, 1), 300.0)],
    );
    assert_response_schema(&body, true);
    assert_eq!(body["cost"], 1);
    assert_eq!(
        body["timespan"],
        "2024-05-01T11:00:00Z/2024-05-01T11:03:00Z"
    );
    assert_eq!(body["interval"], "PT1M");
    assert_eq!(body["namespace"], "Microsoft.Network/loadBalancers");
    assert_eq!(body["resourceregion"], "westeurope");
    let m = &body["value"][0];
    assert_eq!(
        m["id"],
        format!("{LB}/providers/Microsoft.Insights/metrics/ByteCount")
    );
    assert_eq!(m["type"], "Microsoft.Insights/metrics");
    assert_eq!(m["name"]["localizedValue"], "Byte Count");
    assert_eq!(m["unit"], "Bytes");
    assert_eq!(m["errorCode"], "Success");
    assert_eq!(
        m["displayDescription"],
        "Total number of Bytes transmitted within time period"
    );
    let data = &m["timeseries"][0]["data"];
    assert_eq!(
        data,
        &serde_json::json!([
            {"timeStamp": "2024-05-01T11:00:00Z", "total": 0.0},
            {"timeStamp": "2024-05-01T11:01:00Z", "total": 300.0, "average": 300.0},
            {"timeStamp": "2024-05-01T11:02:00Z", "total": 0.0},
        ])
    );
    assert_eq!(m["timeseries"][0]["metadatavalues"], serde_json::json!([]));
}

#[test]
fn split_series_carry_lower_case_metadata_names() {
    let body = answer(
        &[
            ("metricnames", "ByteCount"),
            ("timespan", "PT5M"),
            ("$filter", "FrontendPort eq '*'"),
        ],
        &[bytes("80", t(11, 57), 1.0), bytes("443", t(11, 58), 2.0)],
    );
    let series = body["value"][0]["timeseries"].as_array().unwrap();
    assert_eq!(series.len(), 2);
    assert_eq!(
        series[0]["metadatavalues"],
        serde_json::json!([{"name": {"value": "frontendport", "localizedValue": "frontendport"}, "value": "443"}])
    );
}

#[test]
fn a_metadata_answer_has_no_cost_interval_or_data() {
    let body = answer(
        &[
            ("metricnames", "ByteCount"),
            ("timespan", "PT5M"),
            ("$filter", "FrontendPort eq '*'"),
            ("resultType", "Metadata"),
        ],
        &[bytes("80", t(11, 57), 1.0)],
    );
    assert_response_schema(&body, false);
    assert!(body.get("cost").is_none() && body.get("interval").is_none());
    assert_eq!(
        body["value"][0]["timeseries"][0]["metadatavalues"][0]["value"],
        "80"
    );
}

#[test]
fn definitions_match_the_spec() {
    let body = metric_definitions(LB, &LOAD_BALANCERS, DEFAULT_RETENTION);
    let defs = body["value"].as_array().unwrap();
    assert_eq!(defs.len(), 8);
    let dip = defs
        .iter()
        .find(|d| d["name"]["value"] == "DipAvailability")
        .unwrap();
    assert_eq!(
        dip["id"],
        format!("{LB}/providers/microsoft.insights/metricdefinitions/DipAvailability")
    );
    assert_eq!(dip["resourceId"], LB);
    assert_eq!(dip["namespace"], "Microsoft.Network/loadBalancers");
    assert_eq!(dip["name"]["localizedValue"], "Health Probe Status");
    assert_eq!(dip["isDimensionRequired"], false);
    assert_eq!(dip["unit"], "Count");
    assert_eq!(dip["primaryAggregationType"], "Average");
    assert_eq!(
        dip["supportedAggregationTypes"],
        serde_json::json!(["None", "Average", "Minimum", "Maximum", "Total", "Count"])
    );
    let grains: Vec<&str> = dip["metricAvailabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["timeGrain"].as_str().unwrap())
        .collect();
    assert_eq!(
        grains,
        [
            "PT1M", "PT5M", "PT15M", "PT30M", "PT1H", "PT6H", "PT12H", "P1D"
        ]
    );
    assert_eq!(dip["metricAvailabilities"][0]["retention"], "P93D");
    assert_eq!(
        dip["dimensions"][4],
        serde_json::json!({"value": "BackendIPAddress", "localizedValue": "BackendIPAddress"})
    );
    // Unit and aggregation values are from the spec's enums.
    let units = [
        "Count",
        "Bytes",
        "Seconds",
        "CountPerSecond",
        "BytesPerSecond",
        "Percent",
    ];
    for d in defs {
        assert!(units.contains(&d["unit"].as_str().unwrap()));
    }
}

#[test]
fn vm_definitions_have_no_dimensions_and_scale_sets_have_vmname() {
    let vm = metric_definitions("/x", &VIRTUAL_MACHINES, DEFAULT_RETENTION);
    assert!(
        vm["value"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d.get("dimensions").is_none())
    );
    let vmss = metric_definitions("/x", &SCALE_SETS, DEFAULT_RETENTION);
    assert_eq!(vmss["value"][0]["dimensions"][0]["value"], "VMName");
    assert_eq!(vmss["value"][0]["unit"], "Percent");
}

#[test]
fn namespaces_match_the_spec_example() {
    let body = metric_namespaces(LB, &LOAD_BALANCERS);
    assert_eq!(
        body,
        serde_json::json!({"value": [{
            "id": format!("{LB}/providers/microsoft.insights/metricNamespaces/Microsoft.Network-loadBalancers"),
            "name": "Microsoft.Network-loadBalancers",
            "type": "Microsoft.Insights/metricNamespaces",
            "classification": "Platform",
            "properties": {"metricNamespaceName": "Microsoft.Network/loadBalancers"}
        }]})
    );
}

#[test]
fn answers_validate_against_the_specs() {
    let metrics = Spec::load("2018-01-01/metrics_API.json");
    let points = [bytes("80", t(11, 57), 1.0), bytes("443", t(11, 58), 2.0)];
    for pairs in [
        vec![
            ("metricnames", "ByteCount,PacketCount"),
            ("timespan", "PT5M"),
            ("aggregation", "Average,Count,Minimum,Maximum,Total"),
        ],
        vec![
            ("metricnames", "ByteCount"),
            ("timespan", "PT5M"),
            ("$filter", "FrontendPort eq '*'"),
            ("interval", "FULL"),
        ],
        vec![
            ("metricnames", "ByteCount"),
            ("timespan", "PT5M"),
            ("$filter", "FrontendPort eq '*'"),
            ("resultType", "Metadata"),
        ],
    ] {
        metrics.check("Response", &answer(&pairs, &points));
    }
    let definitions = Spec::load("2018-01-01/metricDefinitions_API.json");
    for ns in NAMESPACES {
        definitions.check(
            "MetricDefinitionCollection",
            &metric_definitions(LB, ns, DEFAULT_RETENTION),
        );
    }
}

#[test]
#[should_panic(expected = "timestamp is not in the spec")]
fn the_spec_check_refuses_undeclared_properties() {
    let mut body = answer(&[("metricnames", "ByteCount"), ("timespan", "PT2M")], &[]);
    body["value"][0]["timeseries"][0]["data"][0]["timestamp"] = "x".into();
    Spec::load("2018-01-01/metrics_API.json").check("Response", &body);
}

//! Tests of [`super`].

use super::*;
use crate::metrics::catalog::{LOAD_BALANCERS, SCALE_SETS};
use crate::metrics::series::dimensions;

fn one_of(vs: &[&str]) -> Condition {
    Condition::OneOf(vs.iter().map(|v| v.to_string()).collect())
}

#[test]
fn conditions_join_with_and() {
    let f = parse("FrontendPort eq '*' and Direction eq 'In'").unwrap();
    assert_eq!(
        f.clauses,
        [
            ("FrontendPort".into(), Condition::Any),
            ("Direction".into(), one_of(&["In"]))
        ]
    );
}

#[test]
fn or_binds_tighter_than_and_as_in_azures_example() {
    let f = parse("A eq 'a1' and B eq 'b1' or B eq 'b2' and C eq '*'").unwrap();
    assert_eq!(
        f.clauses,
        [
            ("A".into(), one_of(&["a1"])),
            ("B".into(), one_of(&["b1", "b2"])),
            ("C".into(), Condition::Any)
        ]
    );
}

#[test]
fn parentheses_group_and_nest() {
    let f = parse("(BackendIPAddress eq '10.0.0.4' or (BackendIPAddress eq '10.0.0.5')) and (BackendPort eq '80')").unwrap();
    assert_eq!(f.clauses[0].1, one_of(&["10.0.0.4", "10.0.0.5"]));
    assert_eq!(f.clauses[1], ("BackendPort".into(), one_of(&["80"])));
}

#[test]
fn names_with_spaces_quotes_and_encoded_parentheses() {
    let f = parse("dim %28test%29 1 EQ 'it''s %28x%29' AND Other NE 'b' and P sw 'ab'").unwrap();
    assert_eq!(f.clauses[0], ("dim (test) 1".into(), one_of(&["it's (x)"])));
    assert_eq!(f.clauses[1].1, Condition::NotEqual("b".into()));
    assert_eq!(f.clauses[2].1, Condition::StartsWith("ab".into()));
}

#[test]
fn or_with_a_wildcard_selects_everything() {
    let f = parse("VMName eq 'a' or VMName eq '*'").unwrap();
    assert_eq!(f.clauses[0].1, Condition::Any);
}

#[test]
fn malformed_filters_are_bad_requests() {
    for bad in [
        "",
        "FrontendPort eq",
        "FrontendPort eq 80",
        "FrontendPort = '80'",
        "FrontendPort eq '80",
        "(FrontendPort eq '80'",
        "FrontendPort eq '80')",
        "FrontendPort eq '80' and",
        "eq '80'",
        "and A eq 'x'",
        "A ne '*'",
        "A eq 'x' B eq 'y'",
    ] {
        let e = parse(bad).unwrap_err();
        assert_eq!(e.code, "BadRequest", "{bad}");
        assert!(
            e.message.starts_with(&format!("Invalid $filter '{bad}'")),
            "{}",
            e.message
        );
    }
}

#[test]
fn or_may_only_join_eq_conditions_on_one_dimension() {
    let e = parse("A eq 'x' or B eq 'y'").unwrap_err();
    assert!(
        e.message
            .contains("cannot separate two different dimension names (A, B)"),
        "{}",
        e.message
    );
    let e = parse("A sw 'x' or A sw 'y'").unwrap_err();
    assert_eq!(
        e.message,
        "Only 'eq' operator are supported for 'or' clause"
    );
    let e = parse("(A eq 'x' and B eq 'y') or C eq 'z'").unwrap_err();
    assert!(e.message.contains("only join conditions on one dimension"));
}

#[test]
fn resolving_checks_dimensions_against_the_metric() {
    let bytes = LOAD_BALANCERS.resolve("ByteCount").unwrap();
    let f = parse("frontendport eq '*' and DIRECTION eq 'In'").unwrap();
    let r = f.resolve(bytes).unwrap();
    assert_eq!(r.keys(), ["FrontendPort", "Direction"]);
    let e = parse("BackendPort eq '80'")
        .unwrap()
        .resolve(bytes)
        .unwrap_err();
    assert_eq!(
        e.message,
        "Metric: ByteCount does not support requested dimension combination: backendport, supported ones are: FrontendIPAddress,FrontendPort,Direction"
    );
}

#[test]
fn matching_selects_series_case_insensitively() {
    let cpu = SCALE_SETS.resolve("Percentage CPU").unwrap();
    let f = parse("VMName eq 'vmss_0' or VMName eq 'VMSS_2'")
        .unwrap()
        .resolve(cpu)
        .unwrap();
    assert!(f.matches(&dimensions([("VMName", "VMSS_0")])));
    assert!(f.matches(&dimensions([("VMName", "vmss_2")])));
    assert!(!f.matches(&dimensions([("VMName", "vmss_1")])));
    assert!(!f.matches(&dimensions([])));
    let ne = parse("VMName ne 'vmss_0'").unwrap().resolve(cpu).unwrap();
    assert!(ne.matches(&dimensions([("VMName", "vmss_1")])));
    let sw = parse("VMName sw 'VMSS_'").unwrap().resolve(cpu).unwrap();
    assert!(sw.matches(&dimensions([("VMName", "vmss_1")])));
    assert!(!sw.matches(&dimensions([("VMName", "vm")])));
    let any = parse("VMName eq '*'").unwrap().resolve(cpu).unwrap();
    assert!(any.matches(&dimensions([])));
}

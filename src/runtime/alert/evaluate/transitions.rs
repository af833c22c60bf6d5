//! Evaluation tests of the state machine: fired → still fired (no repeat) → resolved after
//! three unmet evaluations, no data, stateless rules, and when an evaluation is due.

use serde_json::json;

use super::tests::{LB, criterion, rule_with, series, t, transitions, tutorial};
use super::*;
use crate::model::metric_alert::criteria;

#[test]
fn fired_series_notify_once_and_resolve_after_three_unmet_evaluations() {
    let r = tutorial();
    // One backend down for minutes 0..=2, healthy from minute 3; the other always healthy.
    let mut down = vec![0.0; 3];
    down.extend([100.0; 9]);
    let data = [Some(vec![
        series(&[("ip", "a")], &down),
        series(&[("ip", "b")], &[100.0; 12]),
    ])];
    let mut state = State::new();
    let mut seen = Vec::new();
    for m in 1..=12 {
        let e = evaluate(&r, &data, &state, t(m));
        seen.push((m, e.series[0].transition));
        state = e.state;
    }
    let fired: Vec<_> = seen
        .iter()
        .filter(|s| s.1 == Transition::Fired)
        .map(|s| s.0)
        .collect();
    let resolved: Vec<_> = seen
        .iter()
        .filter(|s| s.1 == Transition::Resolved)
        .map(|s| s.0)
        .collect();
    // Zero samples stay in the 5-minute window until minute 8 (window [3, 8)); unmet at 8, 9, 10.
    assert_eq!(fired, [1]);
    assert_eq!(resolved, [10]);
    assert!(state.is_empty());
}

#[test]
fn the_unmet_count_restarts_when_the_condition_returns() {
    let r = tutorial();
    let key = SeriesKey::new(LB, &[]);
    let prev = State::from([(
        key.clone(),
        FiredState {
            fired_at: t(0),
            last_notified: t(0),
            unmet_evaluations: 2,
        },
    )]);
    let e = evaluate(&r, &[Some(vec![series(&[], &[50.0])])], &prev, t(1));
    assert_eq!(transitions(&e), [Transition::Unchanged]);
    assert_eq!(e.state[&key].unmet_evaluations, 0);
    assert_eq!(e.series[0].fired_at, Some(t(0)));
}

#[test]
fn no_data_never_fires_and_counts_towards_resolution() {
    let r = tutorial();
    let e = evaluate(&r, &[None], &State::new(), t(1));
    assert!(e.series.is_empty());
    let key = SeriesKey::new(LB, &[]);
    let mut state = State::from([(
        key.clone(),
        FiredState {
            fired_at: t(0),
            last_notified: t(0),
            unmet_evaluations: 0,
        },
    )]);
    let mut got = Vec::new();
    for m in 1..=3 {
        let e = evaluate(&r, &[Some(vec![])], &state, t(m));
        assert_eq!(e.series[0].conditions[0].metric_value, None);
        got.push(e.series[0].transition);
        state = e.state;
    }
    assert_eq!(
        got,
        [
            Transition::Unchanged,
            Transition::Unchanged,
            Transition::Resolved
        ]
    );
}

#[test]
fn stateless_rules_repeat_at_the_throttle_and_never_resolve() {
    let r = rule_with(
        json!({"odata.type": criteria::SINGLE_RESOURCE,
        "allOf": [criterion("HealthProbeStatus", "Average", "LessThan", 100.0, json!([]))]}),
        "PT5M",
        "PT1M",
        false,
    );
    let down = [Some(vec![series(&[], &[0.0; 20])])];
    let mut state = State::new();
    let mut fired = Vec::new();
    for m in 1..=11 {
        let e = evaluate(&r, &down, &state, t(m));
        if e.series[0].transition == Transition::Fired {
            fired.push(m)
        }
        state = e.state;
    }
    assert_eq!(fired, [1, 6, 11]);
    let up = [Some(vec![series(&[], &[100.0; 20])])];
    for m in 12..=20 {
        let e = evaluate(&r, &up, &state, t(m));
        assert_ne!(e.series[0].transition, Transition::Resolved);
        state = e.state;
    }
}

#[test]
fn due_follows_the_evaluation_frequency() {
    let r = tutorial();
    assert!(due(&r, None, t(0)));
    assert!(!due(&r, Some(t(0)), t(0) + Duration::seconds(59)));
    assert!(due(&r, Some(t(0)), t(1)));
    assert_eq!(lookback(&r), Duration::minutes(5));
}

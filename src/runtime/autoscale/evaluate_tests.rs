use crate::model::autoscale::ComparisonOperator::*;
use crate::model::autoscale::ScaleDirection::{Decrease, Increase};

use super::*;
use crate::model::autoscale::Profile;
use crate::runtime::autoscale::aggregate::MetricSeries;
use crate::runtime::autoscale::fixtures::*;

const NOW: &str = "2024-06-05T12:00:00Z";

/// The tutorial: 2–20 instances, default 3; +2 above 70 % CPU, −1 below 30 % CPU.
fn tutorial() -> Profile {
    with_rules(
        profile("default", 2, 20, 3),
        vec![
            cpu_rule(GreaterThan, 70.0, Increase, 2),
            cpu_rule(LessThan, 30.0, Decrease, 1),
        ],
    )
}

/// Every rule sees the same steady per-instance CPU.
fn cpu(profile: &Profile, per_instance: &[f64]) -> Vec<MetricSeries> {
    profile
        .rules
        .iter()
        .map(|_| MetricSeries::steady(5, per_instance))
        .collect()
}

fn run(profile: &Profile, metrics: &[MetricSeries], current: u32) -> Decision {
    run_with(profile, metrics, current, None, false)
}

fn run_with(
    profile: &Profile,
    metrics: &[MetricSeries],
    current: u32,
    last_action: Option<LastScaleAction>,
    metrics_failed_before: bool,
) -> Decision {
    let s = setting(vec![profile.clone()]);
    evaluate(&Input {
        setting: &s,
        profile,
        metrics,
        current_capacity: current,
        last_action,
        metrics_failed_before,
        now: at(NOW),
    })
}

fn new_capacity(profile: &Profile, metrics: &[MetricSeries], current: u32) -> Option<u32> {
    run(profile, metrics, current).new_capacity
}

#[test]
fn busy_instances_scale_out_and_idle_ones_scale_in() {
    let p = tutorial();
    let d = run(&p, &cpu(&p, &[80.0, 90.0, 85.0]), 3);
    assert_eq!(
        (d.new_capacity, d.direction),
        (Some(5), Some(Direction::Out))
    );
    assert_eq!(d.reason, Reason::ScaleOutRuleFired);
    assert_eq!(d.cooldown, minutes(5));
    assert_eq!(d.rules[0].observed, Some(85.0));
    assert!(d.rules[0].fired && !d.rules[1].fired);
    assert_eq!(d.rules[0].target, Some(5));

    let d = run(&p, &cpu(&p, &[5.0, 10.0, 15.0]), 3);
    assert_eq!(
        (d.new_capacity, d.direction),
        (Some(2), Some(Direction::In))
    );
    assert_eq!(d.reason, Reason::ScaleInRulesFired);
    assert_eq!(run(&p, &cpu(&p, &[50.0]), 3).new_capacity, None);
}

#[test]
fn a_disabled_setting_does_nothing() {
    let p = tutorial();
    let mut s = setting(vec![p.clone()]);
    s.enabled = false;
    let metrics = cpu(&p, &[99.0]);
    let d = evaluate(&Input {
        setting: &s,
        profile: &p,
        metrics: &metrics,
        current_capacity: 1,
        last_action: None,
        metrics_failed_before: false,
        now: at(NOW),
    });
    assert_eq!((d.new_capacity, d.reason), (None, Reason::SettingDisabled));
}

#[test]
fn out_of_range_capacity_is_corrected_without_rules_or_cooldown() {
    let p = profile("default", 3, 6, 3);
    let recent = Some(LastScaleAction {
        at: at(NOW),
        direction: Direction::In,
        cooldown: minutes(60),
    });
    let d = run_with(&p, &[], 1, recent, false);
    assert_eq!((d.new_capacity, d.reason), (Some(3), Reason::BelowMinimum));
    let d = run_with(&p, &[], 8, recent, false);
    assert_eq!((d.new_capacity, d.reason), (Some(6), Reason::AboveMaximum));
    assert_eq!(run(&p, &[], 4).new_capacity, None);
}

#[test]
fn any_scale_out_rule_is_enough_and_the_highest_capacity_wins() {
    let p = with_rules(
        profile("default", 1, 20, 2),
        vec![
            cpu_rule(GreaterThan, 70.0, Increase, 3),
            on_load_balancer(
                cpu_rule(GreaterThan, 1000.0, Increase, 5),
                "ByteCount",
                true,
            ),
        ],
    );
    let hot_cpu_only = vec![
        MetricSeries::steady(5, &[90.0]),
        MetricSeries::steady(5, &[100.0]),
    ];
    assert_eq!(new_capacity(&p, &hot_cpu_only, 4), Some(7));
    let both = vec![
        MetricSeries::steady(5, &[90.0]),
        MetricSeries::steady(5, &[8000.0]),
    ];
    let d = run(&p, &both, 4);
    assert_eq!(d.new_capacity, Some(9));
    assert_eq!(d.rules[1].observed, Some(2000.0)); // 8000 bytes shared by 4 instances
}

#[test]
fn scale_in_needs_every_scale_in_rule_and_changes_as_little_as_possible() {
    let p = with_rules(
        profile("default", 1, 20, 2),
        vec![
            cpu_rule(LessThan, 30.0, Decrease, 3),
            on_load_balancer(cpu_rule(LessThan, 100.0, Decrease, 1), "ByteCount", true),
        ],
    );
    let idle_cpu_busy_lb = vec![
        MetricSeries::steady(5, &[10.0]),
        MetricSeries::steady(5, &[4000.0]),
    ];
    assert_eq!(new_capacity(&p, &idle_cpu_busy_lb, 8), None);
    let both_idle = vec![
        MetricSeries::steady(5, &[10.0]),
        MetricSeries::steady(5, &[80.0]),
    ];
    // −3 asks for 5, −1 for 7: Azure scales in as little as possible.
    assert_eq!(new_capacity(&p, &both_idle, 8), Some(7));
}

#[test]
fn each_action_type_computes_its_target() {
    let rule = |t: ScaleType, dir, value| scale_type(cpu_rule(GreaterThan, 0.0, dir, value), t);
    assert_eq!(
        action_target(&rule(ScaleType::ChangeCount, Increase, 2), 3),
        5
    );
    assert_eq!(
        action_target(&rule(ScaleType::ChangeCount, Decrease, 5), 3),
        0
    );
    // Percent: 15 % of 10 is 1.5 → 2; 10 % of 3 is 0.3 → 1; 50 % of 8 is 4.
    assert_eq!(
        action_target(&rule(ScaleType::PercentChangeCount, Increase, 15), 10),
        12
    );
    assert_eq!(
        action_target(&rule(ScaleType::PercentChangeCount, Decrease, 10), 3),
        2
    );
    assert_eq!(
        action_target(&rule(ScaleType::PercentChangeCount, Decrease, 50), 8),
        4
    );
    assert_eq!(
        action_target(&rule(ScaleType::ExactCount, ScaleDirection::None, 5), 3),
        5
    );
    assert_eq!(
        action_target(&rule(ScaleType::ServiceAllowedNextValue, Increase, 9), 3),
        4
    );
    assert_eq!(
        action_target(&rule(ScaleType::ServiceAllowedNextValue, Decrease, 9), 3),
        2
    );
    assert_eq!(
        action_target(&rule(ScaleType::ChangeCount, ScaleDirection::None, 2), 3),
        3
    );
}

#[test]
fn exact_count_with_direction_none_acts_either_way() {
    let exact = scale_type(
        cpu_rule(GreaterThan, 50.0, ScaleDirection::None, 5),
        ScaleType::ExactCount,
    );
    let p = with_rules(profile("default", 1, 10, 2), vec![exact]);
    let hot = cpu(&p, &[80.0]);
    assert_eq!(run(&p, &hot, 3).direction, Some(Direction::Out));
    assert_eq!(new_capacity(&p, &hot, 3), Some(5));
    assert_eq!(new_capacity(&p, &hot, 8), Some(5));
    assert_eq!(new_capacity(&p, &hot, 5), None);
}

#[test]
fn percent_change_count_is_applied_in_evaluation() {
    let p = with_rules(
        profile("default", 1, 100, 2),
        vec![scale_type(
            cpu_rule(GreaterThan, 70.0, Increase, 50),
            ScaleType::PercentChangeCount,
        )],
    );
    assert_eq!(new_capacity(&p, &cpu(&p, &[90.0]), 5), Some(8));
}

#[test]
fn results_are_clamped_to_the_profile() {
    let p = tutorial();
    assert_eq!(new_capacity(&p, &cpu(&p, &[95.0]), 19), Some(20));
    let d = run(&p, &cpu(&p, &[95.0]), 20);
    assert_eq!((d.new_capacity, d.reason), (None, Reason::NoChange));
    assert_eq!(new_capacity(&p, &cpu(&p, &[1.0]), 2), None);
    let big_step = with_rules(
        profile("default", 2, 20, 3),
        vec![cpu_rule(LessThan, 30.0, Decrease, 5)],
    );
    assert_eq!(new_capacity(&big_step, &cpu(&big_step, &[1.0]), 4), Some(2));
}

#[test]
fn missing_metrics_scale_out_to_the_default_but_never_in() {
    let p = with_rules(profile("default", 2, 20, 5), tutorial().rules);
    let no_data = vec![MetricSeries::new(vec![None; 5]), MetricSeries::default()];
    let d = run(&p, &no_data, 3);
    assert_eq!((d.new_capacity, d.reason), (Some(5), Reason::MetricFailure));
    assert_eq!(d.events, vec![Event::MetricFailure]);
    assert_eq!(d.rules[0].observed, None);
    assert_eq!(run(&p, &no_data, 8).new_capacity, None);
    // One rule without data is enough: its partner's idle CPU does not scale in.
    let half = vec![MetricSeries::steady(5, &[1.0]), MetricSeries::default()];
    assert_eq!(run(&p, &half, 8).reason, Reason::MetricFailure);
    assert_eq!(run(&p, &[], 8).reason, Reason::MetricFailure);
}

#[test]
fn metrics_coming_back_report_a_recovery() {
    let p = tutorial();
    let d = run_with(&p, &cpu(&p, &[50.0]), 3, None, true);
    assert_eq!(d.events, vec![Event::MetricRecovery]);
    assert!(run(&p, &cpu(&p, &[50.0]), 3).events.is_empty());
}

#[test]
fn the_last_actions_cooldown_blocks_both_directions() {
    let p = with_rules(
        profile("default", 1, 20, 2),
        vec![
            cooldown(cpu_rule(GreaterThan, 70.0, Increase, 1), minutes(60)),
            cooldown(cpu_rule(LessThan, 30.0, Decrease, 1), minutes(40)),
        ],
    );
    let out_at = |m: i64| LastScaleAction {
        at: at(NOW) - chrono::Duration::minutes(m),
        direction: Direction::Out,
        cooldown: minutes(60),
    };
    // A scale-out 30 minutes ago holds back a scale-in, too, for its 60 minutes.
    let d = run_with(&p, &cpu(&p, &[5.0]), 5, Some(out_at(30)), false);
    assert_eq!(
        d.reason,
        Reason::CoolingDown {
            until: at(NOW) + chrono::Duration::minutes(30)
        }
    );
    assert_eq!(d.new_capacity, None);
    assert_eq!(
        run_with(&p, &cpu(&p, &[95.0]), 5, Some(out_at(59)), false).new_capacity,
        None
    );
    let d = run_with(&p, &cpu(&p, &[5.0]), 5, Some(out_at(60)), false);
    assert_eq!(d.new_capacity, Some(4));
    assert_eq!(
        d.cooldown,
        minutes(40),
        "the scale-in starts the scale-in rule's cooldown"
    );
}

#[test]
fn a_scale_in_that_would_be_reversed_is_skipped_as_flapping() {
    // autoscale-flapping: out above 50 %, in below 30 %; 2 instances at 28 % would be
    // 1 instance at 56 %.
    let p = with_rules(
        profile("default", 1, 10, 1),
        vec![
            cpu_rule(GreaterThan, 50.0, Increase, 1),
            cpu_rule(LessThan, 30.0, Decrease, 1),
        ],
    );
    let d = run(&p, &cpu(&p, &[28.0]), 2);
    assert_eq!((d.new_capacity, d.reason), (None, Reason::Flapping));
    assert_eq!(
        d.events,
        vec![Event::Flapping {
            current: 2,
            intended: 1
        }]
    );
    // At 20 % the estimate is 40 %: the scale-in goes ahead.
    assert_eq!(new_capacity(&p, &cpu(&p, &[20.0]), 2), Some(1));
}

#[test]
fn equal_thresholds_flap_like_azures_thread_count_example() {
    // Out at >= 600 threads, in at < 600: 3 instances at 417 would be 2 at 625.5.
    let p = with_rules(
        profile("default", 1, 10, 1),
        vec![
            cpu_rule(GreaterThanOrEqual, 600.0, Increase, 1),
            cpu_rule(LessThan, 600.0, Decrease, 1),
        ],
    );
    assert_eq!(run(&p, &cpu(&p, &[417.0]), 3).reason, Reason::Flapping);
    let gap = with_rules(
        profile("default", 1, 10, 1),
        vec![
            cpu_rule(GreaterThanOrEqual, 600.0, Increase, 1),
            cpu_rule(LessThan, 400.0, Decrease, 1),
        ],
    );
    assert_eq!(new_capacity(&gap, &cpu(&gap, &[394.0]), 3), Some(2));
}

#[test]
fn a_large_scale_in_settles_on_the_first_count_that_does_not_flap() {
    // 6 instances at 40 %, scale in by 5 to 1: 1 → 240 %, 2 → 120 %, 3 → 80 %, 4 → 60 %.
    let p = with_rules(
        profile("default", 1, 30, 1),
        vec![
            cpu_rule(GreaterThan, 70.0, Increase, 1),
            cpu_rule(LessThan, 45.0, Decrease, 5),
        ],
    );
    let d = run(&p, &cpu(&p, &[40.0]), 6);
    assert_eq!(d.new_capacity, Some(4));
    assert_eq!(
        d.events,
        vec![Event::FlappingOccurred {
            current: 6,
            intended: 1,
            actual: 4
        }]
    );
    assert_eq!(d.reason, Reason::ScaleInRulesFired);
}

#[test]
fn another_resources_total_is_not_estimated_per_instance() {
    let lb_out = on_load_balancer(
        cpu_rule(GreaterThan, 1000.0, Increase, 1),
        "ByteCount",
        false,
    );
    let p = with_rules(
        profile("default", 1, 10, 1),
        vec![lb_out, cpu_rule(LessThan, 30.0, Decrease, 1)],
    );
    let metrics = vec![
        MetricSeries::steady(5, &[900.0]),
        MetricSeries::steady(5, &[10.0]),
    ];
    assert_eq!(new_capacity(&p, &metrics, 4), Some(3));
    // Divided per instance it is: 900/4 = 225 per instance → 300 at 3 instances.
    let lb_out = on_load_balancer(cpu_rule(GreaterThan, 250.0, Increase, 1), "ByteCount", true);
    let p = with_rules(
        profile("default", 1, 10, 1),
        vec![lb_out, cpu_rule(LessThan, 30.0, Decrease, 1)],
    );
    let metrics = vec![
        MetricSeries::steady(5, &[900.0]),
        MetricSeries::steady(5, &[10.0]),
    ];
    assert_eq!(run(&p, &metrics, 4).reason, Reason::Flapping);
}

#[test]
fn a_profile_without_rules_only_keeps_the_range() {
    let p = profile("christmas", 5, 5, 5);
    assert_eq!(new_capacity(&p, &[], 5), None);
    assert_eq!(new_capacity(&p, &[], 2), Some(5));
}

#[test]
fn scaling_in_to_zero_instances_flaps_while_there_is_load() {
    let p = with_rules(
        profile("default", 0, 10, 0),
        vec![
            cpu_rule(GreaterThan, 50.0, Increase, 1),
            cpu_rule(LessThan, 10.0, Decrease, 1),
        ],
    );
    assert_eq!(run(&p, &cpu(&p, &[5.0]), 1).reason, Reason::Flapping);
    assert_eq!(new_capacity(&p, &cpu(&p, &[0.0]), 1), Some(0));
}

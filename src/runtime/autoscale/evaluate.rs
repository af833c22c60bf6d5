//! One autoscale evaluation: from the active profile, the rules' metrics, the current
//! capacity and the last scale action to a decision. Azure's documented semantics:
//!
//! 1. A capacity outside the profile's `[minimum, maximum]` is brought back into range on the
//!    next run, rules or not (autoscale-best-practices, "Manual scaling is reset by autoscale
//!    minimum and maximum").
//! 2. After any scale action, nothing scales in either direction until the cooldown of that
//!    action (the cooldown of the rule that fired) has passed (autoscale-understanding-settings,
//!    "How does autoscale evaluate cooldown?"; the `ScaleRuleCooldownEvaluation` log carries
//!    one `lastScaleActionTime`/`cooldown`, "not a separate cooldown timer for each direction").
//! 3. A rule whose metric has no data is a metric failure: autoscale then only scales out to
//!    the default capacity when it is above the current one, never in (`MetricFailure` event;
//!    "Always select a safe default instance count").
//! 4. Scale out when any scale-out rule fires, to the highest capacity they ask for; else
//!    scale in only when every scale-in rule fires, to the highest (smallest change) capacity
//!    they ask for (autoscale-best-practices, "Considerations for multiple rules").
//! 5. Before a scale-in from C to N, autoscale estimates each scale-out rule's metric at N as
//!    `value × C / N` and, where a scale-out rule would then fire, tries the counts between N
//!    and C; it scales to the first that does not flap (`FlappingOccurred`) or skips the
//!    scale-in (`Flapping`) (autoscale-flapping).
//!
//! Where Azure publishes no rule armlet decides, and says so: rules with direction `None`
//! (az's `--scale to N`) act in whichever direction their count lies; the flapping estimate
//! leaves a metric of another resource alone unless it is divided per instance; and
//! `PercentChangeCount` rounds the change up to at least one instance.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::aggregate::{MetricSeries, observed_value};
use crate::model::autoscale::{AutoscaleSetting, Profile, Rule, ScaleDirection, ScaleType};

/// Which way a scale action went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Out,
    In,
}

/// The last scale action the engine took for this setting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LastScaleAction {
    pub at: DateTime<Utc>,
    pub direction: Direction,
    /// The cooldown that action started (its [`Decision::cooldown`]).
    pub cooldown: Duration,
}

/// Everything one evaluation looks at.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub setting: &'a AutoscaleSetting,
    /// The profile [`super::profile::active_profile`] chose.
    pub profile: &'a Profile,
    /// The metric of each rule, in the order of `profile.rules` (missing entries: no data).
    pub metrics: &'a [MetricSeries],
    pub current_capacity: u32,
    pub last_action: Option<LastScaleAction>,
    /// Whether the previous evaluation was a metric failure (to report the recovery).
    pub metrics_failed_before: bool,
    pub now: DateTime<Utc>,
}

/// What a rule saw.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleOutcome {
    pub index: usize,
    pub metric_name: String,
    /// The aggregated value compared with the threshold; `None` when it had no data.
    pub observed: Option<f64>,
    pub fired: bool,
    /// The capacity the rule's action asks for, when it fired.
    pub target: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reason {
    SettingDisabled,
    /// Raised to the profile's minimum.
    BelowMinimum,
    /// Lowered to the profile's maximum.
    AboveMaximum,
    /// Waiting for the last action's cooldown to end.
    CoolingDown {
        until: DateTime<Utc>,
    },
    /// A metric had no data; scaled out to the default count if below it.
    MetricFailure,
    ScaleOutRuleFired,
    ScaleInRulesFired,
    /// Scale-in withheld because the scale-out rules would fire at every smaller count.
    Flapping,
    /// Nothing fired, not every scale-in rule fired, or the limit is reached.
    NoChange,
}

impl Reason {
    /// Wording after Azure's `InstanceUpdateEvaluation` reasons.
    pub fn describe(&self) -> String {
        match self {
            Reason::SettingDisabled => "Autoscale setting is disabled".into(),
            Reason::BelowMinimum => "Scale up to minimum instance count".into(),
            Reason::AboveMaximum => "Scale down to maximum instance count".into(),
            Reason::CoolingDown { until } => format!("Cooldown in effect until {until}"),
            Reason::MetricFailure => "Scale up to default instance count".into(),
            Reason::ScaleOutRuleFired => "Scale up action triggered".into(),
            Reason::ScaleInRulesFired => "Scale down action triggered".into(),
            Reason::Flapping => "Scale down skipped to avoid flapping".into(),
            Reason::NoChange => "No scale action needed".into(),
        }
    }
}

/// Something the activity log records besides the scale action itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    MetricFailure,
    MetricRecovery,
    /// The scale-in was skipped: every count from `intended` up would flap.
    Flapping {
        current: u32,
        intended: u32,
    },
    /// The scale-in went to `actual` instead of `intended` to avoid flapping.
    FlappingOccurred {
        current: u32,
        intended: u32,
        actual: u32,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The capacity to set, when it differs from the current one.
    pub new_capacity: Option<u32>,
    pub direction: Option<Direction>,
    pub reason: Reason,
    /// Per rule of the profile, when the rules were evaluated.
    pub rules: Vec<RuleOutcome>,
    pub events: Vec<Event>,
    /// The cooldown this action starts; record it in [`LastScaleAction`].
    pub cooldown: Duration,
}

impl Decision {
    fn hold(reason: Reason) -> Self {
        Decision {
            new_capacity: None,
            direction: None,
            reason,
            rules: Vec::new(),
            events: Vec::new(),
            cooldown: Duration::ZERO,
        }
    }

    fn to(mut self, current: u32, new: u32, cooldown: Duration) -> Self {
        if new != current {
            self.new_capacity = Some(new);
            self.direction = Some(if new > current {
                Direction::Out
            } else {
                Direction::In
            });
            self.cooldown = cooldown;
        }
        self
    }
}

/// Evaluates the active profile once.
pub fn evaluate(input: &Input) -> Decision {
    let capacity = input.profile.capacity;
    let current = input.current_capacity;
    if !input.setting.enabled {
        return Decision::hold(Reason::SettingDisabled);
    }
    if current < capacity.minimum {
        return Decision::hold(Reason::BelowMinimum).to(current, capacity.minimum, Duration::ZERO);
    }
    if current > capacity.maximum {
        return Decision::hold(Reason::AboveMaximum).to(current, capacity.maximum, Duration::ZERO);
    }
    if let Some(last) = input.last_action {
        let until = last.at + chrono::Duration::from_std(last.cooldown).unwrap_or_default();
        if input.now < until {
            return Decision::hold(Reason::CoolingDown { until });
        }
    }
    if input.profile.rules.is_empty() {
        return Decision::hold(Reason::NoChange);
    }

    let rules: Vec<RuleOutcome> = input
        .profile
        .rules
        .iter()
        .enumerate()
        .map(|(index, rule)| {
            let series = input.metrics.get(index).cloned().unwrap_or_default();
            let observed = observed_value(&series, &rule.metric_trigger, current);
            let fired = observed.is_some_and(|v| {
                rule.metric_trigger
                    .operator
                    .holds(v, rule.metric_trigger.threshold)
            });
            RuleOutcome {
                index,
                metric_name: rule.metric_trigger.metric_name.clone(),
                observed,
                fired,
                target: fired.then(|| action_target(rule, current)),
            }
        })
        .collect();

    if rules.iter().any(|r| r.observed.is_none()) {
        let mut d = Decision::hold(Reason::MetricFailure);
        d.rules = rules;
        d.events.push(Event::MetricFailure);
        let new = capacity.clamp(current.max(capacity.default));
        return d.to(current, new, Duration::ZERO);
    }
    let mut decision = Decision::hold(Reason::NoChange);
    if input.metrics_failed_before {
        decision.events.push(Event::MetricRecovery);
    }
    let profile_rules = &input.profile.rules;
    decision.rules = rules;
    let rules = &decision.rules;

    // Scale out: any scale-out rule, to the highest capacity asked for.
    let out = rules
        .iter()
        .filter(|r| r.fired && is_scale_out(&profile_rules[r.index], current, r.target))
        .filter_map(|r| Some((r.target?.min(capacity.maximum), r.index)))
        .max_by_key(|(target, index)| (*target, std::cmp::Reverse(*index)));
    if let Some((target, index)) = out {
        // A fired scale-out rule settles the run, even at the maximum: no scale-in then.
        if target <= current {
            return decision;
        }
        decision.reason = Reason::ScaleOutRuleFired;
        let cooldown = profile_rules[index].scale_action.cooldown;
        return decision.to(current, target, cooldown);
    }

    // Scale in: every scale-in rule must fire; the smallest change wins.
    let in_rules: Vec<&RuleOutcome> = rules
        .iter()
        .filter(|r| is_scale_in(&profile_rules[r.index], current, r.target))
        .collect();
    if in_rules.is_empty() || !in_rules.iter().all(|r| r.fired) {
        return decision;
    }
    let Some((intended, index)) = in_rules
        .iter()
        .filter_map(|r| Some((r.target?.max(capacity.minimum), r.index)))
        .max_by_key(|(target, index)| (*target, std::cmp::Reverse(*index)))
    else {
        return decision;
    };
    if intended >= current {
        return decision;
    }
    let cooldown = profile_rules[index].scale_action.cooldown;
    let target = input.setting.target_resource_uri.as_str();
    match (intended..current).find(|n| !flaps(profile_rules, rules, target, current, *n)) {
        Some(actual) => {
            if actual != intended {
                decision.events.push(Event::FlappingOccurred {
                    current,
                    intended,
                    actual,
                });
            }
            decision.reason = Reason::ScaleInRulesFired;
            decision.to(current, actual, cooldown)
        }
        None => {
            decision.events.push(Event::Flapping { current, intended });
            decision.reason = Reason::Flapping;
            decision
        }
    }
}

/// The capacity a fired rule's action asks for, before clamping to the profile.
pub fn action_target(rule: &Rule, current: u32) -> u32 {
    let a = &rule.scale_action;
    let change = match a.scale_type {
        ScaleType::ExactCount => return a.value,
        ScaleType::ChangeCount => a.value,
        // Azure publishes no rounding; the change rounds up so a percentage always moves at
        // least one instance (as the Enterprise Library autoscaler Azure's grew from did).
        ScaleType::PercentChangeCount => {
            ((u64::from(current) * u64::from(a.value)).div_ceil(100) as u32).max(1)
        }
        // Every count is allowed for a scale set, so the next allowed value is one away.
        ScaleType::ServiceAllowedNextValue => 1,
    };
    match a.direction {
        ScaleDirection::Increase => current.saturating_add(change),
        ScaleDirection::Decrease => current.saturating_sub(change),
        ScaleDirection::None => current,
    }
}

fn is_scale_out(rule: &Rule, current: u32, target: Option<u32>) -> bool {
    match rule.scale_action.direction {
        ScaleDirection::Increase => true,
        ScaleDirection::Decrease => false,
        ScaleDirection::None => target.is_some_and(|t| t > current),
    }
}

fn is_scale_in(rule: &Rule, current: u32, target: Option<u32>) -> bool {
    match rule.scale_action.direction {
        ScaleDirection::Decrease => true,
        ScaleDirection::Increase => false,
        ScaleDirection::None => target.is_some_and(|t| t < current),
    }
}

/// Whether a scale-out rule would fire after scaling in from `current` to `n` instances.
fn flaps(rules: &[Rule], outcomes: &[RuleOutcome], target: &str, current: u32, n: u32) -> bool {
    outcomes.iter().any(|o| {
        let rule = &rules[o.index];
        if rule.scale_action.direction != ScaleDirection::Increase {
            return false;
        }
        let Some(value) = o.observed else {
            return false;
        };
        let t = &rule.metric_trigger;
        let per_instance =
            t.divide_per_instance || t.metric_resource_uri.eq_ignore_ascii_case(target);
        let estimate = match (per_instance, n) {
            (false, _) => value,
            // The whole load on no instances: unbounded unless there is none.
            (true, 0) if value != 0.0 => f64::INFINITY,
            (true, 0) => 0.0,
            (true, n) => value * f64::from(current) / f64::from(n),
        };
        t.operator.holds(estimate, t.threshold)
    })
}

#[cfg(test)]
#[path = "evaluate_tests.rs"]
mod tests;

//! The health state of one (probe, backend) pair as a pure function of probe results.
//!
//! Azure's rules, as implemented here:
//! - A new backend starts [`Health::Unknown`] and receives no new flows until its first
//!   successful probe, which marks it [`Health::Up`] at once (a new instance gets traffic
//!   after its first successful probe).
//! - `threshold` consecutive failures take an `Up` backend [`Health::Down`]
//!   (`probeThreshold`: "after failing the number of consecutive probes equal to this value,
//!   the endpoint will be taken out of rotation").
//! - A `Down` backend needs `threshold` consecutive successes to come back `Up` ("and
//!   require the same number of successful consecutive probes to be placed back in
//!   rotation").
//! - An `Unknown` backend that fails `threshold` times in a row is reported `Down` (it was
//!   already out of rotation; the state only becomes explicit).
//!
//! Every failure counts the same (refused or reset connection, timeout, non-200 status):
//! older Azure docs said a non-200 answer probed an instance down at once, the current
//! `probeThreshold` contract applies the threshold to all failures, and so do we.
//!
//! `numberOfProbes` is treated like `probeThreshold` when the latter is absent (today's
//! Azure behaviour, and what `az network lb probe create --threshold` sets); see
//! [`effective_threshold`].

/// Whether a backend may receive new flows, as decided by its health probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Health {
    /// Never probed successfully yet: no new flows.
    Unknown,
    /// In rotation.
    Up,
    /// Out of rotation; existing flows continue.
    Down,
}

impl Health {
    /// Whether new flows may go to a backend in this state.
    pub fn in_rotation(self) -> bool {
        self == Health::Up
    }
}

/// The state machine's memory: current health and the run of equal results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeState {
    pub health: Health,
    /// Consecutive successes (0 after a failure).
    pub successes: u32,
    /// Consecutive failures (0 after a success).
    pub failures: u32,
    /// Whether any probe has passed yet: a backend `Down` without one is still booting as
    /// far as anyone can tell (rolling upgrades give it time before counting it).
    pub answered: bool,
}

impl Default for ProbeState {
    fn default() -> Self {
        ProbeState {
            health: Health::Unknown,
            successes: 0,
            failures: 0,
            answered: false,
        }
    }
}

/// The state after one more probe result. `threshold` below 1 counts as 1.
pub fn observe(state: ProbeState, success: bool, threshold: u32) -> ProbeState {
    let threshold = threshold.max(1);
    let (successes, failures) = if success {
        (state.successes.saturating_add(1), 0)
    } else {
        (0, state.failures.saturating_add(1))
    };
    let health = match (state.health, success) {
        (Health::Unknown, true) => Health::Up,
        (Health::Down, true) if successes >= threshold => Health::Up,
        (Health::Up | Health::Unknown, false) if failures >= threshold => Health::Down,
        (h, _) => h,
    };
    ProbeState {
        health,
        successes,
        failures,
        answered: state.answered || success,
    }
}

/// The threshold a probe resource asks for: `probeThreshold` if set, else `numberOfProbes`,
/// else 1 (Azure's default for `probeThreshold`).
pub fn effective_threshold(probe_threshold: Option<u32>, number_of_probes: Option<u32>) -> u32 {
    probe_threshold.or(number_of_probes).unwrap_or(1).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(results: &[bool], threshold: u32) -> Vec<Health> {
        let mut s = ProbeState::default();
        results
            .iter()
            .map(|&r| {
                s = observe(s, r, threshold);
                s.health
            })
            .collect()
    }

    use Health::*;

    #[test]
    fn first_success_brings_a_new_backend_up() {
        assert_eq!(run(&[true], 3), vec![Up]);
        assert_eq!(run(&[false, true], 3), vec![Unknown, Up]);
    }

    #[test]
    fn a_backend_is_answered_from_its_first_passed_probe_on() {
        let down = [false, false]
            .iter()
            .fold(ProbeState::default(), |s, &r| observe(s, r, 1));
        assert_eq!((down.health, down.answered), (Down, false));
        let up = observe(down, true, 1);
        assert!(up.answered);
        assert!(observe(up, false, 1).answered, "a later failure keeps it");
    }

    #[test]
    fn threshold_failures_take_it_down() {
        assert_eq!(
            run(&[true, false, false, true, false, false], 2),
            vec![Up, Up, Down, Down, Down, Down]
        );
    }

    #[test]
    fn failures_must_be_consecutive() {
        assert_eq!(
            run(&[true, false, true, false, true], 2),
            vec![Up, Up, Up, Up, Up]
        );
    }

    #[test]
    fn coming_back_needs_threshold_successes() {
        assert_eq!(
            run(&[true, false, false, true, false, true, true], 2),
            vec![Up, Up, Down, Down, Down, Down, Up]
        );
    }

    #[test]
    fn never_up_backend_turns_down_explicitly() {
        assert_eq!(run(&[false, false], 2), vec![Unknown, Down]);
    }

    #[test]
    fn threshold_zero_counts_as_one() {
        assert_eq!(run(&[true, false, true], 0), vec![Up, Down, Up]);
    }

    #[test]
    fn threshold_from_arm_fields() {
        assert_eq!(effective_threshold(Some(3), Some(2)), 3);
        assert_eq!(effective_threshold(None, Some(2)), 2);
        assert_eq!(effective_threshold(None, None), 1);
        assert_eq!(effective_threshold(Some(0), None), 1);
    }

    proptest::proptest! {
        #[test]
        fn down_only_after_threshold_failures(results in proptest::collection::vec(proptest::bool::ANY, 0..60), threshold in 1u32..5) {
            let mut s = ProbeState::default();
            for r in results {
                let before = s;
                s = observe(s, r, threshold);
                if s.health == Down && before.health != Down {
                    proptest::prop_assert!(s.failures >= threshold);
                }
                if s.health == Up && before.health == Down {
                    proptest::prop_assert!(s.successes >= threshold);
                }
                if r { proptest::prop_assert_ne!(s.health, Unknown); }
            }
        }
    }
}

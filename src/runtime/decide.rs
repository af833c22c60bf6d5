//! The reconciler's decisions, as a pure function: given the plan (what should run) and what
//! was observed of the processes, which instances to start, restart, stop or remove.
//! [`super::reconciler`] applies them.

use std::collections::HashMap;

use super::plan::{InstancePlan, InstancePort, Plan};

/// What the reconciler last started for an instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    pub generation: u64,
    pub reimages: u64,
    pub ports: Vec<InstancePort>,
    pub model_version: u64,
}

impl Started {
    pub fn of(inst: &InstancePlan) -> Self {
        Started {
            generation: inst.generation,
            reimages: inst.reimages,
            ports: inst.ports.clone(),
            model_version: inst.model_version,
        }
    }
}

/// What a process of the supervisor is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Process {
    Running,
    /// It exited by itself: reported, never restarted silently.
    Exited,
    /// Stopped on request.
    Stopped,
}

/// One instance as observed: what was last started for it, and its process.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    pub started: Option<Started>,
    pub process: Option<Process>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Start the instance's process, stopping the current one first; with `wipe`, its
    /// directory is removed first (a reimage).
    Start { key: String, wipe: bool },
    /// Stop the process (power off, deallocate); the directory stays.
    Stop { key: String },
    /// The instance no longer exists: stop its process and remove its directory.
    Remove { key: String },
}

/// The actions that make the processes match the plan.
pub fn decide(plan: &Plan, observed: &HashMap<String, Observed>) -> Vec<Action> {
    let mut actions = Vec::new();
    let none = Observed::default();
    for inst in &plan.instances {
        let o = observed.get(&inst.key).unwrap_or(&none);
        let current = o.started.as_ref();
        let same =
            current.is_some_and(|c| c.generation == inst.generation && c.ports == inst.ports);
        if inst.should_run() {
            // A process that exited by itself stays exited until something changes.
            let alive = matches!(o.process, Some(Process::Running | Process::Exited));
            if !same || !alive {
                actions.push(Action::Start {
                    key: inst.key.clone(),
                    wipe: current.is_some_and(|c| c.reimages != inst.reimages),
                });
            }
        } else if o.process == Some(Process::Running) {
            actions.push(Action::Stop {
                key: inst.key.clone(),
            });
        }
    }
    for (key, o) in observed {
        let known = o.process.is_some() || o.started.is_some();
        if known && !plan.instances.iter().any(|i| &i.key == key) {
            actions.push(Action::Remove { key: key.clone() });
        }
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::compute::instance::PowerState;
    use std::net::Ipv4Addr;

    fn inst(key: &str, generation: u64, power: PowerState) -> InstancePlan {
        InstancePlan {
            key: key.into(),
            scale_set: "web".into(),
            scale_set_id: "/vmss/web".into(),
            instance_id: "0".into(),
            name: "web_0".into(),
            private_ip: Ipv4Addr::UNSPECIFIED,
            bind_address: Ipv4Addr::LOCALHOST,
            ports: vec![],
            model: serde_json::Value::Null,
            model_version: 1,
            generation,
            reimages: 0,
            power,
            vm_size: "Standard_B1s".into(),
        }
    }

    fn observed(started: Option<&InstancePlan>, process: Option<Process>) -> Observed {
        Observed {
            started: started.map(Started::of),
            process,
        }
    }

    fn plan(instances: Vec<InstancePlan>) -> Plan {
        Plan {
            instances,
            ..Plan::default()
        }
    }

    #[test]
    fn new_instances_start_and_running_ones_are_left_alone() {
        let a = inst("a", 0, PowerState::Running);
        let p = plan(vec![a.clone()]);
        assert_eq!(
            decide(&p, &HashMap::new()),
            [Action::Start {
                key: "a".into(),
                wipe: false
            }]
        );
        let seen = HashMap::from([("a".to_string(), observed(Some(&a), Some(Process::Running)))]);
        assert!(decide(&p, &seen).is_empty());
    }

    #[test]
    fn a_new_generation_restarts_and_a_reimage_wipes() {
        let old = inst("a", 0, PowerState::Running);
        let seen = HashMap::from([(
            "a".to_string(),
            observed(Some(&old), Some(Process::Running)),
        )]);
        let restarted = inst("a", 1, PowerState::Running);
        assert_eq!(
            decide(&plan(vec![restarted.clone()]), &seen),
            [Action::Start {
                key: "a".into(),
                wipe: false
            }]
        );
        let mut reimaged = restarted;
        reimaged.reimages = 1;
        assert_eq!(
            decide(&plan(vec![reimaged]), &seen),
            [Action::Start {
                key: "a".into(),
                wipe: true
            }]
        );
    }

    #[test]
    fn exited_processes_are_not_restarted_silently_but_stopped_ones_start_again() {
        let a = inst("a", 0, PowerState::Running);
        let exited = HashMap::from([("a".to_string(), observed(Some(&a), Some(Process::Exited)))]);
        assert!(decide(&plan(vec![a.clone()]), &exited).is_empty());
        let stopped =
            HashMap::from([("a".to_string(), observed(Some(&a), Some(Process::Stopped)))]);
        assert_eq!(decide(&plan(vec![a]), &stopped).len(), 1);
    }

    #[test]
    fn powered_off_instances_stop_and_deleted_ones_are_removed() {
        let a = inst("a", 0, PowerState::Running);
        let running = observed(Some(&a), Some(Process::Running));
        let seen = HashMap::from([
            ("a".to_string(), running.clone()),
            ("gone".to_string(), running),
        ]);
        let off = inst("a", 0, PowerState::Stopped);
        let mut actions = decide(&plan(vec![off]), &seen);
        actions.sort_by_key(|a| format!("{a:?}"));
        assert_eq!(
            actions,
            [
                Action::Remove { key: "gone".into() },
                Action::Stop { key: "a".into() }
            ]
        );
    }
}

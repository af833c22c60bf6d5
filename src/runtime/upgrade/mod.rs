//! Scale-set lifecycle decisions, as pure functions of plain data (no I/O, no clock):
//!
//! - [`policy`]: the rolling-upgrade and automatic-repairs policies with Azure's defaults.
//! - [`plan`]: the rolling-upgrade batch planner, one step at a time, over a [`progress`]
//!   record that the reconciler persists so an upgrade survives a restart.
//! - [`status`]: the `rollingUpgrades/latest` and `osUpgradeHistory` documents; [`error`]:
//!   the errors an upgrade stops with.
//! - [`repair`]: which unhealthy instances automatic repairs repair now;
//!   [`orchestration`]: the AutomaticRepairs service state and `orchestrationServices`.
//! - [`scheduled_events`]: terminate notifications (IMDS Scheduled Events) and their state
//!   machine; [`imds`]: the IMDS `/metadata/instance` document.
//!
//! Every function takes `now` (Azure time on the scaled clock) as an argument.

pub mod automatic_repairs;
pub mod error;
pub mod fleet;
pub mod imds;
pub mod observe;
pub mod orchestration;
pub mod plan;
pub mod policy;
pub mod progress;
pub mod repair;
pub mod rolling;
pub mod scheduled_events;
pub mod status;
pub mod terminate;
mod time;

use chrono::{DateTime, Utc};

/// An instance's application health, from the load balancer probe or the Application
/// Health extension (Rich Health States add `Unknown` and `Initializing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Healthy,
    Unhealthy,
    Unknown,
    /// No verdict yet (a new process, Rich Health States' grace period): rolling upgrades
    /// wait for it, automatic repairs leave it alone ("Initializing: wait for the state to
    /// be Healthy, Unhealthy, or Unknown; instance repairs trigger: no").
    Initializing,
}

/// Power state as the runtime knows it; only running instances are probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerState {
    Running,
    Stopped,
    Deallocated,
}

impl PowerState {
    /// armlet's stored power strings (`running`, `stopped`, `deallocated`); anything else
    /// is treated as not running.
    pub fn from_runtime(s: &str) -> Self {
        match s {
            "running" => PowerState::Running,
            "deallocated" => PowerState::Deallocated,
            _ => PowerState::Stopped,
        }
    }
}

/// An instance's `protectionPolicy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Protection {
    pub from_scale_in: bool,
    /// Excludes the instance from upgrades, reimages and repairs started on the scale set.
    pub from_scale_set_actions: bool,
}

/// What the lifecycle decisions need to know about one scale-set instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// The instance id (`"3"` in Uniform, the VM name in Flexible).
    pub id: String,
    /// Whether it runs the scale set's latest model (`latestModelApplied`).
    pub latest_model: bool,
    pub health: Health,
    /// When the current `health` began. It must start over when the instance's process
    /// restarts (health Unknown until the probe answers): the planner only trusts health
    /// reported after a batch started.
    pub health_since: DateTime<Utc>,
    pub power: PowerState,
    pub protection: Protection,
    /// Creation order in the scale set (a reimage keeps it).
    pub created: u64,
    /// When the last state change on the instance (create, update, reimage, restart,
    /// repair) completed: automatic repairs' grace period starts here.
    pub last_change: DateTime<Utc>,
    /// The availability zone, if the scale set is zonal.
    pub zone: Option<String>,
    /// Its health source has never passed it in this armlet run (a new instance, or every
    /// instance after armlet restarted): an `Unhealthy` verdict may just mean "still booting".
    pub unproven: bool,
}

impl Instance {
    /// Healthy and running; anything else counts against the health gates.
    pub fn serving(&self) -> bool {
        self.power == PowerState::Running && self.health == Health::Healthy
    }
}

/// Orders instance ids as numbers when they are numbers (`"2"` before `"10"`).
pub(crate) fn id_key(id: &str) -> (u64, &str) {
    (id.parse().unwrap_or(u64::MAX), id)
}

#[cfg(test)]
pub(crate) mod fixture {
    //! Builders for instances in tests.
    use super::*;
    use chrono::TimeZone;

    pub fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap()
    }

    pub fn secs(s: i64) -> DateTime<Utc> {
        t0() + chrono::Duration::seconds(s)
    }

    /// A healthy, running, unprotected instance on the old model, healthy since t0.
    pub fn vm(id: u64) -> Instance {
        Instance {
            id: id.to_string(),
            latest_model: false,
            health: Health::Healthy,
            health_since: t0(),
            power: PowerState::Running,
            protection: Protection::default(),
            created: id,
            last_change: t0(),
            zone: None,
            unproven: false,
        }
    }

    pub fn fleet(n: u64) -> Vec<Instance> {
        (0..n).map(vm).collect()
    }
}

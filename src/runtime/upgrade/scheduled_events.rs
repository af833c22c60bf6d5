//! Terminate notifications: `scheduledEventsProfile.terminateNotificationProfile` and the
//! IMDS Scheduled Events document (`/metadata/scheduledevents`) with its state machine.
//!
//! Azure's rules (docs "Terminate notification for Azure Virtual Machine Scale Set
//! instances", "Scheduled Events for Linux VMs"): a delete of an instance schedules a
//! `Terminate` event with `NotBefore` = now + notBeforeTimeout (PT5M–PT15M, default PT5M);
//! every instance of the scale set sees every event (check `Resources`); the event starts
//! when approved by `POST {"StartRequests":[{"EventId":...}]}` or when `NotBefore` passes,
//! but "if there's a pending delete on VM_1 that isn't approved, and you've approved another
//! terminate event on VM_2, then VM_2 isn't deleted until the terminate event for VM_1 is
//! approved, or its timeout has elapsed"; a started event shows `EventStatus: Started` with
//! an empty `NotBefore` and leaves the document when the instance is gone;
//! `DocumentIncarnation` increases whenever the events change.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::policy::invalid;
use super::time::{rfc1123, rfc3339, rfc3339_opt};
use crate::model::duration;
use crate::model::error::ArmResult;

pub const MIN_NOT_BEFORE: Duration = Duration::from_secs(5 * 60);
pub const MAX_NOT_BEFORE: Duration = Duration::from_secs(15 * 60);

/// `virtualMachineProfile.scheduledEventsProfile.terminateNotificationProfile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TerminateNotificationProfile {
    pub enable: bool,
    pub not_before_timeout: Duration,
}

impl TerminateNotificationProfile {
    /// The profile of a `virtualMachineProfile`; `None` when it has none or it is disabled.
    pub fn from_profile(vm_profile: &Value) -> ArmResult<Option<Self>> {
        let p = &vm_profile["scheduledEventsProfile"]["terminateNotificationProfile"];
        if p.is_null() {
            return Ok(None);
        }
        let key = "scheduledEventsProfile.terminateNotificationProfile.notBeforeTimeout";
        let timeout = match p["notBeforeTimeout"].as_str() {
            None => MIN_NOT_BEFORE,
            Some(s) => duration::parse(s).map_err(|e| invalid(key, &e))?,
        };
        if !(MIN_NOT_BEFORE..=MAX_NOT_BEFORE).contains(&timeout) {
            return Err(invalid(key, "It must be between PT5M and PT15M."));
        }
        let enable = match &p["enable"] {
            Value::Bool(b) => *b,
            Value::String(s) => s.eq_ignore_ascii_case("true"),
            _ => false,
        };
        Ok(enable.then_some(TerminateNotificationProfile {
            enable,
            not_before_timeout: timeout,
        }))
    }
}

/// Who asked for the delete (`EventSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventSource {
    Platform,
    User,
}

/// One `Terminate` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TerminateEvent {
    pub event_id: String,
    /// The instance id the event deletes.
    pub instance: String,
    /// The VM name listed in `Resources` (`{scale set}_{instance id}` in Uniform).
    pub resource: String,
    #[serde(with = "rfc3339")]
    pub not_before: DateTime<Utc>,
    pub source: EventSource,
    pub approved: bool,
    /// When it started (the instance may be deleted from then on).
    #[serde(default, with = "rfc3339_opt")]
    pub started: Option<DateTime<Utc>>,
}

/// A `POST /metadata/scheduledevents` body that is not a list of known `StartRequests`:
/// IMDS answers 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadStartRequest(pub String);

/// The Scheduled Events of one scale set (every instance sees them all), persisted by the
/// reconciler so pending terminations survive a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledEvents {
    pub incarnation: u64,
    pub events: Vec<TerminateEvent>,
}

impl Default for ScheduledEvents {
    fn default() -> Self {
        ScheduledEvents {
            incarnation: 1,
            events: Vec::new(),
        }
    }
}

impl ScheduledEvents {
    /// A delete of `instance` was asked for: its Terminate event becomes visible with
    /// `NotBefore` = now + the profile's timeout. Asking again changes nothing.
    pub fn schedule(
        &mut self,
        instance: &str,
        resource: &str,
        source: EventSource,
        profile: &TerminateNotificationProfile,
        event_id: String,
        now: DateTime<Utc>,
    ) {
        if self.events.iter().any(|e| e.instance == instance) {
            return;
        }
        let timeout = chrono::Duration::from_std(profile.not_before_timeout)
            .unwrap_or(chrono::Duration::zero());
        self.events.push(TerminateEvent {
            event_id,
            instance: instance.into(),
            resource: resource.into(),
            not_before: now + timeout,
            source,
            approved: false,
            started: None,
        });
        self.incarnation += 1;
    }

    /// `POST {"StartRequests":[{"EventId": ...}]}`: approves the named events (approving one
    /// twice, or a started one, is fine).
    pub fn approve(&mut self, body: &Value) -> Result<(), BadStartRequest> {
        let requests = body["StartRequests"].as_array().ok_or_else(|| {
            BadStartRequest("The request body must contain StartRequests.".into())
        })?;
        let mut ids = Vec::new();
        for r in requests {
            let id = r["EventId"]
                .as_str()
                .ok_or_else(|| BadStartRequest("Each StartRequest needs an EventId.".into()))?;
            if !self
                .events
                .iter()
                .any(|e| e.event_id.eq_ignore_ascii_case(id))
            {
                return Err(BadStartRequest(format!(
                    "The event {id} is not a valid EventId."
                )));
            }
            ids.push(id);
        }
        for e in &mut self.events {
            if ids.iter().any(|id| e.event_id.eq_ignore_ascii_case(id)) {
                e.approved = true;
            }
        }
        Ok(())
    }

    /// Starts the events that may start now and returns the instances that may be deleted
    /// (those whose events started, now or before). An event past `NotBefore` always starts;
    /// an approved one starts once no other scheduled event is still waiting unapproved.
    pub fn release(&mut self, now: DateTime<Utc>) -> Vec<String> {
        let waiting = |e: &TerminateEvent| e.started.is_none() && !e.approved && now < e.not_before;
        let blocked = self.events.iter().any(waiting);
        let mut changed = false;
        for e in &mut self.events {
            if e.started.is_none() && (now >= e.not_before || (e.approved && !blocked)) {
                e.started = Some(now);
                changed = true;
            }
        }
        if changed {
            self.incarnation += 1;
        }
        self.events
            .iter()
            .filter(|e| e.started.is_some())
            .map(|e| e.instance.clone())
            .collect()
    }

    /// The instance is gone: its event reached its terminal state and leaves the document.
    pub fn complete(&mut self, instance: &str) {
        let before = self.events.len();
        self.events.retain(|e| e.instance != instance);
        if self.events.len() != before {
            self.incarnation += 1;
        }
    }

    /// The earliest `NotBefore` still ahead: when [`release`](Self::release) has news.
    pub fn next_deadline(&self) -> Option<DateTime<Utc>> {
        self.events
            .iter()
            .filter(|e| e.started.is_none())
            .map(|e| e.not_before)
            .min()
    }

    /// The IMDS document for `api_version` (`yyyy-mm-dd`): Terminate events need 2019-01-01,
    /// `Description` came with 2019-04-01, `EventSource` with 2019-08-01 and
    /// `DurationInSeconds` with 2020-07-01.
    pub fn document(&self, api_version: &str) -> Value {
        let since = |v: &str| api_version >= v;
        let events: Vec<Value> = if since("2019-01-01") {
            self.events
                .iter()
                .map(|e| {
                    let mut ev = json!({
                        "EventId": e.event_id,
                        "EventType": "Terminate",
                        "ResourceType": "VirtualMachine",
                        "Resources": [e.resource],
                        "EventStatus": if e.started.is_some() { "Started" } else { "Scheduled" },
                        "NotBefore": if e.started.is_some() { String::new() } else { rfc1123(e.not_before) },
                    });
                    if since("2019-04-01") {
                        ev["Description"] = json!("");
                    }
                    if since("2019-08-01") {
                        ev["EventSource"] = json!(match e.source {
                            EventSource::Platform => "Platform",
                            EventSource::User => "User",
                        });
                    }
                    if since("2020-07-01") {
                        // "-1: the default value used if the impact duration is either unknown
                        // or not applicable".
                        ev["DurationInSeconds"] = json!(-1);
                    }
                    ev
                })
                .collect()
        } else {
            Vec::new()
        };
        json!({"DocumentIncarnation": self.incarnation, "Events": events})
    }
}

#[cfg(test)]
#[path = "scheduled_events_tests.rs"]
mod tests;

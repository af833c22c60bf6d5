//! Load balancer health events: what the resource-log category `LoadBalancerHealthEvent`
//! publishes (the `ALBHealthEvent` table), detected from what armlet really observes.
//!
//! Event types, severities, detection rules and re-detection intervals are Azure's
//! (learn.microsoft.com/azure/load-balancer/load-balancer-health-event-logs, and the sample
//! texts of load-balancer-troubleshoot-health-event-logs):
//! - `NoHealthyBackends` (Critical, re-detected after 60 minutes): per frontend IP, when every
//!   backend of a load-balancing rule on it fails its health probe; it lists the affected
//!   rules as `protocol:port`. armlet reads the prober's live results; a rule without a probe,
//!   with an empty pool, or with a backend not probed yet is not "all down".
//! - `DataPathAvailabilityWarning` / `DataPathAvailabilityCritical` (re-detected after 5
//!   minutes): per frontend IP, when its `VipAvailability` for a minute is below 90 % / 25 %
//!   (the Learn page's table swaps the two thresholds; its troubleshooting page, the GA
//!   announcement and the severities agree on these). The frontend's availability is the mean
//!   over its ports' series; the ports listed are those below 90 %.
//! - `HighSnatPortUsage` / `SnatPortExhaustion` concern outbound SNAT, which armlet's data
//!   plane does not do yet, so they never occur.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use chrono::{DateTime, TimeDelta, Utc};

use super::TransportProtocol;

crate::arm_enum!(
    /// `HealthEventType`.
    HealthEventType {
        DataPathAvailabilityWarning = "DataPathAvailabilityWarning",
        DataPathAvailabilityCritical = "DataPathAvailabilityCritical",
        NoHealthyBackends = "NoHealthyBackends",
        HighSnatPortUsage = "HighSnatPortUsage",
        SnatPortExhaustion = "SnatPortExhaustion",
    }
);

impl HealthEventType {
    /// `Severity`: `Critical` or `Warning`.
    pub fn severity(self) -> &'static str {
        match self {
            Self::DataPathAvailabilityWarning | Self::HighSnatPortUsage => "Warning",
            _ => "Critical",
        }
    }

    /// How long after publishing an event of this type for a frontend it is not published
    /// again, however long the condition lasts.
    pub fn redetection(self) -> TimeDelta {
        match self {
            Self::NoHealthyBackends => TimeDelta::minutes(60),
            _ => TimeDelta::minutes(5),
        }
    }
}

/// One published event of one load balancer.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthEvent {
    /// The load balancer's lower-case id.
    pub resource_key: String,
    /// When it was detected (`TimeGenerated`).
    pub time: DateTime<Utc>,
    pub event_type: HealthEventType,
    /// `FrontendIP`.
    pub frontend_ip: String,
    pub description: String,
}

const GUIDANCE: &str = "To mitigate this issue, please refer to aka.ms/lbhealth for more detailed event definitions and troubleshooting guidance.";

/// What the probes say of one load-balancing rule's backends.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleHealth {
    pub frontend_ip: Ipv4Addr,
    pub protocol: TransportProtocol,
    pub frontend_port: u16,
    pub probed: bool,
    pub up: usize,
    pub down: usize,
    pub unknown: usize,
}

impl RuleHealth {
    fn all_down(&self) -> bool {
        self.probed && self.down > 0 && self.up == 0 && self.unknown == 0
    }
}

/// `NoHealthyBackends` events, one per frontend IP with a rule whose backends are all down.
pub fn no_healthy_backends(
    lb_key: &str,
    rules: &[RuleHealth],
    now: DateTime<Utc>,
) -> Vec<HealthEvent> {
    let mut by_ip: BTreeMap<Ipv4Addr, Vec<String>> = BTreeMap::new();
    for r in rules.iter().filter(|r| r.all_down()) {
        let pair = format!("{}:{}", r.protocol.as_str(), r.frontend_port);
        let pairs = by_ip.entry(r.frontend_ip).or_default();
        if !pairs.contains(&pair) {
            pairs.push(pair);
        }
    }
    by_ip
        .into_iter()
        .map(|(ip, pairs)| HealthEvent {
            resource_key: lb_key.to_ascii_lowercase(),
            time: now,
            event_type: HealthEventType::NoHealthyBackends,
            frontend_ip: ip.to_string(),
            description: format!(
                "The frontend IP {ip} is completely unreachable because all backend instances configured to the following protocol:port {} are not responding to health probes. Please review the associated health probe configuration(s) and ensure that at least one of the backend instances are responding to the health probes on the configured ports. {GUIDANCE}",
                pairs.join(", ")
            ),
        })
        .collect()
}

/// One minute's `VipAvailability` average for one frontend IP and port.
#[derive(Debug, Clone, PartialEq)]
pub struct PortAvailability {
    pub frontend_ip: String,
    pub frontend_port: String,
    pub average: f64,
}

/// Below this a frontend's data path availability is a warning, and below the second critical.
pub const DATA_PATH_WARNING: f64 = 90.0;
pub const DATA_PATH_CRITICAL: f64 = 25.0;

/// `DataPathAvailability*` events for one minute of a load balancer's `VipAvailability`.
pub fn data_path(
    lb_key: &str,
    minute: &[PortAvailability],
    now: DateTime<Utc>,
) -> Vec<HealthEvent> {
    let mut by_ip: BTreeMap<&str, Vec<&PortAvailability>> = BTreeMap::new();
    for p in minute.iter().filter(|p| p.average.is_finite()) {
        by_ip.entry(&p.frontend_ip).or_default().push(p);
    }
    let mut out = Vec::new();
    for (ip, ports) in by_ip {
        let mean = ports.iter().map(|p| p.average).sum::<f64>() / ports.len() as f64;
        let (event_type, threshold) = if mean < DATA_PATH_CRITICAL {
            (HealthEventType::DataPathAvailabilityCritical, 25)
        } else if mean < DATA_PATH_WARNING {
            (HealthEventType::DataPathAvailabilityWarning, 90)
        } else {
            continue;
        };
        let mut affected: Vec<&str> = ports
            .iter()
            .filter(|p| p.average < DATA_PATH_WARNING)
            .map(|p| p.frontend_port.as_str())
            .collect();
        affected.sort_by_key(|p| (p.parse::<u32>().unwrap_or(u32::MAX), *p));
        affected.dedup();
        out.push(HealthEvent {
            resource_key: lb_key.to_ascii_lowercase(),
            time: now,
            event_type,
            frontend_ip: ip.to_string(),
            description: format!(
                "The data path availability for frontend IP {ip} is below {threshold}% on the following ports: {}. {GUIDANCE}",
                affected.join(", ")
            ),
        });
    }
    out
}

/// The candidates that are due: those whose type and frontend were not published within
/// their re-detection interval (`last` gives the latest publication).
pub fn due(
    candidates: Vec<HealthEvent>,
    last: impl Fn(HealthEventType, &str) -> Option<DateTime<Utc>>,
) -> Vec<HealthEvent> {
    candidates
        .into_iter()
        .filter(|e| {
            last(e.event_type, &e.frontend_ip)
                .is_none_or(|at| e.time - at >= e.event_type.redetection())
        })
        .collect()
}

#[cfg(test)]
#[path = "health_events_tests.rs"]
mod tests;

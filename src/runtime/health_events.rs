//! The load balancer health-event detector: publishes what the `LoadBalancerHealthEvent`
//! log category carries, from what armlet observes, into the store's `lb_health_events`
//! (the exporter copies them to the workspaces of diagnostic settings that ask for them).
//!
//! `NoHealthyBackends` is detected on demand, as in Azure: on every change of the prober's
//! results, and on every minute of Azure time, from each load-balancing rule's backends'
//! probe results. The data-path events read the minute before the collector's grace of each
//! load balancer's `VipAvailability` series. Rules and re-detection intervals are in
//! [`crate::model::network::health_events`].

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio_util::sync::CancellationToken;

use super::Runtime;
use super::log_export::{GRACE, prune_due};
use super::probe::{Health, HealthTable, ProbeKey};
use super::reconciler::load_state;
use crate::metrics::series::minute_of;
use crate::model::network::health_events::{
    self, HealthEvent, PortAvailability, RuleHealth, data_path, no_healthy_backends,
};
use crate::model::network::resolution::{self, Resolution};

/// Azure time between passes when the probes report no change.
pub const PERIOD: Duration = Duration::from_secs(60);
/// How long published events are kept for the exporter (workspaces keep their copies).
pub const KEEP: TimeDelta = TimeDelta::days(1);

/// Runs passes until `shutdown`.
pub async fn run(rt: Arc<Runtime>, shutdown: CancellationToken) {
    let mut tick = rt.clock.interval(PERIOD);
    let mut changes = rt.prober.health().subscribe();
    let mut pruned: Option<DateTime<Utc>> = None;
    loop {
        let now = rt.clock.now_utc();
        if let Err(e) = pass(&rt, now).await {
            tracing::warn!(error = %e, "health event detection failed; retrying");
        }
        // Hourly, not on every probe change: a pass per probe flip should not cost a write.
        if prune_due(pruned, now) {
            match rt.store.prune_health_events(now - KEEP).await {
                Ok(_) => pruned = Some(now),
                Err(e) => tracing::warn!(error = %e, "pruning health events failed; retrying"),
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = changes.changed() => {}
            _ = tick.tick() => {}
        }
    }
}

/// What the probes say of each load-balancing rule of `r` with a frontend in the data plane.
/// A backend whose instance is stopped or deallocated is down (its probes fail in Azure;
/// armlet stops probing it).
pub fn rule_health(
    r: &Resolution,
    table: &HealthTable,
    stopped: impl Fn(&str) -> bool,
) -> Vec<RuleHealth> {
    r.rules
        .iter()
        .filter_map(|rule| {
            let frontend_ip = rule.frontend.address?;
            let mut h = RuleHealth {
                frontend_ip,
                protocol: rule.protocol,
                frontend_port: rule.frontend_port,
                probed: rule.probe.is_some(),
                up: 0,
                down: 0,
                unknown: 0,
            };
            let probe = rule.probe.as_ref().map(|p| p.id.to_ascii_lowercase());
            for member in &rule.members {
                let health = match (&probe, &member.instance) {
                    (Some(_), Some(i)) if stopped(i) => Health::Down,
                    (Some(p), Some(i)) => table.health(&ProbeKey::new(p.clone(), i.clone())),
                    _ => Health::Unknown,
                };
                match health {
                    Health::Up => h.up += 1,
                    Health::Down => h.down += 1,
                    Health::Unknown => h.unknown += 1,
                }
            }
            Some(h)
        })
        .collect()
}

/// One detection over every load balancer; returns what was published.
pub async fn pass(rt: &Runtime, now: DateTime<Utc>) -> anyhow::Result<Vec<HealthEvent>> {
    let state = load_state(rt).await?;
    let table = rt.prober.health().snapshot();
    let plan = rt.plan.load();
    let stopped = |key: &str| {
        plan.instances
            .iter()
            .any(|i| i.key == key && !i.should_run())
    };
    let minute_end = minute_of(now - GRACE);
    let minute_start = minute_end - TimeDelta::minutes(1);
    let mut published = Vec::new();
    for lb in &state.load_balancers {
        let r = resolution::resolve(lb, &state.public_ips, &state.ip_configs);
        let key = r.lb_id.to_ascii_lowercase();
        let mut candidates = no_healthy_backends(&key, &rule_health(&r, &table, stopped), now);
        let vip: Vec<PortAvailability> = rt
            .store
            .metric_minutes(&key, "VipAvailability", minute_start, minute_end)
            .await?
            .into_iter()
            .filter_map(|p| {
                Some(PortAvailability {
                    frontend_ip: p.dimensions.get("FrontendIPAddress")?.clone(),
                    frontend_port: p.dimensions.get("FrontendPort")?.clone(),
                    average: p.value.average()?,
                })
            })
            .collect();
        candidates.extend(data_path(&key, &vip, now));
        if candidates.is_empty() {
            continue;
        }
        let last = rt.store.last_health_events(&key).await?;
        let due = health_events::due(candidates, |kind, ip| {
            last.get(&(kind, ip.to_string())).copied()
        });
        rt.store.publish_health_events(&due).await?;
        published.extend(due);
    }
    Ok(published)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::model::network::resolution::{Frontend, Member, ProbeBinding, RuleBinding};
    use crate::model::network::{
        LoadDistribution, NoHealthyBackends, ProbeProtocol, TransportProtocol,
    };
    use crate::runtime::probe::{HealthBoard, HealthEntry};

    const PROBE: &str =
        "/subscriptions/s/resourcegroups/rg/providers/microsoft.network/loadbalancers/lb/probes/hp";

    fn member(instance: &str) -> Member {
        Member {
            ip_configuration: Some(format!("{instance}/ipc")),
            ip_address: None,
            instance: Some(instance.into()),
        }
    }

    fn resolution(probed: bool, instances: &[&str]) -> Resolution {
        Resolution {
            lb_id: "lb".into(),
            rules: vec![RuleBinding {
                id: "rule".into(),
                frontend: Frontend {
                    id: "fe".into(),
                    address: Some(Ipv4Addr::new(127, 0, 0, 9)),
                },
                protocol: TransportProtocol::Tcp,
                frontend_port: 80,
                backend_port: 80,
                members: instances.iter().map(|i| member(i)).collect(),
                probe: probed.then(|| ProbeBinding {
                    id: PROBE.to_uppercase(),
                    protocol: ProbeProtocol::Http,
                    port: 80,
                    request_path: Some("/".into()),
                    interval: Duration::from_secs(5),
                    threshold: 1,
                    no_healthy: NoHealthyBackends::AllProbedDown,
                }),
                distribution: LoadDistribution::Default,
                idle_timeout: Duration::from_secs(240),
                tcp_reset: false,
            }],
            nat: Vec::new(),
            pools: Vec::new(),
        }
    }

    fn table(entries: &[(&str, Health)]) -> Arc<HealthTable> {
        let board = HealthBoard::new();
        board.update(|m| {
            for (instance, health) in entries {
                let mut e = HealthEntry::new(Duration::ZERO);
                e.health = *health;
                m.insert(ProbeKey::new(PROBE, *instance), e);
            }
            true
        });
        board.view().snapshot()
    }

    fn counts(h: &[RuleHealth]) -> (usize, usize, usize) {
        (h[0].up, h[0].down, h[0].unknown)
    }

    #[test]
    fn backends_count_by_their_probe_and_a_stopped_instance_is_down() {
        let r = resolution(true, &["a", "b", "c"]);
        let t = table(&[("a", Health::Up), ("b", Health::Down)]);
        let h = rule_health(&r, &t, |_| false);
        assert_eq!(counts(&h), (1, 1, 1), "c is not probed yet");
        assert_eq!(h[0].frontend_ip, Ipv4Addr::new(127, 0, 0, 9));
        assert!(h[0].probed);
        // Stopped instances are not probed, yet they are down, as in Azure.
        let h = rule_health(&r, &t, |i| i != "a");
        assert_eq!(counts(&h), (1, 2, 0));
    }

    #[test]
    fn a_rule_without_probe_has_no_verdicts() {
        let r = resolution(false, &["a"]);
        let h = rule_health(&r, &table(&[("a", Health::Down)]), |_| true);
        assert_eq!(counts(&h), (0, 0, 1));
        assert!(!h[0].probed);
    }

    #[test]
    fn rules_of_frontends_outside_the_data_plane_are_left_out() {
        let mut r = resolution(true, &["a"]);
        r.rules[0].frontend.address = None;
        assert!(rule_health(&r, &table(&[]), |_| false).is_empty());
    }
}

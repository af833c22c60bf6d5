use chrono::TimeZone;

use super::*;

const LB: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/LB";

fn t(m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 4, 10, m, 0).unwrap()
}

fn rule(ip: [u8; 4], port: u16, up: usize, down: usize, unknown: usize) -> RuleHealth {
    RuleHealth {
        frontend_ip: Ipv4Addr::from(ip),
        protocol: TransportProtocol::Tcp,
        frontend_port: port,
        probed: true,
        up,
        down,
        unknown,
    }
}

#[test]
fn severities_and_intervals_are_azures() {
    use HealthEventType::*;
    assert_eq!(NoHealthyBackends.severity(), "Critical");
    assert_eq!(DataPathAvailabilityWarning.severity(), "Warning");
    assert_eq!(DataPathAvailabilityCritical.severity(), "Critical");
    assert_eq!(HighSnatPortUsage.severity(), "Warning");
    assert_eq!(SnatPortExhaustion.severity(), "Critical");
    assert_eq!(NoHealthyBackends.redetection(), TimeDelta::minutes(60));
    assert_eq!(
        DataPathAvailabilityWarning.redetection(),
        TimeDelta::minutes(5)
    );
}

#[test]
fn no_healthy_backends_is_per_frontend_ip_and_lists_the_affected_rules() {
    let rules = [
        rule([20, 0, 0, 1], 80, 0, 2, 0),
        rule([20, 0, 0, 1], 443, 0, 1, 0),
        rule([20, 0, 0, 1], 8080, 1, 1, 0),
        rule([20, 0, 0, 2], 80, 0, 0, 0),
        rule([20, 0, 0, 3], 80, 0, 1, 1),
        RuleHealth {
            probed: false,
            ..rule([20, 0, 0, 4], 80, 0, 3, 0)
        },
    ];
    let events = no_healthy_backends(LB, &rules, t(0));
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e.resource_key, LB.to_ascii_lowercase());
    assert_eq!(
        (e.event_type, e.frontend_ip.as_str(), e.time),
        (HealthEventType::NoHealthyBackends, "20.0.0.1", t(0))
    );
    assert!(
        e.description
            .contains("The frontend IP 20.0.0.1 is completely unreachable")
            && e.description
                .contains("protocol:port Tcp:80, Tcp:443 are not"),
        "{}",
        e.description
    );
    assert!(no_healthy_backends(LB, &[rule([20, 0, 0, 1], 80, 1, 0, 0)], t(0)).is_empty());
}

fn vip(ip: &str, port: &str, average: f64) -> PortAvailability {
    PortAvailability {
        frontend_ip: ip.into(),
        frontend_port: port.into(),
        average,
    }
}

#[test]
fn data_path_thresholds_are_90_and_25_on_the_frontends_mean() {
    let minute = [
        vip("20.0.0.1", "443", 100.0),
        vip("20.0.0.1", "80", 60.0),
        vip("20.0.0.2", "80", 10.0),
        vip("20.0.0.3", "80", 95.0),
        vip("20.0.0.4", "80", f64::NAN),
    ];
    let events = data_path(LB, &minute, t(1));
    let got: Vec<(HealthEventType, &str)> = events
        .iter()
        .map(|e| (e.event_type, e.frontend_ip.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (HealthEventType::DataPathAvailabilityWarning, "20.0.0.1"),
            (HealthEventType::DataPathAvailabilityCritical, "20.0.0.2"),
        ]
    );
    assert!(
        events[0].description.starts_with(
            "The data path availability for frontend IP 20.0.0.1 is below 90% on the following ports: 80."
        ),
        "{}",
        events[0].description
    );
    assert!(
        events[1]
            .description
            .contains("below 25% on the following ports: 80.")
    );
}

#[test]
fn an_event_is_not_republished_within_its_redetection_interval() {
    let candidate = |m| no_healthy_backends(LB, &[rule([20, 0, 0, 1], 80, 0, 1, 0)], t(m));
    assert_eq!(due(candidate(0), |_, _| None).len(), 1);
    assert!(due(candidate(59), |_, _| Some(t(0))).is_empty());
    let later = Utc.with_ymd_and_hms(2025, 3, 4, 11, 0, 0).unwrap();
    let again = no_healthy_backends(LB, &[rule([20, 0, 0, 1], 80, 0, 1, 0)], later);
    assert_eq!(due(again, |_, _| Some(t(0))).len(), 1, "60 minutes on");
    // The interval is per type and frontend.
    assert_eq!(
        due(candidate(1), |ty, ip| (ty
            == HealthEventType::DataPathAvailabilityWarning
            || ip != "20.0.0.1")
            .then(|| t(0)))
        .len(),
        1
    );
}

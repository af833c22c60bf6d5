//! Unit tests of terminate notifications: the profile, the IMDS document per API version,
//! the Scheduled → Started transitions and early approval.

use super::*;
use crate::runtime::upgrade::fixture::secs;

fn profile(minutes: u64) -> TerminateNotificationProfile {
    TerminateNotificationProfile {
        enable: true,
        not_before_timeout: Duration::from_secs(minutes * 60),
    }
}

fn two_pending() -> ScheduledEvents {
    let mut se = ScheduledEvents::default();
    se.schedule(
        "1",
        "web_1",
        EventSource::User,
        &profile(5),
        "e1".into(),
        secs(0),
    );
    se.schedule(
        "2",
        "web_2",
        EventSource::User,
        &profile(5),
        "e2".into(),
        secs(60),
    );
    se
}

#[test]
fn the_profile_is_read_with_azures_range_and_default() {
    let p = |v: Value| {
        TerminateNotificationProfile::from_profile(
            &json!({"scheduledEventsProfile": {"terminateNotificationProfile": v}}),
        )
    };
    assert_eq!(p(json!({"enable": true})).unwrap(), Some(profile(5)));
    assert_eq!(
        p(json!({"enable": true, "notBeforeTimeout": "PT15M"})).unwrap(),
        Some(profile(15))
    );
    assert_eq!(
        p(json!({"enable": false, "notBeforeTimeout": "PT10M"})).unwrap(),
        None
    );
    assert_eq!(
        TerminateNotificationProfile::from_profile(&json!({})).unwrap(),
        None
    );
    for bad in ["PT4M", "PT16M", "soon"] {
        let e = p(json!({"enable": true, "notBeforeTimeout": bad})).unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.target.as_deref()),
            ("InvalidParameter", Some("notBeforeTimeout"))
        );
    }
}

#[test]
fn a_scheduled_terminate_is_visible_with_its_not_before() {
    let mut se = ScheduledEvents::default();
    assert_eq!(
        se.document("2020-07-01"),
        json!({"DocumentIncarnation": 1, "Events": []})
    );
    se.schedule(
        "3",
        "web_3",
        EventSource::Platform,
        &profile(10),
        "602d9444-d2cd-49c7-8624-8643e7171297".into(),
        secs(0),
    );
    se.schedule(
        "3",
        "web_3",
        EventSource::Platform,
        &profile(10),
        "other".into(),
        secs(5),
    );
    assert_eq!(
        se.document("2020-07-01"),
        json!({"DocumentIncarnation": 2, "Events": [{
            "EventId": "602d9444-d2cd-49c7-8624-8643e7171297", "EventType": "Terminate",
            "ResourceType": "VirtualMachine", "Resources": ["web_3"], "EventStatus": "Scheduled",
            "NotBefore": "Wed, 01 Jan 2025 12:10:00 GMT", "Description": "", "EventSource": "Platform",
            "DurationInSeconds": -1}]})
    );
    assert_eq!(se.next_deadline(), Some(secs(600)));
    // Older API versions: no Terminate before 2019-01-01, fewer fields before 2020-07-01.
    assert_eq!(se.document("2017-11-01")["Events"], json!([]));
    let old = &se.document("2019-01-01")["Events"][0];
    assert!(
        old.get("Description").is_none()
            && old.get("EventSource").is_none()
            && old.get("DurationInSeconds").is_none()
    );
}

#[test]
fn an_event_starts_when_its_not_before_passes() {
    let mut se = two_pending();
    assert!(se.release(secs(299)).is_empty());
    assert_eq!(se.release(secs(300)), ["1"]);
    let ev = &se.document("2020-07-01")["Events"][0];
    assert_eq!(
        (ev["EventStatus"].as_str(), ev["NotBefore"].as_str()),
        (Some("Started"), Some(""))
    );
    assert_eq!(se.incarnation, 4);
    assert_eq!(se.release(secs(301)), ["1"], "no change, same incarnation");
    assert_eq!(se.incarnation, 4);
    se.complete("1");
    assert_eq!((se.events.len(), se.incarnation), (1, 5));
}

#[test]
fn an_early_approval_waits_for_every_other_pending_event() {
    let mut se = two_pending();
    se.approve(&json!({"StartRequests": [{"EventId": "e2"}]}))
        .unwrap();
    assert!(
        se.release(secs(10)).is_empty(),
        "e1 is neither approved nor timed out"
    );
    se.approve(&json!({"StartRequests": [{"EventId": "E1"}]}))
        .unwrap();
    assert_eq!(se.release(secs(11)), ["1", "2"]);
    let mut se = two_pending();
    se.approve(&json!({"StartRequests": [{"EventId": "e2"}]}))
        .unwrap();
    assert_eq!(
        se.release(secs(300)),
        ["1", "2"],
        "e1 timed out, which frees e2 too"
    );
    se.approve(&json!({"StartRequests": [{"EventId": "e1"}]}))
        .unwrap();
}

#[test]
fn malformed_or_unknown_start_requests_are_rejected() {
    let mut se = two_pending();
    assert!(se.approve(&json!({})).is_err());
    assert!(
        se.approve(&json!({"StartRequests": [{"Id": "e1"}]}))
            .is_err()
    );
    assert!(
        se.approve(&json!({"StartRequests": [{"EventId": "e1"}, {"EventId": "nope"}]}))
            .is_err()
    );
    assert!(
        !se.events[0].approved,
        "nothing approved from a rejected request"
    );
    se.approve(&json!({"StartRequests": []})).unwrap();
}

#[test]
fn the_events_round_trip_through_json() {
    let mut se = two_pending();
    se.release(secs(300));
    let back: ScheduledEvents = serde_json::from_value(serde_json::to_value(&se).unwrap()).unwrap();
    assert_eq!(back, se);
}

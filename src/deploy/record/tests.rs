//! Unit tests of deployment records: targets, durations and hashes, operations.

use super::*;

#[test]
fn targets_round_trip_through_ids() {
    let t = Target {
        sub: "s".into(),
        rg: Some("RG".into()),
        name: "d".into(),
    };
    assert_eq!(
        t.id(),
        "/subscriptions/s/resourceGroups/RG/providers/Microsoft.Resources/deployments/d"
    );
    assert_eq!(Target::parse(&t.id()), Some(t));
    let s = Target {
        sub: "s".into(),
        rg: None,
        name: "d".into(),
    };
    assert_eq!(Target::parse(&s.id()), Some(s));
    assert_eq!(
        Target::parse("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/lbs/x"),
        None
    );
}

#[test]
fn durations_and_hashes() {
    assert_eq!(duration(chrono::Duration::milliseconds(1500)), "PT1.5S");
    assert_eq!(duration(chrono::Duration::zero()), "PT0S");
    assert_eq!(
        template_hash(&json!({"a": 1})),
        template_hash(&json!({"a": 1}))
    );
    assert_ne!(
        template_hash(&json!({"a": 1})),
        template_hash(&json!({"a": 2}))
    );
}

#[test]
fn operations_are_replaced_on_rerun_and_errors_kept() {
    let spec = Spec {
        template: json!({}),
        parameters: json!({}),
        mode: "Incremental".into(),
        location: None,
        tags: None,
        base: "https://localhost".into(),
        correlation_id: "c".into(),
        template_link: Some(json!({"uri": "file:///t.json"})),
        parameters_link: None,
    };
    let mut r = Record::new(
        Target {
            sub: "s".into(),
            rg: Some("rg".into()),
            name: "d".into(),
        },
        spec,
    );
    let target = json!({"id": "/x/lb", "resourceType": "a/b", "resourceName": "lb"});
    let i = r.op_begin(target.clone(), "Create");
    let err = ArmError::bad_request("InvalidResourceType", "nope");
    r.op_end(i, Err(&err));
    assert_eq!(r.op_begin(target, "Create"), i);
    assert_eq!(r.operations().len(), 1);
    r.finish(
        "Failed",
        Some(&ArmError::bad_request("DeploymentFailed", "x").with_details(vec![err])),
    );
    let back = r.error();
    assert_eq!(back.code, "DeploymentFailed");
    assert_eq!(back.details[0].code, "InvalidResourceType");
    assert!(r.public().get("armlet").is_none());
    assert_eq!(r.spec().unwrap().mode, "Incremental");
    assert_eq!(
        r.public()["properties"]["templateLink"]["uri"],
        "file:///t.json"
    );
    assert_eq!(
        r.spec().unwrap().template_link,
        Some(json!({"uri": "file:///t.json"}))
    );
}

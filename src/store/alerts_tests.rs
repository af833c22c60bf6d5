//! Tests of the alert store: evaluations, alert states, forgotten rules, test notifications.

use super::*;
use chrono::TimeZone;
use serde_json::json;

fn t(m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 10, m, 0).unwrap()
}

fn alert(id: &str, condition: &str, at: DateTime<Utc>) -> FiredAlert {
    FiredAlert {
        alert_id: id.into(),
        subscription: "S".into(),
        resource_group: Some("RG".into()),
        target_resource: "/subscriptions/s/resourceGroups/RG/providers/x/y/z".into(),
        alert_rule:
            "/subscriptions/s/resourceGroups/rg/providers/microsoft.insights/metricalerts/r".into(),
        monitor_condition: condition.into(),
        alert_state: "New".into(),
        last_modified: at,
        body: json!({"properties": {"essentials": {"monitorCondition": condition, "alertState": "New"}}}),
    }
}

fn state(at: DateTime<Utc>) -> RuleState {
    RuleState {
        rule_key: "/subscriptions/s/resourcegroups/rg/providers/microsoft.insights/metricalerts/r"
            .into(),
        subscription: "s".into(),
        last_evaluated: at,
        fired: json!([["k", {"n": 1}]]),
        status: json!({"value": []}),
    }
}

#[tokio::test]
async fn an_evaluation_saves_state_and_alerts_together() {
    let store = Store::in_memory().await.unwrap();
    store
        .save_alert_evaluation(&state(t(1)), &[alert("A1", "Fired", t(1))])
        .await
        .unwrap();
    let states = store.alert_rule_states().await.unwrap();
    assert_eq!(states, [state(t(1))]);
    // A user acknowledges it; the resolution keeps that.
    sqlx::query("UPDATE fired_alerts SET alert_state = 'Acknowledged'")
        .execute(store.pool())
        .await
        .unwrap();
    store
        .save_alert_evaluation(&state(t(5)), &[alert("a1", "Resolved", t(5))])
        .await
        .unwrap();
    let got = store.fired_alert("s", "A1").await.unwrap().unwrap();
    assert_eq!(got.monitor_condition, "Resolved");
    assert_eq!(got.alert_state, "Acknowledged");
    assert_eq!(
        got.body["properties"]["essentials"]["alertState"],
        "Acknowledged"
    );
    assert_eq!(store.fired_alerts("s", t(2)).await.unwrap().len(), 1);
    assert!(store.fired_alerts("s", t(6)).await.unwrap().is_empty());
    let body = json!({"properties": {"essentials": {"alertState": "Closed"}}});
    store
        .set_alert_state(&got, "Closed", t(7), &body)
        .await
        .unwrap();
    let closed = store.fired_alert("S", "a1").await.unwrap().unwrap();
    assert_eq!(
        (closed.alert_state.as_str(), closed.last_modified),
        ("Closed", t(7))
    );
    assert_eq!(store.fired_alerts("s", t(6)).await.unwrap().len(), 1);
    assert!(store.fired_alerts("other", t(0)).await.unwrap().is_empty());
}

#[tokio::test]
async fn state_of_deleted_rules_is_forgotten() {
    let store = Store::in_memory().await.unwrap();
    store
        .save_alert_evaluation(&state(t(1)), &[])
        .await
        .unwrap();
    let key = state(t(1)).rule_key;
    assert_eq!(
        store
            .forget_alert_rules_except(std::slice::from_ref(&key))
            .await
            .unwrap(),
        0
    );
    assert!(store.alert_rule_status(&key).await.unwrap().is_some());
    assert_eq!(store.forget_alert_rules_except(&[]).await.unwrap(), 1);
    assert!(store.alert_rule_status(&key).await.unwrap().is_none());
}

#[tokio::test]
async fn test_notification_outcomes_are_set_one_by_one() {
    let store = Store::in_memory().await.unwrap();
    let actions = json!([{"name": "a", "outcome": null}, {"name": "b", "outcome": null}]);
    store
        .insert_action_group_test("1", "/AG", "budget", t(0), &actions)
        .await
        .unwrap();
    store
        .set_action_group_test_outcome("1", 1, json!({"sent": "x"}))
        .await
        .unwrap();
    let (ag, kind, created, got) = store.action_group_test("1").await.unwrap().unwrap();
    assert_eq!(
        (ag.as_str(), kind.as_str(), created),
        ("/ag", "budget", t(0))
    );
    assert_eq!(got[0]["outcome"], Value::Null);
    assert_eq!(got[1]["outcome"]["sent"], "x");
    assert!(store.action_group_test("2").await.unwrap().is_none());
}

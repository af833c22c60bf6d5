use serde_json::json;

use super::*;
use crate::model::autoscale::{Email, Notification, Webhook};
use crate::runtime::autoscale::fixtures::*;

const SETTING_ID: &str = "/subscriptions/sub/resourceGroups/rg/providers/microsoft.insights/autoscalesettings/vmss-autoscale";

fn notified_setting() -> AutoscaleSetting {
    let mut s = setting(vec![profile("default", 2, 20, 3)]);
    s.notifications = vec![Notification {
        email: Some(Email {
            send_to_subscription_administrator: true,
            send_to_subscription_co_administrators: false,
            custom_emails: vec!["ops@contoso.com".into(), "dev@contoso.com".into()],
        }),
        webhooks: vec![
            Webhook {
                service_uri: "http://127.0.0.1:9000/hook".into(),
                properties: [("key1".to_string(), "value1".to_string())].into(),
            },
            Webhook {
                service_uri: "https://example.net/other".into(),
                properties: BTreeMap::new(),
            },
        ],
    }];
    s
}

#[test]
fn the_webhook_payload_has_azures_shape() {
    let s = notified_setting();
    let id = ResourceId::parse(SETTING_ID).unwrap();
    let notice = ScaleNotice {
        setting_id: &id,
        setting: &s,
        timestamp: at("2023-06-22T07:01:47.892672600Z"),
        old_capacity: 3,
        new_capacity: 5,
    };
    let calls = webhook_calls(&notice);
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].uri, "http://127.0.0.1:9000/hook");
    assert_eq!(
        calls[0].body,
        json!({
            "version": "1.0",
            "status": "Activated",
            "operation": "Scale Out",
            "context": {
                "timestamp": "2023-06-22T07:01:47.8926726Z",
                "id": SETTING_ID,
                "name": "vmss-autoscale",
                "details": "Autoscale successfully started scale operation for resource 'vmss' from capacity '3' to capacity '5'",
                "subscriptionId": "sub",
                "resourceGroupName": "rg",
                "resourceName": "vmss",
                "resourceType": "microsoft.compute/virtualmachinescalesets",
                "resourceId": VMSS,
                "portalLink": format!("https://portal.azure.com/#resource{VMSS}"),
                "resourceRegion": "eastus",
                "oldCapacity": "3",
                "newCapacity": "5",
            },
            "properties": {"key1": "value1"},
        })
    );
    assert_eq!(calls[1].body["properties"], json!({}));

    let scale_in = ScaleNotice {
        old_capacity: 5,
        new_capacity: 4,
        ..notice
    };
    assert_eq!(
        webhook_payload(&scale_in, &BTreeMap::new())["operation"],
        "Scale In"
    );
}

#[test]
fn emails_go_to_the_custom_addresses_only() {
    assert_eq!(
        email_recipients(&notified_setting()),
        vec!["ops@contoso.com".to_string(), "dev@contoso.com".to_string()]
    );
    assert!(email_recipients(&setting(vec![])).is_empty());
}

#[test]
fn webhook_retries_follow_azure_monitors_schedule() {
    let p = WEBHOOK_RETRY;
    let delays: Vec<u64> = (1..=6)
        .map_while(|n| p.next_retry(n, Attempt::NoResponse))
        .map(|d| d.as_secs())
        .collect();
    assert_eq!(delays, vec![5, 20, 5, 40, 5]);
    assert_eq!(
        p.next_retry(1, Attempt::Status(503)),
        Some(Duration::from_secs(5))
    );
    assert_eq!(
        p.next_retry(2, Attempt::Status(429)),
        Some(Duration::from_secs(20))
    );
    assert_eq!(
        p.next_retry(1, Attempt::Status(500)),
        None,
        "500 is not retried"
    );
    assert_eq!(p.next_retry(1, Attempt::Status(200)), None);
    assert_eq!(
        p.next_retry(6, Attempt::Status(504)),
        None,
        "five retries at most"
    );
    assert!(RetryPolicy::delivered(Attempt::Status(204)));
    assert!(!RetryPolicy::delivered(Attempt::Status(404)));
    assert!(!RetryPolicy::delivered(Attempt::NoResponse));
    assert_eq!(p.timeout, Duration::from_secs(10));
    assert_eq!(p.pause_after_exhausted, Duration::from_secs(900));
}

#[test]
fn the_background_sender_runs_the_same_schedule() {
    use crate::runtime::webhook::{Attempt as Sent, RetryPolicy as Policy};
    let p: &dyn Policy = &WEBHOOK_RETRY;
    assert_eq!(p.next(1, Sent::NoResponse), Some(Duration::from_secs(5)));
    assert_eq!(p.next(4, Sent::Status(503)), Some(Duration::from_secs(40)));
    assert_eq!(p.next(1, Sent::Status(400)), None);
    assert_eq!(p.next(6, Sent::NoResponse), None);
    assert_eq!(p.timeout(), Duration::from_secs(10));
}

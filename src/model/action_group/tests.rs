//! Validation and rendering tests for action groups.

use super::*;

fn body(props: Value) -> Value {
    json!({"location": "Global", "properties": props})
}

fn err(props: Value) -> String {
    parse(&body(props)).unwrap_err().code
}

#[test]
fn tutorial_group_parses_and_renders_like_azure() {
    let ag = parse(&json!({
        "location": "global",
        "tags": null,
        "properties": {"groupShortName": "myAG", "enabled": true,
            "emailReceivers": [{"name": "ops", "emailAddress": "ops@contoso.com", "status": "Disabled"}],
            "webhookReceivers": [{"name": "hook", "serviceUri": "http://127.0.0.1:9/h", "useCommonAlertSchema": true}],
            "smsReceivers": null}
    }))
    .unwrap();
    let id = ResourceId::parse(
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Insights/actionGroups/myActionGroup",
    )
    .unwrap();
    let j = ag.to_json(&id);
    assert_eq!(j["location"], "Global");
    assert_eq!(j["name"], "myActionGroup");
    let p = &j["properties"];
    assert_eq!(p["emailReceivers"][0]["status"], "Enabled");
    assert_eq!(p["emailReceivers"][0]["useCommonAlertSchema"], false);
    assert_eq!(p["webhookReceivers"][0]["useAadAuth"], false);
    assert!(p["webhookReceivers"][0].get("objectId").is_none());
    for list in [
        "smsReceivers",
        "itsmReceivers",
        "azureAppPushReceivers",
        "eventHubReceivers",
        "automationRunbookReceivers",
        "voiceReceivers",
        "logicAppReceivers",
        "azureFunctionReceivers",
        "armRoleReceivers",
    ] {
        assert_eq!(p[list], json!([]), "{list}");
    }
}

#[test]
fn enabled_defaults_to_true() {
    let ag = parse(&body(json!({"groupShortName": "g"}))).unwrap();
    assert!(ag.properties.enabled);
}

#[test]
fn short_name_is_required_and_at_most_12_characters() {
    assert_eq!(err(json!({})), "GroupShortNameIsNullOrEmpty");
    let e = parse(&body(json!({"groupShortName": "testascalev2-ag"}))).unwrap_err();
    assert_eq!(e.code, "GroupShortNameIsTooLong");
    assert!(e.message.contains("'12' or less characters"));
    assert!(parse(&body(json!({"groupShortName": "twelve-chars"}))).is_ok());
}

#[test]
fn location_must_be_global() {
    let e = parse(&json!({"location": "westus", "properties": {"groupShortName": "g"}}));
    assert_eq!(e.unwrap_err().code, "LocationNotAvailableForResourceType");
}

#[test]
fn required_receiver_fields_use_the_service_codes() {
    let cases = [
        (
            json!({"emailReceivers": [{"name": "a"}]}),
            "EmailReceiverEmailAddressIsNullOrEmpty",
        ),
        (
            json!({"smsReceivers": [{"name": "a", "countryCode": "1"}]}),
            "SmsReceiverPhoneNumberIsNullOrEmpty",
        ),
        (
            json!({"webhookReceivers": [{"serviceUri": "http://x"}]}),
            "WebhookReceiverNameIsNullOrEmpty",
        ),
        (
            json!({"automationRunbookReceivers": [{"automationAccountId": "a", "runbookName": "r",
            "webhookResourceId": "w", "isGlobalRunbook": false}]}),
            "AutomationRunbookReceiverNameIsNullOrEmpty",
        ),
        (
            json!({"eventHubReceivers": [{"name": "e", "eventHubNameSpace": "n", "eventHubName": "h"}]}),
            "EventHubReceiverSubscriptionIdIsNullOrEmpty",
        ),
        (
            json!({"armRoleReceivers": [{"name": "r"}]}),
            "ArmRoleReceiverRoleIdIsNullOrEmpty",
        ),
        (
            json!({"itsmReceivers": [{"name": "i", "workspaceId": "w", "connectionId": "c",
            "ticketConfiguration": "{}"}]}),
            "ItsmReceiverRegionIsNullOrEmpty",
        ),
    ];
    for (mut props, code) in cases {
        props["groupShortName"] = json!("g");
        let e = parse(&body(props)).unwrap_err();
        assert_eq!((e.code.as_str(), e.message.as_str()), (code, code));
    }
}

#[test]
fn receiver_names_are_unique_across_kinds() {
    let e = err(json!({"groupShortName": "g",
        "emailReceivers": [{"name": "Ops", "emailAddress": "a@b.com"}],
        "smsReceivers": [{"name": "ops", "countryCode": "1", "phoneNumber": "5551234567"}]}));
    assert_eq!(e, "ReceiverNameIsNotUnique");
}

#[test]
fn urls_and_email_addresses_are_checked() {
    let e = err(
        json!({"groupShortName": "g", "webhookReceivers": [{"name": "h", "serviceUri": "not a url"}]}),
    );
    assert_eq!(e, "WebhookReceiverServiceUriIsInvalid");
    let e = err(
        json!({"groupShortName": "g", "emailReceivers": [{"name": "m", "emailAddress": "nobody"}]}),
    );
    assert_eq!(e, "EmailReceiverEmailAddressIsInvalid");
    let e = err(
        json!({"groupShortName": "g", "webhookReceivers": [{"name": "h",
        "serviceUri": "https://x", "useAadAuth": true}]}),
    );
    assert_eq!(e, "WebhookReceiverObjectIdIsNullOrEmpty");
}

#[test]
fn per_kind_limits_apply() {
    let hooks: Vec<Value> = (0..11)
        .map(|i| json!({"name": format!("h{i}"), "serviceUri": "http://x"}))
        .collect();
    assert_eq!(
        err(json!({"groupShortName": "g", "webhookReceivers": hooks})),
        "ReceiverCountExceeded"
    );
}

#[test]
fn wrong_json_types_are_invalid_content() {
    assert_eq!(
        err(json!({"groupShortName": "g", "enabled": "yes"})),
        "InvalidRequestContent"
    );
}

#[test]
fn deliveries_call_http_receivers_and_record_the_rest() {
    let ag = parse(&body(json!({"groupShortName": "g",
        "emailReceivers": [{"name": "m", "emailAddress": "a@b.com"}],
        "webhookReceivers": [{"name": "h", "serviceUri": "http://x/h", "useCommonAlertSchema": true},
            {"name": "s", "serviceUri": "https://x/s", "useAadAuth": true, "objectId": "o"}],
        "logicAppReceivers": [{"name": "l", "resourceId": "r", "callbackUrl": "https://logic/x"}]})))
    .unwrap();
    let d = ag.properties.receivers.deliveries();
    let summary: Vec<_> = d.iter().map(|d| (d.mechanism, d.url.is_some())).collect();
    assert_eq!(
        summary,
        vec![
            (Mechanism::Email, false),
            (Mechanism::Webhook, true),
            (Mechanism::SecureWebhook, true),
            (Mechanism::LogicApp, true)
        ]
    );
    assert!(d[1].use_common_alert_schema);
}

#[test]
fn what_azure_returns_parses_back_to_the_same_group() {
    // `az monitor action-group update` PUTs back what GET returned (with read-only fields).
    let ag = parse(&body(json!({"groupShortName": "g",
        "smsReceivers": [{"name": "s", "countryCode": "1", "phoneNumber": "5551234567"}],
        "eventHubReceivers": [{"name": "e", "eventHubNameSpace": "n", "eventHubName": "h", "subscriptionId": "s"}]}))).unwrap();
    let id = ResourceId::parse(
        "/subscriptions/s/resourceGroups/rg/providers/microsoft.insights/actionGroups/ag",
    )
    .unwrap();
    assert_eq!(parse(&ag.to_json(&id)).unwrap(), ag);
}

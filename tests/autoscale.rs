//! Autoscale settings over REST, evaluated by the engine on a scaled clock
//! (`--time-scale 60`: an Azure minute per second). CPU is written into the metrics store
//! by the test ([`FakeCpu`]), so these tests decide exactly what the rules see; the real
//! metrics and the real `az` are in `interop_autoscale.rs`.

mod common;

use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use common::autoscale::*;
use common::scale_set::{COMPUTE, network, put_and_wait, rid, vmss_body};
use common::*;
use serde_json::{Value, json};

const SCALE_SET: &str = "Microsoft.Compute/virtualMachineScaleSets";

fn vmss_id() -> String {
    rid(SCALE_SET, "web")
}

async fn scale_set(t: &TestArmlet, capacity: u32) {
    network(t).await;
    let (_, end) = put_and_wait(
        t,
        &format!("{}?api-version={COMPUTE}", vmss_id()),
        vmss_body(capacity),
    )
    .await;
    assert_eq!(end, "Succeeded");
}

fn cpu_rule(op: &str, threshold: f64, window: &str, direction: &str, value: &str) -> Value {
    json!({
        "metricTrigger": {"metricName": "Percentage CPU", "metricResourceUri": vmss_id(),
            "timeGrain": "PT1M", "statistic": "Average", "timeWindow": window,
            "timeAggregation": "Average", "operator": op, "threshold": threshold},
        "scaleAction": {"direction": direction, "type": "ChangeCount", "value": value, "cooldown": "PT5M"}
    })
}

/// What the tutorial's three commands create: 2–20 instances, out by 2 above 70 % over
/// 5 minutes, in by 1 below 30 % over 10 minutes, 5-minute cooldowns.
fn tutorial_setting(webhook: Option<&str>) -> Value {
    let webhooks: Vec<Value> = webhook
        .map(|u| json!({"serviceUri": u, "properties": {"team": "web"}}))
        .into_iter()
        .collect();
    json!({
        "location": "eastus",
        "tags": {"env": "test"},
        "properties": {
            "enabled": true,
            "targetResourceUri": vmss_id(),
            "profiles": [{
                "name": "default",
                "capacity": {"minimum": "2", "maximum": "20", "default": "3"},
                "rules": [
                    cpu_rule("GreaterThan", 70.0, "PT5M", "Increase", "2"),
                    cpu_rule("LessThan", 30.0, "PT10M", "Decrease", "1"),
                ]
            }],
            "notifications": [{"operation": "Scale",
                "email": {"sendToSubscriptionAdministrator": false, "sendToSubscriptionCoAdministrators": false,
                    "customEmails": ["ops@contoso.com"]},
                "webhooks": webhooks}]
        }
    })
}

async fn wait_capacity(t: &TestArmlet, want: u64, limit: Duration) {
    let id = vmss_id();
    eventually(limit, || async {
        (capacity(t, &id).await == want).then_some(())
    })
    .await;
}

fn time_of(event: &Value) -> DateTime<Utc> {
    event["eventTimestamp"].as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tutorial_rules_scale_in_to_the_minimum_and_out_under_load() {
    let t = start_scaled(60.0).await;
    scale_set(&t, 4).await;
    let hook = WebhookReceiver::start().await;
    let cpu = FakeCpu::start(&t, &vmss_id(), 5.0);
    let (s, created) = t
        .put(
            &setting_path("rg", "web-autoscale"),
            tutorial_setting(Some(&hook.url)),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(created["type"], "Microsoft.Insights/autoscaleSettings");
    assert_eq!(
        created["properties"]["profiles"][0]["capacity"]["minimum"],
        "2"
    );

    // Idle: in by one per cooldown, down to the minimum and no further.
    wait_capacity(&t, 2, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(capacity(&t, &vmss_id()).await, 2, "never below the minimum");
    let setting = setting_id("rg", "web-autoscale");
    let downs: Vec<Value> = activity(&t, &setting)
        .await
        .into_iter()
        .filter(|e| e["eventName"]["value"] == "AutoscaleAction")
        .collect();
    assert_eq!(downs.len(), 2, "{downs:#?}");
    let gap = time_of(&downs[1]) - time_of(&downs[0]);
    assert!(
        gap >= chrono::Duration::minutes(5),
        "one step per cooldown, got {gap}"
    );

    // Loaded: out by two.
    cpu.set(90.0);
    wait_capacity(&t, 4, Duration::from_secs(60)).await;
    cpu.set(50.0);

    let events = activity(&t, &setting).await;
    let actions = scale_actions(&events);
    let expected = |op: &str, status: &str, old: &str, new: &str| {
        (
            op.to_string(),
            status.to_string(),
            old.to_string(),
            new.to_string(),
        )
    };
    let wanted = [
        expected("Scaledown", "Started", "4", "3"),
        expected("Scaledown", "Succeeded", "4", "3"),
        expected("Scaledown", "Started", "3", "2"),
        expected("Scaledown", "Succeeded", "3", "2"),
        expected("Scaleup", "Started", "2", "4"),
    ];
    assert_eq!(&actions[..5], &wanted, "{actions:?}");
    eventually(Duration::from_secs(20), || async {
        let actions = scale_actions(&activity(&t, &setting).await);
        actions
            .contains(&expected("Scaleup", "Succeeded", "2", "4"))
            .then_some(())
    })
    .await;
    let started = &events
        .iter()
        .find(|e| e["properties"]["NewInstancesCount"] == "4")
        .unwrap();
    assert_eq!(started["category"]["value"], "Autoscale");
    assert_eq!(
        started["resourceId"].as_str().unwrap().to_lowercase(),
        setting.to_lowercase()
    );

    // Every action was POSTed to the webhook with Azure's payload.
    let received = eventually(Duration::from_secs(20), || async {
        let r = hook.received();
        (r.len() >= 3).then_some(r)
    })
    .await;
    let ops: Vec<&str> = received
        .iter()
        .map(|b| b["operation"].as_str().unwrap())
        .collect();
    assert_eq!(ops[..3], ["Scale In", "Scale In", "Scale Out"]);
    let out = &received[2];
    assert_eq!(out["context"]["oldCapacity"], "2");
    assert_eq!(out["context"]["newCapacity"], "4");
    assert_eq!(out["context"]["resourceName"], "web");
    assert_eq!(out["properties"]["team"], "web");

    // The setting shows what the engine did and why.
    let (_, shown) = t.get(&setting_path("rg", "web-autoscale")).await;
    let last = &shown["armlet"]["lastScaleAction"];
    assert_eq!(last["newCapacity"], 4, "{shown:#}");
    assert_eq!(last["direction"], "Increase");
    assert_eq!(last["cooldown"], "PT5M");
    assert_eq!(last["notified"]["emails"], json!(["ops@contoso.com"]));
    assert_eq!(last["notified"]["webhooks"], json!([hook.url]));
    let eval = &shown["armlet"]["lastEvaluation"];
    assert_eq!(eval["profile"], "default");
    assert!(eval["decision"].as_str().is_some(), "{eval}");
    t.stop().await;
}

/// A wall-clock time in `zone`, `minutes` after `now`, cut to the minute.
fn local(now: DateTime<Utc>, zone: &str, minutes: i64) -> chrono::NaiveDateTime {
    let tz = armlet::model::autoscale::TimeZone::resolve(zone)
        .unwrap()
        .tz;
    let t = (now + chrono::Duration::minutes(minutes)).with_timezone(&tz);
    t.naive_local()
        .with_second(0)
        .unwrap()
        .with_nanosecond(0)
        .unwrap()
}

fn fixed_capacity(n: u32) -> Value {
    json!({"minimum": n.to_string(), "maximum": n.to_string(), "default": n.to_string()})
}

fn recurring(name: &str, n: u32, zone: &str, at: chrono::NaiveDateTime) -> Value {
    json!({"name": name, "capacity": fixed_capacity(n), "rules": [],
        "recurrence": {"frequency": "Week", "schedule": {"timeZone": zone,
            "days": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
            "hours": [at.hour()], "minutes": [at.minute()]}}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_switch_capacity_at_their_local_times() {
    let t = start_scaled(60.0).await;
    scale_set(&t, 2).await;
    let now = t.armlet.app.runtime.clock.now_utc();
    let (pacific, europe) = ("Pacific Standard Time", "W. Europe Standard Time");
    // A recurrence from +3 to +15 minutes (in Pacific time), and inside it a fixed date
    // from +7 to +11 minutes (in European time) that wins while it lasts.
    let body = json!({"location": "eastus", "properties": {"targetResourceUri": vmss_id(), "profiles": [
        {"name": "default", "capacity": fixed_capacity(2), "rules": []},
        recurring("business", 3, pacific, local(now, pacific, 3)),
        recurring(r#"{"name":"default","for":"business"}"#, 2, pacific, local(now, pacific, 15)),
        {"name": "launch", "capacity": fixed_capacity(4), "rules": [], "fixedDate": {"timeZone": europe,
            "start": local(now, europe, 7).format("%Y-%m-%dT%H:%M:%S").to_string(),
            "end": local(now, europe, 11).format("%Y-%m-%dT%H:%M:%S").to_string()}}
    ]}});
    let (s, created) = t.put(&setting_path("rg", "schedule"), body).await;
    assert_eq!(s, 201, "{created}");
    wait_capacity(&t, 3, Duration::from_secs(30)).await;
    wait_capacity(&t, 4, Duration::from_secs(30)).await;
    wait_capacity(&t, 3, Duration::from_secs(30)).await;
    wait_capacity(&t, 2, Duration::from_secs(30)).await;

    let minute = |m: i64| {
        let t = now + chrono::Duration::minutes(m);
        t.with_second(0).unwrap().with_nanosecond(0).unwrap()
    };
    let started: Vec<(DateTime<Utc>, String)> = activity(&t, &setting_id("rg", "schedule"))
        .await
        .iter()
        .filter(|e| e["eventName"]["value"] == "AutoscaleAction")
        .map(|e| {
            (
                time_of(e),
                e["properties"]["NewInstancesCount"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    let news: Vec<&str> = started.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(news, ["3", "4", "3", "2"], "{started:?}");
    for ((at, _), due) in started.iter().zip([3, 7, 11, 15]) {
        let (from, to) = (minute(due), minute(due + 3));
        assert!(
            from <= *at && *at < to,
            "switch at {at}, due in [{from}, {to})"
        );
    }
    let (_, shown) = t.get(&setting_path("rg", "schedule")).await;
    assert_eq!(
        shown["armlet"]["lastEvaluation"]["profile"],
        r#"{"name":"default","for":"business"}"#
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_settings_get_azures_errors_and_store_nothing() {
    let t = TestArmlet::start().await;
    scale_set(&t, 1).await;
    let path = setting_path("rg", "a");
    let with = |f: &dyn Fn(&mut Value)| {
        let mut b = tutorial_setting(None);
        f(&mut b);
        b
    };
    let lb = rid("Microsoft.Network/loadBalancers", "lb");
    let cases: Vec<(&str, Value)> = vec![
        ("UnsupportedRequestContent", json!({"location": "eastus"})),
        (
            "UnsupportedRequestContent",
            with(&|b| {
                b["properties"]
                    .as_object_mut()
                    .unwrap()
                    .remove("targetResourceUri");
            }),
        ),
        (
            "TargetResourceNotFound",
            with(&|b| b["properties"]["targetResourceUri"] = json!(rid(SCALE_SET, "nope"))),
        ),
        (
            "UnsupportedTargetResource",
            with(&|b| b["properties"]["targetResourceUri"] = json!(lb)),
        ),
        (
            "UnsupportedMetric",
            with(&|b| {
                b["properties"]["profiles"][0]["rules"][0]["metricTrigger"]["metricName"] =
                    json!("Requests")
            }),
        ),
        (
            "BadRequest",
            with(&|b| b["properties"]["profiles"][0]["capacity"]["minimum"] = json!("4")),
        ),
        (
            "BadRequest",
            with(&|b| {
                b["properties"]["profiles"][0]["rules"][0]["metricTrigger"]["timeWindow"] =
                    json!("PT13H")
            }),
        ),
        (
            "BadRequest",
            with(&|b| {
                b["properties"]["profiles"][0]["rules"][0]["scaleAction"]["cooldown"] =
                    json!("PT30S")
            }),
        ),
        (
            "InvalidActionValue",
            with(&|b| {
                b["properties"]["profiles"][0]["rules"][0]["scaleAction"]["value"] = json!("19")
            }),
        ),
    ];
    for (code, body) in cases {
        let (s, e) = t.put(&path, body).await;
        assert_eq!((s, e["error"]["code"].as_str()), (400, Some(code)), "{e}");
        assert_eq!(t.get(&path).await.0, 404, "nothing stored after {code}");
    }
    let (s, e) = t
        .put(&setting_path("rg", "a:b"), tutorial_setting(None))
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("InvalidResourceName"))
    );

    // A good one, then a second setting for the same scale set and a change of target.
    let (s, first) = t.put(&path, tutorial_setting(None)).await;
    assert_eq!(s, 201, "{first}");
    let (s, e) = t
        .put(&setting_path("rg", "b"), tutorial_setting(None))
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("Conflict")),
        "{e}"
    );
    assert_eq!(t.get(&setting_path("rg", "b")).await.0, 404);
    put_and_wait(
        &t,
        &format!("{}?api-version={COMPUTE}", rid(SCALE_SET, "other")),
        vmss_body(0),
    )
    .await;
    let moved = with(&|b| b["properties"]["targetResourceUri"] = json!(rid(SCALE_SET, "other")));
    let (s, e) = t.put(&path, moved).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("TargetResourceIdIsImmutable")),
        "{e}"
    );

    // PATCH: tags and properties, validated like a PUT.
    let (s, patched) = t
        .patch(
            &path,
            json!({"tags": {"k": "v"}, "properties": {"enabled": false}}),
        )
        .await;
    assert_eq!(s, 200, "{patched}");
    assert_eq!(
        (
            patched["properties"]["enabled"].clone(),
            patched["tags"].clone()
        ),
        (json!(false), json!({"k": "v"}))
    );
    assert_eq!(
        patched["properties"]["profiles"],
        first["properties"]["profiles"]
    );
    let (s, e) = t
        .patch(&path, json!({"properties": {"profiles": [{"name": "p", "capacity": {"minimum": "3", "maximum": "2", "default": "3"}, "rules": []}]}}))
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("BadRequest")),
        "{e}"
    );
    let (_, shown) = t.get(&path).await;
    assert_eq!(
        shown["properties"]["profiles"], first["properties"]["profiles"],
        "a bad PATCH changes nothing"
    );

    // A generic update (`az resource update`) PUTs back what GET answered, `armlet` included.
    let (s, back) = t.put(&path, shown.clone()).await;
    assert_eq!(s, 200, "{back}");
    assert_eq!(back["properties"], shown["properties"]);

    // Lists, the provider catalogue, delete.
    let (_, in_group) = t
        .get(&format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Insights/autoscalesettings?api-version={INSIGHTS}"))
        .await;
    let (_, in_sub) = t
        .get(&format!("/subscriptions/{SUB}/providers/Microsoft.Insights/autoscalesettings?api-version={INSIGHTS}"))
        .await;
    assert_eq!(in_group["value"].as_array().unwrap().len(), 1);
    assert_eq!(in_sub["value"][0]["name"], "a");
    let (_, provider) = t
        .get(&format!(
            "/subscriptions/{SUB}/providers/Microsoft.Insights?api-version=2021-04-01"
        ))
        .await;
    let ty = provider["resourceTypes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resourceType"] == "autoscaleSettings")
        .expect("autoscaleSettings in the catalogue")
        .clone();
    for v in ["2022-10-01", "2015-04-01"] {
        assert!(
            ty["apiVersions"].as_array().unwrap().contains(&json!(v)),
            "{ty}"
        );
    }
    assert_eq!(t.delete(&path).await.0, 200);
    assert_eq!(t.delete(&path).await.0, 204);
    assert_eq!(t.get(&path).await.0, 404);
    assert!(
        t.armlet
            .app
            .store
            .autoscale_state(&setting_id("rg", "a"))
            .await
            .unwrap()
            .is_none()
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let config = |dir: &std::path::Path| armlet::config::ServeConfig {
        in_memory: false,
        time_scale: 60.0,
        ..armlet::config::ServeConfig::for_tests(dir.to_path_buf())
    };
    let t = TestArmlet::start_with(config(&path), dir).await;
    scale_set(&t, 3).await;
    let cpu = FakeCpu::start(&t, &vmss_id(), 5.0);
    assert_eq!(
        t.put(&setting_path("rg", "keep"), tutorial_setting(None))
            .await
            .0,
        201
    );
    wait_capacity(&t, 2, Duration::from_secs(60)).await;
    let (_, before) = t.get(&setting_path("rg", "keep")).await;
    let action = before["armlet"]["lastScaleAction"].clone();
    assert_eq!(action["newCapacity"], 2, "{before:#}");
    drop(cpu);
    let dir = t.stop().await;

    let t = TestArmlet::start_with(config(dir.path()), dir).await;
    let (_, after) = t.get(&setting_path("rg", "keep")).await;
    assert_eq!(after["armlet"]["lastScaleAction"], action);
    // Its end is logged once, whether the waiter saw it before the stop or the engine
    // finds the resumed operation finished after it.
    eventually(Duration::from_secs(20), || async {
        let actions = scale_actions(&activity(&t, &setting_id("rg", "keep")).await);
        let ends = actions
            .iter()
            .filter(|a| a.1 == "Succeeded" && a.3 == "2")
            .count();
        assert!(ends <= 1, "{actions:?}");
        (ends == 1).then_some(())
    })
    .await;
    // The engine runs again after the restart.
    let first = after["armlet"]["lastEvaluation"]["time"].clone();
    eventually(Duration::from_secs(10), || async {
        let (_, now) = t.get(&setting_path("rg", "keep")).await;
        (now["armlet"]["lastEvaluation"]["time"] != first).then_some(())
    })
    .await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predictive_metrics_train_for_a_week_then_forecast_the_weekly_pattern() {
    use armlet::metrics::series::{Aggregate, MinutePoint, dimensions};
    let t = TestArmlet::start().await;
    scale_set(&t, 1).await;
    let mut body = tutorial_setting(None);
    body["properties"]["predictiveAutoscalePolicy"] =
        json!({"scaleMode": "Enabled", "scaleLookAheadTime": "PT14M"});
    let (s, created) = t.put(&setting_path("rg", "predictive"), body).await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(
        created["properties"]["predictiveAutoscalePolicy"],
        json!({"scaleMode": "Enabled", "scaleLookAheadTime": "PT14M"})
    );

    let now = t.armlet.app.runtime.clock.now_utc();
    let h0 = now
        .with_minute(0)
        .unwrap()
        .with_second(0)
        .unwrap()
        .with_nanosecond(0)
        .unwrap()
        + chrono::Duration::hours(1);
    let z = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let timespan = format!("{}/{}", z(h0), z(h0 + chrono::Duration::hours(2)));
    let url = t.url(&format!(
        "{}/predictiveMetrics",
        setting_id("rg", "predictive")
    ));
    let query = [
        ("api-version", INSIGHTS),
        ("timespan", timespan.as_str()),
        ("interval", "PT1H"),
        ("aggregation", "Average"),
        (
            "metricNamespace",
            "microsoft.compute/virtualmachinescalesets",
        ),
        ("metricName", "PercentageCPU"),
    ];
    let ask = || async { send(t.client.get(&url).query(&query)).await };
    let (s, training) = ask().await;
    assert_eq!(s, 200, "{training}");
    assert_eq!(training["metricName"], "PercentageCPU;-1");
    assert_eq!(training["data"], json!([]));
    assert_eq!(training["timespan"], timespan);
    assert_eq!(training["targetResourceId"], vmss_id());

    // Fifteen days of history; the same hours one and two weeks ago.
    let cpu = |at: DateTime<Utc>, vm: &str, v: f64| {
        MinutePoint::new(
            &vmss_id(),
            "Percentage CPU",
            dimensions([("VMName", vm)]),
            at,
            Aggregate::sample(v),
        )
    };
    let (week, hour) = (chrono::Duration::weeks(1), chrono::Duration::hours(1));
    t.armlet
        .app
        .store
        .write_metric_minutes(&[
            cpu(h0 - chrono::Duration::days(15), "web_0", 10.0),
            cpu(h0 - week, "web_0", 40.0),
            cpu(h0 - week + chrono::Duration::minutes(30), "web_0", 20.0),
            cpu(h0 - week, "web_1", 30.0),
            cpu(h0 - week * 2, "web_0", 30.0),
            cpu(h0 + hour - week, "web_0", 25.0),
        ])
        .await
        .unwrap();
    let (s, ready) = ask().await;
    assert_eq!(s, 200, "{ready}");
    assert_eq!(ready["metricName"], "PercentageCPU");
    // Hour 0: (30 + 30 one week ago, 30 two weeks ago) / 2; hour 1: 25 one week ago.
    assert_eq!(
        ready["data"],
        json!([{"timeStamp": z(h0), "value": 45.0}, {"timeStamp": z(h0 + hour), "value": 25.0}])
    );
    let (s, e) = send(
        t.client
            .get(&url)
            .query(&[("api-version", INSIGHTS), ("interval", "PT1H")]),
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("BadRequest")),
        "{e}"
    );
    t.stop().await;
}

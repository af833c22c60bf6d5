//! Step 5 of the tutorial with the real `az` CLI, on a fast clock (`--time-scale 60`: an
//! Azure minute per second), against a 3-instance scale set behind the tutorial's load
//! balancer (the REST fixtures of `common::scale_set`).
//!
//! - `az_manages_autoscale_and_the_engine_follows` drives the rules with CPU minutes the test
//!   writes ([`FakeCpu`]) and covers the az commands (create, show, list, update, delete;
//!   rule create, list, copy, delete; profile create with `--recurrence`, `--start/--end`,
//!   `--timezone`, list, show, delete), schedules switching capacity at their local times,
//!   a webhook receiver, `az monitor activity-log list`, and bad input.
//! - `tutorial_step_5_scales_on_real_cpu` uses nothing but the instances' real CPU (the
//!   metrics collector's `Percentage CPU`) and the built-in app's `/burn`.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use common::autoscale::*;
use common::scale_set::{COMPUTE, bound, network, put_and_wait, rid, vmss_body};
use common::*;
use serde_json::Value;

const RG: &str = "rg";
const SETTING: &str = "vmss-autoscale";

fn vmss_id() -> String {
    rid("Microsoft.Compute/virtualMachineScaleSets", "web")
}

/// The tutorial's network and a 3-instance scale set of `size`; returns the frontend.
async fn tutorial_scale_set(t: &TestArmlet, size: &str) -> SocketAddr {
    let ip: Ipv4Addr = network(t).await.parse().unwrap();
    let mut body = vmss_body(3);
    body["sku"]["name"] = size.into();
    let (_, end) = put_and_wait(t, &format!("{}?api-version={COMPUTE}", vmss_id()), body).await;
    assert_eq!(end, "Succeeded");
    let (_, view) = t
        .get(&format!(
            "{}/virtualMachines/0/instanceView?api-version={COMPUTE}",
            vmss_id()
        ))
        .await;
    let frontend = SocketAddr::from((ip, bound(&view, 80)));
    eventually(Duration::from_secs(60), || async {
        common::http::rotation(frontend, 12)
            .await
            .filter(|n| n.len() == 3)
    })
    .await;
    frontend
}

async fn az(t: &TestArmlet) -> Az {
    let mut az = Az::for_armlet(t);
    let home = t.dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    az.env.push(("HOME".into(), home.display().to_string()));
    az
}

/// The tutorial's three commands, verbatim but for the scale set's id.
async fn tutorial_commands(az: &Az) -> Value {
    let created = az
        .json(&[
            "monitor",
            "autoscale",
            "create",
            "--name",
            SETTING,
            "--resource-group",
            RG,
            "--resource",
            &vmss_id(),
            "--min-count",
            "2",
            "--max-count",
            "20",
            "--count",
            "3",
        ])
        .await;
    az.json(&[
        "monitor",
        "autoscale",
        "rule",
        "create",
        "--autoscale-name",
        SETTING,
        "--resource-group",
        RG,
        "--condition",
        "Percentage CPU > 70 avg 5m",
        "--scale",
        "out",
        "2",
    ])
    .await;
    az.json(&[
        "monitor",
        "autoscale",
        "rule",
        "create",
        "--autoscale-name",
        SETTING,
        "--resource-group",
        RG,
        "--condition",
        "Percentage CPU < 30 avg 10m",
        "--scale",
        "in",
        "1",
        "--cooldown",
        "5",
    ])
    .await;
    created
}

async fn wait_capacity(t: &TestArmlet, want: u64, limit: Duration) {
    let id = vmss_id();
    let start = std::time::Instant::now();
    while capacity(t, &id).await != want {
        if start.elapsed() > limit {
            let (_, mut setting) = t.get(&setting_path(RG, SETTING)).await;
            for p in setting["properties"]["profiles"].as_array_mut().unwrap() {
                p["rules"] = Value::Null;
            }
            eprintln!("{:#?}", started(t).await);
            panic!(
                "capacity {} is not {want} after {limit:?}; the setting:\n{setting:#}",
                capacity(t, &id).await
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `(time, new capacity)` of each scale action the engine started, oldest first.
async fn started(t: &TestArmlet) -> Vec<(DateTime<Utc>, String)> {
    activity(t, &setting_id(RG, SETTING))
        .await
        .iter()
        .filter(|e| e["eventName"]["value"] == "AutoscaleAction")
        .map(|e| {
            (
                e["eventTimestamp"].as_str().unwrap().parse().unwrap(),
                e["properties"]["NewInstancesCount"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect()
}

/// Wall-clock `HH:MM` / date-time in `zone`, `minutes` after `now`.
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

fn minute(now: DateTime<Utc>, m: i64) -> DateTime<Utc> {
    let t = now + chrono::Duration::minutes(m);
    t.with_second(0).unwrap().with_nanosecond(0).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn az_manages_autoscale_and_the_engine_follows() {
    let t = start_scaled(60.0).await;
    let az = az(&t).await;
    let frontend = tutorial_scale_set(&t, "Standard_D2s_v3").await;
    // Traffic from the start: the collector's real (idle) CPU may scale in as soon as the
    // rules exist, and every instance must have served before it goes.
    let traffic = Traffic::start(&t, frontend);
    wait_served_by_all(&traffic, 3).await;
    // The collector measures the idle instances' real CPU; 100 samples a minute at 50 %
    // (neither rule's side) outweigh its one and hold capacity until the test lowers them.
    let cpu = FakeCpu::start(&t, &vmss_id(), 50.0);
    let created = tutorial_commands(&az).await;
    assert_eq!(created["targetResourceUri"], vmss_id());
    let setting = setting_id(RG, SETTING);
    let name = ["-n", SETTING, "-g", RG];

    let shown = az
        .json(&[&["monitor", "autoscale", "show"][..], &name].concat())
        .await;
    assert_eq!(shown["profiles"][0]["capacity"]["minimum"], "2");
    assert_eq!(shown["profiles"][0]["capacity"]["maximum"], "20");
    assert_eq!(shown["profiles"][0]["capacity"]["default"], "3");
    let rules = az
        .json(&[
            "monitor",
            "autoscale",
            "rule",
            "list",
            "--autoscale-name",
            SETTING,
            "-g",
            RG,
        ])
        .await;
    let rules = rules.as_array().unwrap();
    assert_eq!(rules.len(), 2, "{rules:?}");
    assert_eq!(rules[0]["metricTrigger"]["timeWindow"], "PT5M");
    assert_eq!(rules[1]["scaleAction"]["cooldown"], "PT5M");
    let listed = az.json(&["monitor", "autoscale", "list", "-g", RG]).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);

    // Bad input: Azure's codes, nothing stored.
    let lb = rid("Microsoft.Network/loadBalancers", "lb");
    let err = az
        .fails(&[
            "monitor",
            "autoscale",
            "create",
            "-n",
            "lb-autoscale",
            "-g",
            RG,
            "--resource",
            &lb,
            "--count",
            "2",
        ])
        .await;
    assert!(err.contains("UnsupportedTargetResource"), "{err}");
    let err = az
        .fails(&[
            "monitor",
            "autoscale",
            "create",
            "-n",
            "second",
            "-g",
            RG,
            "--resource",
            &vmss_id(),
            "--count",
            "2",
        ])
        .await;
    assert!(err.contains("Conflict"), "{err}");
    for (condition, scale, code) in [
        ("Percentage CPU > 70 avg 13h", "2", "BadRequest"),
        ("Requests > 70 avg 5m", "2", "UnsupportedMetric"),
        ("Percentage CPU > 70 avg 5m", "30", "InvalidActionValue"),
    ] {
        let err = az
            .fails(&[
                "monitor",
                "autoscale",
                "rule",
                "create",
                "--autoscale-name",
                SETTING,
                "-g",
                RG,
                "--condition",
                condition,
                "--scale",
                "out",
                scale,
            ])
            .await;
        assert!(err.contains(code), "{condition}: {err}");
    }
    let listed = az.json(&["monitor", "autoscale", "list", "-g", RG]).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let again = az
        .json(&[&["monitor", "autoscale", "show"][..], &name].concat())
        .await;
    assert_eq!(
        again["profiles"], shown["profiles"],
        "a refused rule changes nothing"
    );

    // A webhook and an e-mail, then idle instances: in by one per cooldown to 2, and the
    // instance leaves rotation before it stops: no client request fails.
    let hook = WebhookReceiver::start().await;
    let updated = az
        .json(
            &[
                &["monitor", "autoscale", "update"][..],
                &name,
                &[
                    "--add-action",
                    "webhook",
                    &hook.url,
                    "team=web",
                    "--add-action",
                    "email",
                    "ops@contoso.com",
                ],
            ]
            .concat(),
        )
        .await;
    assert_eq!(
        updated["notifications"][0]["webhooks"][0]["serviceUri"],
        hook.url
    );
    cpu.set(5.0);
    wait_capacity(&t, 2, Duration::from_secs(60)).await;
    eventually(Duration::from_secs(30), || async {
        common::http::rotation(frontend, 12)
            .await
            .filter(|n| n.len() == 2)
    })
    .await;
    let names = instance_names(&t, &vmss_id()).await;
    let gone: Vec<String> = ["web_0", "web_1", "web_2"]
        .into_iter()
        .filter(|n| !names.iter().any(|m| m == n))
        .map(String::from)
        .collect();
    assert_eq!(gone.len(), 1, "{names:?}");
    assert!(
        traffic.last_served(&gone[0]).is_some(),
        "the removed instance served before"
    );
    assert_eq!(
        traffic.failures(),
        0,
        "no request failed during the scale-in"
    );
    let hooks = eventually(Duration::from_secs(20), || async {
        let r = hook.received();
        (!r.is_empty()).then_some(r)
    })
    .await;
    assert_eq!(hooks[0]["operation"], "Scale In");
    assert_eq!(hooks[0]["context"]["oldCapacity"], "3");
    assert_eq!(hooks[0]["context"]["newCapacity"], "2");
    assert_eq!(hooks[0]["properties"]["team"], "web");

    // Schedules: every day from +10 to +40 minutes (Pacific time) at 4 to 6 instances, and
    // a fixed date from +20 to +30 minutes (European time) at 3, which wins while it lasts.
    // (Minutes are seconds here; the margins leave room for a busy machine.)
    let now = t.armlet.app.runtime.clock.now_utc();
    let (pacific, europe) = ("Pacific Standard Time", "W. Europe Standard Time");
    let hhmm = |m| local(now, pacific, m).format("%H:%M").to_string();
    let at = |m| {
        local(now, europe, m)
            .format("%Y-%m-%dT%H:%M:%S")
            .to_string()
    };
    let (r0, r1, f0, f1) = (hhmm(10), hhmm(40), at(20), at(30));
    let business = az
        .json(&[
            "monitor",
            "autoscale",
            "profile",
            "create",
            "--autoscale-name",
            SETTING,
            "-g",
            RG,
            "-n",
            "business",
            "--count",
            "4",
            "--min-count",
            "4",
            "--max-count",
            "6",
            "--recurrence",
            "week",
            "mon",
            "tue",
            "wed",
            "thu",
            "fri",
            "sat",
            "sun",
            "--start",
            &r0,
            "--end",
            &r1,
            "--timezone",
            pacific,
        ])
        .await;
    assert_eq!(business["recurrence"]["schedule"]["timeZone"], pacific);
    let launch = az
        .json(&[
            "monitor",
            "autoscale",
            "profile",
            "create",
            "--autoscale-name",
            SETTING,
            "-g",
            RG,
            "-n",
            "launch",
            "--count",
            "3",
            "--start",
            &f0,
            "--end",
            &f1,
            "--timezone",
            europe,
        ])
        .await;
    assert_eq!(launch["fixedDate"]["timeZone"], europe);
    let profiles = az
        .json(&[
            "monitor",
            "autoscale",
            "profile",
            "list",
            "--autoscale-name",
            SETTING,
            "-g",
            RG,
        ])
        .await;
    let profile_names: Vec<&str> = profiles
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        profile_names,
        [
            "default",
            "business",
            r#"{"name": "default", "for": "business"}"#,
            "launch"
        ]
    );
    let shown = az
        .json(&[
            "monitor",
            "autoscale",
            "profile",
            "show",
            "--autoscale-name",
            SETTING,
            "-g",
            RG,
            "-n",
            "launch",
        ])
        .await;
    assert_eq!(shown["capacity"]["default"], "3");

    // The switches, from the activity log (the az commands above take long enough on the
    // fast clock that polling the capacity could miss a step).
    let since = minute(now, 1);
    let actions = eventually(Duration::from_secs(120), || async {
        let after: Vec<(DateTime<Utc>, String)> = started(&t)
            .await
            .into_iter()
            .filter(|(at, _)| *at >= since)
            .collect();
        (after.len() >= 4).then_some(after)
    })
    .await;
    // Back in the default profile the idle CPU scales in again, by one.
    let due = [(10, "4"), (20, "3"), (30, "4"), (40, "3")];
    for ((at, new), (m, want)) in actions.iter().zip(due) {
        assert_eq!(new, want, "{actions:?}");
        let (from, to) = (minute(now, m), minute(now, m + 8));
        if !(from <= *at && *at < to) {
            for e in activity(&t, &setting).await {
                eprintln!(
                    "{} {} {} {:?}",
                    e["eventTimestamp"],
                    e["operationName"]["value"],
                    e["status"]["value"],
                    e["properties"]["NewInstancesCount"]
                );
            }
        }
        assert!(
            from <= *at && *at < to,
            "to {new} at {at}, due in [{from}, {to})"
        );
    }
    assert_eq!(
        traffic.failures(),
        0,
        "no request failed while the schedules scaled"
    );

    // Rules copied between profiles and deleted; profiles deleted.
    az.json(&[
        "monitor",
        "autoscale",
        "rule",
        "copy",
        "--autoscale-name",
        SETTING,
        "-g",
        RG,
        "--source-schedule",
        "default",
        "--dest-schedule",
        "business",
        "--index",
        "1",
    ])
    .await;
    let copied = az
        .json(&[
            "monitor",
            "autoscale",
            "rule",
            "list",
            "--autoscale-name",
            SETTING,
            "-g",
            RG,
            "--profile-name",
            "business",
        ])
        .await;
    assert_eq!(copied.as_array().unwrap().len(), 1);
    assert_eq!(copied[0]["scaleAction"]["direction"], "Decrease");
    az.run(&[
        "monitor",
        "autoscale",
        "rule",
        "delete",
        "--autoscale-name",
        SETTING,
        "-g",
        RG,
        "--profile-name",
        "business",
        "--index",
        "0",
    ])
    .await;
    let after = az
        .json(&[
            "monitor",
            "autoscale",
            "rule",
            "list",
            "--autoscale-name",
            SETTING,
            "-g",
            RG,
            "--profile-name",
            "business",
        ])
        .await;
    assert_eq!(after.as_array().unwrap().len(), 0);
    az.run(&[
        "monitor",
        "autoscale",
        "profile",
        "delete",
        "--autoscale-name",
        SETTING,
        "-g",
        RG,
        "-n",
        "launch",
    ])
    .await;
    az.run(&[
        "monitor",
        "autoscale",
        "profile",
        "delete",
        "--autoscale-name",
        SETTING,
        "-g",
        RG,
        "-n",
        "business",
    ])
    .await;
    let profiles = az
        .json(&[
            "monitor",
            "autoscale",
            "profile",
            "list",
            "--autoscale-name",
            SETTING,
            "-g",
            RG,
        ])
        .await;
    assert_eq!(profiles.as_array().unwrap().len(), 1, "{profiles}");

    // The activity log, as az lists it. Events carry Azure time, which runs ahead of the
    // wall clock here, so the window starts at armlet's now rather than az's.
    let start = (t.armlet.app.runtime.clock.now_utc() - chrono::Duration::hours(3))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let events = az
        .json(&[
            "monitor",
            "activity-log",
            "list",
            "--resource-id",
            &setting,
            "--start-time",
            &start,
        ])
        .await;
    let events = events.as_array().unwrap();
    let ops: Vec<&str> = events
        .iter()
        .map(|e| e["operationName"]["value"].as_str().unwrap())
        .collect();
    assert!(
        ops.contains(&"Microsoft.Insights/AutoscaleSettings/Scaledown/Action"),
        "{ops:?}"
    );
    assert!(
        ops.contains(&"Microsoft.Insights/AutoscaleSettings/Scaleup/Action"),
        "{ops:?}"
    );
    assert!(events.iter().all(|e| e["category"]["value"] == "Autoscale"));

    drop((cpu, traffic));
    az.run(&[&["monitor", "autoscale", "delete"][..], &name].concat())
        .await;
    assert!(
        az.json(&["monitor", "autoscale", "list", "-g", RG])
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
    t.stop().await;
}

/// Waits until `n` different instances have answered requests of `traffic`.
async fn wait_served_by_all(traffic: &Traffic, n: usize) {
    eventually(Duration::from_secs(30), || async {
        let served: std::collections::BTreeSet<String> = traffic
            .log()
            .into_iter()
            .filter_map(|(_, name)| name)
            .collect();
        (served.len() >= n).then_some(())
    })
    .await;
}

/// Starts `burners` CPU burners of `seconds` on every instance of the scale set, directly
/// on each instance's address (the built-in app's `GET /burn`).
async fn burn(t: &TestArmlet, seconds: u32, burners: usize) {
    let (_, list) = t
        .get(&format!(
            "{}/virtualMachines?api-version={COMPUTE}",
            vmss_id()
        ))
        .await;
    for vm in list["value"].as_array().unwrap() {
        let id = vm["instanceId"].as_str().unwrap();
        let (_, view) = t
            .get(&format!(
                "{}/virtualMachines/{id}/instanceView?api-version={COMPUTE}",
                vmss_id()
            ))
            .await;
        let ip: Ipv4Addr = view["armlet"]["bindAddress"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let addr = SocketAddr::from((ip, bound(&view, 80)));
        for _ in 0..burners {
            let (code, _) = common::http::http_get(addr, &format!("/burn?seconds={seconds}"))
                .await
                .expect("the instance answers /burn");
            assert_eq!(code, 200);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tutorial_step_5_scales_on_real_cpu() {
    let t = start_scaled(60.0).await;
    let az = az(&t).await;
    // One vCPU per instance (Standard_B1s): on a small CI machine two busy instances can
    // then read above 70 %; a Standard_D2s_v3 would need more cores than the host has.
    let frontend = tutorial_scale_set(&t, "Standard_B1s").await;
    let traffic = Traffic::start(&t, frontend);
    wait_served_by_all(&traffic, 3).await;
    tutorial_commands(&az).await;

    // The rules read the instances' real CPU, measured by armlet's metrics collector.
    let store = &t.armlet.app.store;
    let key = vmss_id().to_ascii_lowercase();
    let clock = t.armlet.app.runtime.clock;
    let measured = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let now = clock.now_utc();
            let from = now - chrono::Duration::minutes(10);
            if !store
                .metric_minutes(&key, "Percentage CPU", from, now)
                .await
                .unwrap()
                .is_empty()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(
        measured.is_ok(),
        "no `Percentage CPU` for the scale set after 20 s: the metrics collector is not running"
    );

    // Idle: in by one to the minimum of 2, the removed instance out of rotation before it
    // stops (no client request fails).
    wait_capacity(&t, 2, Duration::from_secs(90)).await;
    eventually(Duration::from_secs(30), || async {
        common::http::rotation(frontend, 12)
            .await
            .filter(|n| n.len() == 2)
    })
    .await;
    assert_eq!(
        traffic.failures(),
        0,
        "no request failed during the scale-in"
    );

    // Loaded: above 70 % over 5 minutes, out by 2; the new instances get traffic only once
    // their probe passes.
    let before = instance_names(&t, &vmss_id()).await;
    burn(&t, 60, 4).await;
    let mut peak = 0.0f64;
    let started_at = std::time::Instant::now();
    while capacity(&t, &vmss_id()).await != 4 {
        // What the scale-out rule saw, to tell a busy machine from a wrong engine.
        let (_, setting) = t.get(&setting_path(RG, SETTING)).await;
        if let Some(v) = setting["armlet"]["lastEvaluation"]["rules"][0]["observed"].as_f64() {
            peak = peak.max(v);
        }
        assert!(
            started_at.elapsed() < Duration::from_secs(90),
            "no scale-out after 90 s: the 5-minute average CPU peaked at {peak:.1} % under /burn \
             (this machine did not give the instances enough CPU to pass 70 %)"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let new: Vec<String> = instance_names(&t, &vmss_id())
        .await
        .into_iter()
        .filter(|n| !before.contains(n))
        .collect();
    assert_eq!(new.len(), 2, "{new:?}");
    eventually(Duration::from_secs(30), || async {
        new.iter()
            .all(|n| traffic.first_served(n).is_some())
            .then_some(())
    })
    .await;
    for name in &new {
        let id = name.rsplit('_').next().unwrap();
        let up = in_rotation_since(&t, id).expect("the new instance's probe passed");
        let served = traffic.first_served(name).unwrap();
        assert!(
            up <= served,
            "{name} served at {served:?}, in rotation since {up:?}"
        );
    }

    // The burn ends: idle again, back to 2 with no failed request.
    wait_capacity(&t, 2, Duration::from_secs(150)).await;
    assert_eq!(traffic.failures(), 0, "no request failed while scaling");
    let actions = scale_actions(&activity(&t, &setting_id(RG, SETTING)).await);
    assert!(
        actions
            .iter()
            .any(|a| a.0 == "Scaleup" && a.2 == "2" && a.3 == "4"),
        "{actions:?}"
    );
    drop(traffic);
    t.stop().await;
}

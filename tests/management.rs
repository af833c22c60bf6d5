//! armlet's own management surface over HTTPS: health, clock, reset, unknown routes.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::http::http_get;
use common::scale_set::{COMPUTE, bound, network, put_and_wait, rid, vmss_body};
use common::{TestArmlet, eventually, rg_path, send};
use serde_json::{Value, json};

async fn post(t: &TestArmlet, path: &str, body: Value) -> (u16, Value) {
    send(t.client.post(t.url(path)).json(&body)).await
}

#[tokio::test]
async fn health_answers_ready_with_the_clock() {
    let t = TestArmlet::start().await;
    let (s, h) = t.get("/_armlet/health").await;
    assert_eq!(s, 200, "{h}");
    assert_eq!(h["status"], "ready");
    assert_eq!(h["version"], env!("CARGO_PKG_VERSION"));
    assert!(h["now"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn unknown_routes_methods_and_bodies_get_armlets_error_shape() {
    let t = TestArmlet::start().await;
    let (s, e) = t.get("/_armlet/nope").await;
    assert_eq!(s, 404);
    assert_eq!(e["error"]["code"], "UnknownManagementRoute", "{e}");
    let (s, e) = t.get("/_armlet").await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (404, Some("UnknownManagementRoute"))
    );
    let (s, e) = t.delete("/_armlet/health").await;
    assert_eq!(s, 405);
    assert_eq!(e["error"]["code"], "MethodNotAllowed", "{e}");
    let (s, e) = send(
        t.client
            .post(t.url("/_armlet/clock/advance"))
            .body("{not json"),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(e["error"]["code"], "InvalidRequestBody", "{e}");
    // ARM routes are untouched by the prefix.
    let (s, _) = t.get("/subscriptions?api-version=2022-12-01").await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn the_clock_moves_forward_only() {
    let t = TestArmlet::start().await;
    let (_, before) = t.get("/_armlet/clock").await;
    let (s, a) = post(&t, "/_armlet/clock/advance", json!({"duration": "PT10M"})).await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["advancedBy"], "PT10M");
    assert!(a["advancedSeconds"].as_f64().unwrap() >= 600.0);
    let parse = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    assert!((parse(&a["now"]) - parse(&before["now"])).num_seconds() >= 600);
    let (s, a) = post(&t, "/_armlet/clock/advance", json!({"seconds": 30})).await;
    assert_eq!(s, 200);
    assert!(a["advancedSeconds"].as_f64().unwrap() >= 630.0);
    for bad in [
        json!({"seconds": -5}),
        json!({"duration": "-PT1M"}),
        json!({"duration": "soon"}),
        json!({}),
        json!({"seconds": 1, "duration": "PT1S"}),
    ] {
        let (s, e) = post(&t, "/_armlet/clock/advance", bad.clone()).await;
        assert_eq!(s, 400, "{bad}");
        assert_eq!(e["error"]["code"], "InvalidClockAdvance", "{bad}: {e}");
    }
    let (_, after) = t.get("/_armlet/clock").await;
    assert_eq!(
        after["advancedSeconds"], a["advancedSeconds"],
        "refusals moved nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_removes_everything_and_stops_instances() {
    let t = TestArmlet::start().await;
    let ip = network(&t).await;
    let vmss = rid("Microsoft.Compute/virtualMachineScaleSets", "web");
    let (_, end) = put_and_wait(&t, &format!("{vmss}?api-version={COMPUTE}"), vmss_body(2)).await;
    assert_eq!(end, "Succeeded");
    let (_, view) = t
        .get(&format!(
            "{vmss}/virtualMachines/0/instanceView?api-version={COMPUTE}"
        ))
        .await;
    let frontend = SocketAddr::from((ip.parse::<std::net::Ipv4Addr>().unwrap(), bound(&view, 80)));
    eventually(Duration::from_secs(30), || async {
        http_get(frontend, "/").await.filter(|(c, _)| *c == 200)
    })
    .await;

    // An operation in progress: refused, nothing changes.
    sqlx::query("INSERT INTO operations (id, subscription, kind, target, status, start_time) VALUES ('busy', 's', 'deployment', '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Resources/deployments/d', 'InProgress', 'x')")
        .execute(t.armlet.app.store.pool())
        .await
        .unwrap();
    let (s, e) = post(&t, "/_armlet/reset", json!({})).await;
    assert_eq!(s, 409, "{e}");
    assert_eq!(e["error"]["code"], "ResetDuringOperation");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("deployments/d")
    );
    assert_eq!(t.get(&rg_path("rg")).await.0, 200);
    sqlx::query("UPDATE operations SET status = 'Succeeded' WHERE id = 'busy'")
        .execute(t.armlet.app.store.pool())
        .await
        .unwrap();

    let (s, r) = post(&t, "/_armlet/reset", json!({})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["instancesStopped"], 2);
    assert!(r["removed"]["resources"].as_u64().unwrap() >= 5, "{r}");
    assert!(t.armlet.app.runtime.supervisor.list().is_empty());
    assert_eq!(t.get(&rg_path("rg")).await.0, 404);
    let (_, groups) = t
        .get(&format!(
            "/subscriptions/{}/resourcegroups?api-version=2024-11-01",
            common::SUB
        ))
        .await;
    assert_eq!(groups["value"], json!([]));
    assert!(
        http_get(frontend, "/").await.is_none(),
        "the frontend is gone"
    );
    // armlet is usable again at once.
    let (s, _) = t
        .put(&rg_path("again"), json!({"location": "eastus"}))
        .await;
    assert_eq!(s, 201);
}

//! Fixtures for diagnostic settings and Log Analytics: armlet at `--time-scale 60` with a
//! group holding a load balancer, and workspaces.

use armlet::config::ServeConfig;
use serde_json::{Value, json};

use super::{SUB, TestArmlet, rg_path};

pub const WS_API: &str = "api-version=2025-02-01";

pub fn lb_id(rg: &str, lb: &str) -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Network/loadBalancers/{lb}"
    )
}

pub fn ws_id(rg: &str, name: &str) -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.OperationalInsights/workspaces/{name}"
    )
}

/// armlet at `--time-scale 60` with group `rg` holding an empty Standard load balancer `lb`.
pub async fn start_with_lb(rg: &str, lb: &str) -> TestArmlet {
    let dir = tempfile::tempdir().unwrap();
    let config = ServeConfig {
        time_scale: 60.0,
        ..ServeConfig::for_tests(dir.path().to_path_buf())
    };
    let t = TestArmlet::start_with(config, dir).await;
    assert_eq!(
        t.put(&rg_path(rg), json!({"location": "eastus"})).await.0,
        201
    );
    let body = json!({"location": "eastus", "sku": {"name": "Standard"}, "properties": {}});
    let (s, v) = t
        .put(&format!("{}?api-version=2024-05-01", lb_id(rg, lb)), body)
        .await;
    assert!(s == 200 || s == 201, "{v}");
    t
}

/// Creates workspace `name` in `rg`; returns its document.
pub async fn workspace(t: &TestArmlet, rg: &str, name: &str) -> Value {
    let (s, v) = t
        .put(
            &format!("{}?{WS_API}", ws_id(rg, name)),
            json!({"location": "eastus"}),
        )
        .await;
    assert!(s == 200 || s == 201, "{v}");
    v
}

/// A diagnostic setting body sending AllMetrics to workspace `ws`.
pub fn all_metrics_to(ws: &str) -> Value {
    json!({"properties": {"workspaceId": ws, "metrics": [{"category": "AllMetrics", "enabled": true}]}})
}

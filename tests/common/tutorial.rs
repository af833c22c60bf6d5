//! The tutorial's commands that several interop tests run word for word, through the real
//! `az` (`../shared/seed/`).
#![allow(dead_code)]

use super::Az;

/// Steps 2 and 3: the Standard load balancer on `lb-public-ip` with its frontend and pool,
/// the HTTP health probe (15 s, threshold 2) and the TCP rule on port 80 with TCP reset.
pub async fn load_balancer_probe_and_rule(az: &Az, rg: &str) {
    az.json(&[
        "network",
        "lb",
        "create",
        "--name",
        "myLoadBalancer",
        "--resource-group",
        rg,
        "--sku",
        "Standard",
        "--public-ip-address",
        "lb-public-ip",
        "--frontend-ip-name",
        "myFrontend",
        "--backend-pool-name",
        "vmssBackendPool",
    ])
    .await;
    az.json(&[
        "network",
        "lb",
        "probe",
        "create",
        "--name",
        "httpHealthProbe",
        "--resource-group",
        rg,
        "--lb-name",
        "myLoadBalancer",
        "--protocol",
        "Http",
        "--port",
        "80",
        "--path",
        "/health",
        "--interval",
        "15",
        "--threshold",
        "2",
    ])
    .await;
    az.json(&[
        "network",
        "lb",
        "rule",
        "create",
        "--name",
        "httpRule",
        "--resource-group",
        rg,
        "--lb-name",
        "myLoadBalancer",
        "--frontend-ip-name",
        "myFrontend",
        "--backend-pool-name",
        "vmssBackendPool",
        "--probe-name",
        "httpHealthProbe",
        "--protocol",
        "Tcp",
        "--frontend-port",
        "80",
        "--backend-port",
        "80",
        "--idle-timeout",
        "15",
        "--enable-tcp-reset",
        "true",
    ])
    .await;
}

//! The examples in `examples/` work: the ARM template deploys a load-balanced scale set
//! whose instances answer through the frontend its output names.

mod common;

use std::time::Duration;

use common::deploy::*;
use common::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_template_deploys_a_working_load_balanced_scale_set() {
    let t = TestArmlet::start().await;
    group(&t, "example").await;
    let template =
        std::fs::read_to_string(repo_root().join("examples/lb-vmss.template.json")).unwrap();
    let (done, doc) = deploy(
        &t,
        &group_deployment("example", "lb-vmss"),
        body(
            &template,
            json!({"instanceCount": {"value": 2}}),
            "Incremental",
        ),
    )
    .await;
    assert_eq!(done["status"], "Succeeded", "{done}");
    let frontend_ip = doc["properties"]["outputs"]["frontend"]["value"]
        .as_str()
        .unwrap()
        .to_string();
    let port = t.armlet.app.runtime.ports.effective(80);
    let names = eventually(Duration::from_secs(60), || async {
        let mut names = std::collections::BTreeSet::new();
        for _ in 0..10 {
            let mut s = tokio::net::TcpStream::connect((frontend_ip.as_str(), port))
                .await
                .ok()?;
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await
                .ok()?;
            let mut buf = Vec::new();
            s.read_to_end(&mut buf).await.ok()?;
            let text = String::from_utf8_lossy(&buf).into_owned();
            names.insert(
                text.split("\"name\":\"")
                    .nth(1)?
                    .split('"')
                    .next()?
                    .to_string(),
            );
        }
        (names.len() == 2).then_some(names)
    })
    .await;
    assert_eq!(names.into_iter().collect::<Vec<_>>(), ["web_0", "web_1"]);
    t.stop().await;
}

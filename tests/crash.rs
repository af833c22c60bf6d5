//! A kill -9 of the armlet process while clients write loses no acknowledged write.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::json;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(dir: &std::path::Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_armlet"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir)
        .env("ARMLET_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    eventually(Duration::from_secs(20), || async {
        client
            .get(format!("{base}/subscriptions?api-version=2022-12-01"))
            .send()
            .await
            .ok()
            .map(|_| ())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("https://localhost:{port}");
    let mut child = spawn(dir.path(), port);
    // The CA appears on first start.
    let ca = dir.path().join("tls/ca.pem");
    eventually(Duration::from_secs(20), || async {
        ca.exists().then_some(())
    })
    .await;
    let client = client_for(&ca);
    wait_ready(&client, &base).await;

    // Four writers create groups as fast as they can; each records what was acknowledged.
    let mut writers = Vec::new();
    for w in 0..4 {
        let client = client.clone();
        let base = base.clone();
        writers.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0.. {
                let name = format!("w{w}-{i}");
                let url = format!(
                    "{base}/subscriptions/{SUB}/resourcegroups/{name}?api-version=2024-11-01"
                );
                match client
                    .put(url)
                    .json(&json!({"location": "eastus"}))
                    .send()
                    .await
                {
                    Ok(r) if r.status().as_u16() == 201 => acked.push(name),
                    _ => break,
                }
            }
            acked
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let mut acked = Vec::new();
    for w in writers {
        acked.extend(w.await.unwrap());
    }
    assert!(
        acked.len() > 10,
        "writers made progress before the kill ({} writes)",
        acked.len()
    );

    let mut child = spawn(dir.path(), port);
    wait_ready(&client, &base).await;
    let (_, list) = send(client.get(format!(
        "{base}/subscriptions/{SUB}/resourcegroups?api-version=2024-11-01&$top=100000"
    )))
    .await;
    let stored: std::collections::HashSet<String> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_string())
        .collect();
    let lost: Vec<&String> = acked.iter().filter(|n| !stored.contains(*n)).collect();
    assert!(
        lost.is_empty(),
        "acknowledged writes lost after kill -9: {lost:?}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

//! A kill -9 of the armlet process while clients write loses no acknowledged write.

mod common;

use std::time::Duration;

use common::process::{free_port, spawn_armlet as spawn, wait_ready};
use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("https://localhost:{port}");
    let mut child = spawn(dir.path(), port);
    let client = wait_ready(dir.path(), &base).await;

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
    wait_ready(dir.path(), &base).await;
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

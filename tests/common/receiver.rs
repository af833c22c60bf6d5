//! A local webhook receiver for alert and notification tests: records every POST body by
//! path; `/ok...` answers 200, `/fail...` 500, `/hang...` never answers.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Clone)]
pub struct Receiver {
    pub base: String,
    calls: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let calls: Arc<Mutex<Vec<(String, Value)>>> = Default::default();
        let seen = calls.clone();
        tokio::spawn(async move {
            while let Ok((c, _)) = l.accept().await {
                tokio::spawn(serve(c, seen.clone()));
            }
        });
        Receiver { base, calls }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The bodies posted to `path`, oldest first.
    pub fn bodies(&self, path: &str) -> Vec<Value> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, b)| b.clone())
            .collect()
    }

    /// Waits until `path` got at least `n` bodies (at most `limit`); returns them.
    pub async fn wait_for(&self, path: &str, n: usize, limit: Duration) -> Vec<Value> {
        let start = std::time::Instant::now();
        loop {
            let got = self.bodies(path);
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() < limit,
                "{path} got {} of {n} calls within {limit:?}: {got:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn serve(mut c: tokio::net::TcpStream, seen: Arc<Mutex<Vec<(String, Value)>>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let (head_end, length) = loop {
        let Ok(n) = c.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (i + 4, length);
        }
    };
    while buf.len() < head_end + length {
        match c.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let path = head
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let body = serde_json::from_slice(&buf[head_end..head_end + length]).unwrap_or(Value::Null);
    seen.lock().unwrap().push((path.clone(), body));
    let status = if path.starts_with("/hang") {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        return;
    } else if path.starts_with("/fail") {
        "500 Internal Server Error"
    } else {
        "200 OK"
    };
    let _ = c
        .write_all(
            format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await;
}

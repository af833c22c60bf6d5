//! Plain HTTP/1.1 against instances and load-balancer frontends (no client library, so a
//! refused or reset connection is visible as such).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `GET path` on a new connection; the status and the whole response, or `None` on failure.
pub async fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let stream = tokio::time::timeout(Duration::from_secs(3), tokio::net::TcpStream::connect(addr))
        .await
        .ok()?
        .ok()?;
    exchange(stream, path).await
}

/// The same from a chosen source address (to vary the client's 2-tuple).
pub async fn http_get_from(
    from: std::net::Ipv4Addr,
    addr: SocketAddr,
    path: &str,
) -> Option<(u16, String)> {
    let socket = tokio::net::TcpSocket::new_v4().ok()?;
    socket.bind(SocketAddr::from((from, 0))).ok()?;
    let stream = tokio::time::timeout(Duration::from_secs(3), socket.connect(addr))
        .await
        .ok()?
        .ok()?;
    exchange(stream, path).await
}

async fn exchange(mut s: tokio::net::TcpStream, path: &str) -> Option<(u16, String)> {
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf))
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    Some((text.split_whitespace().nth(1)?.parse().ok()?, text))
}

/// The instance name in a built-in app's `/` answer.
pub fn instance_name(response: &str) -> Option<String> {
    Some(
        response
            .split("\"name\":\"")
            .nth(1)?
            .split('"')
            .next()?
            .to_string(),
    )
}

/// The distinct instances answering `/` through `frontend` over `n` requests, sorted;
/// `None` if any request failed.
pub async fn rotation(frontend: SocketAddr, n: usize) -> Option<Vec<String>> {
    let mut names = Vec::new();
    for _ in 0..n {
        let (code, text) = http_get(frontend, "/").await?;
        if code != 200 {
            return None;
        }
        names.push(instance_name(&text)?);
    }
    names.sort();
    names.dedup();
    Some(names)
}

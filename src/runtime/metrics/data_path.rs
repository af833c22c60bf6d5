//! The data-path probe behind `VipAvailability` ("Data Path Availability"): armlet connects
//! to its own frontends through the proxy, the way Azure "continuously exercises the data
//! path from within a region to the load balancer front end, all the way to the SDN stack
//! that supports your VM" (monitor-load-balancer-reference).
//!
//! A probe connects from [`DATA_PATH_PROBE_SOURCE`] (so the proxy forwards it without
//! counting it), sends nothing and watches the connection for [`HOLD`]:
//! - refused, reset or closed without data: the path is down (no listener, no backend in
//!   rotation, or the backend refused; the proxy resets the client in each case);
//! - data arrives (a banner) or the connection is still open at the end of the hold (the
//!   proxy reached a backend that waits for the client to speak): the path is up.
//!
//! Only TCP rules are probed (a UDP rule has no handshake to observe); sending nothing
//! keeps the probe harmless to any application protocol.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpSocket;
use tokio::task::JoinSet;

use crate::runtime::proxy::DATA_PATH_PROBE_SOURCE;

/// How long (real time) a probe watches its connection. The proxy resets a flow it cannot
/// place within microseconds on loopback; 200 ms leaves a wide margin on a loaded machine.
pub const HOLD: Duration = Duration::from_millis(200);

/// Probes one frontend address; `true` when the data path reaches a backend.
pub async fn probe(addr: SocketAddr, hold: Duration) -> bool {
    let Ok(socket) = TcpSocket::new_v4() else {
        return false;
    };
    if socket
        .bind(SocketAddr::from((DATA_PATH_PROBE_SOURCE, 0)))
        .is_err()
    {
        return false;
    }
    let Ok(Ok(mut stream)) = tokio::time::timeout(hold, socket.connect(addr)).await else {
        return false;
    };
    let mut byte = [0u8; 1];
    match tokio::time::timeout(hold, stream.read(&mut byte)).await {
        Err(_) => true,      // still open: a backend is waiting for us
        Ok(Ok(n)) => n > 0,  // a banner, or EOF
        Ok(Err(_)) => false, // reset
    }
}

/// Probes every `(frontend key, address)` at once; results by key.
pub async fn probe_all(
    targets: Vec<(String, SocketAddr)>,
    hold: Duration,
) -> HashMap<String, bool> {
    let mut set = JoinSet::new();
    for (key, addr) in targets {
        set.spawn(async move { (key, probe(addr, hold).await) });
    }
    let mut out = HashMap::new();
    while let Some(done) = set.join_next().await {
        if let Ok((key, ok)) = done {
            out.insert(key, ok);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    const HOLD_TEST: Duration = Duration::from_millis(100);

    #[tokio::test]
    async fn an_open_connection_or_a_banner_is_up() {
        let quiet = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let quiet_addr = quiet.local_addr().unwrap();
        let banner = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let banner_addr = banner.local_addr().unwrap();
        tokio::spawn(async move {
            let (s, peer) = quiet.accept().await.unwrap();
            assert_eq!(peer.ip(), std::net::IpAddr::V4(DATA_PATH_PROBE_SOURCE));
            tokio::time::sleep(Duration::from_secs(1)).await;
            drop(s);
        });
        tokio::spawn(async move {
            let (mut s, _) = banner.accept().await.unwrap();
            s.write_all(b"SSH-2.0-x\r\n").await.unwrap();
            tokio::time::sleep(Duration::from_secs(1)).await;
        });
        assert!(probe(quiet_addr, HOLD_TEST).await);
        assert!(probe(banner_addr, HOLD_TEST).await);
    }

    #[tokio::test]
    async fn refused_reset_or_closed_is_down() {
        let gone = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gone_addr = gone.local_addr().unwrap();
        drop(gone);
        let closing = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let closing_addr = closing.local_addr().unwrap();
        tokio::spawn(async move {
            let (s, _) = closing.accept().await.unwrap();
            // What the proxy does when no backend can take the flow: an RST.
            socket2::SockRef::from(&s)
                .set_linger(Some(Duration::ZERO))
                .unwrap();
            drop(s);
        });
        let got = probe_all(
            vec![("gone".into(), gone_addr), ("closing".into(), closing_addr)],
            HOLD_TEST,
        )
        .await;
        assert_eq!(got.get("gone"), Some(&false));
        assert_eq!(got.get("closing"), Some(&false));
    }
}

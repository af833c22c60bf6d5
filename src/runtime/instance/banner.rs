//! The banner port of the built-in app (NAT backend ports such as 22): each connection gets
//! one line naming the instance, `SSH-2.0-armlet <name> (<private ip>)\r\n`, then everything
//! the client sends is echoed back until it closes — enough for a NAT-rule test to tell which
//! instance it reached. UDP backend ports get the same idea: each datagram comes back
//! prefixed with the instance's name.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::http::Identity;

/// The line a banner connection starts with.
pub fn banner_line(identity: &Identity) -> String {
    format!(
        "SSH-2.0-armlet {} ({})\r\n",
        identity.name, identity.private_ip
    )
}

/// Accepts connections until `shutdown` is cancelled; open connections are closed then.
pub async fn serve(
    listener: TcpListener,
    line: String,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Per-connection errors (e.g. the peer reset before accept) are not fatal.
                    tracing::debug!(error = %e, "banner accept");
                    continue;
                }
            },
        };
        let line = line.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                result = echo(stream, &line) => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "banner connection");
                    }
                }
            }
        });
    }
}

async fn echo(mut stream: TcpStream, line: &str) -> std::io::Result<()> {
    stream.write_all(line.as_bytes()).await?;
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}

/// Answers each datagram with `prefix` followed by the datagram, until `shutdown`.
pub async fn udp_echo(
    socket: tokio::net::UdpSocket,
    prefix: String,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut buf = vec![0u8; 65_536];
    loop {
        let (n, peer) = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            received = socket.recv_from(&mut buf) => match received {
                Ok(r) => r,
                Err(e) => {
                    tracing::debug!(error = %e, "udp receive");
                    continue;
                }
            },
        };
        let mut reply = prefix.as_bytes().to_vec();
        reply.extend_from_slice(&buf[..n]);
        if let Err(e) = socket.send_to(&reply, peer).await {
            tracing::debug!(%peer, error = %e, "udp reply");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[tokio::test]
    async fn banner_then_echo() {
        let identity = Identity {
            name: "web_0".into(),
            instance_id: "0".into(),
            scale_set: "web".into(),
            private_ip: Ipv4Addr::new(10, 0, 0, 4),
            model_version: "1".into(),
            hostname: "web-0".into(),
        };
        let line = banner_line(&identity);
        assert_eq!(line, "SSH-2.0-armlet web_0 (10.0.0.4)\r\n");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let server = tokio::spawn(serve(listener, line.clone(), stop.clone()));
        let mut client = TcpStream::connect(addr).await.unwrap();
        let mut got = vec![0u8; line.len()];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(got, line.as_bytes());
        client.write_all(b"ping\n").await.unwrap();
        let mut echo = [0u8; 5];
        client.read_exact(&mut echo).await.unwrap();
        assert_eq!(&echo, b"ping\n");
        stop.cancel();
        server.await.unwrap().unwrap();
    }
}

//! The bench's load: loopback backends (a tokio HTTP/1.1 server, a TCP sink) and the
//! client measurements (one stream, keep-alive requests, new connections). Every run is
//! bounded by `secs`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
const RESPONSE_CLOSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n";
const REQUEST_CLOSE: &[u8] = b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";

/// One stream to the sink for `secs`; the sink reports how much it received.
pub fn stream(addr: SocketAddr, secs: Duration) -> anyhow::Result<f64> {
    let mut s = TcpStream::connect(addr)?;
    let chunk = vec![7u8; 256 * 1024];
    let start = Instant::now();
    let mut sent = 0u64;
    while start.elapsed() < secs {
        s.write_all(&chunk)?;
        sent += chunk.len() as u64;
    }
    s.shutdown(std::net::Shutdown::Write)?;
    let mut got = [0u8; 8];
    s.read_exact(&mut got)?;
    let elapsed = start.elapsed().as_secs_f64();
    anyhow::ensure!(u64::from_le_bytes(got) == sent, "sink lost bytes");
    Ok(sent as f64 * 8.0 / elapsed / 1e9)
}

/// Sequential requests on one connection: req/s, p50 and p99 latency in µs.
pub fn keepalive(addr: SocketAddr, secs: Duration) -> anyhow::Result<(f64, f64, f64)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    let mut buf = [0u8; 256];
    let mut lat = Vec::with_capacity(200_000);
    let start = Instant::now();
    while start.elapsed() < secs {
        let t = Instant::now();
        s.write_all(REQUEST)?;
        read_n(&mut s, &mut buf, RESPONSE.len())?;
        lat.push(t.elapsed().as_nanos() as u64);
    }
    let rps = lat.len() as f64 / start.elapsed().as_secs_f64();
    lat.sort_unstable();
    let pct = |p: f64| lat[((lat.len() - 1) as f64 * p) as usize] as f64 / 1000.0;
    Ok((rps, pct(0.50), pct(0.99)))
}

/// One request per connection, one connection at a time: req/s.
pub fn newconn(addr: SocketAddr, secs: Duration) -> anyhow::Result<f64> {
    let mut buf = [0u8; 256];
    let mut n = 0u64;
    let start = Instant::now();
    while start.elapsed() < secs {
        let mut s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        s.write_all(REQUEST_CLOSE)?;
        read_n(&mut s, &mut buf, RESPONSE_CLOSE.len())?;
        // The server closes first (Connection: close), so TIME_WAIT stays on its side.
        anyhow::ensure!(s.read(&mut buf)? == 0, "server did not close");
        n += 1;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

fn read_n(s: &mut TcpStream, buf: &mut [u8], want: usize) -> anyhow::Result<()> {
    let mut got = 0;
    while got < want {
        let n = s.read(&mut buf[got..want])?;
        anyhow::ensure!(n > 0, "connection closed after {got} of {want} bytes");
        got += n;
    }
    Ok(())
}

/// The HTTP backend: a tokio HTTP/1.1 server (keep-alive, or close on request) on its own
/// single-threaded runtime.
pub fn spawn_http_backend() -> std::io::Result<SocketAddr> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    let addr = l.local_addr()?;
    l.set_nonblocking(true)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::spawn(move || {
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(l).expect("listener");
            while let Ok((c, _)) = l.accept().await {
                tokio::spawn(serve_http(c));
            }
        })
    });
    Ok(addr)
}

async fn serve_http(mut c: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = c.set_nodelay(true);
    let mut buf = vec![0u8; 4096];
    let mut have = 0;
    loop {
        let Ok(n) = c.read(&mut buf[have..]).await else {
            return;
        };
        if n == 0 {
            return;
        }
        have += n;
        while let Some(end) = buf[..have].windows(4).position(|w| w == b"\r\n\r\n") {
            let close = buf[..end].windows(17).any(|w| w == b"Connection: close");
            let answer = if close { RESPONSE_CLOSE } else { RESPONSE };
            if c.write_all(answer).await.is_err() || close {
                return;
            }
            buf.copy_within(end + 4..have, 0);
            have -= end + 4;
        }
        if have == buf.len() {
            return;
        }
    }
}

/// The sink: reads until EOF, then answers the byte count (8 bytes, little endian).
pub fn spawn_sink_backend() -> std::io::Result<SocketAddr> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    let addr = l.local_addr()?;
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 256 * 1024];
                let mut total = 0u64;
                while let Ok(n) = c.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    total += n as u64;
                }
                let _ = c.write_all(&total.to_le_bytes());
            });
        }
    });
    Ok(addr)
}

//! TCP forwarding: the accept loop of one frontend on one worker, and one flow = client
//! connection ↔ backend connection, run entirely on the accepting worker thread. The
//! backend connection comes from the client's IP ([`super::upstream`]).
//!
//! Copying uses the worker's one scratch buffer: a read goes into it and is written
//! straight to the other side; only what the other side cannot take right now is kept in
//! a per-direction pending buffer (allocated on first backpressure, reused). An idle flow
//! costs no buffer memory, and the common small request/response costs no allocation.
//! A direction that has moved a megabyte switches to `splice(2)` ([`super::splice`]).
//!
//! Half-close is honoured (EOF on one side shuts down writing on the other while the other
//! direction goes on). A flow ends when both directions are done, on an error (the other
//! side is reset), on idle timeout (reset both sides if the rule has TCP reset, else a
//! plain close) and when its backend is removed.

use std::cell::{Cell, RefCell};
use std::io::{self, ErrorKind};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use socket2::SockRef;
use tokio::io::Interest;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use super::DATA_PATH_PROBE_SOURCE;
use super::counters::{Counters, tcp_packets};
use super::frontend::{BackendRt, FrontendRt, RuleRt};
use super::splice::{self, BULK_THRESHOLD, Pipe};
use super::upstream;
use crate::runtime::probe::HealthView;

/// Size of each worker's scratch buffer (one read at most).
const SCRATCH: usize = 256 * 1024;

thread_local! {
    static SCRATCH_BUF: RefCell<Box<[u8]>> = RefCell::new(vec![0u8; SCRATCH].into_boxed_slice());
}

/// Accepts connections on this worker until the frontend is retired.
pub async fn accept_loop(fe: Arc<FrontendRt>, listener: std::net::TcpListener, health: HealthView) {
    let listener = match TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(frontend = %fe.key, "registering listener: {e}");
            return;
        }
    };
    loop {
        let accepted = tokio::select! {
            _ = fe.cancel.cancelled() => return,
            r = listener.accept() => r,
        };
        let (client, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // EMFILE and the like: back off briefly instead of spinning.
                tracing::debug!(frontend = %fe.key, "accept: {e}");
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
        };
        // One comparison per connection keeps the data-path probes out of the counters.
        let counted = peer.ip() != IpAddr::V4(DATA_PATH_PROBE_SOURCE);
        if counted {
            fe.counters.new_flow();
        }
        let rule = fe.rule.load_full();
        let backend = fe.choose(&rule, peer, &health.load());
        match backend {
            // An injected fault: the backend "refuses" the connection.
            Some(b) if b.fault.drop_new => {
                b.counters.new_flow();
                reset(&client)
            }
            Some(b) => {
                tokio::task::spawn_local(flow(fe.clone(), rule, b, client, peer, counted));
            }
            None => reset(&client),
        }
    }
}

/// Closes `s` with an RST instead of a FIN.
fn reset(s: &TcpStream) {
    let _ = SockRef::from(s).set_linger(Some(Duration::ZERO));
}

/// Open-flow bookkeeping that undoes itself however the flow ends.
struct FlowGauge<'a>(&'a Counters, &'a Counters);

impl<'a> FlowGauge<'a> {
    fn open(a: &'a Counters, b: &'a Counters) -> Self {
        a.flow_opened();
        b.flow_opened();
        FlowGauge(a, b)
    }
}

impl Drop for FlowGauge<'_> {
    fn drop(&mut self) {
        self.0.flow_closed();
        self.1.flow_closed();
    }
}

enum End {
    Done,
    Failed,
    Idle,
    Removed,
}

async fn flow(
    fe: Arc<FrontendRt>,
    rule: Arc<RuleRt>,
    backend: Arc<BackendRt>,
    client: TcpStream,
    peer: SocketAddr,
    counted: bool,
) {
    if counted {
        backend.counters.new_flow();
    }
    let _gauge = FlowGauge::open(&fe.counters, &backend.counters);
    if let Some(latency) = backend.fault.latency {
        // An injected fault: the path to this backend is slow.
        tokio::select! {
            _ = backend.cancel.cancelled() => return reset(&client),
            _ = tokio::time::sleep(latency) => {}
        }
    }
    let last = Cell::new(Instant::now());
    let upstream = tokio::select! {
        _ = backend.cancel.cancelled() => return reset(&client),
        _ = idle(&last, rule.idle_real) => return reset(&client),
        r = upstream::connect_tcp(peer.ip(), backend.addr) => r,
    };
    let upstream = match upstream {
        Ok(u) => u,
        Err(e) => {
            tracing::debug!(frontend = %fe.key, backend = %backend.key, "connect: {e}");
            return reset(&client);
        }
    };
    // The client side inherited TCP_NODELAY from the listener; the upstream set it itself.
    let count_in = |n: usize| {
        if counted {
            let p = tcp_packets(n);
            fe.counters.inbound(n, p);
            backend.counters.inbound(n, p);
        }
    };
    let count_out = |n: usize| {
        if counted {
            let p = tcp_packets(n);
            fe.counters.outbound(n, p);
            backend.counters.outbound(n, p);
        }
    };
    let end = tokio::select! {
        r = async {
            tokio::try_join!(
                pump(&client, &upstream, &last, count_in),
                pump(&upstream, &client, &last, count_out),
            )
        } => if r.is_ok() { End::Done } else { End::Failed },
        _ = idle(&last, rule.idle_real) => End::Idle,
        _ = backend.cancel.cancelled() => End::Removed,
    };
    let rst = match end {
        End::Done => false,
        End::Failed => true,
        End::Idle | End::Removed => rule.tcp_reset,
    };
    if rst {
        reset(&client);
        reset(&upstream);
    }
}

/// Resolves once nothing has moved for `limit` (real time).
async fn idle(last: &Cell<Instant>, limit: Duration) {
    loop {
        let deadline = last.get() + limit;
        if Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep_until(deadline).await;
    }
}

/// Copies `src` → `dst` until EOF (then shuts down writing on `dst`) or an error.
async fn pump(
    src: &TcpStream,
    dst: &TcpStream,
    last: &Cell<Instant>,
    count: impl Fn(usize),
) -> io::Result<()> {
    let mut pending: Vec<u8> = Vec::new();
    let mut moved = 0u64;
    loop {
        if moved >= BULK_THRESHOLD {
            // A bulk transfer: continue zero-copy if a pipe can be had.
            match Pipe::new() {
                Ok(pipe) => return splice::pump(src, dst, pipe, last, count).await,
                Err(e) => tracing::debug!("no pipe for splicing, copying on: {e}"),
            }
            moved = 0;
        }
        src.readable().await?;
        let read = SCRATCH_BUF.with(|buf| {
            let mut buf = buf.borrow_mut();
            let n = src.try_read(&mut buf)?;
            if n > 0 && n < buf.len() {
                // A short read drained the socket: forget its readiness now instead of
                // paying for a read that returns EAGAIN. Safe with edge-triggered epoll:
                // data arriving after this read raises a new event (the reactor has not
                // turned since), and tokio only clears the readiness tick we observed.
                let _ = src.try_io(Interest::READABLE, || {
                    Err::<(), _>(ErrorKind::WouldBlock.into())
                });
            }
            let mut off = 0;
            while off < n {
                match dst.try_write(&buf[off..n]) {
                    Ok(w) => off += w,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
            pending.extend_from_slice(&buf[off..n]);
            Ok(n)
        });
        let n = match read {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return SockRef::from(dst).shutdown(std::net::Shutdown::Write);
        }
        count(n);
        moved += n as u64;
        last.set(Instant::now());
        let mut off = 0;
        while off < pending.len() {
            dst.writable().await?;
            match dst.try_write(&pending[off..]) {
                Ok(w) => {
                    off += w;
                    last.set(Instant::now());
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        pending.clear();
    }
}

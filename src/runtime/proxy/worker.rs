//! The proxy's worker threads: one single-threaded tokio runtime per core, each accepting
//! on its own `SO_REUSEPORT` listener of every TCP frontend and running the flows it
//! accepts on the same thread: accept, connect and copying never cross threads, so a new
//! connection costs no cross-thread wake-up. UDP frontends run on worker 0.
//!
//! Workers follow the set of live frontends through a `watch` channel and start a listener
//! task for each frontend they have not seen; a retired frontend's tasks end by themselves
//! (its cancellation token).

use std::collections::HashSet;
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::frontend::{BoundSocket, FrontendRt};
use super::{tcp, udp};
use crate::runtime::probe::HealthView;

/// The live frontends, as workers see them.
pub type LiveSet = Arc<Vec<Arc<FrontendRt>>>;

/// What every worker needs.
#[derive(Clone)]
pub struct WorkerContext {
    pub health: HealthView,
    pub live: watch::Receiver<LiveSet>,
    pub stop: CancellationToken,
}

/// Starts `n` worker threads.
pub fn spawn(n: usize, ctx: WorkerContext) -> std::io::Result<Vec<JoinHandle<()>>> {
    (0..n.max(1))
        .map(|index| {
            let ctx = ctx.clone();
            std::thread::Builder::new()
                .name(format!("armlet-proxy-{index}"))
                .spawn(move || run(index, ctx))
        })
        .collect()
}

fn run(index: usize, ctx: WorkerContext) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("proxy worker {index}: cannot build runtime: {e}");
            return;
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, follow(index, ctx));
}

/// Starts listener tasks for new frontends until the proxy stops.
async fn follow(index: usize, ctx: WorkerContext) {
    let mut live = ctx.live.clone();
    let mut started: HashSet<u64> = HashSet::new();
    loop {
        let set = live.borrow_and_update().clone();
        for fe in set.iter() {
            if started.contains(&fe.id) {
                continue;
            }
            started.insert(fe.id);
            let socket = {
                let guard = fe.sockets.lock().unwrap_or_else(|p| p.into_inner());
                BoundSocket::for_worker(&guard, index)
            };
            match socket {
                Some(Ok(BoundSocket::Tcp(l))) => {
                    tokio::task::spawn_local(tcp::accept_loop(fe.clone(), l, ctx.health.clone()));
                }
                Some(Ok(BoundSocket::Udp(u))) => {
                    tokio::task::spawn_local(udp::serve(fe.clone(), u, ctx.health.clone()));
                }
                None => {}
                Some(Err(e)) => tracing::warn!(frontend = %fe.key, "cloning socket: {e}"),
            }
        }
        started.retain(|id| set.iter().any(|fe| fe.id == *id));
        tokio::select! {
            _ = ctx.stop.cancelled() => return,
            r = live.changed() => if r.is_err() { return },
        }
    }
}

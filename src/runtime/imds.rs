//! Where each instance finds its Instance Metadata Service: one small HTTP listener per
//! instance, on the instance's own loopback address and a port the kernel picks, named to
//! the process in `ARMLET_IMDS_ENDPOINT` (`http://127.1.0.4:41234`). The listener an
//! request arrives on tells which instance asks (Azure's IMDS tells by the caller's
//! address; an instance process does not choose its source address, so armlet cannot).
//!
//! What IMDS answers (instance document, Scheduled Events, managed-identity tokens) is the
//! API's business: the app hands its router over with [`ImdsHost::set_router`], and the
//! handlers read the [`ImdsCaller`] extension.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Mutex, OnceLock};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Which instance a request is for: the key of the instance whose listener it reached.
#[derive(Debug, Clone)]
pub struct ImdsCaller {
    pub key: String,
}

/// The per-instance IMDS listeners.
pub struct ImdsHost {
    /// Set once by the app; without it instances get no endpoint (runtime-only tests).
    router: OnceLock<axum::Router>,
    /// Instance key → where its listener is and how to stop it.
    listeners: Mutex<HashMap<String, (SocketAddr, CancellationToken)>>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl ImdsHost {
    pub fn new(shutdown: CancellationToken, tasks: TaskTracker) -> Self {
        ImdsHost {
            router: OnceLock::new(),
            listeners: Mutex::new(HashMap::new()),
            shutdown,
            tasks,
        }
    }

    /// The router every listener serves (the first call wins).
    pub fn set_router(&self, router: axum::Router) {
        let _ = self.router.set(router);
    }

    /// The IMDS endpoint of instance `key`, listening on `bind` (started on first use, kept
    /// across process restarts); `None` without a router or when it cannot listen.
    pub fn endpoint(&self, key: &str, bind: Ipv4Addr) -> Option<SocketAddr> {
        let router = self.router.get()?;
        let mut listeners = self.listeners.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((addr, _)) = listeners.get(key).filter(|(a, _)| a.ip() == bind) {
            return Some(*addr);
        }
        if let Some((_, old)) = listeners.remove(key) {
            old.cancel();
        }
        let listener = match std::net::TcpListener::bind((bind, 0))
            .and_then(|l| l.set_nonblocking(true).map(|_| l))
            .and_then(tokio::net::TcpListener::from_std)
        {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(instance = key, error = %e, "instance metadata endpoint cannot listen");
                return None;
            }
        };
        let addr = listener.local_addr().ok()?;
        let cancel = self.shutdown.child_token();
        let app = router.clone().layer(axum::Extension(ImdsCaller {
            key: key.to_string(),
        }));
        let stop = cancel.clone();
        self.tasks.spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
            if let Err(e) = served {
                tracing::warn!(error = %e, "instance metadata endpoint stopped");
            }
        });
        listeners.insert(key.to_string(), (addr, cancel));
        Some(addr)
    }

    /// The instance is gone: its listener closes.
    pub fn release(&self, key: &str) {
        let mut listeners = self.listeners.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, cancel)) = listeners.remove(key) {
            cancel.cancel();
        }
    }
}

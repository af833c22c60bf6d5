//! Running armlet inside another program or a test: `let armlet = Armlet::start(config).await?`.

use std::net::SocketAddr;
use std::path::PathBuf;

use tokio::task::JoinHandle;

use crate::app::{App, AppState, run};
use crate::config::ServeConfig;

/// A running armlet; dropping it does not stop it, [`Armlet::stop`] does.
pub struct Armlet {
    pub app: AppState,
    pub addr: SocketAddr,
    server: JoinHandle<anyhow::Result<()>>,
}

impl Armlet {
    /// Binds `config.listen` (use port 0 for an ephemeral port) and starts serving.
    pub async fn start(config: ServeConfig) -> anyhow::Result<Self> {
        let listener = std::net::TcpListener::bind(config.listen)?;
        let addr = listener.local_addr()?;
        let app = App::build(config).await?;
        let server = tokio::spawn(run(app.clone(), listener, std::future::pending()));
        Ok(Armlet { app, addr, server })
    }

    /// `https://localhost:PORT`, the ARM endpoint (the certificate names `localhost`).
    pub fn endpoint(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    /// The CA certificate to trust.
    pub fn ca_cert(&self) -> PathBuf {
        self.app.tls.ca_cert()
    }

    /// Graceful shutdown: stops serving and waits for background tasks.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.app.shutdown.cancel();
        self.server.await?
    }
}

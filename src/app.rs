//! Building and running armlet: the store, identity, background tasks and the HTTPS API,
//! all owned by one [`App`] and stopped by one shutdown token.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::api::identity::Tokens;
use crate::api::{Api, ApiState};
use crate::arm::operations::Workers;
use crate::arm::service::ArmParts;
use crate::arm::{Arm, groups, resources};
use crate::config::{ServeConfig, default_data_dir};
use crate::runtime::clock::Clock;
use crate::runtime::{Runtime, RuntimeConfig};
use crate::store::Store;
use crate::tls::TlsFiles;

pub type AppState = Arc<App>;

pub struct App {
    pub config: ServeConfig,
    /// Where certificates (and, unless in memory, the database) live.
    pub data_dir: PathBuf,
    pub store: Store,
    pub tls: TlsFiles,
    /// The ARM service: resource types, operations, change signals.
    pub arm: Arc<Arm>,
    /// Instance processes, probes and the proxy.
    pub runtime: Arc<Runtime>,
    /// What the HTTP handlers share.
    pub api: ApiState,
    /// Cancelled on shutdown; background loops watch it (or a child of it).
    pub shutdown: CancellationToken,
    /// Every spawned background task, so shutdown can wait for them.
    pub tasks: TaskTracker,
    /// Keeps the temporary certificate directory of an in-memory instance alive.
    _temp_dir: Option<tempfile::TempDir>,
}

impl App {
    /// Opens the store, creates or loads the TLS material, wires the providers, operation
    /// workers and runtime together, and resumes unfinished operations.
    pub async fn build(config: ServeConfig) -> anyhow::Result<AppState> {
        config.validate()?;
        let (data_dir, temp_dir) = match (&config.data_dir, config.in_memory) {
            (Some(dir), _) => (dir.clone(), None),
            (None, false) => (default_data_dir(), None),
            (None, true) => {
                let t = tempfile::Builder::new().prefix("armlet-").tempdir()?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("creating data dir {}", data_dir.display()))?;
        let tls = TlsFiles::new(&data_dir);
        tls.ensure()?;
        let store = if config.in_memory {
            Store::in_memory().await?
        } else {
            Store::open(&data_dir.join("armlet.db")).await?
        };
        store
            .ensure_subscription(&config.identity.subscription_id, "armlet")
            .await?;
        let secret = std::fs::read(tls.token_key())?;
        let tokens = Tokens::new(&secret, &config.identity.tenant_id);
        let shutdown = CancellationToken::new();
        let tasks = TaskTracker::new();
        let instance_exe = match &config.instance_exe {
            Some(exe) => exe.clone(),
            None => std::env::current_exe()?,
        };
        let runtime = Arc::new(Runtime::start(
            RuntimeConfig {
                clock: Clock::new(config.time_scale),
                instances_dir: data_dir.join("instances"),
                instance_exe,
                grace: Duration::from_secs_f64(config.termination_grace),
                image_commands: config.image_commands.clone(),
                metrics_retention: chrono::TimeDelta::days(config.metrics_retention_days.into()),
                vcpu_quota: config.limits.vcpu_quota(),
            },
            store.clone(),
            &shutdown,
            &tasks,
        )?);
        let mut workers = Workers::default();
        workers.register(resources::PROVISION_KIND, resources::ProvisionWorker);
        workers.register(groups::DELETE_KIND, groups::DeleteWorker);
        crate::deploy::engine::register(&mut workers);
        workers.register(
            crate::api::compute::rolling_upgrades::OPERATION_KIND,
            crate::api::compute::rolling_upgrades::RollingUpgradeWorker,
        );
        let arm = Arc::new(Arm::new(ArmParts {
            store: store.clone(),
            registry: crate::api::registry(&runtime, config.address_block),
            workers,
            tenant_id: config.identity.tenant_id.clone(),
            default_subscription: config.identity.subscription_id.clone(),
            shutdown: shutdown.clone(),
            tasks: tasks.clone(),
        }));
        let api = Arc::new(Api {
            arm: arm.clone(),
            runtime: runtime.clone(),
            tokens,
            auth: config.limits.auth,
            throttle: crate::api::throttle::Throttle::new(crate::api::throttle::ThrottleConfig {
                buckets: config.limits.throttling == crate::config::Throttling::Azure,
                client_concurrency: config.limits.client_concurrency as usize,
            }),
        });
        runtime
            .imds
            .set_router(crate::api::imds::router(api.clone()));
        arm.resume_operations().await?;
        tasks.spawn(crate::runtime::reconciler::run(
            runtime.clone(),
            arm.subscribe_changes(),
            shutdown.clone(),
        ));
        tasks.spawn(crate::runtime::metrics::run(
            runtime.clone(),
            shutdown.clone(),
        ));
        tasks.spawn(crate::controllers::alerts::run(
            Arc::new(crate::controllers::alerts::AlertEngine::new(
                arm.clone(),
                &runtime,
            )),
            arm.subscribe_changes(),
            shutdown.clone(),
        ));
        // The scale-set lifecycle controllers write instances through the Compute provider.
        let fleet: Arc<dyn crate::runtime::upgrade::fleet::Fleet> =
            Arc::new(crate::api::compute::fleet::ApiFleet {
                arm: arm.clone(),
                address_block: config.address_block,
            });
        tasks.spawn(crate::runtime::upgrade::rolling::run(
            runtime.clone(),
            fleet.clone(),
            arm.subscribe_changes(),
            shutdown.clone(),
        ));
        tasks.spawn(crate::runtime::upgrade::automatic_repairs::run(
            runtime.clone(),
            fleet.clone(),
            arm.subscribe_changes(),
            shutdown.clone(),
        ));
        tasks.spawn(crate::runtime::upgrade::terminate::run(
            runtime.clone(),
            fleet,
            arm.subscribe_changes(),
            shutdown.clone(),
        ));
        // Load balancer health events (the LoadBalancerHealthEvent log category).
        tasks.spawn(crate::runtime::health_events::run(
            runtime.clone(),
            shutdown.clone(),
        ));
        // Diagnostic settings that send AllMetrics or health events to a workspace.
        tasks.spawn(crate::runtime::log_export::run(
            store.clone(),
            runtime.clock,
            arm.subscribe_changes(),
            shutdown.clone(),
        ));
        tasks.spawn(crate::controllers::autoscale::run(
            crate::controllers::autoscale::Engine {
                arm: arm.clone(),
                clock: runtime.clock,
                webhooks: runtime.webhooks.clone(),
            },
            shutdown.clone(),
        ));
        Ok(Arc::new(App {
            config,
            data_dir,
            store,
            tls,
            arm,
            runtime,
            api,
            shutdown,
            tasks,
            _temp_dir: temp_dir,
        }))
    }
}

/// Serves the API on `listener` until `shutdown` completes, then stops background work.
pub async fn run(
    app: AppState,
    listener: std::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    listener.set_nonblocking(true)?;
    let tls = axum_server::tls_rustls::RustlsConfig::from_config(app.tls.server_config()?);
    let handle = axum_server::Handle::new();
    let stop = app.shutdown.clone();
    tokio::spawn({
        let handle = handle.clone();
        async move {
            tokio::select! {
                _ = shutdown => {}
                _ = stop.cancelled() => {}
            }
            handle.graceful_shutdown(Some(Duration::from_secs(5)));
        }
    });
    let router = crate::api::router(app.api.clone());
    axum_server::from_tcp_rustls(listener, tls)?
        .handle(handle)
        .serve(router.into_make_service())
        .await?;
    app.shutdown.cancel();
    app.tasks.close();
    // Instances get their grace period to drain before the wait gives up.
    let limit = Duration::from_secs_f64(app.config.termination_grace) + Duration::from_secs(10);
    if tokio::time::timeout(limit, app.tasks.wait()).await.is_err() {
        tracing::warn!("background tasks did not stop within {limit:?}");
    }
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("installing SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutdown requested");
}

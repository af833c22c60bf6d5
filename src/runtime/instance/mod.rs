//! Scale-set instances as local processes: what an instance runs, how it is started,
//! stopped and watched, and the built-in instance app it runs by default.
//!
//! The control plane decides *which* instances exist and calls [`Supervisor`]; this module
//! only runs them. Each instance:
//!
//! - runs in its own process group, in its own working directory
//!   `<data dir>/instances/<safe key>/` (kept across restarts, deleted by
//!   [`Supervisor::remove`]), with stdout/stderr appended to `stdout.log`/`stderr.log` there
//!   (the boot diagnostics) and a pid file used to clean up after a killed armlet;
//! - binds its own loopback address; a privileged Azure port may be bound elsewhere
//!   (see [`crate::runtime::ports`]), and the environment says where;
//! - is stopped with SIGTERM to its group, a grace period, then SIGKILL; a process that exits
//!   by itself is reported as [`InstanceStatus::Exited`] and never restarted silently.
//!
//! # Environment of an instance process
//!
//! | variable | value |
//! |---|---|
//! | `ARMLET_INSTANCE_KEY` | the supervisor's unique key of the instance (also used to recognise orphans) |
//! | `ARMLET_INSTANCE_ID` | the scale-set instance id: `0`, `1`, ... |
//! | `ARMLET_INSTANCE_NAME` | `{vmss}_{id}` |
//! | `ARMLET_VMSS_NAME` | the scale set's name |
//! | `ARMLET_PRIVATE_IP` | the NIC's private IP as Azure reports it (e.g. `10.0.0.4`) |
//! | `ARMLET_BIND_ADDRESS` | the loopback address to bind (e.g. `127.1.0.4`) |
//! | `ARMLET_PORTS` | `azure=bound/kind` list: `80=10080/http,443=10443/https,22=10022/banner` |
//! | `ARMLET_MODEL_VERSION` | the scale-set model version the instance runs |
//! | `ARMLET_INSTANCE_DIR` | the instance's working directory |
//! | `ARMLET_ROOT` | `<instance dir>/root`: where absolute paths of a cloud-config are re-rooted |
//! | `PORT` | the bound port of the first `http` port (else of the first port), if any |
//! | `ARMLET_CLOUD_CONFIG` | cloud-config instances only: the parsed config the boot phase runs |
//!
//! The built-in app also reads `ARMLET_DRAIN_SECONDS` (default 30): how long in-flight
//! requests may take after SIGTERM. armlet's own `ARMLET_*` settings are not passed on.
//!
//! `docs/instance-contract.md` is the user-facing version of this contract.
//!
//! Files: [`spec`] (what to run and its environment), [`program`] (custom data → program),
//! [`cloud_config`] (the `#cloud-config` subset), [`supervisor`], [`launcher`], [`orphans`] (pid files and
//! cleanup after kill -9), [`logs`], and the built-in app: [`app`], [`boot`], [`http`], [`banner`].

pub mod app;
pub mod banner;
pub mod boot;
pub mod cloud_config;
pub mod http;
pub mod launcher;
pub mod logs;
pub mod orphans;
pub mod program;
pub mod spec;
pub mod supervisor;
pub mod usage;

pub use cloud_config::CloudConfig;
pub use program::{Program, from_custom_data};
pub use spec::{InstanceSpec, PortKind, PortSpec};
pub use supervisor::{InstanceStatus, Supervisor};

/// Errors of the instance runtime.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("customData is invalid: {0}")]
    CustomData(String),
    #[error("cloud-config is invalid: {0}")]
    CloudConfig(String),
    #[error("cannot run the instance's program: {0}")]
    Program(String),
    #[error("instance {key} is already running with a different specification; stop it first")]
    SpecChanged { key: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("signalling process group {pgid}: {source}")]
    Signal {
        pgid: i32,
        #[source]
        source: std::io::Error,
    },
}

impl InstanceError {
    /// An I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        InstanceError::Io {
            context: context.into(),
            source,
        }
    }
}

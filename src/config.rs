//! Command line and environment: every flag is also an `ARMLET_*` variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// armlet: a local Azure Load Balancer + VM Scale Sets cloud behind the real ARM API.
#[derive(Debug, Parser)]
#[command(
    name = "armlet",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Plain `armlet` is `armlet serve`.
    #[command(flatten)]
    pub serve: ServeConfig,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the ARM API (the default).
    Serve(ServeConfig),
    /// Print `export` lines that point the `az` CLI at armlet: `eval "$(armlet az-env)"`.
    AzEnv(AzEnvConfig),
    /// Run the built-in instance app (armlet starts this for scale-set instances; it is
    /// configured by the `ARMLET_*` instance environment, see docs/instance-contract.md).
    #[command(hide = true)]
    InstanceApp,
}

#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address of the HTTPS ARM endpoint.
    #[arg(long, env = "ARMLET_LISTEN", default_value = "127.0.0.1:8443")]
    pub listen: SocketAddr,
    /// Where state, certificates and logs live [default: $XDG_DATA_HOME/armlet or ~/.local/share/armlet].
    #[arg(long, env = "ARMLET_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Keep all state in memory; only the certificates go to a temporary directory.
    #[arg(long, env = "ARMLET_IN_MEMORY")]
    pub in_memory: bool,
    /// Azure seconds per real second for the runtime's clock (60: a minute of Azure time per second).
    #[arg(long, env = "ARMLET_TIME_SCALE", default_value_t = 1.0)]
    pub time_scale: f64,
    /// Which loopback /16 blocks armlet hands out: public IPs from 127.B.0.0/16, instance NICs
    /// from 127.(B+1).0.0/16, internal frontends from 127.(B+2).0.0/16. Give two armlets on one
    /// machine different blocks.
    #[arg(long, env = "ARMLET_ADDRESS_BLOCK", default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=252))]
    pub address_block: u8,
    /// The binary instances run the built-in instance app from [default: this armlet binary].
    #[arg(long, env = "ARMLET_INSTANCE_EXE")]
    pub instance_exe: Option<PathBuf>,
    /// Run an image's instances as a command: `--image-command 'Ubuntu2204=python3 -m http.server $PORT'`
    /// (repeatable; in the environment, `;`-separated).
    #[arg(
        long = "image-command",
        env = "ARMLET_IMAGE_COMMANDS",
        value_delimiter = ';'
    )]
    pub image_commands: Vec<String>,
    /// Days of Azure time metric minutes are kept (Azure keeps platform metrics 93 days).
    #[arg(long, env = "ARMLET_METRICS_RETENTION_DAYS", default_value_t = 93, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub metrics_retention_days: u32,
    /// Real seconds an instance gets between SIGTERM and SIGKILL when it is stopped.
    #[arg(long, env = "ARMLET_TERMINATION_GRACE", default_value_t = 10.0)]
    pub termination_grace: f64,
    /// Allow listening on a non-loopback address.
    #[arg(long, env = "ARMLET_ALLOW_REMOTE")]
    pub allow_remote: bool,
    #[command(flatten)]
    pub identity: IdentityConfig,
    #[command(flatten)]
    pub limits: LimitsConfig,
    /// Log format: `text` or `json`.
    #[arg(long, env = "ARMLET_LOG_FORMAT", default_value = "text")]
    pub log_format: String,
}

#[derive(Debug, Clone, Args)]
pub struct IdentityConfig {
    /// The tenant armlet's identity endpoints issue tokens for.
    #[arg(long, env = "ARMLET_TENANT_ID", default_value = DEFAULT_TENANT)]
    pub tenant_id: String,
    /// The subscription that always exists and is listed first.
    #[arg(long, env = "ARMLET_SUBSCRIPTION_ID", default_value = DEFAULT_SUBSCRIPTION)]
    pub subscription_id: String,
}

/// Whether ARM requests need a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMode {
    /// A bearer token signed by armlet, for the management audience, not expired.
    Bearer,
    /// No check: any request is served (armlet before tokens were checked).
    None,
}

/// Whether ARM's request throttling applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Throttling {
    /// ARM's token buckets per subscription, principal and kind of operation.
    Azure,
    /// No token buckets (the per-client in-flight cap still applies).
    None,
}

/// Authentication, throttling and quotas: what keeps one client or one template from taking
/// the machine.
#[derive(Debug, Clone, Args)]
pub struct LimitsConfig {
    /// `bearer`: ARM requests need a token from armlet's identity endpoints (any credentials
    /// get one); `none`: no check.
    #[arg(long, env = "ARMLET_AUTH", value_enum, default_value = "bearer")]
    pub auth: AuthMode,
    /// `azure`: ARM's throttling (token buckets per subscription and principal); `none`: off.
    #[arg(long, env = "ARMLET_THROTTLING", value_enum, default_value = "azure")]
    pub throttling: Throttling,
    /// Requests one client (token principal) may have in flight at once; more get a 429.
    #[arg(long, env = "ARMLET_CLIENT_CONCURRENCY", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub client_concurrency: u32,
    /// Total regional vCPUs (Microsoft.Compute usage `cores`) per subscription and region
    /// [default: sized to this machine, see `default_vcpu_quota`].
    #[arg(long, env = "ARMLET_VCPU_QUOTA")]
    pub vcpu_quota: Option<u64>,
}

#[derive(Debug, Clone, Args)]
pub struct AzEnvConfig {
    /// armlet's data directory (the one `armlet serve` uses).
    #[arg(long, env = "ARMLET_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// armlet's ARM endpoint.
    #[arg(
        long,
        env = "ARMLET_ENDPOINT",
        default_value = "https://localhost:8443"
    )]
    pub endpoint: String,
    #[command(flatten)]
    pub identity: IdentityConfig,
}

pub const DEFAULT_TENANT: &str = "00000000-0000-0000-0000-0000000000aa";
pub const DEFAULT_SUBSCRIPTION: &str = "00000000-0000-0000-0000-000000000001";

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: "127.0.0.1:8443".parse().expect("static address"),
            data_dir: None,
            in_memory: false,
            time_scale: 1.0,
            address_block: 1,
            instance_exe: None,
            image_commands: Vec::new(),
            metrics_retention_days: 93,
            termination_grace: 10.0,
            allow_remote: false,
            identity: IdentityConfig::default(),
            limits: LimitsConfig::default(),
            log_format: "text".into(),
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            auth: AuthMode::Bearer,
            throttling: Throttling::Azure,
            client_concurrency: 64,
            vcpu_quota: None,
        }
    }
}

impl LimitsConfig {
    /// The regional vCPU quota in force: `--vcpu-quota`, or [`default_vcpu_quota`].
    pub fn vcpu_quota(&self) -> u64 {
        self.vcpu_quota.unwrap_or_else(default_vcpu_quota)
    }
}

/// The default regional vCPU quota, sized to this machine: 50 vCPUs of instances per logical
/// CPU (an idle built-in instance costs a few MB and no CPU; 25 two-vCPU instances per core
/// still leave the machine usable), at least 100 (Azure's common pay-as-you-go regional
/// default, enough for the tutorial's autoscale maximum of 20 two-vCPU instances) and at most
/// one vCPU per 16 MiB of memory, so a scale-out cannot start more processes than memory holds.
pub fn default_vcpu_quota() -> u64 {
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let by_memory = total_memory_mib().map_or(u64::MAX, |m| m / 16);
    (cpus * 50).max(100).min(by_memory.max(100))
}

/// `MemTotal` from /proc/meminfo, in MiB.
fn total_memory_mib() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024)
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            tenant_id: DEFAULT_TENANT.into(),
            subscription_id: DEFAULT_SUBSCRIPTION.into(),
        }
    }
}

impl ServeConfig {
    /// A configuration for tests: in memory, ephemeral port, certificates in `dir`.
    pub fn for_tests(dir: PathBuf) -> Self {
        ServeConfig {
            listen: "127.0.0.1:0".parse().expect("static address"),
            data_dir: Some(dir),
            in_memory: true,
            // Tests poll faster than ARM lets a client read; the throttling tests turn it on.
            limits: LimitsConfig {
                throttling: Throttling::None,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if !self.listen.ip().is_loopback() && !self.allow_remote {
            anyhow::bail!(
                "refusing to listen on non-loopback address {} (armlet accepts any credentials); pass --allow-remote to do it anyway",
                self.listen
            );
        }
        if !(self.termination_grace.is_finite() && self.termination_grace >= 0.0) {
            anyhow::bail!("--termination-grace must be a non-negative number of seconds");
        }
        for m in &self.image_commands {
            if !m.contains('=') {
                anyhow::bail!("--image-command takes ALIAS=COMMAND, got {m:?}");
            }
        }
        if !(self.time_scale.is_finite() && self.time_scale > 0.0) {
            anyhow::bail!(
                "--time-scale must be a positive number, got {}",
                self.time_scale
            );
        }
        Ok(())
    }
}

/// The documented default data directory.
pub fn default_data_dir() -> PathBuf {
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("armlet");
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(home) => PathBuf::from(home).join(".local/share/armlet"),
        None => PathBuf::from("armlet-data"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_armlet_serves_with_defaults() {
        let cli = Cli::try_parse_from(["armlet"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.serve.listen.to_string(), "127.0.0.1:8443");
    }

    #[test]
    fn non_loopback_needs_allow_remote() {
        let cli = Cli::try_parse_from(["armlet", "serve", "--listen", "0.0.0.0:8443"]).unwrap();
        let Some(Command::Serve(cfg)) = cli.command else {
            panic!("serve")
        };
        assert!(cfg.validate().is_err());
        let cfg = ServeConfig {
            allow_remote: true,
            ..cfg
        };
        assert!(cfg.validate().is_ok());
    }

    #[test]
    fn instance_app_is_a_subcommand() {
        let cli = Cli::try_parse_from(["armlet", "instance-app"]).unwrap();
        assert!(matches!(cli.command, Some(Command::InstanceApp)));
    }

    #[test]
    fn metrics_retention_defaults_to_azures_93_days() {
        let cli = Cli::try_parse_from(["armlet"]).unwrap();
        assert_eq!(cli.serve.metrics_retention_days, 93);
        let cli = Cli::try_parse_from(["armlet", "--metrics-retention-days", "7"]).unwrap();
        assert_eq!(cli.serve.metrics_retention_days, 7);
        assert!(Cli::try_parse_from(["armlet", "--metrics-retention-days", "0"]).is_err());
    }

    #[test]
    fn auth_and_limits_are_flags() {
        let cli = Cli::try_parse_from([
            "armlet",
            "--auth",
            "none",
            "--throttling",
            "none",
            "--vcpu-quota",
            "8",
        ])
        .unwrap();
        assert_eq!(cli.serve.limits.auth, AuthMode::None);
        assert_eq!(cli.serve.limits.throttling, Throttling::None);
        assert_eq!(cli.serve.limits.vcpu_quota(), 8);
        let default = Cli::try_parse_from(["armlet"]).unwrap().serve.limits;
        assert_eq!(default.auth, AuthMode::Bearer);
        assert!(default.vcpu_quota() >= 100);
    }

    #[test]
    fn time_scale_must_be_positive() {
        let cfg = ServeConfig {
            time_scale: 0.0,
            ..Default::default()
        };
        assert!(cfg.validate().is_err());
    }
}

//! The `armlet` binary: parse the command line, start logging, hand over to the library.

use clap::Parser;

use armlet::config::{Cli, Command, ServeConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::AzEnv(cfg)) => {
            print!("{}", armlet::az_env::prepare(&cfg)?);
            Ok(())
        }
        Some(Command::Serve(cfg)) => serve(cfg).await,
        Some(Command::InstanceApp) => instance_app().await,
        None => serve(cli.serve).await,
    }
}

async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    init_tracing(&config.log_format);
    // A file-size limit (`ulimit -f`) then fails a write with EFBIG, which the store reports
    // as a retryable error, instead of killing armlet (SIGXFSZ's default action). The
    // handler, once installed, stays for the life of the process.
    let _ = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(25));
    let listener = std::net::TcpListener::bind(config.listen)?;
    let addr = listener.local_addr()?;
    let app = armlet::app::App::build(config).await?;
    let data_dir = app.data_dir.display().to_string();
    tracing::info!(
        "armlet listening on https://localhost:{} ({addr}); point az at it with: eval \"$(armlet az-env --data-dir {data_dir} --endpoint https://localhost:{})\"",
        addr.port(),
        addr.port()
    );
    armlet::app::run(app, listener, armlet::app::shutdown_signal()).await
}

/// The built-in instance app: configured by its environment, logging to stdout (the
/// instance's log file).
async fn instance_app() -> anyhow::Result<()> {
    use armlet::runtime::instance::app;
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .with_writer(std::io::stdout)
        .with_ansi(false)
        .init();
    app::run(app::AppConfig::from_env()?, armlet::app::shutdown_signal()).await
}

fn init_tracing(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ARMLET_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

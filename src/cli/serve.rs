//! `mqa-relay serve`: start the relay ([`crate::relay::start`]) and answer signals: SIGHUP
//! reloads the rules (off the signal loop, see [`crate::app::reload`]), SIGTERM/SIGINT drain and
//! stop.

use crate::store::DatabaseUrl;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use super::systemd;
use crate::app::{Overlap, Relay, ReloadError};
use crate::relay::{self, StartOptions};

/// After SIGTERM, how long requests are answered 503 before the listener closes.
const DRAIN_GRACE: std::time::Duration = std::time::Duration::from_secs(1);
/// After the stop, how long the runtime waits for blocking work still running.
const EXIT_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// The rules file.
    #[arg(long, default_value = "rules.yaml", env = "MQA_RELAY_RULES")]
    pub rules: PathBuf,
    /// Address to listen on (overrides server.listen; default 127.0.0.1:8080).
    #[arg(long, env = "MQA_RELAY_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Directory of the embedded store (overrides server.data_dir; default ./data).
    #[arg(long, env = "MQA_RELAY_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// A PostgreSQL database instead of the embedded store, e.g.
    /// postgres://relay:PASSWORD@db:5432/mqa (overrides server.store).
    #[arg(long, env = "MQA_RELAY_STORE", hide_env_values = true)]
    pub store: Option<String>,
}

pub fn run(args: ServeArgs) -> ExitCode {
    let runtime = match super::runtime(true) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let served = runtime.block_on(serve_until_signal(args));
    // Everything that matters has stopped by now. A thread still reading a file (a start-up
    // load on a file system that does not answer) must not hold the exit.
    runtime.shutdown_timeout(EXIT_WAIT);
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

impl TryFrom<ServeArgs> for StartOptions {
    type Error = anyhow::Error;

    /// The options; a `--store` that is no PostgreSQL URL is an error that does not repeat it.
    fn try_from(args: ServeArgs) -> anyhow::Result<StartOptions> {
        let store = match &args.store {
            Some(text) => {
                Some(DatabaseUrl::parse(text).map_err(|e| anyhow::anyhow!("--store: {e}"))?)
            }
            None => None,
        };
        Ok(StartOptions {
            listen: args.listen,
            data_dir: args.data_dir,
            store,
            ..StartOptions::new(args.rules)
        })
    }
}

/// `serve`: start, then wait for signals. SIGHUP reloads; SIGTERM or SIGINT stops, at every
/// moment: a reload runs on its own thread and is never awaited here.
async fn serve_until_signal(args: ServeArgs) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let running = tokio::select! {
        running = relay::start(args.try_into()?) => running?,
        _ = term.recv() => return Ok(()),
        _ = int.recv() => return Ok(()),
    };
    systemd::ready(&running.relay.app(), &running.addr.to_string());
    tokio::spawn(systemd::follow_reloads(running.relay.clone()));
    loop {
        tokio::select! {
            _ = hup.recv() => {
                tokio::spawn(reload(running.relay.clone()));
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    tracing::info!("shutting down: draining requests and in-flight work");
    systemd::stopping();
    // For a moment the relay still accepts connections but answers 503 (webhooks, /readyz), so
    // MonitorQA and a load balancer see "draining" rather than a refused connection.
    running.relay.start_draining();
    tokio::time::sleep(DRAIN_GRACE).await;
    running.stop().await;
    tracing::info!("stopped");
    Ok(())
}

/// SIGHUP: reloads the rules file; on error the running configuration stays and the error is
/// logged. A SIGHUP during a reload asks for one more after it.
pub async fn reload(relay: Arc<Relay>) {
    let outcome = match relay.reload_within(Overlap::Queue).await {
        Ok(app) => Ok(app),
        Err(ReloadError::Invalid(errors)) => Err(errors),
        Err(ReloadError::Queued) => {
            tracing::info!(
                "a reload is already running; SIGHUP asks for one more after it, which reads \
                 the file as it is then"
            );
            return;
        }
        Err(e) => {
            tracing::warn!("{e}");
            return;
        }
    };
    crate::app::reload::log_outcome(&relay, &outcome);
}

//! `mqa-relay serve`: load the rules, open the store, start the loops and the server, and
//! answer signals: SIGHUP reloads the rules (off the signal loop, see [`crate::app::reload`]),
//! SIGTERM/SIGINT drain and stop.
//!
//! [`start`] is the same start-up as a library call, so tests can run a whole relay in-process
//! on port 0 and stop it cleanly.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::app::{App, Overlap, Relay, ReloadError};
use crate::pipeline::router;
use crate::server::{self, ServerOptions};
use crate::store::{Store, StoreConfig, StoreOptions};

const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
const DEFAULT_DATA_DIR: &str = "./data";
/// After SIGTERM, how long requests are answered 503 before the listener closes.
const DRAIN_GRACE: std::time::Duration = std::time::Duration::from_secs(1);
/// How long a stop waits for in-flight requests and sends before it gives up on them.
const STOP_DEADLINE: std::time::Duration = std::time::Duration::from_secs(15);
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

/// A relay started by [`start`].
pub struct Running {
    pub addr: SocketAddr,
    pub relay: Arc<Relay>,
    pub shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Drains and stops: intake answers 503, in-flight requests finish (up to the drain
    /// deadline), the loops stop, the store flushes.
    pub async fn stop(self) {
        self.relay.start_draining();
        self.shutdown.cancel();
        let all = futures_util::future::join_all(self.tasks);
        match tokio::time::timeout(STOP_DEADLINE, all).await {
            Ok(results) => {
                for e in results.into_iter().filter_map(Result::err) {
                    tracing::error!("a task ended abnormally: {e}");
                }
            }
            // A send still waiting for its provider: its delivery stays leased and is sent
            // again after restart (the one duplicate a stop can cause).
            Err(_) => tracing::warn!(
                "stopping without waiting longer for in-flight sends ({STOP_DEADLINE:?} passed)"
            ),
        }
        self.relay.store.close().await;
    }
}

/// Loads everything and starts the server and the loops. Errors are for a person: the rules
/// file's problems, a port in use, an unwritable data directory.
pub async fn start(args: ServeArgs) -> anyhow::Result<Running> {
    let rules_path = args.rules.clone();
    let app = tokio::task::spawn_blocking(move || App::load(&rules_path))
        .await?
        .map_err(|errors| anyhow!("{errors}\n{} cannot be loaded", args.rules.display()))?;
    let server_cfg = app.config.server.clone();
    if server_cfg.token.is_none() {
        return Err(anyhow!(
            "server.token is not set in {}: MonitorQA posts to /webhook/<token>, so the relay \
             needs one (e.g. token: ${{RELAY_TOKEN}})",
            args.rules.display()
        ));
    }
    let listen = match args.listen.or(server_cfg.listen) {
        Some(addr) => addr,
        None => DEFAULT_LISTEN.parse().context("default listen address")?,
    };
    let data_dir = args
        .data_dir
        .or(server_cfg.data_dir)
        .unwrap_or(DEFAULT_DATA_DIR.into());
    let store_config = StoreConfig {
        options: StoreOptions {
            dedup_window: server_cfg.dedup_window,
            ..StoreOptions::default()
        },
        ..StoreConfig::embedded(&data_dir).exclusive()
    };
    let store = Store::open(&store_config)
        .await
        .with_context(|| format!("cannot open the store in {}", data_dir.display()))?;
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    log_loaded(&app, &args.rules);
    let relay = Relay::new(app, args.rules, store);
    let shutdown = CancellationToken::new();
    let tasks = vec![
        tokio::spawn(router::run(relay.clone(), shutdown.clone())),
        tokio::spawn(serve_http(listener, relay.clone(), shutdown.clone())),
        tokio::spawn(crate::pipeline::sender::run(
            relay.clone(),
            shutdown.clone(),
        )),
        tokio::spawn(crate::admin::prune_loop(
            relay.clone(),
            server_cfg.retention,
            shutdown.clone(),
        )),
    ];
    tracing::info!(%addr, data_dir = %data_dir.display(), "listening on {addr}");
    Ok(Running {
        addr,
        relay,
        shutdown,
        tasks,
    })
}

async fn serve_http(listener: TcpListener, relay: Arc<Relay>, shutdown: CancellationToken) {
    if let Err(e) = server::serve(listener, relay, shutdown, ServerOptions::default()).await {
        tracing::error!("the HTTP server stopped: {e}");
    }
}

fn log_loaded(app: &App, path: &std::path::Path) {
    for warning in app.warnings() {
        tracing::warn!("{warning}");
    }
    let c = &app.config;
    tracing::info!(
        rules = c.rules.rules().len(),
        targets = c.targets.len(),
        config_hash = %c.hash,
        "loaded {}",
        path.display()
    );
}

/// `serve`: start, then wait for signals. SIGHUP reloads; SIGTERM or SIGINT stops, at every
/// moment: a reload runs on its own thread and is never awaited here.
async fn serve_until_signal(args: ServeArgs) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let running = tokio::select! {
        running = start(args) => running?,
        _ = term.recv() => return Ok(()),
        _ = int.recv() => return Ok(()),
    };
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

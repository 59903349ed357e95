//! The composition root: [`start`] loads the rules, opens the store, binds the listener and
//! starts the loops and the HTTP server; [`RunningRelay::stop`] drains and stops them. `serve`,
//! the tests and the benchmarks all start a relay through here; the command line only reads
//! flags and answers signals.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::app::{App, Relay};
use crate::config::{ConfigErrors, default_data_dir};
use crate::pipeline::{nudge, retention, router, sender};
use crate::server::{self, ServerOptions};
use crate::store::{DatabaseUrl, Store, StoreConfig, StoreError, StoreOptions};

/// Where the relay listens when neither `--listen` nor `server.listen` says.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8080);
/// How long a stop waits for in-flight requests and sends before it gives up on them.
const STOP_DEADLINE: Duration = Duration::from_secs(15);

/// What a relay is started with; each `Option` overrides the rules file's `server:` section.
#[derive(Debug, Clone)]
pub struct StartOptions {
    pub rules: PathBuf,
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    /// A PostgreSQL database (overrides `server.store`; with it, `data_dir` is not used).
    pub store: Option<DatabaseUrl>,
    pub server: ServerOptions,
}

impl StartOptions {
    /// The rules file, with everything else from it or the defaults.
    pub fn new(rules: impl Into<PathBuf>) -> StartOptions {
        StartOptions {
            rules: rules.into(),
            listen: None,
            data_dir: None,
            store: None,
            server: ServerOptions::default(),
        }
    }
}

/// Why a relay did not start. Each says what a person must fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{errors}\n{} cannot be loaded", .path.display())]
    Config { path: PathBuf, errors: ConfigErrors },
    #[error(
        "server.token is not set in {}: MonitorQA posts to /webhook/<token>, so the relay needs \
         one (e.g. token: ${{RELAY_TOKEN}})",
        .0.display()
    )]
    NoToken(PathBuf),
    /// `place` names the data directory or the database, never a password.
    #[error("cannot open the store {place}: {error}")]
    Store { place: String, error: StoreError },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// TLS roots or the resolver could not be set up.
    #[error("cannot build the HTTP client for the targets: {0}")]
    HttpClient(String),
    #[error("start-up did not complete: {0}")]
    Interrupted(String),
}

/// A relay started by [`start`].
pub struct RunningRelay {
    pub addr: SocketAddr,
    pub relay: Arc<Relay>,
    pub shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

/// Loads everything and starts the server and the loops.
pub async fn start(options: StartOptions) -> Result<RunningRelay, StartError> {
    let app = load(&options.rules).await?;
    let server_cfg = app.config.server.clone();
    if server_cfg.token.is_none() {
        return Err(StartError::NoToken(options.rules));
    }
    let listen = options
        .listen
        .or(server_cfg.listen)
        .unwrap_or(DEFAULT_LISTEN);
    let client =
        crate::targets::http::client().map_err(|e| StartError::HttpClient(e.to_string()))?;
    let store_config = store_config(&options, &server_cfg);
    let store = open_store(&store_config).await?;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Listen {
        addr: listen,
        source,
    })?;
    log_loaded(&app, &options.rules);
    let relay = Relay::new(app, options.rules, store);
    let shutdown = CancellationToken::new();
    let tasks = vec![
        tokio::spawn(router::run(relay.clone(), shutdown.clone())),
        tokio::spawn(serve_http(
            listener,
            relay.clone(),
            shutdown.clone(),
            options.server,
        )),
        tokio::spawn(sender::run(relay.clone(), client, shutdown.clone())),
        tokio::spawn(nudge::run(relay.clone(), shutdown.clone())),
        tokio::spawn(retention::run(
            relay.clone(),
            server_cfg.retention,
            shutdown.clone(),
        )),
    ];
    tracing::info!(%addr, store = %store_config.describe(), "listening on {addr}");
    Ok(RunningRelay {
        addr,
        relay,
        shutdown,
        tasks,
    })
}

/// The rules file and its templates, read off the async workers.
async fn load(rules: &Path) -> Result<App, StartError> {
    let path = rules.to_path_buf();
    tokio::task::spawn_blocking(move || App::load(&path))
        .await
        .map_err(|e| StartError::Interrupted(e.to_string()))?
        .map_err(|errors| StartError::Config {
            path: rules.to_path_buf(),
            errors,
        })
}

/// The running relay's store: the database named by `--store` or `server.store`, else the
/// embedded one in the data directory (whose lock the relay holds).
fn store_config(options: &StartOptions, server: &crate::config::ServerConfig) -> StoreConfig {
    let dedup = StoreOptions {
        dedup_window: server.dedup_window,
        ..StoreOptions::default()
    };
    if let Some(url) = options.store.clone().or_else(|| server.store.clone()) {
        if options.data_dir.is_some() {
            tracing::warn!(store = %url, "--data-dir is not used: the store is the PostgreSQL database");
        }
        return StoreConfig {
            options: dedup,
            ..StoreConfig::postgres(url)
        };
    }
    let data_dir = options
        .data_dir
        .clone()
        .or_else(|| server.data_dir.clone())
        .unwrap_or_else(|| default_data_dir(&options.rules));
    StoreConfig {
        options: dedup,
        ..StoreConfig::embedded(data_dir).exclusive()
    }
}

async fn open_store(config: &StoreConfig) -> Result<Store, StartError> {
    Store::open(config)
        .await
        .map_err(|error| StartError::Store {
            place: config.describe(),
            error,
        })
}

impl RunningRelay {
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

async fn serve_http(
    listener: TcpListener,
    relay: Arc<Relay>,
    shutdown: CancellationToken,
    options: ServerOptions,
) {
    if let Err(e) = server::serve(listener, relay, shutdown, options).await {
        tracing::error!("the HTTP server stopped: {e}");
    }
}

fn log_loaded(app: &App, path: &Path) {
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

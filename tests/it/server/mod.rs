//! The HTTP server: every answer of the routes ([`routes`]), the accept loop over real sockets
//! ([`socket`]) and the access log ([`access_log`]); each over a real `Relay` with a real
//! SQLite store in a tempdir, served on 127.0.0.1 port 0.

mod access_log;
mod routes;
mod socket;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mqa_relay::app::{App, Relay};
use mqa_relay::config::{Config, Defaults, RetryPolicy, ServerConfig};
use mqa_relay::rules::RuleSet;
use mqa_relay::secret::Secret;
use mqa_relay::server::{ServerOptions, serve};
use mqa_relay::store::{Store, StoreConfig};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const TOKEN: &str = "wh-7Qx93kLmZp";
pub const ADMIN_TOKEN: &str = "adm-4Rt82NvBq";

/// A sample event body from `examples/events/`.
pub const AUDIT_EXPIRED: &str = include_str!("../../../examples/events/audit_expired.json");

pub fn server_config(token: Option<&str>, admin_token: Option<&str>) -> ServerConfig {
    ServerConfig {
        listen: None,
        token: token.map(Secret::new),
        admin_token: admin_token.map(Secret::new),
        data_dir: None,
        max_body_bytes: 1024 * 1024,
        dedup_window: Duration::from_secs(600),
        retention: Duration::from_secs(14 * 24 * 3600),
    }
}

/// A relay over a fresh store; the tempdir lives as long as this value.
pub struct TestRelay {
    pub relay: Arc<Relay>,
    pub dir: TempDir,
}

impl TestRelay {
    pub fn rules_path(&self) -> PathBuf {
        self.dir.path().join("rules.yaml")
    }
}

pub async fn relay_with(server: ServerConfig) -> TestRelay {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&StoreConfig::embedded(dir.path()))
        .await
        .expect("the store opens");
    let rules_path = dir.path().join("rules.yaml");
    let config = Config {
        source: rules_path.clone(),
        hash: "hash-of-the-test-config".into(),
        server,
        monitorqa: None,
        defaults: Defaults {
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(10),
        },
        targets: BTreeMap::new(),
        rules: RuleSet::new(vec![]),
    };
    let relay = Relay::new(
        App::new(config, mqa_relay::template::Templates::builtin()),
        rules_path,
        store,
    );
    TestRelay { relay, dir }
}

/// A relay with both tokens configured.
pub async fn relay() -> TestRelay {
    relay_with(server_config(Some(TOKEN), Some(ADMIN_TOKEN))).await
}

/// A running server on 127.0.0.1 port 0.
pub struct TestServer {
    pub addr: SocketAddr,
    pub shutdown: CancellationToken,
    pub task: JoinHandle<std::io::Result<()>>,
}

pub async fn spawn_server(relay: Arc<Relay>, opts: ServerOptions) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(serve(listener, relay, shutdown.clone(), opts));
    TestServer {
        addr,
        shutdown,
        task,
    }
}

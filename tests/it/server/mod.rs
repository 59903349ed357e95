//! The HTTP server: every answer of the routes ([`routes`]), the accept loop over real sockets
//! ([`socket`]) and the access log ([`access_log`]); each over a real `Relay` with a real
//! SQLite store in a tempdir, served on 127.0.0.1 port 0.

mod access_log;
mod routes;
mod socket;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use mqa_relay::app::{App, Relay};
use mqa_relay::server::{ServerOptions, serve};
use mqa_relay::store::{Store, StoreConfig};
use mqa_relay::template::Templates;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::support::config::config;

pub const TOKEN: &str = "wh-7Qx93kLmZp";
pub const ADMIN_TOKEN: &str = "adm-4Rt82NvBq";

/// A sample event body from `examples/events/`.
pub const AUDIT_EXPIRED: &str = include_str!("../../../examples/events/audit_expired.json");

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

/// A relay whose rules file has `server` (a flow mapping, e.g. `{ token: t, max_body: 64 }`)
/// as its `server:` section, and no targets or rules.
pub async fn relay_with(server: &str) -> TestRelay {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&StoreConfig::embedded(dir.path()))
        .await
        .expect("the store opens");
    let rules_path = dir.path().join("rules.yaml");
    let text = format!("server: {server}\n");
    std::fs::write(&rules_path, &text).expect("write rules.yaml");
    let app = App::new(config(&text), Templates::builtin());
    let relay = Relay::new(app, rules_path, store);
    TestRelay { relay, dir }
}

/// A relay with both tokens configured.
pub async fn relay() -> TestRelay {
    relay_with(&format!("{{ token: {TOKEN}, admin_token: {ADMIN_TOKEN} }}")).await
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

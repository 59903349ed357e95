//! The router against a real store: it marks events routed, oldest first, and its loop wakes
//! on intake's signal and stops on shutdown.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mqa_relay::app::{App, Relay};
use mqa_relay::pipeline::router;
use mqa_relay::store::{Store, StoreConfig};
use mqa_relay::template::Templates;
use tokio_util::sync::CancellationToken;

use super::event;
use crate::support::config::config;

/// The relay's state with no targets or rules and every setting at its default.
fn app() -> App {
    App::new(config("rules: []\n"), Templates::builtin())
}

async fn relay(dir: &tempfile::TempDir) -> Arc<Relay> {
    let store = Store::open(&StoreConfig::embedded(dir.path()))
        .await
        .unwrap();
    Relay::new(app(), dir.path().join("rules.yaml"), store)
}

#[tokio::test]
async fn route_pending_marks_events_routed_in_batches() {
    let dir = tempfile::tempdir().unwrap();
    let relay = relay(&dir).await;
    for n in 0..5 {
        relay.store.ingest(&event(n)).await.unwrap();
    }
    assert_eq!(router::route_pending(&relay, 3).await.unwrap(), 3);
    assert_eq!(relay.store.counts().await.unwrap().unrouted, 2);
    assert_eq!(router::route_pending(&relay, 3).await.unwrap(), 2);
    assert_eq!(router::route_pending(&relay, 3).await.unwrap(), 0);
    assert_eq!(relay.store.counts().await.unwrap().unrouted, 0);
}

#[tokio::test]
async fn the_router_loop_routes_what_intake_stores_and_stops_on_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let relay = relay(&dir).await;
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(router::run(relay.clone(), shutdown.clone()));

    let body = serde_json::to_vec(&event(1).to_value()).unwrap();
    let ingested = mqa_relay::pipeline::intake::accept(&relay, &body)
        .await
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let details = relay.store.event(&ingested.id).await.unwrap().unwrap();
        if details.routed_at.is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "event never routed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("router did not stop")
        .unwrap();
}

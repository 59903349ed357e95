//! The store: intake ([`ingest`]) and the router ([`router`]) against real SQLite files; the
//! store's conformance tests, on each engine (every test of [`on_each_engine!`] runs once on a
//! fresh embedded store and once on a fresh PostgreSQL schema): the delivery queue ([`lanes`]),
//! the lanes' group-committed writes ([`group_commit`]) and what the operator's views read and
//! do ([`operator_views`]); what only a shared PostgreSQL store
//! promises, with two stores on one schema as two relays ([`replicas`]); and `store copy`
//! ([`copy`]); TLS to the database as `sslmode` asks ([`tls`]).

mod conversations;
mod copy;
mod group_commit;
mod ingest;
mod lanes;
mod objects;
mod operator_views;
mod replicas;
mod router;
mod tls;

use mqa_relay::event::Event;
use serde_json::json;

/// A distinct audit event per `n` (sample events carry no id: content is the identity).
fn event(n: u64) -> Event {
    let sample = include_bytes!("../../../examples/events/audit_expired.json");
    let mut e = Event::parse(sample).expect("the sample is an event");
    e.data.insert("sequence".into(), json!(n));
    e
}

/// Stores event `n` and routes it (rule `all`) to `target`; returns its id.
async fn routed_to(store: &mqa_relay::store::Store, n: u64, target: &str) -> String {
    let id = store.ingest(&event(n)).await.expect("stored").id;
    let delivery = mqa_relay::store::NewDelivery {
        rule: "all".into(),
        target: target.into(),
        template: None,
        object: None,
    };
    store
        .mark_routed(&id, &["all".into()], &[delivery])
        .await
        .expect("routed");
    id
}

/// Claims the head of `target`'s lane now and records `outcome` for it; returns the claim.
async fn finish_head(
    store: &mqa_relay::store::Store,
    target: &str,
    outcome: &mqa_relay::store::Outcome,
) -> mqa_relay::store::Claim {
    let at = mqa_relay::clock::now_ms();
    let lease = std::time::Duration::from_secs(30);
    let claim = store
        .claim_next(target, at, lease, "test")
        .await
        .expect("the store answers")
        .expect("the head is due");
    assert!(store.finish(&claim, outcome, at).await.expect("recorded"));
    claim
}

/// A fresh store of one engine, with the place it lives in (removed on drop).
pub struct Fresh {
    pub store: mqa_relay::store::Store,
    /// How to open the same store again (a second relay on it).
    pub config: mqa_relay::store::StoreConfig,
    _dir: Option<tempfile::TempDir>,
    schema: Option<crate::support::postgres::Schema>,
}

impl Fresh {
    pub async fn sqlite() -> Fresh {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let config = mqa_relay::store::StoreConfig::embedded(dir.path());
        let store = mqa_relay::store::Store::open(&config)
            .await
            .expect("the store opens");
        Fresh {
            store,
            config,
            _dir: Some(dir),
            schema: None,
        }
    }

    pub async fn postgres() -> Fresh {
        let schema = crate::support::postgres::Schema::create().await;
        let url = mqa_relay::store::DatabaseUrl::parse(&schema.url()).expect("a valid URL");
        let config = mqa_relay::store::StoreConfig::postgres(url);
        let store = mqa_relay::store::Store::open(&config)
            .await
            .expect("the store opens");
        Fresh {
            store,
            config,
            _dir: None,
            schema: Some(schema),
        }
    }

    /// The PostgreSQL schema of a [`Fresh::postgres`] store.
    pub fn schema(&self) -> &crate::support::postgres::Schema {
        self.schema.as_ref().expect("a PostgreSQL store")
    }
}

/// One test per engine for each `async fn name(store: &Store)` named.
macro_rules! on_each_engine {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let fresh = crate::store::Fresh::sqlite().await;
                    super::$name(&fresh.store).await;
                    fresh.store.close().await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let fresh = crate::store::Fresh::postgres().await;
                    super::$name(&fresh.store).await;
                    fresh.store.close().await;
                }
            )*
        }
    };
}
pub(crate) use on_each_engine;

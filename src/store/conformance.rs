//! What the store's conformance tests run on: a fresh store of each engine. The embedded one
//! lives in a temporary directory; the PostgreSQL one in a schema of its own in the machine's
//! database (`MQA_RELAY_TEST_DATABASE`, by default `postgres://postgres@127.0.0.1:5432/test`),
//! dropped when the test ends, however it ends. A test of the PostgreSQL engine fails, saying
//! how to provide a database, when none is reachable: it is never skipped.
//!
//! [`conformance!`] turns `async fn name(store: &Store)` functions into one test per engine.

use super::{DatabaseUrl, Store, StoreConfig};

/// The database the PostgreSQL tests make their schemas in.
const DEFAULT_DATABASE: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A store for one test, and the place it lives in (removed on drop).
pub(crate) struct TestStore {
    pub(crate) store: Store,
    /// How to open the same store again (a second relay on it).
    pub(crate) config: StoreConfig,
    _dir: Option<tempfile::TempDir>,
    _schema: Option<SchemaGuard>,
}

/// The embedded engine, in a fresh directory.
pub(crate) async fn sqlite() -> TestStore {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = StoreConfig::embedded(dir.path());
    let store = Store::open(&config)
        .await
        .expect("the embedded store opens");
    TestStore {
        store,
        config,
        _dir: Some(dir),
        _schema: None,
    }
}

/// The PostgreSQL engine, in a fresh schema.
pub(crate) async fn postgres() -> TestStore {
    let base = std::env::var("MQA_RELAY_TEST_DATABASE").unwrap_or(DEFAULT_DATABASE.into());
    let schema = format!("mqa_test_{}", uuid::Uuid::now_v7().simple());
    run_sql(&base, &format!("CREATE SCHEMA {schema}")).await;
    let separator = if base.contains('?') { '&' } else { '?' };
    // The schema's name is also its connections' name, so a test can find (and cut) them.
    let text =
        format!("{base}{separator}options=-c%20search_path%3D{schema}&application_name={schema}");
    let guard = SchemaGuard { base, schema };
    let url = DatabaseUrl::parse(&text).expect("the test database URL is valid");
    let config = StoreConfig::postgres(url);
    let store = Store::open(&config)
        .await
        .expect("the PostgreSQL store opens");
    TestStore {
        store,
        config,
        _dir: None,
        _schema: Some(guard),
    }
}

/// Cuts every connection of the test store (as a database restart would); returns how many.
pub(crate) async fn cut_connections(test: &TestStore) -> i64 {
    let guard = test._schema.as_ref().expect("a PostgreSQL test store");
    let sql = format!(
        "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE application_name = '{}'",
        guard.schema
    );
    let (client, connection) = tokio_postgres::connect(&guard.base, tokio_postgres::NoTls)
        .await
        .expect("the test database answers");
    let driver = tokio::spawn(connection);
    let cut: i64 = client.query_one(&sql, &[]).await.expect("cut").get(0);
    drop(client);
    let _ = driver.await;
    cut
}

/// Runs `sql` on a connection of its own to `base`; panics saying how to get a database.
async fn run_sql(base: &str, sql: &str) {
    let (client, connection) = match tokio_postgres::connect(base, tokio_postgres::NoTls).await {
        Ok(pair) => pair,
        Err(e) => panic!(
            "the PostgreSQL engine's tests need a database ({e}): start PostgreSQL on \
             127.0.0.1:5432 with a database `test` that user `postgres` may use without a \
             password, or set MQA_RELAY_TEST_DATABASE=postgres://user:password@host:port/db"
        ),
    };
    let driver = tokio::spawn(connection);
    client
        .batch_execute(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    drop(client);
    let _ = driver.await;
}

/// Drops the test's schema with everything in it.
struct SchemaGuard {
    base: String,
    schema: String,
}

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        let (base, sql) = (
            self.base.clone(),
            format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema),
        );
        // Drop runs inside the test's runtime, which cannot be blocked on: a thread of its
        // own with a runtime of its own drops the schema.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(run_sql(&base, &sql));
        })
        .join();
        if dropped.is_err() && !std::thread::panicking() {
            panic!("the test schema {} could not be dropped", self.schema);
        }
    }
}

/// One test per engine for each `async fn name(store: &Store)` named.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let test = $crate::store::conformance::sqlite().await;
                    super::$name(&test.store).await;
                    test.store.close().await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let test = $crate::store::conformance::postgres().await;
                    super::$name(&test.store).await;
                    test.store.close().await;
                }
            )*
        }
    };
}
pub(crate) use conformance;

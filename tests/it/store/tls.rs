//! TLS to the database, as libpq's `sslmode` and `sslrootcert` ask: to the machine's own
//! PostgreSQL (`require`), and through a TLS proxy in front of it whose certificates the test
//! makes (`verify-full`, `verify-ca`, a wrong CA, a wrong name, no TLS at all).

use mqa_relay::store::{DatabaseUrl, Store, StoreConfig};

use crate::support::postgres::Schema;
use crate::support::tls::{Authority, TlsProxy};

use super::event;

/// Opens a store on `url`, stores one event, and closes it; the error of opening, if any.
async fn store_one_event(url: &str) -> Result<(), String> {
    let url = DatabaseUrl::parse(url)?;
    let store = Store::open(&StoreConfig::postgres(url))
        .await
        .map_err(|e| e.to_string())?;
    let stored = store.ingest(&event(1)).await;
    store.close().await;
    stored.map(|_| ()).map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_speaks_tls_to_the_machines_postgresql_and_disable_does_not() {
    let schema = Schema::create().await;
    assert!(
        schema.server_offers_tls().await,
        "this test needs the test database's server to offer TLS (ssl = on in postgresql.conf; \
         Debian's packages turn it on with a self-signed certificate)"
    );
    let url = DatabaseUrl::parse(&format!("{}&sslmode=require", schema.url())).unwrap();
    let store = Store::open(&StoreConfig::postgres(url)).await.unwrap();
    store.ingest(&event(1)).await.expect("stored over TLS");
    let (connections, over_tls) = schema.tls_connections().await;
    assert!(
        connections >= 1,
        "the writer's connection at least: {connections}"
    );
    assert_eq!(
        over_tls, connections,
        "every connection of the relay is over TLS"
    );
    store.close().await;

    let plain = Schema::create().await;
    let url = DatabaseUrl::parse(&format!("{}&sslmode=disable", plain.url())).unwrap();
    let store = Store::open(&StoreConfig::postgres(url)).await.unwrap();
    store.ingest(&event(1)).await.expect("stored");
    let (connections, over_tls) = plain.tls_connections().await;
    assert!(connections >= 1, "{connections}");
    assert_eq!(over_tls, 0, "sslmode=disable: no connection is over TLS");
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_accepts_its_ca_and_name_and_refuses_any_other() {
    let schema = Schema::create().await;
    let dir = tempfile::tempdir().unwrap();
    let (ours, theirs) = (
        Authority::new("relay test CA"),
        Authority::new("another CA"),
    );
    let our_ca = ours.write_pem(&dir.path().join("ours.pem"));
    let their_ca = theirs.write_pem(&dir.path().join("theirs.pem"));
    let right = TlsProxy::start(schema.server(), ours.server("127.0.0.1")).await;
    let wrong_name = TlsProxy::start(schema.server(), ours.server("db.internal")).await;
    let through = |proxy: &TlsProxy, settings: &str| {
        format!("{}&{settings}", schema.url_through(proxy.addr()))
    };
    let full = |ca: &std::path::Path| format!("sslmode=verify-full&sslrootcert={}", ca.display());
    let chain = |ca: &std::path::Path| format!("sslmode=verify-ca&sslrootcert={}", ca.display());

    store_one_event(&through(&right, &full(&our_ca)))
        .await
        .expect("verify-full: the right CA and the right name");
    assert!(right.handshakes() >= 1, "the writer's connection at least");

    let err = store_one_event(&through(&right, &full(&their_ca)))
        .await
        .expect_err("a certificate of another CA");
    assert!(err.contains("invalid peer certificate"), "{err}");
    assert!(err.contains("UnknownIssuer"), "{err}");

    let err = store_one_event(&through(&wrong_name, &full(&our_ca)))
        .await
        .expect_err("a certificate made out to another host");
    assert!(err.contains("invalid peer certificate"), "{err}");
    assert!(err.contains("not valid for name"), "{err}");

    store_one_event(&through(&wrong_name, &chain(&our_ca)))
        .await
        .expect("verify-ca checks the chain, not the name");
    let err = store_one_event(&through(&wrong_name, &chain(&their_ca)))
        .await
        .expect_err("verify-ca still checks the chain");
    assert!(err.contains("UnknownIssuer"), "{err}");

    store_one_event(&through(&wrong_name, "sslmode=require"))
        .await
        .expect("require without sslrootcert: encrypted, the certificate not checked (libpq)");
    let err = store_one_event(&through(
        &wrong_name,
        &format!("sslmode=require&sslrootcert={}", their_ca.display()),
    ))
    .await
    .expect_err("require with sslrootcert checks the chain (libpq)");
    assert!(err.contains("UnknownIssuer"), "{err}");

    let before = right.handshakes();
    let err = store_one_event(&through(&right, "sslmode=disable"))
        .await
        .expect_err("the proxy takes TLS only");
    assert!(err.contains("cannot connect"), "{err}");
    assert_eq!(right.handshakes(), before);
}

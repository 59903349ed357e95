//! The PostgreSQL engine: the store in a database that several relays can share.
//!
//! The hot writes go through a group commit as in the SQLite engine: one task owns a write
//! connection and makes a whole batch per transaction ([`writer`], SQL in [`write`]). Reads and
//! the occasional write of an operator or of housekeeping use a small pool of connections
//! ([`read`], [`admin`]). A claim locks its lane's target row with `FOR UPDATE SKIP LOCKED`,
//! so relays never claim in one lane at the same time; every outcome is fenced by the claim's
//! `lease_seq`; a relay that dies leaves leases that simply run out and are claimed again. The
//! tables are in [`schema`], created and migrated at open under an advisory lock.
//!
//! A transaction that gives a lane work notifies the other relays ([`listen`]), so a delivery
//! routed by one relay to a lane another is idle in starts at once, not at that lane's next
//! periodic look.
//!
//! The password of the database URL never leaves [`DatabaseUrl`]: messages name the scheme,
//! host, port and database only. TLS follows libpq's `sslmode` and `sslrootcert` ([`tls`]).
//! The times relays compare (due, lease and pause ends) are kept on the database's clock
//! ([`clock`]).

mod admin;
mod clock;
mod engine;
mod listen;
mod read;
mod schema;
mod tls;
mod views;
mod write;
mod writer;

use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio::sync::broadcast;
use tokio_postgres::config::Host;
use tokio_util::sync::CancellationToken;

use super::cache::EventCache;
use super::commit::Counters;
use super::{Nudge, StoreError, StoreOptions};

use writer::Writer;

/// Connections in the pool of reads and occasional writes.
const POOL_SIZE: usize = 8;
/// How long connecting may take, unless the URL says (`connect_timeout`).
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// How long sent data may stay unacknowledged before the connection counts as lost, unless
/// the URL says (`tcp_user_timeout`).
const UNACKNOWLEDGED_LIMIT: std::time::Duration = std::time::Duration::from_secs(20);

/// A PostgreSQL connection URL (`postgres://user:password@host:5432/db`, or libpq's
/// `key=value` form), checked when read. Its `Display` and `Debug` show no user or password.
#[derive(Clone)]
pub struct DatabaseUrl {
    config: tokio_postgres::Config,
    /// What the server's certificate must be, as a connector (the same for every connection).
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    shown: String,
}

impl DatabaseUrl {
    /// Parses `text`; the error names what is wrong without repeating the text.
    pub fn parse(text: &str) -> Result<DatabaseUrl, String> {
        let (text, tls) = tls::split(text)?;
        let mut config = tokio_postgres::Config::from_str(&text)
            .map_err(|e| format!("not a PostgreSQL connection URL ({e})"))?;
        if config.get_hosts().is_empty() {
            return Err("the PostgreSQL URL names no host".into());
        }
        // A database that stops answering (a partition drops packets, no reset) must turn into
        // "unavailable" within seconds, not the kernel's quarter of an hour.
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(UNACKNOWLEDGED_LIMIT);
        }
        let shown = shown(&config);
        Ok(DatabaseUrl {
            config,
            tls: tls.connector()?,
            shown,
        })
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({})", self.shown)
    }
}

/// `postgres://host:port/db`: what a person may see of a URL.
fn shown(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(name)) => name.clone(),
        Some(Host::Unix(path)) => path.display().to_string(),
        None => String::new(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or("");
    format!("postgres://{host}:{port}/{db}")
}

/// The engine: the writer task, the pool, and (once asked for) the listener.
pub(super) struct Postgres {
    writer: Writer,
    pool: Pool,
    /// Boxed: the engines share one enum, and a parsed URL is large.
    url: Box<DatabaseUrl>,
    /// This store's name in its notifications (so it can skip its own).
    me: String,
    /// The other relays' nudges, once someone listens for them.
    nudges: OnceLock<broadcast::Sender<Nudge>>,
    /// Stops the listener.
    stop: CancellationToken,
    /// The database's clock, for the times relays compare ([`clock`]).
    clock: Arc<clock::DbClock>,
}

impl Postgres {
    /// Connects, creates or migrates the tables, and starts the writer.
    pub(super) async fn open(
        url: &DatabaseUrl,
        opts: &StoreOptions,
        cache: Arc<EventCache>,
        counters: Arc<Counters>,
    ) -> Result<Postgres, StoreError> {
        let mut client = connect(url).await?;
        migrate(&mut client, url).await?;
        writer::prepare(&client).await?;
        let clock = Arc::new(clock::DbClock::new(opts.clock));
        observe_clock(&client, &clock).await?;
        let manager = Manager::from_config(
            url.config.clone(),
            url.tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| StoreError::Other(format!("cannot set up the connection pool: {e}")))?;
        let me = uuid::Uuid::now_v7().to_string();
        let writer = writer::start(
            client,
            url.clone(),
            me.clone(),
            opts,
            cache,
            counters,
            clock.clone(),
        );
        Ok(Postgres {
            writer,
            pool,
            url: Box::new(url.clone()),
            me,
            nudges: OnceLock::new(),
            stop: CancellationToken::new(),
            clock,
        })
    }

    /// The other relays' nudges; the first call starts listening for them.
    pub(super) fn listen_to_others(&self) -> broadcast::Receiver<Nudge> {
        let sender = self.nudges.get_or_init(|| {
            let (sender, _) = broadcast::channel(listen::BACKLOG);
            listen::start(
                (*self.url).clone(),
                self.me.clone(),
                sender.clone(),
                self.stop.clone(),
            );
            sender
        });
        sender.subscribe()
    }

    /// Stops listening (the writer and the pool are closed by the engine's `close`).
    fn stop_listening(&self) {
        self.stop.cancel();
    }

    /// A connection of the pool.
    async fn conn(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => classify(e),
            other => StoreError::Unavailable(format!("no database connection: {other}")),
        })
    }
}

/// The database's clock read a few times (a round trip that was slow says little about it).
async fn observe_clock(
    client: &tokio_postgres::Client,
    clock: &clock::DbClock,
) -> Result<(), StoreError> {
    let read = format!("SELECT {}", clock::DB_NOW_MS);
    for _ in 0..3 {
        let sent = clock.relay_now();
        let db_now: i64 = client.query_one(&read, &[]).await.map_err(classify)?.get(0);
        clock.observe(db_now, sent, clock.relay_now());
    }
    Ok(())
}

/// A new connection, its driver running on the runtime.
pub(super) async fn connect(url: &DatabaseUrl) -> Result<tokio_postgres::Client, StoreError> {
    let (client, connection) =
        url.config.connect(url.tls.clone()).await.map_err(|e| {
            StoreError::Unavailable(format!("cannot connect to {url}: {}", cause(&e)))
        })?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %cause(&e), "a database connection ended");
        }
    });
    Ok(client)
}

/// Brings the schema to this binary's version, once, whichever relay comes first.
async fn migrate(client: &mut tokio_postgres::Client, url: &DatabaseUrl) -> Result<(), StoreError> {
    let tx = client.transaction().await.map_err(classify)?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&schema::MIGRATION_LOCK],
    )
    .await
    .map_err(classify)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
        .await
        .map_err(classify)?;
    let found: Option<i64> = tx
        .query_opt("SELECT MAX(version) FROM schema_version", &[])
        .await
        .map_err(classify)?
        .and_then(|row| row.get(0));
    let found = found.unwrap_or(0);
    let current = schema::current_version();
    if found > current {
        return Err(StoreError::Other(format!(
            "the database {url} has schema version {found}, newer than this relay's {current}: \
             run the newer relay, or restore a backup"
        )));
    }
    for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.batch_execute(sql).await.map_err(classify)?;
        if i + 1 == schema::OBJECT_KEY_VERSION {
            backfill_object_keys(&tx).await?;
        }
        let version = i as i64 + 1;
        tx.execute("DELETE FROM schema_version", &[])
            .await
            .map_err(classify)?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[&version],
        )
        .await
        .map_err(classify)?;
    }
    tx.commit().await.map_err(classify)
}

/// Events stored before schema version 4 get their `object_key`, a thousand at a time, from
/// their bodies as intake computes it (`Event::object_key`).
async fn backfill_object_keys(tx: &tokio_postgres::Transaction<'_>) -> Result<(), StoreError> {
    let select = tx
        .prepare(
            "SELECT id, body FROM events WHERE id > $1
               AND (starts_with(kind, 'CORRECTIVE_ACTION_') OR starts_with(kind, 'AUDIT_')
                    OR starts_with(kind, 'TEMPLATE_'))
             ORDER BY id LIMIT 1000",
        )
        .await
        .map_err(classify)?;
    let update = tx
        .prepare("UPDATE events SET object_key = $2 WHERE id = $1")
        .await
        .map_err(classify)?;
    let mut after = String::new();
    loop {
        let rows = tx.query(&select, &[&after]).await.map_err(classify)?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.get(0);
        for row in &rows {
            let (id, body): (String, String) = (row.get(0), row.get(1));
            let key = crate::event::Event::parse(body.as_bytes())
                .ok()
                .and_then(|e| e.object_key());
            if let Some(key) = key {
                tx.execute(&update, &[&id, &key]).await.map_err(classify)?;
            }
        }
    }
}

/// A database error as the store's: connection trouble is "try again later", the rest is not.
pub(super) fn classify(e: tokio_postgres::Error) -> StoreError {
    let code = e.code().map(|c| c.code().to_owned());
    let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
    let unavailable = e.is_closed()
        || io
        || code.as_deref().is_some_and(|c| {
            // Connection exceptions, insufficient resources, operator intervention.
            c.starts_with("08") || c.starts_with("53") || c.starts_with("57")
        });
    match unavailable {
        true => StoreError::Unavailable(format!("the database is unavailable: {}", cause(&e))),
        false => StoreError::Other(format!("database error: {}", cause(&e))),
    }
}

/// The error with its source: tokio-postgres puts what happened in the source.
fn cause(e: &tokio_postgres::Error) -> String {
    match std::error::Error::source(e) {
        Some(source) => format!("{e}: {source}"),
        None => e.to_string(),
    }
}

/// An unsigned count or limit as a `BIGINT`.
fn big(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

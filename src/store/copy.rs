//! Moving up from one node: the whole history of an embedded store copied into a PostgreSQL
//! database (`mqa-relay store copy`), so that a relay can grow into several without losing
//! events, deliveries (with their state, attempts and leases), dead letters or dedup keys.
//!
//! The source is locked first (no relay may run on it meanwhile) and brought to the current
//! schema; the destination is created or migrated, must hold no event yet, and receives
//! everything in ONE transaction: after a failure it holds nothing of the copy. Rows keep their
//! ids, so a dead letter's replay still points at its original.

use std::path::Path;

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};
use tokio_postgres::types::ToSql;

use super::{DatabaseUrl, DirLock, Store, StoreConfig, StoreError, postgres, sqlite};

/// Rows read from the source per round.
const CHUNK: i64 = 1_000;

/// A column's type, so that a NULL is bound as the type its column has.
#[derive(Clone, Copy)]
enum Kind {
    Int,
    Text,
}

/// A table's columns and their types.
type Columns = &'static [(&'static str, Kind)];

/// What is copied: each table in an order its foreign keys allow, its key, its columns.
const TABLES: &[(&str, &str, Columns)] = &[
    (
        "events",
        "id",
        &[
            ("id", Kind::Text),
            ("received_at", Kind::Int),
            ("kind", Kind::Text),
            ("company_id", Kind::Text),
            ("company_name", Kind::Text),
            ("body", Kind::Text),
            ("dedup_key", Kind::Text),
            ("routed_at", Kind::Int),
            ("matched_rules", Kind::Text),
            ("enrichment", Kind::Text),
            ("object_key", Kind::Text),
        ],
    ),
    (
        "dedup",
        "dedup_key",
        &[
            ("dedup_key", Kind::Text),
            ("event_id", Kind::Text),
            ("received_at", Kind::Int),
        ],
    ),
    (
        "targets",
        "name",
        &[
            ("name", Kind::Text),
            ("blocked_until", Kind::Int),
            ("next_allowed_at", Kind::Int),
        ],
    ),
    (
        "deliveries",
        "id",
        &[
            ("id", Kind::Int),
            ("event_id", Kind::Text),
            ("rule", Kind::Text),
            ("target", Kind::Text),
            ("template", Kind::Text),
            ("state", Kind::Text),
            ("attempts", Kind::Int),
            ("next_attempt_at", Kind::Int),
            ("lease_owner", Kind::Text),
            ("lease_until", Kind::Int),
            ("lease_seq", Kind::Int),
            ("created_at", Kind::Int),
            ("updated_at", Kind::Int),
            ("finished_at", Kind::Int),
            ("last_status", Kind::Int),
            ("last_error", Kind::Text),
            ("replay_of", Kind::Int),
            ("dropped_at", Kind::Int),
            ("object_key", Kind::Text),
            ("step", Kind::Int),
        ],
    ),
    (
        "attempts",
        "delivery_id, attempt",
        &[
            ("delivery_id", Kind::Int),
            ("attempt", Kind::Int),
            ("started_at", Kind::Int),
            ("finished_at", Kind::Int),
            ("outcome", Kind::Text),
            ("status", Kind::Int),
            ("error", Kind::Text),
            ("provider_id", Kind::Text),
            ("action", Kind::Text),
        ],
    ),
    (
        "conversations",
        "target, object_key",
        &[
            ("target", Kind::Text),
            ("object_key", Kind::Text),
            ("channel", Kind::Text),
            ("thread_id", Kind::Text),
            ("topic", Kind::Text),
            ("state", Kind::Text),
            ("first_event_id", Kind::Text),
            ("last_event_id", Kind::Text),
            ("last_kind", Kind::Text),
            ("messages", Kind::Int),
            ("restarts", Kind::Int),
            ("opened_at", Kind::Int),
            ("updated_at", Kind::Int),
            ("closed_at", Kind::Int),
            ("gone_at", Kind::Int),
            ("last_received_at", Kind::Int),
            ("provisional", Kind::Int),
        ],
    ),
];

/// How many rows of each table were copied, in the order the tables are copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub tables: Vec<(&'static str, u64)>,
}

/// Copies the embedded store in `data_dir` into the empty PostgreSQL database at `to`.
pub async fn embedded_to_postgres(data_dir: &Path, to: &DatabaseUrl) -> Result<Copied, StoreError> {
    let file = sqlite::database_file(data_dir);
    if !file.exists() {
        return Err(StoreError::Other(format!(
            "no store in {}",
            data_dir.display()
        )));
    }
    let _lock = DirLock::acquire(data_dir)?;
    // Brings both to this relay's schema.
    Store::open(&StoreConfig::embedded(data_dir))
        .await?
        .close()
        .await;
    Store::open(&StoreConfig::postgres(to.clone()))
        .await?
        .close()
        .await;
    let source = tokio::task::spawn_blocking(move || {
        Connection::open_with_flags(&file, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(sqlite::classify)
    })
    .await
    .map_err(|e| StoreError::Other(format!("opening the source did not complete: {e}")))??;
    let source = std::sync::Arc::new(std::sync::Mutex::new(source));
    let mut client = postgres::connect(to).await?;
    let tx = client.transaction().await.map_err(postgres::classify)?;
    tx.batch_execute("LOCK TABLE events IN EXCLUSIVE MODE")
        .await
        .map_err(postgres::classify)?;
    let holds: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM events) OR EXISTS (SELECT 1 FROM dedup)
                    OR EXISTS (SELECT 1 FROM targets)",
            &[],
        )
        .await
        .map_err(postgres::classify)?
        .get(0);
    if holds {
        return Err(StoreError::Other(format!(
            "{to} already holds events (or a relay ran on it): copy into an empty database \
             (or schema)"
        )));
    }
    let mut copied = Copied { tables: Vec::new() };
    for (table, key, columns) in TABLES {
        let n = copy_table(&source, &tx, table, key, columns).await?;
        copied.tables.push((table, n));
    }
    // New deliveries continue after the copied ids.
    tx.batch_execute(
        "SELECT setval(pg_get_serial_sequence('deliveries', 'id'),
                       GREATEST((SELECT MAX(id) FROM deliveries), 1))",
    )
    .await
    .map_err(postgres::classify)?;
    tx.commit().await.map_err(postgres::classify)?;
    Ok(copied)
}

/// Copies one table a chunk at a time, in key order (so rows that point at earlier rows of the
/// same table, a replay at its original, come after them).
async fn copy_table(
    source: &std::sync::Arc<std::sync::Mutex<Connection>>,
    tx: &tokio_postgres::Transaction<'_>,
    table: &'static str,
    key: &'static str,
    columns: Columns,
) -> Result<u64, StoreError> {
    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
    let overriding = if table == "deliveries" {
        "OVERRIDING SYSTEM VALUE"
    } else {
        ""
    };
    let insert = format!(
        "INSERT INTO {table} ({}) {overriding} VALUES ({})",
        names.join(", "),
        placeholders.join(", ")
    );
    let insert = tx.prepare(&insert).await.map_err(postgres::classify)?;
    let mut copied = 0u64;
    loop {
        let (source, offset) = (source.clone(), copied as i64);
        let select = format!(
            "SELECT {} FROM {table} ORDER BY {key} LIMIT {CHUNK} OFFSET {offset}",
            names.join(", ")
        );
        let rows = tokio::task::spawn_blocking(move || read_rows(&source, &select, columns.len()))
            .await
            .map_err(|e| StoreError::Other(format!("reading {table} did not complete: {e}")))??;
        for row in &rows {
            let params = bind(row, columns)?;
            let refs: Vec<&(dyn ToSql + Sync)> = params
                .iter()
                .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                .collect();
            tx.execute(&insert, &refs)
                .await
                .map_err(postgres::classify)?;
        }
        copied += rows.len() as u64;
        if (rows.len() as i64) < CHUNK {
            return Ok(copied);
        }
    }
}

fn read_rows(
    source: &std::sync::Mutex<Connection>,
    select: &str,
    width: usize,
) -> Result<Vec<Vec<Value>>, StoreError> {
    let conn = source
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut stmt = conn.prepare(select).map_err(sqlite::classify)?;
    let rows = stmt
        .query_map([], |r| (0..width).map(|i| r.get::<_, Value>(i)).collect())
        .map_err(sqlite::classify)?;
    rows.collect::<Result<_, _>>().map_err(sqlite::classify)
}

/// One source row as parameters of the destination's insert.
fn bind(
    row: &[Value],
    columns: &[(&str, Kind)],
) -> Result<Vec<Box<dyn ToSql + Sync + Send>>, StoreError> {
    row.iter()
        .zip(columns)
        .map(
            |(value, (name, kind))| -> Result<Box<dyn ToSql + Sync + Send>, StoreError> {
                Ok(match (value, kind) {
                    (Value::Null, Kind::Int) => Box::new(None::<i64>),
                    (Value::Null, Kind::Text) => Box::new(None::<String>),
                    (Value::Integer(n), Kind::Int) => Box::new(*n),
                    (Value::Text(t), Kind::Text) => Box::new(t.clone()),
                    (other, _) => {
                        return Err(StoreError::Other(format!(
                            "column {name} holds an unexpected {:?}",
                            other.data_type()
                        )));
                    }
                })
            },
        )
        .collect()
}

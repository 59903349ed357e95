//! The relay on PostgreSQL (`--store URL`): each run gets a schema of its own in that database,
//! dropped afterwards, and the relay the URL with that schema as its search path.

use anyhow::{Context, Result};

/// A fresh schema in the database at `base`.
pub struct Schema {
    base: String,
    name: String,
}

impl Schema {
    pub async fn create(base: &str) -> Result<Schema> {
        let name = format!("mqa_bench_{}", uuid::Uuid::now_v7().simple());
        run(base, &format!("CREATE SCHEMA {name}")).await?;
        Ok(Schema {
            base: base.to_owned(),
            name,
        })
    }

    /// The URL a relay is started with.
    pub fn url(&self) -> String {
        let separator = if self.base.contains('?') { '&' } else { '?' };
        format!(
            "{}{separator}options=-c%20search_path%3D{}",
            self.base, self.name
        )
    }

    /// `deliveries` pending deliveries, due now, spread round-robin over `targets` targets
    /// (`target-0`…), each of an event of its own with `body`; then the tables analysed.
    pub async fn fill_backlog(&self, body: &str, deliveries: usize, targets: usize) -> Result<()> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis();
        let body = body.replace('\'', "''");
        let sql = format!(
            "SET search_path = {schema};
             INSERT INTO targets (name) SELECT 'target-' || t FROM generate_series(0, {last_target}) t;
             INSERT INTO events (id, received_at, kind, body, dedup_key, routed_at, matched_rules)
                 SELECT 'e' || g, {now}, 'AUDIT_EXPIRED', '{body}', 'k' || g, {now}, '[\"all\"]'
                 FROM generate_series(1, {deliveries}) g;
             INSERT INTO deliveries (event_id, rule, target, state, next_attempt_at, created_at, updated_at)
                 SELECT 'e' || g, 'all', 'target-' || (g % {targets}), 'pending', {now}, {now}, {now}
                 FROM generate_series(1, {deliveries}) g ORDER BY g % {targets}, g;
             ANALYZE;",
            schema = self.name,
            last_target = targets - 1,
        );
        run(&self.base, &sql).await
    }

    pub async fn drop_schema(self) -> Result<()> {
        run(&self.base, &format!("DROP SCHEMA {} CASCADE", self.name)).await
    }
}

async fn run(base: &str, sql: &str) -> Result<()> {
    let (client, connection) = tokio_postgres::connect(base, tokio_postgres::NoTls)
        .await
        .context("connecting to the --store database")?;
    let driver = tokio::spawn(connection);
    client
        .batch_execute(sql)
        .await
        .with_context(|| sql.to_owned())?;
    drop(client);
    let _ = driver.await;
    Ok(())
}

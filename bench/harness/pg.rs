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

//! A schema of its own in the machine's PostgreSQL for a test of relays on a shared database
//! (`MQA_RELAY_TEST_DATABASE`, by default `postgres://postgres@127.0.0.1:5432/test`), dropped
//! when the test ends, however it ends. Without a reachable database the test fails saying how
//! to provide one: it is never skipped.

/// The database the tests make their schemas in.
const DEFAULT_DATABASE: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A fresh schema; [`Schema::url`] points a relay at it.
pub struct Schema {
    base: String,
    name: String,
}

impl Schema {
    pub async fn create() -> Schema {
        let base = std::env::var("MQA_RELAY_TEST_DATABASE").unwrap_or(DEFAULT_DATABASE.into());
        let name = format!("mqa_it_{}", uuid::Uuid::now_v7().simple());
        run_sql(&base, &format!("CREATE SCHEMA {name}")).await;
        Schema { base, name }
    }

    /// Cuts every connection to this schema (as a database restart would); returns how many.
    pub async fn cut_connections(&self) -> i64 {
        let sql = format!(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = '{}'",
            self.name
        );
        self.query_i64(&self.base, &sql).await
    }

    /// This schema's connections to the server, and how many of them are over TLS.
    pub async fn tls_connections(&self) -> (i64, i64) {
        let sql = format!(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE s.ssl) FROM pg_stat_activity a \
             JOIN pg_stat_ssl s USING (pid) WHERE a.application_name = '{}'",
            self.name
        );
        let (client, connection) = tokio_postgres::connect(&self.base, tokio_postgres::NoTls)
            .await
            .expect("the test database answers");
        let driver = tokio::spawn(connection);
        let row = client.query_one(&sql, &[]).await.expect("pg_stat_ssl");
        let counts = (row.get(0), row.get(1));
        drop(client);
        let _ = driver.await;
        counts
    }

    /// Whether the server offers TLS (`ssl = on`).
    pub async fn server_offers_tls(&self) -> bool {
        let (client, connection) = tokio_postgres::connect(&self.base, tokio_postgres::NoTls)
            .await
            .expect("the test database answers");
        let driver = tokio::spawn(connection);
        let on: String = client
            .query_one("SHOW ssl", &[])
            .await
            .expect("SHOW ssl")
            .get(0);
        drop(client);
        let _ = driver.await;
        on == "on"
    }

    /// The one number `sql` answers, run in this schema.
    pub async fn number(&self, sql: &str) -> i64 {
        self.query_i64(&self.url(), sql).await
    }

    /// Runs `sql` in this schema (on a connection of its own).
    pub async fn execute(&self, sql: &str) {
        run_sql(&self.url(), sql).await;
    }

    async fn query_i64(&self, url: &str, sql: &str) -> i64 {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .expect("the test database answers");
        let driver = tokio::spawn(connection);
        let n: i64 = client.query_one(sql, &[]).await.expect(sql).get(0);
        drop(client);
        let _ = driver.await;
        n
    }

    /// The database URL with this schema as the connections' search path.
    pub fn url(&self) -> String {
        self.url_on(&self.base)
    }

    /// The database server's address (the URL's first host, which must be an IP address).
    pub fn server(&self) -> std::net::SocketAddr {
        let url = reqwest::Url::parse(&self.base).expect("the test database is a URL");
        let host = url.host_str().expect("the URL names a host");
        let ip: std::net::IpAddr = host
            .trim_matches(['[', ']'])
            .parse()
            .expect("MQA_RELAY_TEST_DATABASE names its host by IP address");
        std::net::SocketAddr::new(ip, url.port().unwrap_or(5432))
    }

    /// [`Schema::url`], connecting through `addr` instead of to the server itself.
    pub fn url_through(&self, addr: std::net::SocketAddr) -> String {
        let mut url = reqwest::Url::parse(&self.base).expect("the test database is a URL");
        url.set_ip_host(addr.ip()).expect("a host");
        url.set_port(Some(addr.port())).expect("a port");
        self.url_on(url.as_str())
    }

    fn url_on(&self, base: &str) -> String {
        let separator = if base.contains('?') { '&' } else { '?' };
        format!(
            "{base}{separator}options=-c%20search_path%3D{}&application_name={}",
            self.name, self.name
        )
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (base, sql) = (
            self.base.clone(),
            format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
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
            panic!("the test schema {} could not be dropped", self.name);
        }
    }
}

async fn run_sql(base: &str, sql: &str) {
    let (client, connection) = match tokio_postgres::connect(base, tokio_postgres::NoTls).await {
        Ok(pair) => pair,
        Err(e) => panic!(
            "the PostgreSQL tests need a database ({e}): start PostgreSQL on 127.0.0.1:5432 with \
             a database `test` that user `postgres` may use without a password, or set \
             MQA_RELAY_TEST_DATABASE=postgres://user:password@host:port/db"
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

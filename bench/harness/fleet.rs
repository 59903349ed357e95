//! Several relays on one PostgreSQL (`--only replicas`, with `--store`): 1, 2 and 3 relay
//! processes on one fresh schema, the generator's connections spread round-robin over them as
//! a load balancer would, all sending to one sink target; and one relay on the embedded store
//! under the same load, for comparison. CPU is counted for the relays together and, apart, for
//! the database server (every `postgres` process on the machine).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::load::{self, Schedule};
use crate::measure::{self, Figures};
use crate::pg;
use crate::process::{Server, Usage, database_cpu_ms};
use crate::rules_file;
use crate::scenarios::{self, Setup};
use crate::servers::{self, Arrivals};

/// One run: the engine, how many relays, and what they did together.
pub struct FleetRun {
    pub engine: &'static str,
    pub replicas: usize,
    pub figures: Figures,
    pub relay_cpu_ms_per_event: f64,
    pub database_cpu_ms_per_event: f64,
}

/// `replicas` relays on `store` (a PostgreSQL base URL; `None`: one relay, embedded store).
pub async fn run(
    setup: &Setup,
    store: Option<&str>,
    replicas: usize,
    schedule: Schedule,
    duration: Duration,
) -> Result<FleetRun> {
    let arrivals = Arc::new(Arrivals::new(setup.max_events as usize, 1));
    let sink = servers::start_sink(arrivals.clone()).await?;
    let dir = tempfile::tempdir_in(setup.work.path())?;
    let rules_path = dir.path().join("rules.yaml");
    std::fs::write(
        &rules_path,
        rules_file::relay_rules(sink, 1, 1, setup.sink_in_flight),
    )?;
    let schema = match store {
        Some(base) => Some(pg::Schema::create(base).await?),
        None => None,
    };
    let mut relays = Vec::new();
    for i in 0..replicas {
        let data_dir = dir.path().join(format!("data-{i}"));
        let command = scenarios::relay_command(setup, &rules_path, &data_dir, schema.as_ref());
        let relay = tokio::task::spawn_blocking(move || Server::start(command))
            .await?
            .context("starting a relay")?;
        relays.push(relay);
    }
    let path = format!("/webhook/{}", rules_file::TOKEN);
    let addrs = relays.iter().map(|r| r.addr).collect();
    let plan = scenarios::plan(setup, addrs, &path, schedule, duration);

    let cpu = |relays: &[Server]| relays.iter().map(|r| r.usage().cpu_ms).sum::<f64>();
    let (relays_before, database_before) = (cpu(&relays), database_cpu_ms());
    let result = load::run(plan, setup.events.clone()).await;
    scenarios::drain(&result, &arrivals, setup.drain).await;
    let (relays_after, database_after) = (cpu(&relays), database_cpu_ms());

    let engine = if store.is_some() {
        "PostgreSQL"
    } else {
        "embedded"
    };
    let offered = scenarios::offered(schedule, scenarios::connections(setup, schedule));
    let usage = |cpu_ms| Usage {
        cpu_ms,
        rss_kib: 0,
        peak_rss_kib: 0,
    };
    let mut figures = measure::figures(
        "replicas",
        engine,
        &offered,
        &result,
        usage(relays_before),
        usage(relays_after),
    );
    figures.delivery = Some(measure::delivery(&result, &arrivals));
    for relay in relays {
        tokio::task::spawn_blocking(move || relay.stop()).await??;
    }
    if let Some(schema) = schema {
        schema.drop_schema().await?;
    }
    let acked = result.acked().max(1) as f64;
    Ok(FleetRun {
        engine,
        replicas,
        relay_cpu_ms_per_event: (relays_after - relays_before) / acked,
        database_cpu_ms_per_event: (database_after - database_before) / acked,
        figures,
    })
}

/// The runs as a Markdown section.
pub fn render(runs: &[FleetRun]) -> String {
    let mut out = String::from(
        "### Relays on one PostgreSQL, and one on the embedded store (one sink target)\n\n\
         | engine | relays | offered | acked/s | delivered/s | undelivered at the end | duplicates | e2e p50 | e2e p99 | relays' CPU ms/event | database CPU ms/event | together |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for run in runs {
        let f = &run.figures;
        let d = f.delivery.clone().unwrap_or_default();
        out.push_str(&format!(
            "| {} | {} | {} | {:.0} | {:.0} | {} | {} | {:.1} ms | {:.1} ms | {:.3} | {:.3} | {:.3} |\n",
            run.engine,
            run.replicas,
            f.offered,
            f.ack_rate,
            d.delivered_rate,
            d.undelivered,
            d.duplicates,
            d.e2e_p50_ms,
            d.e2e_p99_ms,
            run.relay_cpu_ms_per_event,
            run.database_cpu_ms_per_event,
            run.relay_cpu_ms_per_event + run.database_cpu_ms_per_event
        ));
    }
    out
}

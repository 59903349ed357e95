//! The scenarios: one server under test, a fresh sink and data directory each, driven by the
//! generator, drained, stopped, and measured (a relay's store is read once it has exited).
//! Every loop here is bounded by a count or a deadline.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use tempfile::TempDir;

use crate::clock;
use crate::events::EventStream;
use crate::floor::{self, Floor};
use crate::load::{self, LoadResult, Plan, Schedule};
use crate::measure::{self, Accounting, Delivery, Figures};
use crate::pg;
use crate::process::{self, Server, Usage};
use crate::rules_file;
use crate::servers::{self, Arrivals};
use crate::store_check;

/// What every scenario needs.
pub struct Setup {
    pub relay: PathBuf,
    pub alertmanager: Option<PathBuf>,
    pub events: Arc<EventStream>,
    pub alerts: Arc<EventStream>,
    pub work: TempDir,
    pub closed_connections: usize,
    pub open_connections: usize,
    pub max_events: u64,
    /// `max_in_flight` of the sink targets (0: not written).
    pub sink_in_flight: usize,
    /// A PostgreSQL database for the relays' store (a fresh schema per run) instead of the
    /// embedded one.
    pub store: Option<String>,
    /// How long to wait after the load for every acknowledged event to reach the sink.
    pub drain: Duration,
}

/// One relay run.
pub struct RelayRun {
    pub scenario: String,
    pub schedule: Schedule,
    pub duration: Duration,
    /// Rules in the file (1 = only the rule to the sink).
    pub rules: usize,
    /// Sink targets the first rule notifies (10 for fan-out).
    pub targets: usize,
    /// Send SIGHUP this often during the load.
    pub reload_every: Option<Duration>,
}

/// A relay run's figures plus what was sampled along the way.
pub struct RelayOutcome {
    pub figures: Figures,
    /// (seconds since the load started, RSS MiB), about once a second.
    pub rss: Vec<(f64, f64)>,
    /// Milliseconds from each SIGHUP to the relay's next log line about a reload.
    pub reload_ms: Vec<f64>,
    pub reloads_sent: usize,
    /// Log lines that mention an error or a failed reload.
    pub error_lines: Vec<String>,
}

pub fn offered(schedule: Schedule, connections: usize) -> String {
    match schedule {
        Schedule::Closed => format!("max ({connections} conns)"),
        Schedule::Open { rate } => format!("{rate}/s"),
    }
}

/// The do-nothing 202 server, as its own process, at the maximum rate.
pub async fn null_server(setup: &Setup, duration: Duration) -> Result<Figures> {
    let mut command = Command::new(std::env::current_exe()?);
    command.arg("null-server");
    own_server(setup, command, ("HTTP limit", "202 server"), duration).await
}

/// The durable 202 server (group commit to a file in a fresh directory under the relays' work
/// directory, removed afterwards), as its own process, at the maximum rate.
pub async fn durable_server(setup: &Setup, duration: Duration) -> Result<Figures> {
    let dir = tempfile::tempdir_in(setup.work.path())?;
    let mut command = Command::new(std::env::current_exe()?);
    command.arg("durable-server").arg("--dir").arg(dir.path());
    own_server(
        setup,
        command,
        ("durable limit", "durable 202 server"),
        duration,
    )
    .await
}

/// Starts one of the harness's own servers, drives it in a closed loop, stops it.
async fn own_server(
    setup: &Setup,
    command: Command,
    (scenario, name): (&str, &str),
    duration: Duration,
) -> Result<Figures> {
    let server = tokio::task::spawn_blocking(move || Server::start(command))
        .await?
        .with_context(|| format!("starting the {name}"))?;
    let plan = plan(
        setup,
        vec![server.addr],
        "/webhook/any",
        Schedule::Closed,
        duration,
    );
    let (result, before, after) = drive(&server, plan, setup.events.clone()).await;
    server.stop()?;
    let offered = offered(Schedule::Closed, setup.closed_connections);
    Ok(measure::figures(
        scenario, name, &offered, &result, before, after,
    ))
}

/// The sequential commit floor, in a fresh directory under the relays' work directory (same
/// filesystem as their data directories), removed afterwards.
pub async fn floor(setup: &Setup, count: u64, limit: Duration) -> Result<Floor> {
    let dir = tempfile::tempdir_in(setup.work.path())?;
    tokio::task::spawn_blocking(move || floor::measure(dir.path(), count, limit)).await?
}

/// The release relay with the durable store, every event routed to the sink.
pub async fn relay(setup: &Setup, run: RelayRun) -> Result<RelayOutcome> {
    let arrivals = Arc::new(Arrivals::new(setup.max_events as usize, run.targets));
    let sink = servers::start_sink(arrivals.clone()).await?;
    let dir = tempfile::tempdir_in(setup.work.path())?;
    let rules_path = dir.path().join("rules.yaml");
    let rules = rules_file::relay_rules(sink, run.rules, run.targets, setup.sink_in_flight);
    std::fs::write(&rules_path, rules)?;
    let data_dir = dir.path().join("data");
    let schema = match &setup.store {
        Some(base) => Some(pg::Schema::create(base).await?),
        None => None,
    };
    let command = relay_command(setup, &rules_path, &data_dir, schema.as_ref());
    let server = tokio::task::spawn_blocking(move || Server::start(command))
        .await?
        .context("starting the relay")?;
    let path = format!("/webhook/{}", rules_file::TOKEN);
    let plan = plan(setup, vec![server.addr], &path, run.schedule, run.duration);

    let running = Arc::new(AtomicBool::new(true));
    let sampler = tokio::spawn(sample_rss(server.pid(), running.clone()));
    let reloader = run
        .reload_every
        .map(|every| tokio::spawn(send_reloads(server.pid(), every, running.clone())));
    let before = server.usage();
    let result = load::run(plan, setup.events.clone()).await;
    running.store(false, Ordering::Relaxed);
    let reload_times = match reloader {
        Some(task) => task.await?,
        None => Vec::new(),
    };
    drain(&result, &arrivals, setup.drain).await;
    let after = server.usage();
    let rss = sampler.await?;

    let offered = offered(run.schedule, connections(setup, run.schedule));
    let mut figures = measure::figures(&run.scenario, "relay", &offered, &result, before, after);
    let reload_ms = reload_delays(&server, &reload_times);
    let error_lines = error_lines(&server);
    tokio::task::spawn_blocking(move || server.stop()).await??;
    figures.delivery = Some(relay_delivery(&result, &arrivals, &data_dir).await);
    if let Some(schema) = schema {
        figures.server = "relay (PostgreSQL)".into();
        schema.drop_schema().await?;
    }
    Ok(RelayOutcome {
        figures,
        rss,
        reload_ms,
        reloads_sent: reload_times.len(),
        error_lines,
    })
}

/// `serve` of the release relay on `rules` on a free port, with its store in `data_dir` or, when
/// given, in `schema`.
pub fn relay_command(
    setup: &Setup,
    rules: &Path,
    data_dir: &Path,
    schema: Option<&pg::Schema>,
) -> Command {
    let mut command = Command::new(&setup.relay);
    command
        .arg("serve")
        .arg("--rules")
        .arg(rules)
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir);
    if let Some(schema) = schema {
        command.arg("--store").arg(schema.url());
    }
    command
}

/// What reached the sink, and where the relay's store (read once the relay has exited, so
/// nothing moves) left each acknowledged event that did not arrive.
async fn relay_delivery(result: &LoadResult, arrivals: &Arrivals, data_dir: &Path) -> Delivery {
    let mut delivery = measure::delivery(result, arrivals);
    delivery.accounting = match store_check::read(data_dir).await {
        Ok(stored) => Accounting::Counted(measure::unarrived(result, arrivals, &stored)),
        Err(e) => Accounting::Unreadable(format!("{e:#}")),
    };
    delivery
}

/// Log lines that mention an error or a warning, at most 20.
fn error_lines(server: &Server) -> Vec<String> {
    server
        .lines_since(0, "")
        .into_iter()
        .map(|(_, l)| l)
        .filter(|l| l.contains("ERROR") || l.contains("WARN") || l.contains("\"level\":\"error"))
        .take(20)
        .collect()
}

/// Alertmanager (Debian's package) with `targets` Slack receivers pointing at the sink; each
/// event posted as one alert of its own group.
pub async fn alertmanager(
    setup: &Setup,
    schedule: Schedule,
    duration: Duration,
    targets: usize,
) -> Result<Figures> {
    let Some(binary) = &setup.alertmanager else {
        anyhow::bail!("no Alertmanager binary");
    };
    let arrivals = Arc::new(Arrivals::new(setup.max_events as usize, targets));
    let sink = servers::start_sink(arrivals.clone()).await?;
    let dir = tempfile::tempdir_in(setup.work.path())?;
    let config = dir.path().join("alertmanager.yml");
    std::fs::write(&config, rules_file::alertmanager_config(sink, targets))?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut command = Command::new(binary);
    command
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=");
    let server = tokio::task::spawn_blocking(move || Server::start(command))
        .await?
        .context("starting Alertmanager")?;
    let plan = plan(
        setup,
        vec![server.addr],
        "/api/v2/alerts",
        schedule,
        duration,
    );
    let before = server.usage();
    let result = load::run(plan, setup.alerts.clone()).await;
    drain(&result, &arrivals, setup.drain).await;
    let after = server.usage();
    let offered = offered(schedule, connections(setup, schedule));
    let scenario = match (schedule, targets) {
        (_, 2..) => "fan-out",
        (Schedule::Closed, _) => "max rate",
        (Schedule::Open { .. }, _) => "fixed rate",
    };
    let mut figures = measure::figures(scenario, "Alertmanager", &offered, &result, before, after);
    figures.delivery = Some(measure::delivery(&result, &arrivals));
    server.stop()?;
    Ok(figures)
}

pub fn connections(setup: &Setup, schedule: Schedule) -> usize {
    match schedule {
        Schedule::Closed => setup.closed_connections,
        Schedule::Open { .. } => setup.open_connections,
    }
}

pub fn plan(
    setup: &Setup,
    addrs: Vec<SocketAddr>,
    path: &str,
    schedule: Schedule,
    duration: Duration,
) -> Plan {
    let max_events = match schedule {
        Schedule::Closed => setup.max_events,
        Schedule::Open { rate } => (rate * duration.as_secs()).min(setup.max_events),
    };
    Plan {
        addrs,
        path: path.to_owned(),
        connections: connections(setup, schedule),
        duration,
        schedule,
        max_events,
    }
}

async fn drive(
    server: &Server,
    plan: Plan,
    events: Arc<EventStream>,
) -> (LoadResult, Usage, Usage) {
    let before = server.usage();
    let result = load::run(plan, events).await;
    (result, before, server.usage())
}

/// Waits until every acknowledged event has arrived at the sink (or `limit` passes), then a
/// little longer so that a duplicate would be seen too.
pub async fn drain(result: &LoadResult, arrivals: &Arrivals, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    let expected = result.acked() * arrivals.targets() as u64;
    while arrivals.total() < expected && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
}

/// RSS about once a second while `running`; at most one hour of samples.
async fn sample_rss(pid: u32, running: Arc<AtomicBool>) -> Vec<(f64, f64)> {
    let start = clock::now_ns();
    let mut samples = Vec::new();
    for _ in 0..3_600 {
        let rss = process::read_usage(pid, 100).rss_kib as f64 / 1024.0;
        samples.push(((clock::now_ns() - start) as f64 / 1e9, rss));
        if !running.load(Ordering::Relaxed) {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    samples
}

/// SIGHUP every `every` while `running`; returns when each was sent (ns since the epoch).
async fn send_reloads(pid: u32, every: Duration, running: Arc<AtomicBool>) -> Vec<u64> {
    let mut sent = Vec::new();
    for _ in 0..3_600 {
        tokio::time::sleep(every).await;
        if !running.load(Ordering::Relaxed) {
            break;
        }
        if process::send_signal(pid, "HUP").is_ok() {
            sent.push(clock::now_ns());
        }
    }
    sent
}

/// For each SIGHUP, the delay to the first later log line that mentions a reload.
fn reload_delays(server: &Server, sent: &[u64]) -> Vec<f64> {
    let lines = server.lines_since(0, "reload");
    sent.iter()
        .filter_map(|&at| {
            lines
                .iter()
                .find(|(t, _)| *t >= at)
                .map(|(t, _)| (t - at) as f64 / 1e6)
        })
        .collect()
}

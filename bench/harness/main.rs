//! `mqa-bench`: the load harness of mqa-relay (not the relay). Runs, on 127.0.0.1 only and
//! bounded in count and time: the do-nothing 202 server, the durable 202 server (group commit to
//! a file), the sequential commit floor of the disk, the release relay at the maximum rate
//! and at fixed rates, a sustained run, a reload-under-load run, and optionally Alertmanager;
//! after each relay run, reads the relay's store (read-only, the relay stopped) to tell every
//! acknowledged event that did not reach the sink as durably queued, dead or lost; prints the
//! results as Markdown. `bench/run.sh` builds everything and calls it.

mod claim_cost;
mod client;
mod clock;
mod durable_server;
mod events;
mod fleet;
mod floor;
mod load;
mod measure;
mod pg;
mod process;
mod report;
mod rules_file;
mod scenarios;
mod servers;
mod store_check;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use clap::{Parser, Subcommand};

use load::Schedule;
use report::Results;
use scenarios::{RelayRun, Setup};

#[derive(Debug, Parser)]
#[command(name = "mqa-bench", about = "Load harness for mqa-relay")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run the suite and print Markdown tables.
    Run(RunArgs),
    /// The do-nothing 202 server (started by `run` as its own process).
    NullServer,
    /// The 202 server that answers once the body is appended and fdatasync'ed (group commit).
    DurableServer {
        /// Where its file goes.
        #[arg(long)]
        dir: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The release relay binary.
    #[arg(long, default_value = "target/release/mqa-relay")]
    relay: PathBuf,
    /// The sample events.
    #[arg(long, default_value = "examples/events")]
    events: PathBuf,
    /// Alertmanager's binary; when given, the same stream is run through it.
    #[arg(long)]
    alertmanager: Option<PathBuf>,
    /// Short durations (seconds instead of tens of seconds).
    #[arg(long)]
    quick: bool,
    /// Scenarios to run (comma-separated): null, durable, floor, max, fixed, sustained, reload,
    /// fanout, alertmanager; with `--store` also replicas (1, 2 and 3 relays on the database
    /// against one on the embedded store) and claims (a lane's step against a 100 000 delivery
    /// backlog).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "null,durable,floor,max,fixed,sustained,reload,fanout,alertmanager,replicas,claims"
    )]
    only: Vec<String>,
    /// `max_in_flight` of the sink targets; 0 leaves the key out (a relay from before it).
    #[arg(long, default_value_t = rules_file::SINK_IN_FLIGHT)]
    sink_in_flight: usize,
    /// A PostgreSQL database URL: the relay runs on it (a fresh schema per run) instead of the
    /// embedded store.
    #[arg(long)]
    store: Option<String>,
    /// Connections of the closed-loop (maximum rate) runs.
    #[arg(long, default_value_t = 32)]
    connections: usize,
}

/// How long each part runs.
struct Profile {
    name: &'static str,
    max: Duration,
    fixed: Duration,
    sustained: Duration,
    reload: Duration,
    drain: Duration,
}

const FULL: Profile = Profile {
    name: "full",
    max: Duration::from_secs(10),
    fixed: Duration::from_secs(30),
    sustained: Duration::from_secs(120),
    reload: Duration::from_secs(30),
    drain: Duration::from_secs(60),
};

const QUICK: Profile = Profile {
    name: "quick",
    max: Duration::from_secs(3),
    fixed: Duration::from_secs(5),
    sustained: Duration::from_secs(15),
    reload: Duration::from_secs(5),
    drain: Duration::from_secs(20),
};

const RATES: [u64; 2] = [1_000, 5_000];

/// Targets of the fan-out scenario: one rule (Alertmanager: one route each) to ten webhooks.
const FANOUT: usize = 10;

/// Sequential commits per kind in the floor, and the time bound of each kind.
const FLOOR_COMMITS: u64 = 2_000;
const FLOOR_LIMIT: Duration = Duration::from_secs(10);

fn main() -> Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match cli.command {
        Cmd::NullServer => runtime.block_on(servers::run_null_server()),
        Cmd::DurableServer { dir } => runtime.block_on(durable_server::run_durable_server(&dir)),
        Cmd::Run(args) => runtime.block_on(run(args)),
    }
}

async fn run(args: RunArgs) -> Result<()> {
    let profile = if args.quick { QUICK } else { FULL };
    let setup = Setup {
        relay: args.relay.clone(),
        alertmanager: args.alertmanager.clone(),
        events: Arc::new(events::EventStream::load(&args.events)?),
        alerts: Arc::new(events::EventStream::load_as_alerts(&args.events)?),
        work: tempfile::tempdir()?,
        closed_connections: args.connections,
        open_connections: 128,
        max_events: 2_000_000,
        sink_in_flight: args.sink_in_flight,
        store: args.store.clone(),
        drain: profile.drain,
    };
    let wants = |name: &str| args.only.iter().any(|o| o == name);
    let mut results = Results::default();
    println!(
        "## mqa-relay load benchmark\n\n{}",
        report::machine(profile.name)
    );
    if wants("null") {
        eprintln!("202 server, maximum rate, {:?}", profile.max);
        results.null = Some(scenarios::null_server(&setup, profile.max).await?);
    }
    if wants("durable") {
        eprintln!("durable 202 server, maximum rate, {:?}", profile.max);
        results.durable = Some(scenarios::durable_server(&setup, profile.max).await?);
    }
    if wants("floor") {
        eprintln!(
            "sequential commit floor, {FLOOR_COMMITS} commits per kind, at most {FLOOR_LIMIT:?} each"
        );
        results.floor = Some(scenarios::floor(&setup, FLOOR_COMMITS, FLOOR_LIMIT).await?);
    }
    if wants("max") {
        eprintln!("relay, maximum rate, {:?}", profile.max);
        results.max = Some(
            scenarios::relay(
                &setup,
                relay_run("max rate", Schedule::Closed, profile.max, None),
            )
            .await?,
        );
    }
    if wants("fixed") {
        for rate in RATES {
            eprintln!("relay, {rate}/s, {:?}", profile.fixed);
            let run = relay_run("fixed rate", Schedule::Open { rate }, profile.fixed, None);
            results.fixed.push(scenarios::relay(&setup, run).await?);
        }
    }
    if wants("sustained") {
        eprintln!("relay, sustained 1000/s, {:?}", profile.sustained);
        let run = relay_run(
            "sustained",
            Schedule::Open { rate: 1_000 },
            profile.sustained,
            None,
        );
        results.sustained = Some(scenarios::relay(&setup, run).await?);
    }
    if wants("reload") {
        for rate in RATES {
            eprintln!(
                "relay, {rate}/s with a reload every second, {:?}",
                profile.reload
            );
            let run = relay_run(
                "reload",
                Schedule::Open { rate },
                profile.reload,
                Some(10_000),
            );
            results.reload.push(scenarios::relay(&setup, run).await?);
        }
    }
    if wants("fanout") {
        eprintln!(
            "relay, maximum rate, one rule to {FANOUT} targets, {:?}",
            profile.max
        );
        let run = RelayRun {
            targets: FANOUT,
            ..relay_run("fan-out", Schedule::Closed, profile.max, None)
        };
        results.fanout = Some(scenarios::relay(&setup, run).await?);
    }
    if wants("alertmanager") && setup.alertmanager.is_some() {
        eprintln!("Alertmanager, maximum rate and 1000/s");
        let am = |schedule, duration, targets| {
            scenarios::alertmanager(&setup, schedule, duration, targets)
        };
        results
            .alertmanager
            .push(am(Schedule::Closed, profile.max, 1).await?);
        let fixed = Schedule::Open { rate: 1_000 };
        results
            .alertmanager
            .push(am(fixed, profile.fixed, 1).await?);
        if wants("fanout") {
            eprintln!("Alertmanager, maximum rate, {FANOUT} receivers");
            results.alertmanager_fanout = Some(am(Schedule::Closed, profile.max, FANOUT).await?);
        }
    }
    println!("{}", report::render(&results));
    if wants("replicas")
        && let Some(base) = &args.store
    {
        let mut runs = Vec::new();
        let schedules = [
            (Schedule::Open { rate: 1_000 }, profile.fixed),
            (Schedule::Closed, profile.max),
        ];
        for (schedule, duration) in schedules {
            eprintln!("one relay on the embedded store, {schedule:?}, {duration:?}");
            runs.push(fleet::run(&setup, None, 1, schedule, duration).await?);
            for replicas in 1..=3 {
                eprintln!("{replicas} relays on PostgreSQL, {schedule:?}, {duration:?}");
                runs.push(fleet::run(&setup, Some(base), replicas, schedule, duration).await?);
            }
        }
        println!("{}", fleet::render(&runs));
    }
    if wants("claims")
        && let Some(base) = &args.store
    {
        eprintln!("a lane's step against 1 000 and 100 000 queued deliveries");
        let body = std::fs::read_to_string(args.events.join("audit_expired.json"))?;
        println!(
            "{}",
            claim_cost::render(&claim_cost::run(base, &body).await?)
        );
    }
    Ok(())
}

/// A relay run; `reload_rules` = Some(n) starts it with an n-rule file and sends SIGHUP every
/// second.
fn relay_run(
    scenario: &str,
    schedule: Schedule,
    duration: Duration,
    reload_rules: Option<usize>,
) -> RelayRun {
    RelayRun {
        scenario: scenario.to_owned(),
        schedule,
        duration,
        rules: reload_rules.unwrap_or(1),
        targets: 1,
        reload_every: reload_rules.map(|_| Duration::from_secs(1)),
    }
}

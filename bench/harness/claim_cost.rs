//! The cost of a lane's step on PostgreSQL with a large backlog (`--only claims`): the same
//! 1 000 targets with one queued delivery each, then with a hundred each (100 000), filled in
//! bulk by SQL in a fresh schema that the relay's own store created. Through the relay's store,
//! in this process, one at a time: each lane's step (the previous delivery's outcome and the
//! claim of the next, one transaction), the sender's periodic look for targets with work, and
//! an idle lane's look for its next due time. Also the database server's CPU per step.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use mqa_relay::store::{Claim, ClaimSpec, DatabaseUrl, Outcome, Store, StoreConfig};

use crate::pg;
use crate::process::database_cpu_ms;

const TARGETS: usize = 1_000;
/// Rounds of one step per target.
const ROUNDS: usize = 3;
const LOOKS: usize = 20;

/// One backlog's figures.
pub struct ClaimCost {
    pub backlog: usize,
    pub step_p50_ms: f64,
    pub step_p99_ms: f64,
    pub steps_per_s: f64,
    pub db_cpu_ms_per_step: f64,
    pub targets_with_work_ms: f64,
    pub next_due_p50_ms: f64,
}

/// Both backlogs, the small first.
pub async fn run(base: &str, events_body: &str) -> Result<Vec<ClaimCost>> {
    let mut out = Vec::new();
    for per_target in [1, 100] {
        out.push(measure(base, events_body, per_target).await?);
    }
    Ok(out)
}

async fn measure(base: &str, body: &str, per_target: usize) -> Result<ClaimCost> {
    let schema = pg::Schema::create(base).await?;
    let url = DatabaseUrl::parse(&schema.url()).map_err(anyhow::Error::msg)?;
    let config = StoreConfig::postgres(url);
    let store = Store::open(&config).await.context("opening the store")?;
    let backlog = TARGETS * per_target;
    schema.fill_backlog(body, backlog, TARGETS).await?;

    let lease = Duration::from_secs(30);
    let mut held: Vec<Option<Claim>> = vec![None; TARGETS];
    let mut steps = Vec::with_capacity(TARGETS * ROUNDS);
    let delivered = Outcome::Delivered {
        status: Some(200),
        provider_id: None,
    };
    let cpu_before = database_cpu_ms();
    let started = Instant::now();
    for _ in 0..ROUNDS {
        for (t, slot) in held.iter_mut().enumerate() {
            let target = format!("target-{t}");
            let now = mqa_relay::clock::now_ms();
            let spec = ClaimSpec {
                target: target.clone(),
                max: 1,
                ordered: true,
                now_ms: now,
                lease,
                owner: "bench".into(),
                pace_interval_us: None,
            };
            let finished: Vec<(&Claim, &Outcome)> = slot.iter().map(|c| (c, &delivered)).collect();
            let at = Instant::now();
            let mut done = store
                .lane_write(&target, None, &finished, Some(spec), now)
                .await?;
            steps.push(at.elapsed());
            *slot = done.claims.pop();
        }
    }
    let elapsed = started.elapsed();
    let cpu = database_cpu_ms() - cpu_before;

    let at = Instant::now();
    for _ in 0..LOOKS {
        store.targets_with_work().await?;
    }
    let targets_with_work_ms = ms(at.elapsed()) / LOOKS as f64;
    let mut looks = Vec::with_capacity(TARGETS);
    for t in 0..TARGETS {
        let at = Instant::now();
        store.next_due_at(&format!("target-{t}")).await?;
        looks.push(at.elapsed());
    }
    store.close().await;
    schema.drop_schema().await?;
    steps.sort_unstable();
    looks.sort_unstable();
    Ok(ClaimCost {
        backlog,
        step_p50_ms: ms(quantile(&steps, 0.5)),
        step_p99_ms: ms(quantile(&steps, 0.99)),
        steps_per_s: steps.len() as f64 / elapsed.as_secs_f64(),
        db_cpu_ms_per_step: cpu / steps.len() as f64,
        targets_with_work_ms,
        next_due_p50_ms: ms(quantile(&looks, 0.5)),
    })
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The figures as a Markdown section.
pub fn render(costs: &[ClaimCost]) -> String {
    let mut out = String::from(
        "### A lane's step on PostgreSQL against its backlog (1 000 targets)\n\n\
         | queued deliveries | step p50 | step p99 | steps/s (one at a time) | database CPU ms/step | targets with work (the sender's look) | next due (an idle lane's look), p50 |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for c in costs {
        out.push_str(&format!(
            "| {} | {:.2} ms | {:.2} ms | {:.0} | {:.3} | {:.1} ms | {:.2} ms |\n",
            c.backlog,
            c.step_p50_ms,
            c.step_p99_ms,
            c.steps_per_s,
            c.db_cpu_ms_per_step,
            c.targets_with_work_ms,
            c.next_due_p50_ms
        ));
    }
    if let [small, large] = costs {
        out.push_str(&format!(
            "\nA step with 100× the backlog costs {:.2}× the time (p50) and {:.2}× the database CPU.\n",
            large.step_p50_ms / small.step_p50_ms.max(f64::EPSILON),
            large.db_cpu_ms_per_step / small.db_cpu_ms_per_step.max(f64::EPSILON)
        ));
    }
    out
}

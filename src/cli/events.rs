//! `mqa-relay events`: what the admin API shows, in a terminal: recent events and how their
//! deliveries stand, one event with every delivery and attempt, and the deliveries still
//! waiting (retrying or due) with their last error and next try. Read-only; it works beside a
//! running relay on the store it uses.

use std::process::ExitCode;

use clap::Subcommand;

use super::on_store::{self, StoreArgs};
use crate::clock::{now_ms, parse_since, rfc3339};
use crate::pipeline::report::one_line;
use crate::server::api::views;
use crate::store::{
    AttemptRecord, DeliveryRecord, DeliveryState, EventDetails, EventFilter, EventOutcome,
    EventSummary, Store,
};

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Recent events, newest first, with how many of their deliveries are delivered, waiting
    /// and dead.
    List {
        /// Only this event type.
        #[arg(long)]
        event: Option<String>,
        /// Only this company (name or id).
        #[arg(long)]
        company: Option<String>,
        /// Only events with a delivery for this rule.
        #[arg(long)]
        rule: Option<String>,
        /// Only events with a delivery to this target.
        #[arg(long)]
        target: Option<String>,
        /// Only events that stand so: delivered, waiting, dead (an open dead letter), none (no
        /// rule matched) or unrouted.
        #[arg(long, value_parser = parse_outcome)]
        outcome: Option<EventOutcome>,
        /// Only events received since a duration back from now (2h, 1d) or an RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        /// Only events received before a duration back from now or an RFC 3339 time.
        #[arg(long)]
        until: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One event: as received (and looked up), the rules it matched, each delivery with its
    /// state, attempts, last error and next try.
    Show {
        id: String,
        /// JSON (as `GET /api/events/<id>`) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Deliveries not finished yet (waiting for their turn, a retry, or being sent), oldest
    /// first, with their attempts, last error and next try.
    Waiting {
        /// Only this target.
        #[arg(long)]
        target: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// `--outcome`'s word.
fn parse_outcome(word: &str) -> Result<EventOutcome, String> {
    EventOutcome::parse(word).ok_or_else(|| {
        let words: Vec<&str> = EventOutcome::ALL.iter().map(|o| o.as_str()).collect();
        format!("one of {}", words.join(", "))
    })
}

/// A time option read as `dlq --since` reads it, or why not (naming the option).
fn time(value: Option<&str>, option: &str) -> Result<Option<i64>, String> {
    value
        .map(|v| parse_since(v, now_ms()).map_err(|e| e.message_for(option)))
        .transpose()
}

pub fn run(args: &StoreArgs, command: EventsCommand) -> ExitCode {
    on_store::run(args, async |store, _app| execute(store, command).await)
}

async fn execute(store: &Store, command: EventsCommand) -> Result<(), String> {
    let err = |e: crate::store::StoreError| e.to_string();
    match command {
        EventsCommand::List {
            event,
            company,
            rule,
            target,
            outcome,
            since,
            until,
            limit,
            json,
        } => {
            let filter = EventFilter {
                limit,
                kind: event,
                company,
                rule,
                target,
                outcome,
                since_ms: time(since.as_deref(), "--since")?,
                until_ms: time(until.as_deref(), "--until")?,
                before: None,
            };
            let events = store.list_events(&filter).await.map_err(err)?;
            if json {
                print_json(&serde_json::to_value(&events).unwrap_or_default());
            } else if events.is_empty() {
                println!("no events");
            } else {
                for e in &events {
                    println!("{}", summary_line(e));
                }
            }
        }
        EventsCommand::Show { id, json } => {
            let Some(details) = store.event(&id).await.map_err(err)? else {
                return Err(format!("no event {id}"));
            };
            if json {
                print_json(&views::event_json(&details));
            } else {
                print!("{}", event_text(&details));
            }
        }
        EventsCommand::Waiting {
            target,
            limit,
            json,
        } => {
            let waiting = waiting(store, target.as_deref(), limit)
                .await
                .map_err(err)?;
            if json {
                let list: Vec<_> = waiting
                    .iter()
                    .map(|d| views::delivery_json(d, &[]))
                    .collect();
                print_json(&serde_json::Value::Array(list));
            } else if waiting.is_empty() {
                println!("no deliveries waiting");
            } else {
                for d in &waiting {
                    println!("{}", delivery_line(d));
                }
            }
        }
    }
    Ok(())
}

/// The unfinished deliveries (of `target`), oldest first, at most `limit`.
async fn waiting(
    store: &Store,
    target: Option<&str>,
    limit: usize,
) -> Result<Vec<DeliveryRecord>, crate::store::StoreError> {
    // Read past `limit` per state when filtering by target, so the filter does not starve.
    let read = if target.is_some() { usize::MAX } else { limit };
    let mut all = Vec::new();
    for state in [DeliveryState::Sending, DeliveryState::Pending] {
        all.extend(store.deliveries_by_state(state, read).await?);
    }
    all.retain(|d| target.is_none_or(|t| d.target == t));
    all.sort_by_key(|d| d.id);
    all.truncate(limit);
    Ok(all)
}

fn print_json(value: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// `<id>  <received>  <type>  <company>  2 delivered, 1 waiting, 0 dead`.
fn summary_line(e: &EventSummary) -> String {
    let company = e
        .company_name
        .as_deref()
        .or(e.company_id.as_deref())
        .unwrap_or("-");
    let routing = if e.routed_at.is_none() {
        "not routed yet".to_string()
    } else if e.deliveries == 0 {
        "no rule matched".to_string()
    } else {
        format!(
            "{} delivered, {} waiting, {} dead",
            e.delivered, e.waiting, e.dead
        )
    };
    format!(
        "{}  {}  {}  {}  {routing}",
        e.id,
        rfc3339(e.received_at),
        one_line(&e.kind),
        one_line(company)
    )
}

/// `#12  kitchen-slack  pending  3 attempts  next try <t>  last error: …`.
fn delivery_line(d: &DeliveryRecord) -> String {
    let mut line = format!(
        "#{}  {}  {}  {} attempt{}",
        d.id,
        d.target,
        d.state.as_str(),
        d.attempts,
        if d.attempts == 1 { "" } else { "s" }
    );
    match d.state {
        DeliveryState::Pending => {
            line.push_str(&format!("  next try {}", rfc3339(d.next_attempt_at)))
        }
        DeliveryState::Sending => line.push_str("  being sent now"),
        DeliveryState::Delivered | DeliveryState::Dead => {
            if let Some(at) = d.finished_at {
                line.push_str(&format!("  at {}", rfc3339(at)));
            }
        }
    }
    if let Some(status) = d.last_status {
        line.push_str(&format!("  last status {status}"));
    }
    if let Some(error) = &d.last_error {
        line.push_str(&format!("  last error: {}", one_line(error)));
    }
    line.push_str(&format!(
        "  (event {}, rule {})",
        d.event_id,
        one_line(&d.rule)
    ));
    line
}

fn attempt_line(a: &AttemptRecord) -> String {
    let status = a.status.map(|s| format!("  {s}")).unwrap_or_default();
    let error = a
        .error
        .as_deref()
        .map(|e| format!("  {}", one_line(e)))
        .unwrap_or_default();
    format!(
        "    attempt {}  {}  {} ms  {}{status}{error}",
        a.attempt,
        rfc3339(a.started_at),
        (a.finished_at - a.started_at).max(0),
        a.outcome
    )
}

/// One event and its deliveries as text.
fn event_text(details: &EventDetails) -> String {
    let e = &details.event;
    let company = e
        .event
        .company
        .get("name")
        .and_then(|v| v.as_str())
        .unwrap_or("-");
    let mut out = format!(
        "event {}  {}  {}\nreceived {}",
        e.id,
        one_line(&e.event.kind),
        one_line(company),
        rfc3339(e.received_at)
    );
    match details.routed_at {
        Some(at) => out.push_str(&format!(", routed {}\n", rfc3339(at))),
        None => out.push_str(", not routed yet\n"),
    }
    if details.matched_rules.is_empty() {
        out.push_str("rules matched: none\n");
    } else {
        let rules: Vec<_> = details.matched_rules.iter().map(|r| one_line(r)).collect();
        out.push_str(&format!("rules matched: {}\n", rules.join(", ")));
    }
    for (delivery, attempts) in &details.deliveries {
        out.push_str(&delivery_line(delivery));
        out.push('\n');
        for a in attempts {
            out.push_str(&attempt_line(a));
            out.push('\n');
        }
    }
    out
}

//! `mqa-relay dlq`: the dead-letter list, on the store a running relay uses (SQLite allows a
//! second process to read and write it safely). Replays are picked up by the running relay's
//! senders within seconds; they are rendered with the current templates when sent.

use std::process::ExitCode;

use clap::Subcommand;

use super::on_store::{self, StoreArgs};
use crate::app::App;
use crate::clock::{now_ms, parse_since, rfc3339};
use crate::pipeline::report::one_line;
use crate::server::api::views;
use crate::store::{DeadFilter, Store};

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Dead deliveries not yet replayed or dropped, oldest first.
    List {
        /// Only this target.
        #[arg(long)]
        target: Option<String>,
        /// Only those that died since: a duration back from now (2h, 1d) or an RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One delivery: its event, attempts, errors, and the payload a replay would send.
    Show { id: i64 },
    /// Send dead deliveries again (as new deliveries at the tail of their target's queue).
    Replay {
        /// The delivery to replay.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<i64>,
        /// Replay every open dead letter (of `--target`, if given).
        #[arg(long)]
        all: bool,
        #[arg(long, requires = "all")]
        target: Option<String>,
        /// With `--all`: only those that died since a duration back from now (2h, 1d) or an
        /// RFC 3339 time.
        #[arg(long, requires = "all")]
        since: Option<String>,
    },
    /// Remove a dead delivery from the list (it is pruned with its event later).
    Drop { id: i64 },
}

pub fn run(args: &StoreArgs, command: DlqCommand) -> ExitCode {
    on_store::run(args, async |store, app| execute(store, app, command).await)
}

async fn execute(store: &Store, app: Option<&App>, command: DlqCommand) -> Result<(), String> {
    let err = |e: crate::store::StoreError| e.to_string();
    match command {
        DlqCommand::List {
            target,
            since,
            limit,
            json,
        } => {
            let since_ms = match since {
                Some(s) => Some(parse_since(&s, now_ms()).map_err(|e| e.to_string())?),
                None => None,
            };
            let filter = DeadFilter {
                limit,
                target,
                since_ms,
            };
            let dead = store.dead_letters(&filter).await.map_err(err)?;
            if json {
                let list: Vec<_> = dead.iter().map(|d| views::delivery_json(d, &[])).collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&list).unwrap_or_default()
                );
            } else if dead.is_empty() {
                println!("no dead deliveries");
            } else {
                for d in &dead {
                    let when = d.finished_at.map(rfc3339).unwrap_or_default();
                    let error = one_line(d.last_error.as_deref().unwrap_or(""));
                    println!("{:>6}  {when}  {}  {}  {error}", d.id, d.target, d.rule);
                }
            }
        }
        DlqCommand::Show { id } => {
            let Some(details) = store.delivery(id).await.map_err(err)? else {
                return Err(format!("no delivery {id}"));
            };
            let value = match app {
                Some(app) => views::delivery_details_json(app, &details),
                None => views::delivery_json(&details.delivery, &details.attempts),
            };
            println!(
                "{}",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            );
        }
        DlqCommand::Replay { id: Some(id), .. } => {
            let new_id = store.replay(id, now_ms()).await.map_err(err)?;
            let new_id = new_id.map_err(|e| e.to_string())?;
            println!("delivery {id} replayed as delivery {new_id}");
        }
        DlqCommand::Replay {
            id: None,
            target,
            since,
            ..
        } => {
            let since_ms = match since {
                Some(s) => Some(parse_since(&s, now_ms()).map_err(|e| e.message_for("--since"))?),
                None => None,
            };
            let filter = DeadFilter {
                target,
                since_ms,
                ..DeadFilter::default()
            };
            let done = store.replay_all(&filter, now_ms()).await.map_err(err)?;
            for (old, new) in &done {
                println!("delivery {old} replayed as delivery {new}");
            }
            println!("{} replayed", done.len());
        }
        DlqCommand::Drop { id } => {
            store
                .drop_dead(id, now_ms())
                .await
                .map_err(err)?
                .map_err(|e| e.to_string())?;
            println!("delivery {id} dropped");
        }
    }
    Ok(())
}

//! After a relay run: what the relay's durable store (`<data-dir>/relay.db`, opened read-only
//! once the relay has exited) holds for each event and target, by the event's `benchSeq`, so
//! that an acknowledged message that never reached the sink can be told apart as queued, dead
//! or lost.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use rusqlite::{Connection, OpenFlags};

/// Where the store left one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Not routed yet, or a delivery still pending or sending: the relay goes on with it.
    Queued,
    /// A delivery gave up (a dead letter), none is still open.
    Dead,
    /// Every delivery is marked delivered.
    Delivered,
    /// Routed to no delivery at all.
    NoDelivery,
}

/// What the store holds, by `benchSeq` and target number (`None`: the event has no delivery).
#[derive(Debug, Default)]
pub struct StoredEvents {
    by_seq: HashMap<(u64, Option<usize>), Stored>,
}

impl StoredEvents {
    /// The message of the event with this `benchSeq` to target number `target`; `None` when
    /// the store has no such event, or the event no delivery to that target.
    pub fn get(&self, seq: u64, target: usize) -> Option<Stored> {
        let found = self.by_seq.get(&(seq, Some(target)));
        found.or_else(|| self.by_seq.get(&(seq, None))).copied()
    }
}

impl FromIterator<((u64, Option<usize>), Stored)> for StoredEvents {
    fn from_iter<I: IntoIterator<Item = ((u64, Option<usize>), Stored)>>(iter: I) -> Self {
        StoredEvents {
            by_seq: iter.into_iter().collect(),
        }
    }
}

/// Per event and target: the event's `benchSeq`, the target, whether the event is unrouted,
/// and how many of its deliveries are open, dead, and there at all.
const QUERY: &str = "
    SELECT json_extract(e.body, '$.data.benchSeq'),
           d.target,
           e.routed_at IS NULL,
           COALESCE(SUM(d.state IN ('pending', 'sending')), 0),
           COALESCE(SUM(d.state = 'dead'), 0),
           COUNT(d.id)
    FROM events e LEFT JOIN deliveries d ON d.event_id = e.id
    GROUP BY e.id, d.target";

type Row = (Option<i64>, Option<String>, i64, i64, i64, i64);

/// Reads every event of `<data_dir>/relay.db` without writing to it. Call it only after the
/// relay has exited, so that nothing moves while it is counted.
pub async fn read(data_dir: &Path) -> Result<StoredEvents> {
    let file = data_dir.join("relay.db");
    if !file.exists() {
        bail!("{} does not exist", file.display());
    }
    let conn = Connection::open_with_flags(&file, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening {} read-only", file.display()))?;
    let rows: Vec<Row> = conn
        .prepare(QUERY)
        .and_then(|mut stmt| {
            stmt.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?
            .collect()
        })
        .with_context(|| format!("reading the events of {}", file.display()))?;
    Ok(rows
        .into_iter()
        .filter_map(|(seq, target, unrouted, open, dead, deliveries)| {
            let seq = u64::try_from(seq?).ok()?;
            let target = target.as_deref().map(target_number);
            Some((
                (seq, target),
                classify(unrouted != 0, open, dead, deliveries),
            ))
        })
        .collect())
}

/// The number of a sink target: `sink` is 0, `sink-3` is 3.
fn target_number(name: &str) -> usize {
    name.rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn classify(unrouted: bool, open: i64, dead: i64, deliveries: i64) -> Stored {
    if unrouted || open > 0 {
        Stored::Queued
    } else if dead > 0 {
        Stored::Dead
    } else if deliveries > 0 {
        Stored::Delivered
    } else {
        Stored::NoDelivery
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use mqa_relay::event::Event;
    use mqa_relay::store::{NewDelivery, Outcome, Routing, Store, StoreConfig};

    use super::*;

    fn event(seq: u64) -> Event {
        let body = format!(r#"{{"event":"AUDIT_EXPIRED","data":{{"benchSeq":{seq}}}}}"#);
        Event::parse(body.as_bytes()).unwrap()
    }

    fn routing(id: &str) -> Routing {
        Routing {
            event_id: id.to_owned(),
            matched_rules: vec!["to-sink".into()],
            deliveries: vec![NewDelivery {
                rule: "to-sink".into(),
                target: "sink".into(),
                template: None,
            }],
            enrichment: None,
        }
    }

    /// Finishes the head of the sink's lane with `outcome`.
    async fn finish_head(store: &Store, outcome: Outcome) {
        let now = i64::MAX / 2;
        let claim = store
            .claim_next("sink", now, Duration::from_secs(60), "sender")
            .await
            .unwrap()
            .unwrap();
        assert!(store.finish(&claim, &outcome, now).await.unwrap());
    }

    #[tokio::test]
    async fn each_event_of_a_real_store_is_found_by_its_sequence_number_in_its_state() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&StoreConfig::embedded(dir.path()))
            .await
            .unwrap();
        let mut ids = Vec::new();
        for seq in 1..=5 {
            ids.push(store.ingest(&event(seq)).await.unwrap().id);
        }
        let mut routings: Vec<_> = ids[..3].iter().map(|id| routing(id)).collect();
        routings[2].deliveries.clear();
        store.mark_routed_all(&routings).await.unwrap();
        finish_head(&store, delivered()).await;
        store.mark_routed_all(&[routing(&ids[3])]).await.unwrap();
        finish_head(&store, dead()).await;

        let stored = read(dir.path()).await.unwrap();
        assert_eq!(stored.get(1, 0), Some(Stored::Delivered));
        assert_eq!(stored.get(2, 0), Some(Stored::Dead));
        assert_eq!(stored.get(3, 0), Some(Stored::NoDelivery));
        assert_eq!(stored.get(4, 0), Some(Stored::Queued));
        assert_eq!(stored.get(5, 0), Some(Stored::Queued));
        assert_eq!(stored.get(6, 0), None);
        // An event routed to target 0 only has nothing for target 1.
        assert_eq!(stored.get(1, 1), None);
    }

    fn delivered() -> Outcome {
        Outcome::Delivered {
            status: Some(200),
            provider_id: None,
        }
    }

    fn dead() -> Outcome {
        Outcome::Dead {
            status: Some(400),
            error: "rejected".into(),
        }
    }

    #[tokio::test]
    async fn a_data_directory_without_a_store_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = read(dir.path()).await.unwrap_err();
        assert!(format!("{err:#}").contains("relay.db"));
        assert!(!dir.path().join("relay.db").exists());
    }

    #[test]
    fn an_open_delivery_counts_as_queued_before_a_dead_one() {
        assert_eq!(classify(false, 1, 1, 2), Stored::Queued);
        assert_eq!(classify(true, 0, 0, 0), Stored::Queued);
        assert_eq!(classify(false, 0, 1, 2), Stored::Dead);
    }
}

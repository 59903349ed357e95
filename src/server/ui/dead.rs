//! The dead letters screen: open dead letters grouped by target and by why they died, and
//! replay of one, a selection, or every one (of a target) since a time, each after a
//! confirmation that says how many messages will be sent.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use warp::http::StatusCode;
use warp::reply::Response;

use super::view::confirm;
use super::view::{self, when};
use super::{Page, Request, first, html};
use crate::clock::{now_ms, parse_since};
use crate::store::{DeadFilter, DeadLetterError, DeliveryRecord};

/// The most dead letters one screen lists.
const LISTED: usize = 1000;

const REPLAY_WARNING: &str = "Each is sent again as a new delivery at the end of its \
     target's queue. Slack and Teams cannot tell a resend from a new message: if the first \
     one did arrive, people will see it twice.";

/// `GET /ui/dead`.
pub(super) async fn list(page: &Page<'_>, req: &Request) -> Response {
    let now = now_ms();
    let target = req.query("target");
    let filter = DeadFilter {
        limit: LISTED,
        target: target.clone(),
        since_ms: None,
    };
    let dead = match page.relay.store.dead_letters(&filter).await {
        Ok(dead) => dead,
        Err(e) => return page.store_down(&e),
    };
    let app = page.relay.app();
    let targets: Vec<Value> = app
        .config
        .targets
        .keys()
        .map(|t| json!({"value": t, "selected": target.as_deref() == Some(t.as_str())}))
        .collect();
    let data = json!({
        "groups": groups(&dead, now),
        "count": dead.len(),
        "full": dead.len() == LISTED,
        "targets": targets,
        "replayed": req.query("replayed"),
    });
    page.render(StatusCode::OK, "dead", "dead", "Dead letters", data)
}

/// Dead letters by target, then by reason (status and the first line of the error), each
/// group oldest first.
fn groups(dead: &[DeliveryRecord], now: i64) -> Vec<Value> {
    let mut groups: BTreeMap<(String, String), Vec<&DeliveryRecord>> = BTreeMap::new();
    for d in dead {
        groups
            .entry((d.target.clone(), reason(d)))
            .or_default()
            .push(d);
    }
    groups
        .into_iter()
        .map(|((target, reason), items)| {
            let ids: Vec<String> = items.iter().map(|d| d.id.to_string()).collect();
            json!({
                "target": target,
                "reason": reason,
                "count": items.len(),
                "ids": ids.join(","),
                "items": items.iter().map(|d| view::delivery(d, &[], now)).collect::<Vec<_>>(),
                "died": when(items.iter().filter_map(|d| d.finished_at).max(), now),
            })
        })
        .collect()
}

/// Why a delivery died, short enough to group by.
fn reason(d: &DeliveryRecord) -> String {
    let error = d.last_error.as_deref().unwrap_or("no error recorded");
    let line: String = error
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(120)
        .collect();
    match d.last_status {
        Some(status) => format!("HTTP {status}: {line}"),
        None => line,
    }
}

/// `POST /ui/dead/replay`: `one=<id>`, `id=<id>`… (a selection), `ids=<id,id>` (a group), or
/// `since=<time>` (with `target`); without `confirmed`, the confirmation page.
pub(super) async fn replay(page: &Page<'_>, req: &Request) -> Response {
    let form = req.form();
    let since = first(&form, "since");
    let target = first(&form, "target");
    let ids = match (&since, selected(&form)) {
        (Some(since), _) => match since_ids(page, since, target.clone()).await {
            Ok(ids) => ids,
            Err(response) => return response,
        },
        (None, ids) => ids,
    };
    if ids.is_empty() {
        return page.message(
            StatusCode::OK,
            "Nothing to replay",
            "No open dead letter was chosen.",
        );
    }
    if first(&form, "confirmed").is_none() {
        let items: Vec<String> = ids.iter().map(|id| format!("delivery {id}")).collect();
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        return confirm(
            page,
            "/ui/dead/replay",
            &items,
            &[("ids", list)],
            "/ui/dead",
            REPLAY_WARNING,
        );
    }
    let now = now_ms();
    let mut replayed = 0;
    let mut skipped = Vec::new();
    for id in &ids {
        match page.relay.store.replay(*id, now).await {
            Ok(Ok(_)) => replayed += 1,
            Ok(Err(
                e @ (DeadLetterError::AlreadyReplayed(..)
                | DeadLetterError::Dropped(_)
                | DeadLetterError::NotDead(_)
                | DeadLetterError::NotFound(_)),
            )) => {
                skipped.push(e.to_string());
            }
            Err(e) => return page.store_down(&e),
        }
    }
    tracing::info!(
        count = replayed,
        skipped = skipped.len(),
        "dead letters replayed from the operator page"
    );
    page.relay.wake_senders();
    if skipped.is_empty() {
        return html::redirect(&format!("/ui/dead?replayed={replayed}"));
    }
    let text = format!("{replayed} replayed; not replayed: {}.", skipped.join("; "));
    page.message(StatusCode::OK, "Replayed", &text)
}

/// The ids a form selected: `one` alone if given (a row's own button), else the ids in `ids`
/// if given (a group's button, or the confirmation), else every ticked `id`.
fn selected(form: &[(String, String)]) -> Vec<i64> {
    if let Some(one) = first(form, "one") {
        return one.parse().into_iter().collect();
    }
    let key = if first(form, "ids").is_some() {
        "ids"
    } else {
        "id"
    };
    let mut ids: Vec<i64> = form
        .iter()
        .filter(|(k, _)| k == key)
        .flat_map(|(_, v)| v.split(','))
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The open dead letters (of `target`) that died since `since`.
async fn since_ids(
    page: &Page<'_>,
    since: &str,
    target: Option<String>,
) -> Result<Vec<i64>, Response> {
    let since_ms = parse_since(since, now_ms()).map_err(|e| {
        page.message(
            StatusCode::BAD_REQUEST,
            "Not a time",
            &format!("since: {e}"),
        )
    })?;
    let filter = DeadFilter {
        limit: usize::MAX,
        target,
        since_ms: Some(since_ms),
    };
    match page.relay.store.dead_letters(&filter).await {
        Ok(dead) => Ok(dead.iter().map(|d| d.id).collect()),
        Err(e) => Err(page.store_down(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_row_button_replays_only_its_row() {
        let f = form(&[("id", "3"), ("id", "4"), ("one", "9")]);
        assert_eq!(selected(&f), vec![9]);
    }

    #[test]
    fn a_group_button_replays_only_its_group() {
        let f = form(&[("id", "4"), ("ids", "2,4,x,2"), ("id", "1")]);
        assert_eq!(selected(&f), vec![2, 4]);
    }

    #[test]
    fn the_ticked_rows_are_replayed_once_each() {
        let f = form(&[("id", "4"), ("id", "1"), ("id", "4")]);
        assert_eq!(selected(&f), vec![1, 4]);
    }
}

//! The events screens: the list with its filters and tail toggle, one event with every rule's
//! verdict and each delivery's attempts, one delivery with the body a replay sends, and the
//! two actions there (replay a dead delivery; re-route the event with the rules loaded now).

use serde_json::{Value, json};
use warp::http::StatusCode;
use warp::reply::Response;

use super::view::{self, confirm, short_hash, when};
use super::{Page, Request, first, html};
use crate::clock::{now_ms, parse_since};
use crate::conversation;
use crate::event::EVENT_TYPES;
use crate::preview;
use crate::store::{
    Conversation, ConversationFilter, DeadLetterError, EventDetails, EventFilter, EventOutcome,
    EventSummary,
};

/// Events per page.
const PAGE: usize = 50;

/// The query keys that narrow the list (a page cursor or the tail toggle do not).
const FILTERS: [&str; 7] = [
    "event", "company", "rule", "target", "outcome", "since", "until",
];

/// `GET /ui/`: the newest events first, filtered by the query.
pub(super) async fn list(page: &Page<'_>, req: &Request) -> Response {
    let now = now_ms();
    let (filter, problem) = filter_of(req, now);
    let found = match problem {
        Some(_) => Vec::new(),
        None => match page.relay.store.list_events(&filter).await {
            Ok(found) => found,
            Err(e) => return page.store_down(&e),
        },
    };
    let next = (found.len() == PAGE)
        .then(|| found.last().map(|e| next_href(req, e)))
        .flatten();
    let rows: Vec<Value> = found.iter().map(|e| row(e, now)).collect();
    let tail = req.query("tail").is_some() && req.query("before").is_none();
    let data = json!({
        "rows": rows,
        "next": next,
        "problem": problem,
        "tail": tail,
        "tail_href": tail_href(req, !tail),
        "filters": filters(page, req),
        "filtered": FILTERS.iter().any(|k| req.query(k).is_some()),
    });
    page.render(StatusCode::OK, "events", "events", "Events", data)
}

/// The filter the query asks for, or why it cannot be read.
fn filter_of(req: &Request, now: i64) -> (EventFilter, Option<String>) {
    let mut problem = None;
    let mut time = |name: &str| {
        let value = req.query(name)?;
        match parse_since(&value, now) {
            Ok(ms) => Some(ms),
            Err(e) => {
                problem = Some(e.message_for(name));
                None
            }
        }
    };
    let since_ms = time("since");
    let until_ms = time("until");
    let outcome = req.query("outcome").and_then(|o| {
        let parsed = EventOutcome::parse(&o);
        if parsed.is_none() {
            problem = Some(format!(
                "outcome: {o:?} is not one of delivered, waiting, dead, none, unrouted"
            ));
        }
        parsed
    });
    let before = req.query("before").and_then(|b| {
        let parsed = crate::store::parse_cursor(&b);
        if parsed.is_none() {
            problem = Some("before: not a page cursor of this screen".into());
        }
        parsed
    });
    let filter = EventFilter {
        limit: PAGE,
        kind: req.query("event"),
        company: req.query("company"),
        rule: req.query("rule"),
        target: req.query("target"),
        outcome,
        since_ms,
        until_ms,
        before,
    };
    (filter, problem)
}

/// This page's query with `before` set to after `last`.
fn next_href(req: &Request, last: &EventSummary) -> String {
    let cursor = last.cursor();
    with_query(req, &[("before", Some(cursor.as_str())), ("tail", None)])
}

fn tail_href(req: &Request, on: bool) -> String {
    with_query(req, &[("tail", on.then_some("1")), ("before", None)])
}

/// `/ui/?<query>` with the `changes` applied (`None` removes the key).
fn with_query(req: &Request, changes: &[(&str, Option<&str>)]) -> String {
    let mut pairs: Vec<(String, String)> = super::pairs(req.query.as_bytes())
        .into_iter()
        .filter(|(k, v)| !v.is_empty() && !changes.iter().any(|(c, _)| c == k))
        .collect();
    for (k, v) in changes {
        if let Some(v) = v {
            pairs.push((k.to_string(), v.to_string()));
        }
    }
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    if query.is_empty() {
        "/ui/".into()
    } else {
        format!("/ui/?{query}")
    }
}

/// The filter form: each field's value now and the choices it offers.
fn filters(page: &Page<'_>, req: &Request) -> Value {
    let app = page.relay.app();
    let choices = |values: Vec<String>, chosen: Option<String>| -> Vec<Value> {
        values
            .into_iter()
            .map(|v| json!({"value": v, "selected": chosen.as_deref() == Some(v.as_str())}))
            .collect()
    };
    let rules = app
        .config
        .rules
        .rules()
        .iter()
        .map(|r| r.name.clone())
        .collect();
    let targets = app.config.targets.keys().cloned().collect();
    let kinds = EVENT_TYPES.iter().map(|k| k.to_string()).collect();
    let outcomes = ["delivered", "waiting", "dead", "none", "unrouted"]
        .iter()
        .map(|o| o.to_string())
        .collect();
    json!({
        "kinds": choices(kinds, req.query("event")),
        "rules": choices(rules, req.query("rule")),
        "targets": choices(targets, req.query("target")),
        "outcomes": choices(outcomes, req.query("outcome")),
        "company": req.query("company"),
        "since": req.query("since"),
        "until": req.query("until"),
    })
}

fn row(e: &EventSummary, now: i64) -> Value {
    let (status, class) = status(e);
    json!({
        "id": e.id,
        "href": format!("/ui/events/{}", e.id),
        "received": when(Some(e.received_at), now),
        "kind": e.kind,
        "company": e.company_name.clone().or_else(|| e.company_id.clone()),
        "rules": e.rules,
        "targets": e.targets,
        "status": status,
        "class": class,
    })
}

/// How an event's deliveries stand, in words and symbols, and the class that colours it.
fn status(e: &EventSummary) -> (String, &'static str) {
    if e.routed_at.is_none() {
        return ("⧗ not routed yet".into(), "waiting");
    }
    if e.deliveries == 0 {
        return ("– no rule matched".into(), "skip");
    }
    let mut parts = Vec::new();
    if e.delivered > 0 {
        parts.push(format!("✓ {} delivered", e.delivered));
    }
    if e.waiting > 0 {
        parts.push(format!("⟳ {} waiting", e.waiting));
    }
    if e.dead > 0 {
        parts.push(format!("✗ {} dead", e.dead));
    }
    let class = match (e.dead, e.waiting, e.delivered) {
        (d, _, _) if d > 0 => "dead",
        (_, w, _) if w > 0 => "waiting",
        (_, _, 0) => "skip",
        _ => "ok",
    };
    if parts.is_empty() {
        // Every delivery a dead letter an operator dropped.
        parts.push("– dead letters dropped".into());
    }
    (parts.join(" · "), class)
}

/// The stored event `id`, or the page that says why there is none.
async fn stored_event(page: &Page<'_>, id: &str) -> Result<EventDetails, Response> {
    match page.relay.store.event(id).await {
        Ok(Some(details)) => Ok(details),
        Ok(None) => Err(page.message(
            StatusCode::NOT_FOUND,
            "No such event",
            "No event with that id is stored (it may have been pruned).",
        )),
        Err(e) => Err(page.store_down(&e)),
    }
}

fn delivery_id(id: &str) -> Option<i64> {
    id.parse().ok()
}

fn no_delivery(page: &Page<'_>, why: &str) -> Response {
    page.message(StatusCode::NOT_FOUND, "No such delivery", why)
}

/// `GET /ui/events/<id>`.
pub(super) async fn show(page: &Page<'_>, id: &str) -> Response {
    let details = match stored_event(page, id).await {
        Ok(details) => details,
        Err(response) => return response,
    };
    let now = now_ms();
    let app = page.relay.app();
    let context = details.event.context();
    let verdicts = preview::evaluate(&app, &context, &details.event.id);
    let matched: Vec<Value> = verdicts
        .matches
        .iter()
        .map(|m| json!({"rule": m.rule, "targets": m.targets.iter().map(|t| &t.target).collect::<Vec<_>>()}))
        .collect();
    let deliveries: Vec<Value> = details
        .deliveries
        .iter()
        .map(|(d, a)| view::delivery(d, a, now))
        .collect();
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
    let conversations: Vec<Value> = conversations_of(page, &details)
        .await
        .iter()
        .map(|c| view::conversation(c, now))
        .collect();
    let data = json!({
        "id": details.event.id,
        "conversations": conversations,
        "kind": details.event.event.kind,
        "received": when(Some(details.event.received_at), now),
        "routed": when(details.routed_at, now),
        "routed_rules": details.matched_rules,
        "body": pretty(&details.event.event.to_value()),
        "enrichment": details.event.enrichment.as_ref().map(pretty),
        "matched": matched,
        "skipped": verdicts.skipped,
        "config_hash": short_hash(&app.config.hash),
        "deliveries": deliveries,
        "preview_href": format!("/ui/preview?event={}", details.event.id),
        "can_reroute": details.routed_at.is_some(),
    });
    page.render(
        StatusCode::OK,
        "event",
        "events",
        &details.event.event.kind,
        data,
    )
}

/// The conversations the event's deliveries posted in, and its own object's, on every target
/// (none when the store cannot say: the page shows the rest).
async fn conversations_of(page: &Page<'_>, details: &EventDetails) -> Vec<Conversation> {
    let event = &details.event.event;
    let mut objects: Vec<String> = details
        .deliveries
        .iter()
        .filter_map(|(d, _)| d.object_key.clone())
        .collect();
    objects.extend(conversation::key(&event.kind, &event.data));
    objects.sort();
    objects.dedup();
    let mut found = Vec::new();
    for object in objects {
        let filter = ConversationFilter {
            limit: 20,
            object: Some(object),
            target: None,
        };
        match page.relay.store.conversations(&filter).await {
            Ok(some) => found.extend(some),
            Err(e) => tracing::warn!("operator page: cannot read the conversations: {e}"),
        }
    }
    found
}

/// `POST /ui/events/<id>/reroute`: first a confirmation that lists what would be sent, then
/// (with `confirmed`) the new deliveries. The confirmation carries how many deliveries the
/// event had, so a second submit of the same confirmation (a double click, a resent form)
/// finds the event changed and sends nothing; one relay re-routes one event at a time.
pub(super) async fn reroute(page: &Page<'_>, id: &str, req: &Request) -> Response {
    let Some(_turn) = page.ui.rerouting.begin(id) else {
        return page.message(
            StatusCode::CONFLICT,
            "Not re-routed",
            "This event is being re-routed right now.",
        );
    };
    let details = match stored_event(page, id).await {
        Ok(details) => details,
        Err(response) => return response,
    };
    let app = page.relay.app();
    let deliveries = crate::pipeline::router::deliveries_for(&app.config, &details.event.context());
    if deliveries.is_empty() {
        return page.message(
            StatusCode::OK,
            "Nothing to send",
            "No rule loaded now matches this event.",
        );
    }
    let had = details.deliveries.len().to_string();
    let form = req.form();
    if first(&form, "confirmed").is_none() {
        let items: Vec<String> = deliveries
            .iter()
            .map(|d| format!("{} → {}", d.rule, d.target))
            .collect();
        let action = format!("/ui/events/{id}/reroute");
        let back = format!("/ui/events/{id}");
        return confirm(
            page,
            &action,
            &items,
            &[("had", had)],
            &back,
            REROUTE_WARNING,
        );
    }
    if first(&form, "had").as_deref() != Some(had.as_str()) {
        return page.message(StatusCode::CONFLICT, "Not re-routed", "The event has changed since this confirmation (it was re-routed or replayed meanwhile): look at its deliveries before sending again.");
    }
    rerouted(page, id, &deliveries).await
}

const REROUTE_WARNING: &str = "These messages are sent again, with the rules loaded now. Slack \
     and Teams cannot tell a resend from a new message: people will see them twice.";

async fn rerouted(page: &Page<'_>, id: &str, deliveries: &[crate::store::NewDelivery]) -> Response {
    match page.relay.store.reroute(id, deliveries, now_ms()).await {
        Ok(Ok(ids)) => {
            tracing::info!(
                event_id = id,
                deliveries = ids.len(),
                "event re-routed from the operator page"
            );
            page.relay.wake_senders();
            html::redirect(&format!("/ui/events/{id}"))
        }
        Ok(Err(e)) => page.message(StatusCode::CONFLICT, "Not re-routed", &e.to_string()),
        Err(e) => page.store_down(&e),
    }
}

/// The events being re-routed by this relay now.
#[derive(Default)]
pub(super) struct Rerouting(std::sync::Mutex<std::collections::HashSet<String>>);

impl Rerouting {
    /// Marks `id` as being re-routed until the returned turn is dropped; `None` if it is.
    fn begin(&self, id: &str) -> Option<Turn<'_>> {
        self.lock()
            .insert(id.to_string())
            .then(|| Turn(self, id.to_string()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        // A set of ids: valid whatever a panicking holder did.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One re-route in progress (see [`Rerouting::begin`]).
struct Turn<'a>(&'a Rerouting, String);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.0.lock().remove(&self.1);
    }
}

/// `GET /ui/deliveries/<id>`: one delivery, its attempts, and the body a replay would send.
pub(super) async fn delivery(page: &Page<'_>, id: &str) -> Response {
    let Some(id) = delivery_id(id) else {
        return no_delivery(page, "A delivery id is a number.");
    };
    let details = match page.relay.store.delivery(id).await {
        Ok(Some(d)) => d,
        Ok(None) => return no_delivery(page, "No delivery with that id is stored."),
        Err(e) => return page.store_down(&e),
    };
    let app = page.relay.app();
    let now = now_ms();
    let body = crate::server::api::views::delivery_details_json(&app, &details);
    let payload = body
        .get("payload")
        .map(|p| serde_json::to_string_pretty(p).unwrap_or_default());
    let data = json!({
        "delivery": view::delivery(&details.delivery, &details.attempts, now),
        "open_dead": details.delivery.state == crate::store::DeliveryState::Dead
            && details.replayed_by.is_none() && details.dropped_at.is_none(),
        "replayed_by": details.replayed_by,
        "dropped": when(details.dropped_at, now),
        "payload": payload,
        "payload_error": body.get("payload_error"),
    });
    page.render(
        StatusCode::OK,
        "delivery",
        "dead",
        &format!("Delivery {id}"),
        data,
    )
}

/// `POST /ui/deliveries/<id>/replay`: replays one dead letter.
pub(super) async fn replay(page: &Page<'_>, id: &str) -> Response {
    let Some(id) = delivery_id(id) else {
        return no_delivery(page, "A delivery id is a number.");
    };
    match page.relay.store.replay(id, now_ms()).await {
        Ok(Ok(new_id)) => {
            tracing::info!(
                delivery_id = id,
                replay_id = new_id,
                "dead letter replayed from the operator page"
            );
            page.relay.wake_senders();
            html::redirect(&format!("/ui/deliveries/{new_id}"))
        }
        Ok(Err(e)) => {
            let status = match e {
                DeadLetterError::NotFound(_) => StatusCode::NOT_FOUND,
                _ => StatusCode::CONFLICT,
            };
            page.message(status, "Not replayed", &e.to_string())
        }
        Err(e) => page.store_down(&e),
    }
}

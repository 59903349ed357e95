//! The rules and targets screen: the loaded file as parsed (secrets hidden, see
//! [`crate::yaml::show`]), its hash and load time, the recent reloads with the problems of
//! each refused one, a reload button (the same reload as SIGHUP), and each target's health.

use std::sync::Arc;

use serde_json::{Value, json};
use warp::http::StatusCode;
use warp::reply::Response;

use super::view::short_hash;
use super::view::when;
use super::{Page, Request};
use crate::app::{Overlap, ReloadError};
use crate::clock::now_ms;

/// `GET /ui/rules`.
pub(super) async fn show(page: &Page<'_>, req: &Request) -> Response {
    let now = now_ms();
    let health = match page.relay.store.target_health(now).await {
        Ok(health) => health,
        Err(e) => return page.store_down(&e),
    };
    let (app, loads) = page.relay.serving();
    let targets = crate::server::api::views::targets_json(&app, &health);
    let targets: Vec<Value> = targets["targets"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|t| shown_target(t, now))
        .collect();
    let history: Vec<Value> = loads
        .recent()
        .map(|l| {
            json!({
                "at": when(Some(l.at_ms), now),
                "ok": l.ok(),
                "outcome": if l.ok() { "✓ loaded" } else { "✗ refused" },
                "hash": l.hash.as_deref().map(short_hash),
                "problems": l.problems,
            })
        })
        .collect();
    let failure = loads
        .unresolved_failure()
        .map(|l| json!({"at": when(Some(l.at_ms), now), "problems": l.problems}));
    let c = &app.config;
    let data = json!({
        "path": page.relay.rules_path().display().to_string(),
        "hash": c.hash,
        "short_hash": short_hash(&c.hash),
        "loaded": when(Some(loads.serving_since_ms()), now),
        "rules": c.rules.rules().len(),
        "target_count": c.targets.len(),
        "shown": c.shown,
        "history": history,
        "failure": failure,
        "warnings": app.warnings(),
        "restart_needed": page.relay.restart_needed(&app),
        "targets": targets,
        "result": req.query("reloaded"),
    });
    page.render(StatusCode::OK, "rules", "rules", "Rules and targets", data)
}

/// A target row of the API's view (`GET /api/targets`), with its times and rate as the page
/// shows them.
fn shown_target(mut t: Value, now: i64) -> Value {
    for key in [
        "oldest_created_at",
        "last_delivered_at",
        "last_attempt_at",
        "paused_until",
    ] {
        let ms = t[key]
            .as_str()
            .and_then(|iso| iso.parse::<jiff::Timestamp>().ok())
            .map(|ts| ts.as_millisecond());
        t[key] = when(ms, now);
    }
    t["name"] = t["target"].clone();
    let rate = &t["rate_limit"];
    t["rate_limit"] = match (rate["count"].as_u64(), rate["per_ms"].as_u64()) {
        (Some(count), Some(per_ms)) => {
            let per = humantime::format_duration(std::time::Duration::from_millis(per_ms));
            json!(format!("{count} per {per}"))
        }
        _ => Value::Null,
    };
    t
}

/// `POST /ui/rules/reload`: reloads the file as SIGHUP does and says how it went.
pub(super) async fn reload(page: &Page<'_>) -> Response {
    let relay: &Arc<crate::app::Relay> = page.relay;
    match relay.reload_within(Overlap::Refuse).await {
        Ok(app) => {
            tracing::info!(config_hash = %app.config.hash, "configuration reloaded from the operator page");
            crate::app::start_only::warn(&relay.restart_needed(&app));
            super::html::redirect("/ui/rules?reloaded=1")
        }
        Err(ReloadError::Invalid(errors)) => {
            tracing::warn!(
                problems = errors.errors.len(),
                "reload from the operator page refused; the old configuration stays"
            );
            super::html::redirect("/ui/rules?reloaded=0")
        }
        Err(e) => {
            tracing::warn!("reload from the operator page: {e}");
            page.message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Not reloaded",
                &e.to_string(),
            )
        }
    }
}

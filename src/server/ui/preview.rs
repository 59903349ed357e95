//! The preview screen: an event (a sample, a stored one, or pasted) against the loaded rules
//! or a pasted draft, with every rule's verdict and each matched target's message drawn as
//! the person will see it: Slack by [`crate::preview::slack`], Teams by Microsoft's renderer
//! in the browser, email in a sandboxed frame ([`super::frames`]). Nothing is sent.
//!
//! A draft reads the relay's environment only into fields whose values are never shown (see
//! [`crate::config::parse_draft`]): anywhere else a `${VAR}` stands for itself, so a draft
//! cannot put a value of the environment on the page.

use std::sync::Arc;

use serde_json::{Value, json};
use warp::http::StatusCode;
use warp::reply::Response;

use super::view::short_hash;
use super::{Page, Request, first, frames, html};
use crate::app::{App, templates_dir};
use crate::event::Event;
use crate::pipeline::offload;
use crate::preview::{self, EmailParts, Preview, TargetReport};
use crate::store::EventFilter;
use crate::template::sample_events;

/// What the form asked for.
#[derive(Debug, Clone, Default)]
struct Inputs {
    sample: Option<String>,
    event_id: Option<String>,
    event_json: Option<String>,
    draft: Option<String>,
}

/// `GET /ui/preview`: the form; with `?event=<id>` or `?sample=<name>`, already run.
pub(super) async fn form(page: &Page<'_>, req: &Request) -> Response {
    let inputs = Inputs {
        sample: req.query("sample"),
        event_id: req.query("event"),
        ..Inputs::default()
    };
    let run = inputs.sample.is_some() || inputs.event_id.is_some();
    show(page, inputs, run).await
}

/// `POST /ui/preview`: runs the form.
pub(super) async fn run(page: &Page<'_>, req: &Request) -> Response {
    let form = req.form();
    let inputs = Inputs {
        sample: first(&form, "sample"),
        event_id: first(&form, "event_id"),
        event_json: first(&form, "event_json").filter(|t| !t.trim().is_empty()),
        draft: first(&form, "draft").filter(|t| !t.trim().is_empty()),
    };
    show(page, inputs, true).await
}

async fn show(page: &Page<'_>, inputs: Inputs, run: bool) -> Response {
    let recent = match page
        .relay
        .store
        .list_events(&EventFilter {
            limit: 50,
            ..EventFilter::default()
        })
        .await
    {
        Ok(recent) => recent,
        Err(e) => return page.store_down(&e),
    };
    let result = if run {
        Some(result(page, &inputs).await)
    } else {
        None
    };
    let samples: Vec<Value> = sample_events()
        .into_iter()
        .map(|(stem, _)| json!({"value": stem, "selected": inputs.sample.as_deref() == Some(stem.as_str())}))
        .collect();
    let recent: Vec<Value> = recent
        .iter()
        .map(|e| {
            let company = e.company_name.clone().unwrap_or_default();
            json!({"value": e.id, "label": format!("{} {company} ({})", e.kind, &e.id[..e.id.len().min(13)]),
                   "selected": inputs.event_id.as_deref() == Some(e.id.as_str())})
        })
        .collect();
    let data = json!({
        "samples": samples,
        "recent": recent,
        "event_json": inputs.event_json,
        "draft": inputs.draft,
        "result": result,
    });
    page.render(StatusCode::OK, "preview", "preview", "Preview", data)
}

/// The preview's outcome as the page shows it.
async fn result(page: &Page<'_>, inputs: &Inputs) -> Value {
    let (event, source) = match event_of(page, inputs).await {
        Ok(found) => found,
        Err(problem) => return json!({"problem": problem}),
    };
    let loaded = page.relay.app();
    let rules_path = page.relay.rules_path().to_path_buf();
    let draft = inputs.draft.clone();
    let outcome =
        offload::run(move || evaluate(&loaded, draft.as_deref(), &rules_path, &event)).await;
    let Ok(outcome) = outcome else {
        return json!({"problem": "the preview did not finish in time"});
    };
    json!({
        "source": source,
        "rules": outcome.rules,
        "config_errors": outcome.config_errors,
        // Empty lists, not nulls: a strict template may loop over them.
        "matched": outcome.preview.as_ref().map(|p| matched(page, p)).unwrap_or_default(),
        "skipped": outcome.preview.as_ref().map(|p| json!(p.skipped)).unwrap_or(json!([])),
        "problem": Value::Null,
    })
}

/// The event a form names, as rules see it, and words for where it came from.
async fn event_of(page: &Page<'_>, inputs: &Inputs) -> Result<(Value, String), String> {
    if let Some(text) = &inputs.event_json {
        let event = Event::parse(text.as_bytes()).map_err(|e| format!("the pasted event: {e}"))?;
        return Ok((event.to_value(), "the pasted event".into()));
    }
    if let Some(id) = &inputs.event_id {
        return match page.relay.store.event(id).await {
            Ok(Some(details)) => Ok((details.event.context(), format!("stored event {id}"))),
            Ok(None) => Err(format!("no stored event {id}")),
            Err(e) => {
                tracing::warn!("operator page: {e}");
                Err("the store cannot answer now".into())
            }
        };
    }
    let wanted = inputs.sample.clone().unwrap_or_default();
    sample_events()
        .into_iter()
        .find(|(stem, _)| wanted.is_empty() || *stem == wanted)
        .map(|(stem, v)| (v, format!("the sample {stem}")))
        .ok_or_else(|| format!("no sample called {wanted:?}"))
}

struct Outcome {
    rules: String,
    config_errors: Vec<String>,
    preview: Option<Preview>,
}

impl Outcome {
    fn refused(rules: String, config_errors: Vec<String>) -> Outcome {
        Outcome {
            rules,
            config_errors,
            preview: None,
        }
    }
}

/// Runs the preview against the loaded rules, or against `draft` (with the templates beside
/// the loaded file). Pure but for reading the environment and the templates directory.
fn evaluate(
    loaded: &Arc<App>,
    draft: Option<&str>,
    rules_path: &std::path::Path,
    event: &Value,
) -> Outcome {
    let Some(draft) = draft else {
        let rules = format!("the loaded rules ({})", short_hash(&loaded.config.hash));
        let preview = Some(preview::evaluate(loaded, event, "preview"));
        return Outcome {
            rules,
            config_errors: Vec::new(),
            preview,
        };
    };
    let rules = "the pasted draft".to_string();
    let env = |name: &str| std::env::var(name).ok();
    let config = match crate::config::parse_draft(draft, rules_path, &env) {
        Ok(config) => config,
        Err(errors) => return Outcome::refused(rules, lines(&errors.errors)),
    };
    let templates = match crate::template::Templates::load_dir(&templates_dir(rules_path)) {
        Ok(t) => t,
        Err(errors) => return Outcome::refused(rules, lines(&errors)),
    };
    let app = App::new(config, templates);
    let config_errors = match crate::app::check::strict(&app) {
        Ok(()) => Vec::new(),
        Err(errors) => lines(&errors.errors),
    };
    let preview = Some(preview::evaluate(&app, event, "preview"));
    Outcome {
        rules,
        config_errors,
        preview,
    }
}

fn lines<E: ToString>(errors: &[E]) -> Vec<String> {
    errors.iter().map(ToString::to_string).collect()
}

/// Each matched rule with each target's message ready to draw.
fn matched(page: &Page<'_>, p: &Preview) -> Vec<Value> {
    p.matches
        .iter()
        .map(|m| json!({"rule": m.rule, "targets": m.targets.iter().map(|t| target(page, t)).collect::<Vec<_>>()}))
        .collect()
}

fn target(page: &Page<'_>, t: &TargetReport) -> Value {
    let payload = t.payload.clone().unwrap_or(Value::Null);
    let raw = serde_json::to_string_pretty(&payload).unwrap_or_default();
    let mut shown = json!({"target": t.target, "kind": t.kind, "error": t.error, "raw": raw,
        "conversation": t.conversation,
        "slack": Value::Null, "teams": Value::Null, "email": Value::Null});
    if t.payload.is_none() {
        return shown;
    }
    match t.kind.as_str() {
        "slack" => shown["slack"] = json!(preview::slack::render(&payload)),
        "teams" => shown["teams"] = json!(html::json_island(&payload)),
        "email" => {
            shown["email"] = preview::email_parts(&payload).map_or(Value::Null, |e| email(page, e))
        }
        _ => {}
    }
    shown
}

fn email(page: &Page<'_>, e: EmailParts) -> Value {
    let remote = frames::remote_images(&e.html);
    let frame = page.ui.frames.keep(e.html);
    json!({
        "subject": e.subject,
        "from": e.from,
        "to": e.to.join(", "),
        "text": e.text,
        "frame": format!("/ui/frames/{frame}"),
        "remote_images": remote,
    })
}

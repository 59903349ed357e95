//! `mqa-relay send`: render one message and really send it to one target, then print what the
//! provider answered and how the relay classifies that answer. The "does my webhook work?"
//! button; it uses the same composing, request and classification code as `serve`.

use std::path::Path;
use std::process::ExitCode;
use std::time::SystemTime;

use serde_json::Value;

use crate::app::App;
use crate::compose::{self, DeliveryInfo};
use crate::event::Event;
use crate::targets::{self, Verdict};
use crate::template::{sample_event, sample_events};

pub fn run(rules: &Path, target: &str, event: Option<&Path>) -> ExitCode {
    let runtime = match super::runtime(false) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match runtime.block_on(send(rules, target, event)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    }
}

async fn send(rules: &Path, target_name: &str, event: Option<&Path>) -> Result<bool, String> {
    let app = App::load(rules).map_err(|e| format!("{e}\n{} cannot be loaded", rules.display()))?;
    let Some(cfg) = app.target(target_name) else {
        let known: Vec<&String> = app.config.targets.keys().collect();
        return Err(format!(
            "no target named {target_name:?} (targets: {known:?})"
        ));
    };
    let target = &cfg.target;
    let event = load_event(&app, target_name, event)?;
    let rule = rule_for(&app, target_name, &event);
    let template = rule.and_then(|(_, t)| t);
    let info = DeliveryInfo {
        event_id: "send",
        rule: rule.map(|(r, _)| r).unwrap_or("mqa-relay send"),
        target: target_name,
        ..Default::default()
    };
    let ctx = compose::context(&event, &info);
    let key = format!("mqa-relay-send-{}", uuid::Uuid::now_v7());
    let request = compose::request_for(&app.templates, cfg, template, &ctx, &key)
        .map_err(|e| e.to_string())?;
    let kind = event.get("event").and_then(Value::as_str).unwrap_or("?");
    println!(
        "sending a {kind} message to {target_name} ({})",
        target.kind_name()
    );
    let client =
        targets::http::client().map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let verdict = match targets::execute(&client, &request, cfg.timeout).await {
        Ok(response) => {
            println!("answer: HTTP {}", response.status);
            if !response.body.trim().is_empty() {
                // A provider may echo the URL or key back: show the answer without them.
                println!("{}", target.scrub(response.body.trim()));
            }
            target.classify(&response, SystemTime::now())
        }
        Err(err) => targets::classify_transport(&err),
    };
    Ok(print_verdict(&verdict))
}

fn print_verdict(verdict: &Verdict) -> bool {
    match verdict {
        Verdict::Delivered { provider_id } => {
            let id = provider_id
                .as_deref()
                .map(|i| format!(" (provider id {i})"))
                .unwrap_or_default();
            println!("delivered{id}");
            true
        }
        Verdict::Retry { reason, .. } => {
            println!("not delivered; serve would retry: {reason}");
            false
        }
        Verdict::Dead { reason } => {
            println!("not delivered; serve would not retry: {reason}");
            false
        }
    }
}

/// The event file given, or a sample event of a type one of the target's rules handles.
fn load_event(app: &App, target: &str, path: Option<&Path>) -> Result<Value, String> {
    if let Some(path) = path {
        let body =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let event = Event::parse(&body).map_err(|e| format!("{}: {e}", path.display()))?;
        return Ok(event.to_value());
    }
    let handled = sample_events().into_iter().map(|(_, ev)| ev).find(|ev| {
        let kind = ev.get("event").and_then(Value::as_str).unwrap_or("");
        app.config
            .rules
            .rules()
            .iter()
            .any(|r| r.notify.iter().any(|t| t == target) && r.handles(kind))
    });
    handled
        .or_else(|| sample_event("CORRECTIVE_ACTION_REJECTED"))
        .ok_or_else(|| "no sample event is built in".to_string())
}

/// The first rule that notifies the target and matches the event: its name and template.
fn rule_for<'a>(app: &'a App, target: &str, event: &Value) -> Option<(&'a str, Option<&'a str>)> {
    app.config
        .rules
        .rules()
        .iter()
        .find(|r| r.notify.iter().any(|t| t == target) && r.matches(event))
        .map(|r| (r.name.as_str(), r.template.as_deref()))
}

//! Tests of the template module, against the real sample events and real temp directories.

mod budget;
mod defaults;
mod escaping;
mod helpers;
mod loading;
mod properties;

use serde_json::{Value, json};

use super::{Markup, Message, Templates, sample_events};

/// The sample event stored as `examples/events/<stem>.json`.
fn sample(stem: &str) -> Value {
    sample_events()
        .into_iter()
        .find(|(name, _)| name == stem)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no sample {stem}"))
}

/// An AUDIT_* sample with an `audit` object as the enrichment step adds it: the details of
/// the AUDIT_COMPLETED sample.
fn with_audit(stem: &str) -> Value {
    let mut event = sample(stem);
    let mut details = sample("audit_completed")["data"].clone();
    details["id"] = event["data"]["auditId"].clone();
    event["audit"] = details;
    event
}

/// Templates from a temp directory holding `files` (name, content).
fn load(files: &[(&str, &str)]) -> Result<Templates, Vec<super::TemplateError>> {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    Templates::load_dir(dir.path())
}

fn load_ok(files: &[(&str, &str)]) -> Templates {
    load(files).unwrap_or_else(|e| panic!("{}", errors_text(&e)))
}

fn errors_text(errors: &[super::TemplateError]) -> String {
    errors.iter().map(|e| format!("{e}\n")).collect()
}

/// Renders a one-off template `title: <title>` for a markup.
fn render_title(title: &str, markup: Markup, ctx: &Value) -> Result<String, super::RenderError> {
    let yaml = format!("title: '{}'\n", title.replace('\'', "''"));
    let templates = load_ok(&[("t.yaml", &yaml)]);
    templates
        .render_in(crate::template::Mode::Strict, "t", markup, ctx)
        .map(|m| m.title)
}

fn all_text(m: &Message) -> String {
    let mut s = format!("{}\n{}\n", m.title, m.text);
    for (k, v) in &m.fields {
        s.push_str(&format!("{k}: {v}\n"));
    }
    s
}

fn hostile_company(name: &str) -> Value {
    json!({"event": "AUDIT_EXPIRED", "data": {"auditId": "a1"}, "company": {"id": "c", "name": name}})
}

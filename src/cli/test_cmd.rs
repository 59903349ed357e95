//! `mqa-relay test`: which rules match each event file, which targets they notify and the exact
//! body each target would receive, and with `--explain` why every other rule did not match.
//! Uses the same loading, matching and composing as `serve`; nothing is sent.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;

use crate::app::App;
use crate::event::Event;
use crate::preview::{self, email_parts};
pub use crate::preview::{MatchReport, TargetReport};
use crate::rules::Explanation;

/// The result for one event, as printed by `--json`.
#[derive(Debug, Serialize)]
pub struct EventReport {
    pub file: String,
    pub event: String,
    pub matches: Vec<MatchReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<Vec<Explanation>>,
}

/// How `test` was asked to show its results.
#[derive(Debug, Clone, Default)]
pub struct TestOptions {
    pub explain: bool,
    pub json: bool,
    /// Also write every payload to `<dir>/<event file stem>.<kind>.json` (for the docs pictures).
    pub payload_dir: Option<PathBuf>,
    /// Look events up in the MonitorQA API first, as the router does.
    pub enrich: bool,
}

pub fn run(rules: &Path, events: &[PathBuf], opts: &TestOptions) -> ExitCode {
    let app = match App::load(rules) {
        Ok(app) => app,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::from(1);
        }
    };
    if opts.enrich && app.enricher.is_none() {
        eprintln!("--enrich needs monitorqa.api_key in {}", rules.display());
        return ExitCode::from(1);
    }
    let runtime = match super::runtime(false) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let mut failed = false;
    for path in events {
        let result = runtime.block_on(report(&app, path, opts.explain, opts.enrich));
        match result {
            Ok(r) => {
                failed |= r
                    .matches
                    .iter()
                    .flat_map(|m| &m.targets)
                    .any(|t| t.error.is_some());
                show(&r, opts);
            }
            Err(message) => {
                eprintln!("{}: {message}", path.display());
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn show(r: &EventReport, opts: &TestOptions) {
    if opts.json {
        println!("{}", serde_json::to_string(r).unwrap_or_default());
    } else {
        print_text(r);
    }
    if let Some(dir) = &opts.payload_dir
        && let Err(e) = write_payloads(r, dir)
    {
        eprintln!("cannot write payloads to {}: {e}", dir.display());
    }
}

/// Matches one event file against the loaded rules and composes every target's request;
/// with `enrich`, looks the event up in the MonitorQA API first, exactly as the router does.
pub async fn report(
    app: &App,
    path: &Path,
    explain: bool,
    enrich: bool,
) -> Result<EventReport, String> {
    let body = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let event = Event::parse(&body).map_err(|e| e.to_string())?;
    let mut value = event.to_value();
    if let (true, Some(enricher)) = (enrich, &app.enricher) {
        let found = enricher.enrich(&event).await;
        eprintln!(
            "{}: MonitorQA lookup: {}",
            path.display(),
            found.outcome.label()
        );
        crate::enrich::apply(&found, &mut value);
    }
    let found = preview::evaluate(app, &value, "test");
    Ok(EventReport {
        file: path.display().to_string(),
        event: event.kind,
        matches: found.matches,
        explain: explain.then_some(found.skipped),
    })
}

fn print_text(r: &EventReport) {
    println!("{}: {}", r.file, r.event);
    if r.matches.is_empty() {
        println!("  no rule matches");
    }
    for m in &r.matches {
        let names: Vec<&str> = m.targets.iter().map(|t| t.target.as_str()).collect();
        println!("  matches  {} -> {}", m.rule, names.join(", "));
        for t in &m.targets {
            print_target(t);
        }
    }
    for e in r.explain.iter().flatten() {
        println!("  skipped  {}: {}", e.rule, e.reason);
    }
}

fn print_target(t: &TargetReport) {
    match (&t.payload, &t.error) {
        (_, Some(error)) => println!("    {} ({}): cannot be sent: {error}", t.target, t.kind),
        (Some(payload), None) => {
            match &t.conversation {
                Some(object) => println!(
                    "    {} ({}) would receive, as the first message of the conversation of \
                     {object} (later events reply in its thread):",
                    t.target, t.kind
                ),
                None => println!("    {} ({}) would receive:", t.target, t.kind),
            }
            let pretty = serde_json::to_string_pretty(payload).unwrap_or_default();
            for line in pretty.lines() {
                println!("      {line}");
            }
        }
        (None, None) => {}
    }
}

fn write_payloads(r: &EventReport, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let stem = Path::new(&r.file)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("event");
    for t in r.matches.iter().flat_map(|m| &m.targets) {
        let Some(payload) = &t.payload else { continue };
        match email_parts(payload) {
            Some(email) if t.kind == "email" => {
                std::fs::write(dir.join(format!("{stem}.email.html")), &email.html)?;
                let header = serde_json::json!({ "subject": email.subject, "from": email.from });
                std::fs::write(dir.join(format!("{stem}.email.json")), header.to_string())?;
            }
            _ => {
                let text = serde_json::to_string_pretty(payload).unwrap_or_default();
                std::fs::write(dir.join(format!("{stem}.{}.json", t.kind)), text)?;
            }
        }
    }
    Ok(())
}

//! `mqa-relay test`: which rules match each event file, which targets they notify, and with
//! `--explain` why every other rule did not match. Uses the same loading and matching as `serve`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;

use crate::app::App;
use crate::event::Event;
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

#[derive(Debug, Serialize)]
pub struct MatchReport {
    pub rule: String,
    pub targets: Vec<String>,
}

pub fn run(rules: &Path, events: &[PathBuf], explain: bool, json: bool) -> ExitCode {
    let app = match App::load(rules) {
        Ok(app) => app,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::from(1);
        }
    };
    let mut failed = false;
    for path in events {
        match report(&app, path, explain) {
            Ok(r) if json => println!("{}", serde_json::to_string(&r).unwrap_or_default()),
            Ok(r) => print_text(&r),
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

/// Matches one event file against the loaded rules.
pub fn report(app: &App, path: &Path, explain: bool) -> Result<EventReport, String> {
    let body = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let event = Event::parse(&body).map_err(|e| e.to_string())?;
    let value = event.to_value();
    let rules = &app.config.rules;
    let matches = rules
        .evaluate(&value)
        .into_iter()
        .map(|m| MatchReport {
            rule: m.rule.to_string(),
            targets: m.targets.to_vec(),
        })
        .collect();
    Ok(EventReport {
        file: path.display().to_string(),
        event: event.kind,
        matches,
        explain: explain.then(|| rules.explain(&value)),
    })
}

fn print_text(r: &EventReport) {
    println!("{}: {}", r.file, r.event);
    if r.matches.is_empty() {
        println!("  no rule matches");
    }
    for m in &r.matches {
        println!("  matches  {} -> {}", m.rule, m.targets.join(", "));
    }
    for e in r.explain.iter().flatten() {
        println!("  skipped  {}: {}", e.rule, e.reason);
    }
}

//! `mqa-relay check`: load the rules file exactly as `serve` does and report every problem.

use std::path::Path;
use std::process::ExitCode;

use crate::app::App;

/// Loads `rules` and prints what is wrong; with `strict`, a warning fails the check too.
pub fn run(rules: &Path, strict: bool) -> ExitCode {
    match App::load(rules) {
        Ok(app) => {
            let warnings = app.warnings();
            if strict && !warnings.is_empty() {
                for warning in &warnings {
                    eprintln!("warning: {warning}");
                }
                let n = warnings.len();
                eprintln!(
                    "{}: {n} warning{} (refused with --strict)",
                    rules.display(),
                    if n == 1 { "" } else { "s" }
                );
                return ExitCode::from(1);
            }
            let c = &app.config;
            // The hash is the one `/metrics`, `/api/config` and the load and reload log lines
            // show: it ties this file to a running relay's configuration. The warnings follow
            // the verdict: the file loads, and this is what is probably wrong in it.
            println!(
                "{}: ok ({} rules, {} targets), config hash {}",
                rules.display(),
                c.rules.rules().len(),
                c.targets.len(),
                c.hash
            );
            for warning in &warnings {
                eprintln!("warning: {warning}");
            }
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            let n = errors.errors.len();
            eprintln!(
                "{}: {n} problem{}",
                rules.display(),
                if n == 1 { "" } else { "s" }
            );
            ExitCode::from(1)
        }
    }
}

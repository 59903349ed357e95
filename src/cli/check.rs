//! `mqa-relay check`: load the rules file exactly as `serve` does and report every problem.

use std::path::Path;
use std::process::ExitCode;

use crate::app::App;

pub fn run(rules: &Path) -> ExitCode {
    match App::load(rules) {
        Ok(app) => {
            for warning in app.warnings() {
                eprintln!("warning: {warning}");
            }
            let c = &app.config;
            println!(
                "{}: ok ({} rules, {} targets)",
                rules.display(),
                c.rules.rules().len(),
                c.targets.len()
            );
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

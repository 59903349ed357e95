//! A message template: any text that loads renders every sample event in every markup within
//! its budget (a render error is an answer; a panic or a hang is a defect).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mqa_relay::template::{Markup, Templates, sample_events};
use serde_json::Value;

fn samples() -> &'static [(String, Value)] {
    static SAMPLES: OnceLock<Vec<(String, Value)>> = OnceLock::new();
    SAMPLES.get_or_init(sample_events)
}

fuzz_target!(|text: &str| {
    let files = vec![(PathBuf::from("fuzzed.yaml"), text.to_string())];
    let Ok(templates) = Templates::from_files(files) else {
        return;
    };
    for (_, event) in samples() {
        for markup in [Markup::Plain, Markup::Slack, Markup::Teams, Markup::Html] {
            let _ = templates.render("fuzzed", markup, event);
        }
    }
});

//! Configuration for tests, written as `rules.yaml` and read by the relay's own parser
//! (`config::parse`), so that a test names only the keys it cares about and every other one
//! keeps the default the relay gives it.

use std::path::Path;

use mqa_relay::config::Config;
use mqa_relay::targets::{ConfiguredTarget, Target};

/// The configuration of a rules file with `text`, no environment variable set.
pub fn config(text: &str) -> Config {
    parse(text).unwrap_or_else(|e| panic!("{text} loads: {e}"))
}

/// The target `test-target` as `rules.yaml` describes it, read by the configuration: `body`
/// is its mapping in flow style, e.g. `{ kind: teams, url: "http://127.0.0.1:9/w" }`.
pub fn configured(body: &str) -> ConfiguredTarget {
    let mut config = config(&format!("targets:\n  test-target: {body}\n"));
    config
        .targets
        .remove("test-target")
        .expect("the target is configured")
}

/// The destination of [`configured`].
pub fn target(body: &str) -> Target {
    configured(body).target
}

/// What the configuration says about a target it refuses.
pub fn refused(body: &str) -> String {
    let text = format!("targets:\n  test-target: {body}\n");
    match parse(&text) {
        Ok(_) => panic!("{text} was accepted"),
        Err(e) => e.to_string(),
    }
}

/// A YAML double-quoted string of `s`.
pub fn quoted(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

fn parse(text: &str) -> Result<Config, mqa_relay::config::ConfigErrors> {
    mqa_relay::config::parse(text, Path::new("rules.yaml"), &|_| None)
}

//! Tests of the configuration loader: parsing, interpolation, every kind of problem and where
//! it is reported, and that no secret ever reaches an error message.

mod example;
mod interpolation;
mod locations;
mod properties;
mod secrets;
mod shown;
mod validation;
mod written_back;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{Config, ConfigError, ConfigErrors, parse};

/// Parses `text` as `rules.yaml` with exactly the variables in `vars` set.
fn parse_with(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
    let env: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    parse(text, Path::new("rules.yaml"), &|name| {
        env.get(name).cloned()
    })
}

/// The request target `name` would send for the rejected corrective action sample, rendered
/// with the built-in templates: what its configuration means, seen from the outside.
fn request_of(config: &Config, name: &str) -> crate::targets::HttpRequest {
    let target = &config.targets[name];
    let event = crate::template::sample_event("CORRECTIVE_ACTION_REJECTED").expect("a sample");
    let ctx = crate::compose::context(&event, &Default::default());
    let templates = crate::template::Templates::builtin();
    crate::compose::request_for(&templates, target, None, &ctx, "test-key")
        .unwrap_or_else(|e| panic!("target {name} builds no request: {e}"))
}

fn valid(text: &str) -> Config {
    match parse_with(text, &[]) {
        Ok(config) => config,
        Err(errors) => panic!("expected a valid file, got:\n{errors}"),
    }
}

fn errors(text: &str) -> Vec<ConfigError> {
    errors_with(text, &[])
}

fn errors_with(text: &str, vars: &[(&str, &str)]) -> Vec<ConfigError> {
    match parse_with(text, vars) {
        Ok(_) => panic!("expected errors, the file was accepted"),
        Err(errors) => errors.errors,
    }
}

/// The only error, checked to be at `line`, with its Display form returned.
fn single_error_at(text: &str, line: usize) -> String {
    let errors = errors(text);
    assert_eq!(errors.len(), 1, "expected one error, got: {errors:#?}");
    let location = errors[0]
        .location
        .as_ref()
        .expect("the error has a location");
    assert_eq!(location.line, line, "wrong line in: {}", errors[0]);
    errors[0].to_string()
}

fn fixture(name: &str) -> String {
    let path = fixture_path(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config")
        .join(name)
}

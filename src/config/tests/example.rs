//! The shipped `rules.example.yaml`, and files that are valid with nothing in them.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::{parse_with, request_of, valid};
use crate::config::{RateLimit, RetryPolicy, load};

#[test]
fn the_example_file_parses_with_an_empty_environment() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules.example.yaml");
    let text = std::fs::read_to_string(&path).expect("rules.example.yaml is readable");
    let config = match parse_with(&text, &[]) {
        Ok(config) => config,
        Err(errors) => panic!("rules.example.yaml has problems:\n{errors}"),
    };
    assert_eq!(config.targets.len(), 6);
    assert_eq!(config.rules.rules().len(), 7);
    let kinds: Vec<&str> = config
        .targets
        .values()
        .map(|t| t.target.kind_name())
        .collect();
    for kind in ["slack", "teams", "email", "webhook"] {
        assert!(kinds.contains(&kind), "no {kind} target in the example");
    }
    // Commented out in the example, so the quick start sends no lookups with a fake key.
    assert!(config.monitorqa.is_none());
    assert_eq!(
        config.server.retention,
        std::time::Duration::from_secs(14 * 24 * 3600)
    );
}

#[test]
fn load_reads_the_example_file_from_disk() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules.example.yaml");
    let config = load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.source, path);
    assert_eq!(config.hash.len(), 64);
}

#[test]
fn load_of_a_missing_file_says_it_cannot_read_it() {
    let errors = load(Path::new("/nonexistent/rules.yaml")).expect_err("no such file");
    assert_eq!(errors.errors.len(), 1);
    assert!(
        errors
            .to_string()
            .starts_with("cannot read /nonexistent/rules.yaml")
    );
}

#[test]
fn an_empty_file_is_valid_and_has_every_default() {
    for text in ["", "# nothing yet\n", "rules: []\n", "targets:\nrules:\n"] {
        let config = valid(text);
        assert!(config.rules.rules().is_empty());
        assert!(config.targets.is_empty());
        assert!(config.monitorqa.is_none());
        assert_eq!(config.server.max_body_bytes, 1 << 20);
        assert_eq!(config.server.dedup_window, Duration::from_secs(600));
        assert_eq!(config.defaults.retry, RetryPolicy::default());
        assert_eq!(config.defaults.timeout, Duration::from_secs(10));
    }
}

#[test]
fn a_target_retry_overrides_only_the_keys_it_gives() {
    let config = valid(
        "defaults:\n  retry: { max_attempts: 20, initial: 1s }\n  timeout: 4s\n\
         targets:\n  hook:\n    kind: webhook\n    url: https://erp.example/h\n    retry: { max: 1m }\n\
         \x20   rate_limit: 30/min\n",
    );
    let hook = &config.targets["hook"];
    assert_eq!(
        hook.retry,
        RetryPolicy {
            max_attempts: 20,
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            max_age: Duration::from_secs(24 * 3600),
        }
    );
    assert_eq!(hook.timeout, Duration::from_secs(4));
    assert_eq!(
        hook.rate_limit,
        Some(RateLimit {
            count: 30,
            per: Duration::from_secs(60)
        })
    );
}

#[test]
fn server_values_are_read_with_units() {
    let config = valid(
        "server:\n  listen: 0.0.0.0:9000\n  max_body: 512KiB\n  dedup_window: 1h\n  data_dir: /var/lib/relay\n",
    );
    assert_eq!(config.server.listen, Some("0.0.0.0:9000".parse().unwrap()));
    assert_eq!(config.server.max_body_bytes, 512 * 1024);
    assert_eq!(config.server.dedup_window, Duration::from_secs(3600));
    assert_eq!(config.server.data_dir, Some("/var/lib/relay".into()));
    assert_eq!(
        valid("server:\n  max_body: 2048\n").server.max_body_bytes,
        2048
    );
}

#[test]
fn a_relative_data_dir_is_beside_the_rules_file_wherever_the_relay_starts() {
    let parse = |file: &str, text: &str| {
        crate::config::parse(text, Path::new(file), &|_| None)
            .expect("valid")
            .server
            .data_dir
    };
    let text = "server:\n  data_dir: ./store\n";
    assert_eq!(
        parse("/etc/mqa-relay/rules.yaml", text),
        Some("/etc/mqa-relay/./store".into())
    );
    assert_eq!(parse("rules.yaml", text), Some("./store".into()));
    assert_eq!(
        parse(
            "/etc/mqa-relay/rules.yaml",
            "server:\n  data_dir: /var/lib/relay\n"
        ),
        Some("/var/lib/relay".into())
    );
    assert_eq!(
        crate::config::default_data_dir(Path::new("/etc/mqa-relay/rules.yaml")),
        Path::new("/etc/mqa-relay/data")
    );
    assert_eq!(
        crate::config::default_data_dir(Path::new("rules.yaml")),
        Path::new("./data")
    );
}

#[test]
fn monitorqa_gets_its_default_base_url_and_timeout() {
    let monitorqa = valid("monitorqa:\n  api_key: k\n")
        .monitorqa
        .expect("section present");
    assert_eq!(monitorqa.base_url, "https://api-external.monitorqa.com");
    assert_eq!(monitorqa.timeout, Duration::from_secs(3));
    assert_eq!(monitorqa.api_key.expose(), "k");
}

#[test]
fn mailgun_region_defaults_to_us_and_to_may_be_one_address() {
    let config = valid(
        "targets:\n  m:\n    kind: email\n    provider: mailgun\n    api_key: k\n    domain: mg.example\n\
         \x20   from: a@mg.example\n    to: b@example.com\n",
    );
    let request = request_of(&config, "m");
    assert_eq!(
        request.url.expose(),
        "https://api.mailgun.net/v3/mg.example/messages",
        "mailgun, US region, the domain's endpoint"
    );
    let to: Vec<Value> = match request.body_json()["to"].clone() {
        Value::Array(list) => list,
        one => vec![one],
    };
    assert_eq!(to, vec![Value::from("b@example.com")]);
}

#[test]
fn slack_takes_a_token_and_channel_instead_of_a_url() {
    let config = valid(
        "targets:\n  s:\n    kind: slack\n    token: xoxb-1\n    channel: \"#qa\"\n    base_url: http://127.0.0.1:9\n",
    );
    let request = request_of(&config, "s");
    assert_eq!(request.url.expose(), "http://127.0.0.1:9/chat.postMessage");
    assert_eq!(request.header("authorization"), Some("Bearer xoxb-1"));
    assert_eq!(request.body_json()["channel"], "#qa");
}

#[test]
fn the_hash_changes_with_an_interpolated_value_and_only_then() {
    let text = "server:\n  token: ${T}\n";
    let hash = |value: &str| parse_with(text, &[("T", value)]).expect("valid").hash;
    assert_eq!(hash("one"), hash("one"));
    assert_ne!(hash("one"), hash("two"));
}

//! `${VAR}`, `${VAR:-default}` and `$${`, expanded inside parsed values.

use super::{errors_with, parse_with};
use crate::config::interpolate::{Problem, expand};

fn env(name: &str) -> Option<String> {
    match name {
        "SET" => Some("value".into()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

#[test]
fn a_set_variable_is_replaced_by_its_value() {
    assert_eq!(expand("a ${SET} b", &env), Ok("a value b".into()));
}

#[test]
fn a_default_is_used_when_the_variable_is_unset_or_empty() {
    assert_eq!(expand("${NOPE:-fallback}", &env), Ok("fallback".into()));
    assert_eq!(expand("${EMPTY:-fallback}", &env), Ok("fallback".into()));
    assert_eq!(expand("${SET:-fallback}", &env), Ok("value".into()));
    assert_eq!(expand("${EMPTY}", &env), Ok(String::new()));
}

#[test]
fn double_dollar_brace_is_a_literal_dollar_brace() {
    assert_eq!(
        expand("$${SET} and ${SET}", &env),
        Ok("${SET} and value".into())
    );
    assert_eq!(expand("cost: $5", &env), Ok("cost: $5".into()));
}

#[test]
fn every_unset_variable_in_a_value_is_reported() {
    assert_eq!(
        expand("${A}/${SET}/${B}", &env),
        Err(vec![Problem::Unset("A".into()), Problem::Unset("B".into())])
    );
    assert_eq!(expand("${SET", &env), Err(vec![Problem::Unterminated]));
    assert_eq!(expand("${not a name}", &env), Err(vec![Problem::BadName]));
}

#[test]
fn an_unset_variable_is_an_error_naming_it_and_where_it_is_used() {
    let text = "targets:\n  kitchen-slack:\n    kind: slack\n    url: ${SLACK_KITCHEN_WEBHOOK}\n";
    let errors = errors_with(text, &[]);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(
        errors[0].to_string(),
        "rules.yaml:4:10: target \"kitchen-slack\": environment variable `SLACK_KITCHEN_WEBHOOK` \
         is not set (set it, or give a default: `${SLACK_KITCHEN_WEBHOOK:-default}`)"
    );
}

#[test]
fn an_unset_variable_in_a_rule_names_the_rule() {
    let text = "rules:\n  - name: r1\n    events: ${EVENTS}\n    notify: []\n";
    let shown: Vec<String> = errors_with(text, &[])
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        shown[0].starts_with("rules.yaml:3:13: rule \"r1\": environment variable `EVENTS`"),
        "{shown:?}"
    );
}

#[test]
fn a_secret_with_yaml_syntax_in_it_stays_one_value() {
    let secret = "https://hooks.slack.com/services/T0/B0/a: b # not a comment";
    let text = "targets:\n  s:\n    kind: slack\n    url: ${URL}\nrules: []\n";
    let config = parse_with(text, &[("URL", secret)]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(super::request_of(&config, "s").url.expose(), secret);
}

#[test]
fn numbers_may_come_from_the_environment() {
    let text = "defaults:\n  retry:\n    max_attempts: ${ATTEMPTS:-3}\n";
    let config = parse_with(text, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.defaults.retry.max_attempts, 3);
}

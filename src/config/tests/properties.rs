//! The loader on generated input (see [`crate::properties`]): arbitrary text, YAML built from
//! the file's own keys and odd values, and the example file with lines removed, repeated or
//! damaged. Each gives a configuration or errors, never a panic or a hang, and every error
//! has words and, when located, a place inside the file.

use proptest::prelude::*;

use super::parse_with;

const EXAMPLE: &str = include_str!("../../../rules.example.yaml");

/// A YAML document made of the keys `rules.yaml` knows (and some it does not), nested, with
/// values of every kind and some that are not quite YAML.
fn yamlish() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        prop::sample::select(vec![
            "server",
            "token",
            "listen",
            "data_dir",
            "store",
            "max_body",
            "dedup_window",
            "monitorqa",
            "api_key",
            "defaults",
            "retry",
            "timeout",
            "targets",
            "kind",
            "url",
            "rules",
            "name",
            "events",
            "company",
            "where",
            "notify",
            "template",
            "stop",
            "rate_limit",
            "max_in_flight",
            "headers",
            "provider",
            "from",
            "to",
            "regex",
            "in",
            "any_of",
            "not",
            "any",
            "gte",
            "eq",
        ])
        .prop_map(str::to_string),
        "[a-z_.\\[\\]*]{1,10}",
    ];
    let scalar = prop_oneof![
        Just("".to_string()),
        Just("~".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        Just("\"${VAR}\"".to_string()),
        Just("${UNSET:-x}".to_string()),
        Just("&a".to_string()),
        Just("*a".to_string()),
        Just("!!binary x".to_string()),
        Just("slack".to_string()),
        Just("\"*\"".to_string()),
        "-?[0-9]{1,20}(\\.[0-9]{1,5})?[a-zA-Z/]{0,3}",
        "[ -~]{0,16}",
    ];
    let line = (0usize..6, key, prop::bool::ANY, scalar).prop_map(|(depth, key, item, value)| {
        let indent = "  ".repeat(depth);
        let dash = if item { "- " } else { "" };
        format!("{indent}{dash}{key}: {value}")
    });
    prop::collection::vec(line, 0..30).prop_map(|lines| lines.join("\n"))
}

/// The example with one line removed, repeated, or cut short and given some bytes.
fn damaged_example() -> impl Strategy<Value = String> {
    let lines: Vec<&str> = EXAMPLE.lines().collect();
    let count = lines.len();
    (0..count, 0u8..3, "[ -~\\t]{0,8}").prop_map(move |(at, how, junk)| {
        let mut lines: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        match how {
            0 => {
                lines.remove(at);
            }
            1 => {
                let copy = lines[at].clone();
                lines.insert(at, copy);
            }
            _ => {
                let keep = lines[at].len() / 2;
                let cut: String = lines[at].chars().take(keep).collect();
                lines[at] = format!("{cut}{junk}");
            }
        }
        lines.join("\n")
    })
}

fn check_answer(text: &str) -> Result<(), TestCaseError> {
    let lines = text.lines().count().max(1);
    if let Err(errors) = parse_with(text, &[]) {
        prop_assert!(!errors.errors.is_empty());
        for e in &errors.errors {
            prop_assert!(!e.message.trim().is_empty(), "an error without words");
            if let Some(at) = &e.location {
                prop_assert!(
                    at.line >= 1 && at.line <= lines + 1,
                    "line {} of a {lines}-line file: {}",
                    at.line,
                    e.message
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(proptest::test_runner::Config {
        // A case that takes longer than this is a hang.
        timeout: 10_000,
        ..crate::properties::config(300)
    })]

    #[test]
    fn any_text_gives_a_configuration_or_errors(text in "\\PC{0,200}") {
        check_answer(&text)?;
    }

    #[test]
    fn yaml_made_of_the_files_own_keys_gives_a_configuration_or_errors(text in yamlish()) {
        check_answer(&text)?;
    }

    #[test]
    fn the_example_damaged_anywhere_gives_a_configuration_or_errors(text in damaged_example()) {
        check_answer(&text)?;
    }
}

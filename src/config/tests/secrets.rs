//! No secret value ever appears in an error message, however wrong the file is.

use super::{errors_with, fixture};
use crate::config::ConfigErrors;

/// Values given through the environment; each contains a distinctive marker.
const ENV: &[(&str, &str)] = &[
    ("RELAY_TOKEN", "relay-token-LEAK20: # not yaml"),
    ("TEAMS_URL", "LEAK21 is not a url"),
    ("INJECTED", "value\r\nX-Evil: LEAK22"),
    ("MAIL_KEY", "SG.LEAK23"),
];

#[test]
fn no_secret_appears_in_any_error_of_a_file_wrong_in_many_ways() {
    let errors = ConfigErrors {
        errors: errors_with(&fixture("leaky.yaml"), ENV),
    };
    let shown = format!("{errors}\n{errors:?}");
    assert!(
        errors.errors.len() >= 15,
        "expected many errors, got:\n{shown}"
    );
    for n in (1..=14).chain(20..=23) {
        let marker = format!("LEAK{n:02}");
        assert!(!shown.contains(&marker), "{marker} leaked into:\n{shown}");
    }
    assert!(!shown.contains("relay-token"), "{shown}");
}

#[test]
fn the_problems_in_the_leaky_file_are_each_reported() {
    let shown = ConfigErrors {
        errors: errors_with(&fixture("leaky.yaml"), ENV),
    }
    .to_string();
    for expected in [
        "`admin_token` must differ from `token`",
        "`base_url` must be an http:// or https:// URL",
        "not both",
        "host `northwind.webhook.office.com`",
        "host `prod-01.westeurope.logic.azure.com`",
        "environment variable `UNSET_PART` is not set",
        "`Bad Header` is not a valid header name",
        "header `X-Injected` must not contain a line break",
        "header `X-Number` must be a string, found a list",
        "unknown email provider `sendmail`",
        "`to` is empty",
        "`timeout` must be longer than 0s",
        "unknown key `tokn` in target",
        "`notify` names unknown target `nowhere`",
        "`stop` must be true or false",
    ] {
        assert!(
            shown.contains(expected),
            "missing {expected:?} in:\n{shown}"
        );
    }
}

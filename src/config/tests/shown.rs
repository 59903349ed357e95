//! The loaded file as the operator page shows it ([`crate::yaml::show`]): every value read as a
//! secret hidden, whatever key or target kind it sits under, and the rest as written.

use super::{parse_with, valid};
use crate::yaml::tree;

#[test]
fn the_example_shows_no_secret_and_reads_back_as_yaml() {
    let text = include_str!("../../../rules.example.yaml");
    let vars = [
        ("RELAY_ADMIN_TOKEN", "admin-from-env-1234"),
        ("SLACK_BOT_TOKEN", "xoxb-from-env-5678"),
    ];
    let config = parse_with(text, &vars).expect("the example loads");
    for secret in [
        "change-me-too",
        "admin-from-env-1234",
        "xoxb-from-env-5678",
        "xoxb-not-a-real-token",
    ] {
        assert!(
            !config.shown.contains(secret),
            "{secret} is shown:\n{}",
            config.shown
        );
    }
    assert!(
        config.shown.contains("admin_token: \"<secret>\""),
        "{}",
        config.shown
    );
    let again = tree::parse(&config.shown)
        .expect("YAML")
        .expect("a document");
    let first = tree::parse(text).expect("YAML").expect("a document");
    let keys = |n: &tree::Node| {
        n.to_json()
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>())
    };
    assert_eq!(keys(&again), keys(&first));
}

#[test]
fn secrets_of_every_kind_are_hidden_and_plain_values_kept() {
    let text = "server:\n  token: tok-literal-1\n  store: postgres://relay:pw-9@db.example/mqa\n\
        monitorqa:\n  api_key: key-literal-2\n\
        targets:\n  chat: { kind: slack, url: \"https://hooks.slack.com/services/T/B/hook-3\" }\n\
        \x20 erp: { kind: webhook, url: \"https://erp.example/in?sig=sig-4\", headers: { Authorization: \"Bearer hdr-5\" } }\n\
        \x20 mail: { kind: email, provider: postmark, api_key: \"${MAIL_KEY}\", from: a@example.com, to: [b@example.com] }\n\
        rules:\n  - name: \"all: of them\"\n    events: \"*\"\n    notify: [chat]\n";
    let config = parse_with(text, &[("MAIL_KEY", "env-key-6")]).expect("loads");
    let shown = &config.shown;
    for secret in [
        "tok-literal-1",
        "pw-9",
        "key-literal-2",
        "hook-3",
        "sig-4",
        "hdr-5",
        "env-key-6",
    ] {
        assert!(!shown.contains(secret), "{secret} is shown:\n{shown}");
    }
    for kept in [
        "\"https://hooks.slack.com/<secret>\"",
        "\"postgres://db.example/<secret>\"",
        "\"https://erp.example/<secret>\"",
        "api_key: ${MAIL_KEY}",
        "name: \"all: of them\"",
        "kind: slack",
    ] {
        assert!(shown.contains(kept), "{kept} missing:\n{shown}");
    }
    assert_eq!(
        valid("targets: {}\nrules: []\n").shown,
        "targets: {}\nrules: []\n"
    );
}

/// A draft pasted on the operator page reads the environment only into secret fields it
/// names wholly; everywhere else, and for a name also used elsewhere, `${NAME}` is itself.
#[test]
fn a_draft_reads_the_environment_only_into_secret_fields() {
    let env = |name: &str| match name {
        "HOOK" => Some("https://hooks.slack.com/services/T/B/real-hook".to_string()),
        "LEAK" => Some("value-that-must-not-show".to_string()),
        _ => None,
    };
    let draft = "server:\n  admin_token: ${LEAK}\n\
        targets:\n  chat: { kind: slack, url: \"${HOOK}\" }\n\
        rules:\n  - name: \"about ${LEAK}\"\n    events: \"*\"\n\
        \x20   where: { company.name: { eq: \"${LEAK}\" } }\n    notify: [chat]\n";
    let config = super::super::parse_draft(draft, std::path::Path::new("rules.yaml"), &env)
        .expect("the draft loads");
    let hook = config.targets["chat"].target.host();
    assert_eq!(
        hook.as_deref(),
        Some("hooks.slack.com"),
        "a secret field reads it"
    );
    let admin = config
        .server
        .admin_token
        .as_ref()
        .map(|s| s.expose().to_string());
    assert_eq!(
        admin.as_deref(),
        Some("${LEAK}"),
        "named elsewhere too: itself"
    );
    let rule = &config.rules.rules()[0];
    assert_eq!(rule.name, "about ${LEAK}");
    let event = crate::template::sample_event("AUDIT_EXPIRED").unwrap();
    let why = config.rules.explain(&event);
    assert!(
        why.iter().all(|e| !e.reason.contains("must-not-show")),
        "{why:?}"
    );
    assert!(why[0].reason.contains("${LEAK}"), "{why:?}");
}

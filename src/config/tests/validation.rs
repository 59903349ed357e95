//! One test per kind of problem: the message, the `file:line:col` and the rule or target.

use super::{errors, fixture, parse_with, single_error_at, valid};

const SLACK: &str = "targets:\n  kitchen-slack:\n    kind: slack\n    url: https://hooks.slack.com/services/T000/B000/XXXX\n";

#[test]
fn notify_naming_an_unknown_target_suggests_the_closest_name() {
    let text = format!(
        "{SLACK}rules:\n  - name: r1\n    events: AUDIT_EXPIRED\n    notify: [kitchen-slak]\n"
    );
    assert_eq!(
        single_error_at(&text, 8),
        "rules.yaml:8:14: rule \"r1\": `notify` names unknown target `kitchen-slak`; did you mean \
         `kitchen-slack`? (defined: kitchen-slack)"
    );
}

#[test]
fn a_duplicate_rule_name_points_at_the_second_and_the_first() {
    let rule = "  - name: same\n    events: AUDIT_EXPIRED\n    notify: kitchen-slack\n";
    let text = format!("{SLACK}rules:\n{rule}{rule}");
    assert_eq!(
        single_error_at(&text, 9),
        "rules.yaml:9:11: rule \"same\": duplicate rule name (first used at line 6, column 11)"
    );
}

#[test]
fn a_duplicate_target_name_points_at_the_second_and_the_first() {
    let text = format!("{SLACK}  kitchen-slack:\n    kind: teams\n    url: https://x.example/\n");
    assert_eq!(
        single_error_at(&text, 5),
        "rules.yaml:5:3: target \"kitchen-slack\": duplicate target name (first defined at line 2, \
         column 3)"
    );
}

#[test]
fn a_bad_duration_is_reported_at_its_value() {
    let text = format!("{SLACK}    timeout: 10 parsecs\n");
    let shown = single_error_at(&text, 5);
    assert!(
        shown.starts_with(
            "rules.yaml:5:14: target \"kitchen-slack\": `timeout`: `10 parsecs` is not a duration"
        ),
        "{shown}"
    );
    let shown = single_error_at("defaults:\n  retry: { max_age: 5 }\n", 2);
    assert!(
        shown.contains("`max_age` must be a duration like \"10s\", found a number"),
        "{shown}"
    );
}

#[test]
fn a_bad_rate_limit_is_reported_at_its_value() {
    let text = format!("{SLACK}    rate_limit: lots\n");
    assert_eq!(
        single_error_at(&text, 5),
        "rules.yaml:5:17: target \"kitchen-slack\": `rate_limit`: `lots` is not a rate limit; write \
         COUNT/PERIOD, e.g. \"1/s\", \"30/min\", \"100/h\""
    );
    assert!(
        single_error_at(&format!("{SLACK}    rate_limit: 0/s\n"), 5).contains("at least 1 request")
    );
}

#[test]
fn a_target_missing_a_required_field_says_which() {
    let email = "targets:\n  mail:\n    kind: email\n    provider: sendgrid\n    from: a@x.example\n    to: b@x.example\n";
    assert_eq!(
        single_error_at(email, 2),
        "rules.yaml:2:3: target \"mail\": target needs `api_key`"
    );
    let webhook = "targets:\n  erp:\n    kind: webhook\n";
    assert_eq!(
        single_error_at(webhook, 2),
        "rules.yaml:2:3: target \"erp\": target needs `url`"
    );
    let kindless = "targets:\n  erp:\n    url: https://x.example\n";
    assert!(
        single_error_at(kindless, 2)
            .ends_with("target needs `kind` (one of: slack, teams, email, webhook)")
    );
    let mailgun = "targets:\n  m:\n    kind: email\n    provider: mailgun\n    api_key: k\n    from: a@x.example\n    to: b@x.example\n";
    assert!(
        single_error_at(mailgun, 2).ends_with("target needs `domain` (the Mailgun sending domain)")
    );
}

#[test]
fn a_slack_target_needs_exactly_one_style() {
    let neither = "targets:\n  s:\n    kind: slack\n";
    assert!(single_error_at(neither, 2).ends_with(
        "slack target needs either `url` (an incoming webhook) or `token` and `channel` (chat.postMessage)"
    ));
    let token_only = "targets:\n  s:\n    kind: slack\n    token: xoxb-1\n";
    assert!(
        single_error_at(token_only, 2).ends_with("slack target with `token` also needs `channel`")
    );
    let both = format!("{SLACK}    token: xoxb-1\n    channel: \"#qa\"\n");
    assert!(
        single_error_at(&both, 2).ends_with("takes either `url` or `token` + `channel`, not both")
    );
}

#[test]
fn admin_token_equal_to_token_is_an_error() {
    let text = "server:\n  token: abc\n  admin_token: abc\n";
    assert_eq!(
        single_error_at(text, 3),
        "rules.yaml:3:16: `admin_token` must differ from `token`"
    );
}

#[test]
fn an_empty_notify_is_an_error() {
    let text = format!("{SLACK}rules:\n  - name: r1\n    events: AUDIT_EXPIRED\n    notify: []\n");
    assert_eq!(
        single_error_at(&text, 8),
        "rules.yaml:8:13: rule \"r1\": `notify` is empty: name at least one target"
    );
    let missing = format!("{SLACK}rules:\n  - name: r1\n    events: AUDIT_EXPIRED\n");
    assert!(
        single_error_at(&missing, 6)
            .ends_with("rule \"r1\": rule needs `notify`: name at least one target")
    );
}

#[test]
fn an_unknown_key_is_named_with_a_suggestion_and_the_allowed_keys() {
    let text = format!(
        "{SLACK}rules:\n  - name: r1\n    events: AUDIT_EXPIRED\n    notfy: kitchen-slack\n"
    );
    assert_eq!(
        single_error_at(&text, 8),
        "rules.yaml:8:5: rule \"r1\": unknown key `notfy` in rule; did you mean `notify`? (allowed: \
         name, events, company, where, notify, template, stop)"
    );
    let top = single_error_at("sever:\n  listen: 127.0.0.1:1\n", 1);
    assert!(
        top.contains("unknown key `sever` in the file; did you mean `server`?"),
        "{top}"
    );
}

#[test]
fn a_duplicate_key_is_reported_with_both_places() {
    let text = format!(
        "{SLACK}rules:\n  - name: r1\n    events: AUDIT_EXPIRED\n    notify: kitchen-slack\n    notify: kitchen-slack\n"
    );
    assert_eq!(
        single_error_at(&text, 9),
        "rules.yaml:9:5: rule \"r1\": duplicate key `notify` (first at line 8, column 5)"
    );
    let fixture_errors = errors(&fixture("duplicate_key.yaml"));
    let lines: Vec<usize> = fixture_errors
        .iter()
        .filter_map(|e| e.location.as_ref().map(|l| l.line))
        .collect();
    assert_eq!(lines, vec![4, 11], "{fixture_errors:#?}");
}

#[test]
fn retired_teams_hosts_are_rejected_naming_only_the_host() {
    let office = "targets:\n  t:\n    kind: teams\n    url: https://northwind.webhook.office.com/webhookb2/SECRET-PART\n";
    let shown = single_error_at(office, 4);
    assert!(
        shown.contains("host `northwind.webhook.office.com`"),
        "{shown}"
    );
    assert!(
        shown.contains("\"Send webhook alerts to a channel\""),
        "{shown}"
    );
    assert!(!shown.contains("SECRET-PART"));
    let logic = "targets:\n  t:\n    kind: teams\n    url: https://prod-01.westeurope.logic.azure.com:443/workflows/SECRET-PART\n";
    let shown = single_error_at(logic, 4);
    assert!(
        shown.contains("host `prod-01.westeurope.logic.azure.com`"),
        "{shown}"
    );
    assert!(
        shown.contains("environment.api.powerplatform.com"),
        "{shown}"
    );
    assert!(!shown.contains("SECRET-PART"));
}

#[test]
fn a_retired_teams_host_is_rejected_however_the_url_spells_it() {
    for url in [
        "https://northwind.webhook.office.com./webhookb2/SECRET-PART",
        "https://NorthWind.Webhook.Office.com/webhookb2/SECRET-PART",
        "https://northwind.webhook.office.com\\@teams.example/SECRET-PART",
        "https://teams.example:SECRET-PART@northwind.webhook.office.com/webhookb2/x",
    ] {
        let text = format!("targets:\n  t:\n    kind: teams\n    url: {url}\n");
        let shown = single_error_at(&text, 4);
        assert!(
            shown.contains("host `northwind.webhook.office.com`"),
            "{url}: {shown}"
        );
        assert!(!shown.contains("SECRET-PART"), "{shown}");
    }
}

#[test]
fn a_url_must_be_http_or_https() {
    let text = "targets:\n  erp:\n    kind: webhook\n    url: ftp://erp.example/x\n";
    assert_eq!(
        single_error_at(text, 4),
        "rules.yaml:4:10: target \"erp\": `url` must be an http:// or https:// URL"
    );
    let hostless = "targets:\n  erp:\n    kind: webhook\n    url: https://:8080/x\n";
    assert!(single_error_at(hostless, 4).ends_with("`url` has no valid host"));
}

#[test]
fn mailgun_only_keys_on_another_provider_are_errors() {
    let text = "targets:\n  m:\n    kind: email\n    provider: postmark\n    api_key: k\n    from: a@x.example\n    to: b@x.example\n    region: eu\n";
    assert!(single_error_at(text, 8).ends_with("`region` only applies to provider mailgun"));
}

#[test]
fn a_yaml_syntax_error_has_a_location() {
    let shown = single_error_at("rules:\n  - name: [unclosed\n  - name: b\n", 3);
    assert!(shown.starts_with("rules.yaml:3:"), "{shown}");
    assert!(shown.contains("invalid YAML"), "{shown}");
}

#[test]
fn a_file_with_five_mistakes_yields_five_errors_on_their_lines() {
    let errors = errors(&fixture("five_mistakes.yaml"));
    let lines: Vec<usize> = errors
        .iter()
        .map(|e| e.location.as_ref().map_or(0, |l| l.line))
        .collect();
    assert_eq!(lines, vec![4, 9, 10, 18, 21], "{errors:#?}");
    let contexts: Vec<Option<&str>> = errors.iter().map(|e| e.context.as_deref()).collect();
    assert_eq!(
        contexts,
        vec![
            None,
            Some("target \"kitchen-slack\""),
            Some("target \"managers-mail\""),
            Some("rule \"expired audits\""),
            Some("rule \"rejected actions\""),
        ]
    );
}

#[test]
fn a_rule_with_globs_company_ids_and_conditions_is_accepted() {
    let text = format!(
        "{SLACK}rules:\n  - name: r1\n    events: [\"CORRECTIVE_ACTION_*\", AUDIT_EXPIRED]\n    \
         company: [Northwind Foods, 5f0c2a8e-9b1d-4c3e-8a7f-1d2e3f4a5b6c]\n    where:\n      \
         data.correctiveAction.priority: {{ gte: 2 }}\n    notify: kitchen-slack\n    template: urgent\n    stop: true\n"
    );
    let config = valid(&text);
    let rule = &config.rules.rules()[0];
    assert_eq!(rule.name, "r1");
    assert_eq!(rule.notify, vec!["kitchen-slack".to_string()]);
    assert_eq!(rule.template.as_deref(), Some("urgent"));
    assert!(rule.stop);
}

#[test]
fn a_file_that_is_not_a_mapping_says_so() {
    assert_eq!(
        single_error_at("- server\n- rules\n", 1),
        "rules.yaml:1:1: the file must be a mapping, found a list"
    );
}

#[test]
fn a_where_that_is_not_a_mapping_and_events_that_are_missing_are_both_reported() {
    let text =
        format!("{SLACK}rules:\n  - name: r1\n    where: [data.x]\n    notify: kitchen-slack\n");
    let shown: Vec<String> = errors(&text).iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        vec![
            "rules.yaml:6:5: rule \"r1\": rule needs `events` (event types, globs like \
             CORRECTIVE_ACTION_*, or \"*\")",
            "rules.yaml:7:12: rule \"r1\": `where` must be a mapping of path to condition, found a list",
        ]
    );
}

#[test]
fn rules_engine_errors_point_at_the_offending_key_or_value() {
    let text = format!(
        "{SLACK}rules:\n  - name: r1\n    events: [AUDIT_EXPIRED, \"BAD[\"]\n    where:\n      \
         data.correctiveAction.name: {{ regex: \"(unclosed\" }}\n      \
         data.correctiveAction.priority: {{ gt: [1, 2] }}\n      \
         company.name: {{ startswith: x }}\n    notify: kitchen-slack\n"
    );
    let shown: Vec<String> = errors(&text).iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), 4, "{shown:#?}");
    assert!(
        shown[0].starts_with("rules.yaml:7:29: rule \"r1\": "),
        "{}",
        shown[0]
    );
    assert!(
        shown[1].starts_with("rules.yaml:9:44: rule \"r1\": "),
        "{}",
        shown[1]
    );
    assert!(shown[1].contains("regex"), "{}", shown[1]);
    assert!(
        shown[2].starts_with("rules.yaml:10:41: rule \"r1\": "),
        "{}",
        shown[2]
    );
    assert!(shown[2].contains("gt"), "{}", shown[2]);
    assert!(
        shown[3].starts_with("rules.yaml:11:35: rule \"r1\": "),
        "{}",
        shown[3]
    );
    assert!(shown[3].contains("startswith"), "{}", shown[3]);
}

#[test]
fn a_target_named_twice_in_notify_is_an_error_not_a_double_send() {
    let text = format!(
        "{SLACK}rules:\n  - name: r1\n    events: AUDIT_EXPIRED\n    notify: [kitchen-slack, kitchen-slack]\n"
    );
    let shown: Vec<String> = errors(&text).iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), 1, "{shown:#?}");
    assert!(
        shown[0].starts_with("rules.yaml:8:29: rule \"r1\": `notify` names target `kitchen-slack` twice (first at line 8, column 14)"),
        "{}",
        shown[0]
    );
}

#[test]
fn a_postgresql_store_is_read_from_a_variable_and_shown_without_its_password() {
    let text = "server:\n  store: ${DATABASE_URL}\n";
    let config = parse_with(
        text,
        &[(
            "DATABASE_URL",
            "postgres://relay:pw-42-secret@db.internal:5432/mqa",
        )],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let url = config
        .server
        .store
        .clone()
        .expect("the store is configured");
    assert_eq!(url.to_string(), "postgres://db.internal:5432/mqa");
    assert!(!format!("{:?}", config.server).contains("pw-42-secret"));
}

#[test]
fn a_store_that_is_no_postgresql_url_is_an_error_that_does_not_repeat_it() {
    let shown = single_error_at(
        "server:\n  store: \"mysql://root:pw-42-secret@db/mqa\"\n",
        2,
    );
    assert!(
        shown.contains("`store`: not a PostgreSQL connection URL"),
        "{shown}"
    );
    assert!(!shown.contains("pw-42-secret"), "{shown}");
}

#[test]
fn a_store_and_a_data_dir_together_are_an_error() {
    let text = "server:\n  data_dir: ./data\n  store: postgres://relay@db/mqa\n";
    let shown = single_error_at(text, 3);
    assert!(shown.contains("exclude each other"), "{shown}");
}

#[test]
fn threads_on_an_incoming_webhook_or_a_teams_target_are_refused_with_the_reason() {
    let text = format!("{SLACK}    threads: true\n");
    let shown = single_error_at(&text, 5);
    assert!(
        shown.starts_with("rules.yaml:5:14: target \"kitchen-slack\": `threads: true`: an incoming webhook answers `ok` without the message's id"),
        "{shown}"
    );
    let teams =
        "targets:\n  floor:\n    kind: teams\n    url: https://x.example/hook\n    threads: true\n";
    let shown = single_error_at(teams, 5);
    assert!(
        shown.contains("a Teams Workflows webhook can neither reply to a message nor edit one"),
        "{shown}"
    );
}

#[test]
fn broadcast_names_event_types_and_needs_threads() {
    let bot = "targets:\n  quality:\n    kind: slack\n    token: xoxb-1\n    channel: C1\n";
    let on = valid(&format!(
        "{bot}    threads: true\n    broadcast: [AUDIT_EXPIRED]\n"
    ));
    let threads = on.targets["quality"].threads.as_ref().expect("threads");
    assert_eq!(threads.broadcast, ["AUDIT_EXPIRED"]);
    let default = valid(&format!("{bot}    threads: true\n"));
    let threads = default.targets["quality"]
        .threads
        .as_ref()
        .expect("threads");
    assert_eq!(
        threads.broadcast,
        crate::conversation::DEFAULT_BROADCAST.map(String::from)
    );
    let typo = format!("{bot}    threads: true\n    broadcast: [AUDIT_EXPIRD]\n");
    let shown = single_error_at(&typo, 7);
    assert!(
        shown.contains("`broadcast`: `AUDIT_EXPIRD` is not a MonitorQA event type; did you mean `AUDIT_EXPIRED`?"),
        "{shown}"
    );
    let alone = format!("{bot}    broadcast: [AUDIT_EXPIRED]\n");
    assert!(single_error_at(&alone, 6).contains("`broadcast` needs `threads: true`"));
}

#[test]
fn threads_audit_puts_actions_in_their_audit_s_conversation_and_other_words_are_refused() {
    let bot = "targets:\n  quality:\n    kind: slack\n    token: xoxb-1\n    channel: C1\n";
    let audit = valid(&format!("{bot}    threads: audit\n"));
    let threads = audit.targets["quality"].threads.as_ref().expect("threads");
    assert!(threads.by_audit);
    let on = valid(&format!("{bot}    threads: true\n"));
    assert!(
        !on.targets["quality"]
            .threads
            .as_ref()
            .expect("threads")
            .by_audit
    );
    let off = valid(&format!("{bot}    threads: false\n"));
    assert!(off.targets["quality"].threads.is_none());
    let shown = single_error_at(&format!("{bot}    threads: maybe\n"), 6);
    assert!(
        shown.contains(
            "`threads` is `true` (a conversation per audit and per corrective action), `audit`"
        ),
        "{shown}"
    );
}

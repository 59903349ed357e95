//! The `targets:` section: one [`ConfiguredTarget`] per entry. This file reads what every kind
//! takes (`timeout`, `rate_limit`, `retry`, `payload_template`) and the kind's name; each kind's
//! own keys are read by its module (`slack::config`, `teams::config`, `email::config`,
//! `webhook::config`), with the same `file:line:col` errors. URLs, API keys, tokens and header
//! values are secrets: messages name the key (and at most a URL's host).

use std::collections::BTreeMap;
use std::time::Duration;

use super::{ConfiguredTarget, Kind, Target, email, slack, teams, webhook};
use crate::backoff::RetryPolicy;
use crate::conversation::Threads;
use crate::event::EVENT_TYPES;
use crate::secret::Secret;
use crate::yaml::fields::{Fields, positive_duration};
use crate::yaml::report::{Report, did_you_mean, target_context};
use crate::yaml::tree::{Entry, Node, Pos, Value};
use crate::yaml::values;

/// What a target takes when it does not say: the `defaults:` section.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TargetDefaults {
    pub(crate) retry: RetryPolicy,
    pub(crate) timeout: Duration,
}

const KINDS: &[&str] = &["slack", "teams", "email", "webhook"];
// Each kind's keys: first those every kind takes, then its own.
#[rustfmt::skip]
const SLACK_KEYS: &[&str] = &[
    "kind", "timeout", "rate_limit", "retry", "payload_template", "max_in_flight", "time_zone",
    "threads", "broadcast",
    "url", "token", "channel", "base_url",
];
#[rustfmt::skip]
const TEAMS_KEYS: &[&str] = &[
    "kind", "timeout", "rate_limit", "retry", "payload_template", "max_in_flight", "time_zone",
    "threads", "broadcast",
    "url",
];
#[rustfmt::skip]
const EMAIL_KEYS: &[&str] = &[
    "kind", "timeout", "rate_limit", "retry", "payload_template", "max_in_flight", "time_zone",
    "threads", "broadcast",
    "provider", "api_key", "from", "to", "base_url", "domain", "region",
];
#[rustfmt::skip]
const WEBHOOK_KEYS: &[&str] = &[
    "kind", "timeout", "rate_limit", "retry", "payload_template", "max_in_flight", "time_zone",
    "threads", "broadcast",
    "url", "headers",
];

/// The targets that passed their checks, and the names of all targets written in the file
/// (so a rule naming a target with a problem is not reported a second time).
pub(crate) struct Targets {
    pub built: BTreeMap<String, ConfiguredTarget>,
    pub names: Vec<String>,
}

pub(crate) fn build(
    section: Option<&Node>,
    defaults: &TargetDefaults,
    report: &mut Report,
) -> Targets {
    let mut targets = Targets {
        built: BTreeMap::new(),
        names: Vec::new(),
    };
    let entries = match section.map(|node| (node, &node.value)) {
        None | Some((_, Value::Null | Value::Invalid)) => return targets,
        Some((_, Value::Map(entries))) => entries,
        Some((node, _)) => {
            let message = format!(
                "`targets` must be a mapping of name to target, found {}",
                node.kind_name()
            );
            report.error(node.pos, None, message);
            return targets;
        }
    };
    for (i, entry) in entries.iter().enumerate() {
        let context = target_context(&entry.key);
        if let Some(first) = entries[..i].iter().find(|e| e.key == entry.key) {
            let (line, column) = (first.key_pos.line, first.key_pos.column);
            let message =
                format!("duplicate target name (first defined at line {line}, column {column})");
            report.error(entry.key_pos, Some(&context), message);
            continue;
        }
        targets.names.push(entry.key.clone());
        if let Some(target) = target(entry, &context, defaults, report) {
            targets.built.insert(entry.key.clone(), target);
        }
    }
    targets
}

fn target(
    entry: &Entry,
    context: &str,
    defaults: &TargetDefaults,
    report: &mut Report,
) -> Option<ConfiguredTarget> {
    let mut f = Fields::open(&entry.value, entry.key_pos, "target", Some(context), report)?;
    let kind = kind_word(&f, report)?;
    let allowed = match kind.as_str() {
        "slack" => SLACK_KEYS,
        "teams" => TEAMS_KEYS,
        "email" => EMAIL_KEYS,
        _ => WEBHOOK_KEYS,
    };
    f.allow(allowed, report);
    let timeout = positive_duration(&f, "timeout", report).unwrap_or(defaults.timeout);
    let rate_limit = f.text("rate_limit", report).and_then(|(text, pos)| {
        values::rate_limit(&text)
            .map_err(|message| report.error(pos, Some(context), format!("`rate_limit`: {message}")))
            .ok()
    });
    let retry = match f.get("retry") {
        Some(node) => retry(
            node,
            f.key_pos("retry"),
            defaults.retry,
            Some(context),
            report,
        ),
        None => defaults.retry,
    };
    let payload_template = f.template_name("payload_template", report);
    let max_in_flight = max_in_flight(&f, report);
    let time_zone = time_zone(&f, context, report);
    let threads = threads(&f, report);
    let kind = match kind.as_str() {
        "slack" => slack::config::parse(&f, report).map(Kind::Slack),
        "teams" => teams::config::parse(&f, report).map(Kind::Teams),
        "email" => email::config::parse(&f, report).map(Kind::Email),
        _ => webhook::config::parse(&f, report).map(Kind::Webhook),
    }?;
    let target = Target::new(kind);
    if threads.is_some()
        && let Some(why) = target.cannot_thread()
    {
        f.problem(f.get("threads")?, format!("`threads: true`: {why}"), report);
    }
    Some(ConfiguredTarget {
        name: entry.key.clone(),
        max_in_flight: max_in_flight.unwrap_or_else(|| target.default_max_in_flight()),
        target,
        timeout,
        rate_limit,
        retry,
        payload_template,
        time_zone,
        threads,
    })
}

/// `threads: true` (one conversation per audit and corrective action) or `threads: audit` (a
/// corrective action in its audit's conversation), with `broadcast:` the event types whose
/// replies are also shown in the channel.
fn threads(f: &Fields, report: &mut Report) -> Option<Threads> {
    let by_audit = match f.get("threads").map(|node| &node.value) {
        None | Some(Value::Bool(false) | Value::Invalid) => None,
        Some(Value::Bool(true)) => Some(false),
        Some(Value::Str(word)) if word == "true" => Some(false),
        Some(Value::Str(word)) if word == "false" => None,
        Some(Value::Str(word)) if word == "audit" => Some(true),
        Some(_) => {
            let node = f.get("threads")?;
            let message = "`threads` is `true` (a conversation per audit and per corrective \
                           action), `audit` (a corrective action in its audit's conversation) or \
                           `false`";
            f.problem(node, message, report);
            None
        }
    };
    let broadcast = f.text_list("broadcast", report);
    let Some(by_audit) = by_audit else {
        if let Some(node) = f.get("broadcast") {
            f.problem(node, "`broadcast` needs `threads: true`", report);
        }
        return None;
    };
    let Some(list) = broadcast else {
        return Some(Threads {
            by_audit,
            ..Threads::default()
        });
    };
    let mut kinds = Vec::with_capacity(list.len());
    for (kind, pos) in list {
        if EVENT_TYPES.contains(&kind.as_str()) {
            kinds.push(kind);
            continue;
        }
        let hint = did_you_mean(&kind, EVENT_TYPES.iter().copied());
        let message = format!("`broadcast`: `{kind}` is not a MonitorQA event type{hint}");
        report.error(pos, f.context(), message);
    }
    Some(Threads {
        broadcast: kinds,
        by_audit,
    })
}

/// `time_zone:`, an IANA name the bundled time zone database knows.
fn time_zone(f: &Fields, context: &str, report: &mut Report) -> Option<String> {
    let (name, pos) = f.text("time_zone", report)?;
    if jiff::tz::TimeZone::get(&name).is_ok() {
        return Some(name);
    }
    let known: Vec<String> = jiff::tz::db()
        .available()
        .map(|n| n.as_str().to_string())
        .collect();
    let hint = did_you_mean(&name, known.iter().map(String::as_str));
    let message = format!(
        "`time_zone`: `{name}` is not a time zone name the relay knows (IANA names like \
         Europe/Lisbon or America/New_York){hint}"
    );
    report.error(pos, Some(context), message);
    None
}

fn kind_word(f: &Fields, report: &mut Report) -> Option<String> {
    let one_of = format!(" (one of: {})", KINDS.join(", "));
    if !f.has("kind") {
        f.missing("kind", &one_of, report);
        return None;
    }
    let (kind, pos) = f.text("kind", report)?;
    if KINDS.contains(&kind.as_str()) {
        return Some(kind);
    }
    let hint = did_you_mean(&kind, KINDS.iter().copied());
    report.error(
        pos,
        f.context(),
        format!("unknown kind `{kind}`{hint}{one_of}"),
    );
    None
}

/// A secret http(s) URL and its host.
pub(super) fn secret_url(
    f: &Fields,
    key: &str,
    required: bool,
    report: &mut Report,
) -> Option<(Secret, String)> {
    let secret = f.secret(key, required, report)?;
    let node = f.get(key)?;
    match values::http_host(secret.expose()) {
        Ok(host) => Some((secret, host)),
        Err(problem) => {
            f.problem(node, problem.message(key), report);
            None
        }
    }
}

/// The most sends a target may have in flight: more would not be faster against one
/// provider, and each holds a connection.
pub(crate) const MAX_IN_FLIGHT: u64 = 64;

/// `max_in_flight`: how many sends a target may have in flight at once, 1 to [`MAX_IN_FLIGHT`].
fn max_in_flight(f: &Fields, report: &mut Report) -> Option<usize> {
    let n = f.number("max_in_flight", report)?;
    if (1..=MAX_IN_FLIGHT).contains(&n) {
        return usize::try_from(n).ok();
    }
    let message = format!("`max_in_flight` must be between 1 and {MAX_IN_FLIGHT}, got {n}");
    f.problem(f.get("max_in_flight")?, message, report);
    None
}

const RETRY_KEYS: &[&str] = &["max_attempts", "initial", "max", "max_age"];

/// `base` with the keys given in the `retry:` mapping `node` replaced.
pub(crate) fn retry(
    node: &Node,
    at: Pos,
    base: RetryPolicy,
    context: Option<&str>,
    report: &mut Report,
) -> RetryPolicy {
    let Some(mut f) = Fields::open(node, at, "`retry`", context, report) else {
        return base;
    };
    f.allow(RETRY_KEYS, report);
    let mut policy = base;
    if let Some(n) = f.number("max_attempts", report) {
        match u32::try_from(n) {
            Ok(n) if n >= 1 => policy.max_attempts = n,
            _ => f.problem(
                node,
                "`max_attempts` must be between 1 and 4294967295",
                report,
            ),
        }
    }
    policy.initial = positive_duration(&f, "initial", report).unwrap_or(policy.initial);
    policy.max = positive_duration(&f, "max", report).unwrap_or(policy.max);
    policy.max_age = positive_duration(&f, "max_age", report).unwrap_or(policy.max_age);
    if policy.initial > policy.max {
        f.problem(
            node,
            "retry `initial` must not be longer than `max`",
            report,
        );
    }
    policy
}

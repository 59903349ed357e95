//! The `targets:` section: one [`TargetConfig`] per entry, checked per kind. URLs, API keys,
//! tokens and header values are secrets: messages name the key (and at most a URL's host).

mod email;

use std::collections::BTreeMap;

use super::fields::{Fields, scalar_text};
use super::report::{Report, did_you_mean, target_context};
use super::sections::{self, positive_duration, retry};
use super::values::{self, host_within};
use super::yaml::{Entry, Node, Pos, Value};
use super::{Defaults, TargetConfig, TargetKind};
use crate::secret::Secret;

const KINDS: &[&str] = &["slack", "teams", "email", "webhook"];
// Each kind's keys: first those every kind takes, then its own.
#[rustfmt::skip]
const SLACK_KEYS: &[&str] = &[
    "kind", "timeout", "rate_limit", "retry", "payload_template",
    "url", "token", "channel", "base_url",
];
#[rustfmt::skip]
const TEAMS_KEYS: &[&str] = &[
    "kind", "timeout", "rate_limit", "retry", "payload_template",
    "url",
];
#[rustfmt::skip]
const EMAIL_KEYS: &[&str] = &[
    "kind", "timeout", "rate_limit", "retry", "payload_template",
    "provider", "api_key", "from", "to", "base_url", "domain", "region",
];
#[rustfmt::skip]
const WEBHOOK_KEYS: &[&str] = &[
    "kind", "timeout", "rate_limit", "retry", "payload_template",
    "url", "headers",
];

/// The targets that passed their checks, and the names of all targets written in the file
/// (so a rule naming a target with a problem is not reported a second time).
pub(crate) struct Targets {
    pub built: BTreeMap<String, TargetConfig>,
    pub names: Vec<String>,
}

pub(crate) fn build(
    section: Option<&Node>,
    defaults: &super::Defaults,
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
    defaults: &Defaults,
    report: &mut Report,
) -> Option<TargetConfig> {
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
    let payload_template = template_name(&f, "payload_template", report);
    let kind = match kind.as_str() {
        "slack" => slack(&f, report),
        "teams" => teams(&f, report),
        "email" => email::email(&f, report),
        _ => webhook(&f, report),
    }?;
    Some(TargetConfig {
        name: entry.key.clone(),
        kind,
        timeout,
        rate_limit,
        retry,
        payload_template,
    })
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

/// A template name: a plain file name stem, so it cannot reach outside `templates/`.
pub(crate) fn template_name(f: &Fields, key: &str, report: &mut Report) -> Option<String> {
    let (name, pos) = f.text(key, report)?;
    let plain = !name.is_empty() && !name.contains(['/', '\\']) && !name.starts_with('.');
    if !plain {
        let message = format!("`{key}` must be a template name (no `/`, not starting with `.`)");
        report.error(pos, f.context(), message);
        return None;
    }
    Some(name)
}

/// A secret http(s) URL and its host.
fn secret_url(
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

fn slack(f: &Fields, report: &mut Report) -> Option<TargetKind> {
    let url = secret_url(f, "url", false, report).map(|(url, _)| url);
    let token = f.secret("token", false, report);
    let channel = f.text("channel", report).map(|(channel, _)| channel);
    let base_url = sections::url(f, "base_url", report);
    let problem = match (f.has("url"), f.has("token"), f.has("channel")) {
        (false, false, false) => Some(
            "slack target needs either `url` (an incoming webhook) or `token` and `channel` \
             (chat.postMessage)",
        ),
        (true, true, _) | (true, _, true) => {
            Some("slack target takes either `url` or `token` + `channel`, not both")
        }
        (false, true, false) => Some("slack target with `token` also needs `channel`"),
        (false, false, true) => Some(
            "slack target with `channel` also needs `token` (or use `url` for an incoming webhook)",
        ),
        _ => None,
    };
    if let Some(message) = problem {
        report.error(f.at(), f.context(), message);
    }
    Some(TargetKind::Slack {
        url,
        token,
        channel,
        base_url,
    })
}

fn teams(f: &Fields, report: &mut Report) -> Option<TargetKind> {
    let (url, host) = secret_url(f, "url", true, report)?;
    let retired = if host_within(&host, "webhook.office.com")
        || host_within(&host, "outlook.office.com")
    {
        Some(format!(
            "`url` is an Office 365 connector webhook (host `{host}`); those connectors were retired \
             in May 2026. Create a Teams Workflows webhook with the \"Send webhook alerts to a \
             channel\" template and use its URL"
        ))
    } else if host_within(&host, "logic.azure.com") {
        Some(format!(
            "`url` is an old Workflows trigger URL (host `{host}`) that stopped working on 30 Nov \
             2025; copy the new trigger URL from the flow (on *.environment.api.powerplatform.com)"
        ))
    } else {
        None
    };
    if let (Some(message), Some(node)) = (retired, f.get("url")) {
        f.problem(node, message, report);
        return None;
    }
    Some(TargetKind::Teams { url })
}

fn webhook(f: &Fields, report: &mut Report) -> Option<TargetKind> {
    let url = secret_url(f, "url", true, report);
    let headers = match f.get("headers") {
        Some(node) => headers(node, f.key_pos("headers"), f.context(), report),
        None => Vec::new(),
    };
    let (url, _) = url?;
    Some(TargetKind::Webhook { url, headers })
}

fn headers(
    node: &Node,
    at: Pos,
    context: Option<&str>,
    report: &mut Report,
) -> Vec<(String, Secret)> {
    let Some(f) = Fields::open(node, at, "`headers`", context, report) else {
        return Vec::new();
    };
    let mut headers = Vec::new();
    for entry in f.entries() {
        let name = &entry.key;
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c));
        if !valid_name {
            report.error(
                entry.key_pos,
                context,
                format!("`{name}` is not a valid header name"),
            );
        }
        match scalar_text(&entry.value) {
            Some(value) if value.contains(['\r', '\n']) => {
                let message = format!("header `{name}` must not contain a line break");
                report.error(entry.value.pos, context, message);
            }
            Some(value) => headers.push((name.clone(), Secret::new(value))),
            None if matches!(entry.value.value, Value::Invalid) => {}
            None => {
                let message = format!(
                    "header `{name}` must be a string, found {}",
                    entry.value.kind_name()
                );
                report.error(entry.value.pos, context, message);
            }
        }
    }
    headers
}

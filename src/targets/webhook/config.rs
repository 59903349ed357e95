//! A webhook target's keys in `rules.yaml`: the `url` and extra `headers`.

use super::Webhook;
use crate::secret::Secret;
use crate::targets::config::secret_url;
use crate::yaml::fields::{Fields, scalar_text};
use crate::yaml::report::Report;
use crate::yaml::tree::{Node, Pos, Value};

/// A webhook target's own keys: `url` and optional `headers` (values are secrets).
pub(crate) fn parse(f: &Fields, report: &mut Report) -> Option<Webhook> {
    let url = secret_url(f, "url", true, report);
    let headers = match f.get("headers") {
        Some(node) => headers(node, f.key_pos("headers"), f.context(), report),
        None => Vec::new(),
    };
    let (url, _) = url?;
    Some(Webhook::new(url, headers))
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
            Some(value) => {
                report.secret_at(entry.value.pos);
                headers.push((name.clone(), Secret::new(value)));
            }
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

//! The helpers templates can call, beyond Handlebars' own (`if`, `unless`, `each`, `with`,
//! `lookup`, `eq`, `ne`, `gt`, `gte`, `lt`, `lte`, `and`, `or`, `not`, `len`).
//!
//! Every helper here returns a JSON value instead of writing text, so Handlebars passes its
//! result through the registry's escape function (Handlebars 6 escapes what `call_inner`
//! returns; a helper that writes to the output itself is NOT escaped). They also compose as
//! subexpressions: `{{upper (default data.x "none")}}`.
//!
//! In strict mode a parameter that names a field the event lacks is an error (a typo must not
//! pass `check`), except where a helper is meant for absent values: both parameters of
//! `default`, and the zone and format of `local_time`. A field that is present but `null`
//! renders as nothing.

use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, Output, RenderContext, RenderError,
    RenderErrorReason, ScopedJson,
};
use serde_json::Value;

use super::time;

/// The MonitorQA web app, for deep links.
pub const APP_URL: &str = "https://app.monitorqa.com";

type HelperFn = fn(&[&Value]) -> Result<Value, String>;

/// A helper that maps its parameters to one JSON value.
struct ValueHelper {
    name: &'static str,
    min_args: usize,
    max_args: usize,
    /// Parameters from this index on may name fields the event does not have.
    optional_from: usize,
    f: HelperFn,
}

impl HelperDef for ValueHelper {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        super::budget::check_time()?;
        let params = h.params();
        if params.len() < self.min_args || params.len() > self.max_args {
            let expected = match (self.min_args, self.max_args) {
                (a, b) if a == b => format!("{a}"),
                (a, b) => format!("{a} to {b}"),
            };
            let msg = format!(
                "`{}` takes {expected} parameters, got {}",
                self.name,
                params.len()
            );
            return Err(RenderErrorReason::Other(msg).into());
        }
        if r.strict_mode() {
            let required = params.iter().take(self.optional_from);
            if let Some(p) = required.into_iter().find(|p| p.is_value_missing()) {
                return Err(RenderErrorReason::MissingVariable(p.relative_path().cloned()).into());
            }
        }
        let args: Vec<&Value> = params.iter().map(|p| p.value()).collect();
        let value = (self.f)(&args)
            .map_err(|e| RenderErrorReason::Other(format!("`{}`: {e}", self.name)))?;
        Ok(ScopedJson::Derived(value))
    }
}

const fn helper(
    name: &'static str,
    (min_args, max_args): (usize, usize),
    optional_from: usize,
    f: HelperFn,
) -> ValueHelper {
    ValueHelper {
        name,
        min_args,
        max_args,
        optional_from,
        f,
    }
}

/// Every helper of [`register`], in the order the documentation lists them.
const HELPERS: [ValueHelper; 15] = [
    helper("status_name", (1, 1), 1, status_name),
    helper("priority_name", (1, 1), 1, priority_name),
    helper("local_time", (1, 3), 1, local_time),
    helper("duration", (1, 1), 1, duration),
    helper("audit_link", (1, 1), 1, audit_link),
    helper("audit_report_link", (1, 1), 1, audit_report_link),
    helper("action_link", (1, 1), 1, action_link),
    helper("actions_link", (0, 0), 0, actions_link),
    helper("join", (1, 3), 1, join),
    helper("default", (2, 2), 0, default),
    helper("truncate", (2, 2), 2, truncate),
    helper("upper", (1, 1), 1, |a| Ok(text(a[0]).to_uppercase().into())),
    helper("lower", (1, 1), 1, |a| Ok(text(a[0]).to_lowercase().into())),
    helper("short_id", (1, 1), 1, short_id),
    helper("compact", (1, 2), 1, compact),
];

/// The names of the helpers [`register`] adds.
#[cfg(test)]
pub fn names() -> Vec<&'static str> {
    HELPERS.iter().map(|h| h.name).collect()
}

/// Adds every helper to a registry.
pub fn register(registry: &mut Handlebars<'static>) {
    for h in HELPERS {
        registry.register_helper(h.name, Box::new(h));
    }
}

/// Adds `json` (raw payload templates only): writes a value as a JSON literal, quotes and all.
pub fn register_json(registry: &mut Handlebars<'static>) {
    registry.register_helper("json", Box::new(JsonHelper));
}

/// `{{json data.correctiveAction.assignedUsers}}` → `[{"id":"…","name":"…"}]`. Writes the
/// output itself (so the JSON-string escape is not applied twice); serde_json makes it safe.
struct JsonHelper;

impl HelperDef for JsonHelper {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let [param] = h.params().as_slice() else {
            return Err(RenderErrorReason::Other("`json` takes 1 parameter".into()).into());
        };
        if r.strict_mode() && param.is_value_missing() {
            return Err(RenderErrorReason::MissingVariable(param.relative_path().cloned()).into());
        }
        out.write(&param.value().to_string())?;
        Ok(())
    }
}

/// A value as message text: strings as they are, numbers and booleans written out, `null` as
/// nothing, lists and objects as compact JSON.
pub fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// A code as an integer: MonitorQA sends numbers; a numeric string is accepted too.
fn code(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn named_code(v: &Value, names: &[&str], kind: &str) -> Result<Value, String> {
    if v.is_null() {
        return Ok(Value::from(""));
    }
    let name = match code(v) {
        Some(n) => usize::try_from(n)
            .ok()
            .and_then(|i| names.get(i))
            .map(|s| s.to_string())
            .unwrap_or_else(|| format!("{kind} {n}")),
        None => text(v),
    };
    Ok(Value::from(name))
}

/// MonitorQA's corrective-action `status` codes, in order.
const STATUS_NAMES: &[&str] = &["Open", "Approved", "Rejected", "Submitted", "Expired"];
/// MonitorQA's corrective-action `priority` codes, in order.
const PRIORITY_NAMES: &[&str] = &["Low", "Medium", "High"];

fn status_name(a: &[&Value]) -> Result<Value, String> {
    named_code(a[0], STATUS_NAMES, "Status")
}

fn priority_name(a: &[&Value]) -> Result<Value, String> {
    named_code(a[0], PRIORITY_NAMES, "Priority")
}

/// A corrective action's `status` in words, as the `status_name` helper writes it.
pub fn status_words(v: &Value) -> String {
    named_code(v, STATUS_NAMES, "Status").map_or_else(|_| text(v), |n| text(&n))
}

/// A corrective action's `priority` in words, as the `priority_name` helper writes it.
pub fn priority_words(v: &Value) -> String {
    named_code(v, PRIORITY_NAMES, "Priority").map_or_else(|_| text(v), |n| text(&n))
}

fn local_time(a: &[&Value]) -> Result<Value, String> {
    let optional_text = |i: usize| a.get(i).map(|v| text(v)).filter(|s| !s.is_empty());
    if is_blank(a[0]) {
        return Ok(Value::from(""));
    }
    let zone = optional_text(1);
    let format = optional_text(2);
    time::local_time(&text(a[0]), zone.as_deref(), format.as_deref()).map(Value::from)
}

fn duration(a: &[&Value]) -> Result<Value, String> {
    match a[0] {
        Value::Null => Ok(Value::from("")),
        v => match v.as_f64().or_else(|| text(v).trim().parse().ok()) {
            Some(secs) if secs >= 0.0 => Ok(Value::from(time::duration(secs.round() as u64))),
            _ => Ok(Value::from(text(v))),
        },
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters, for one path segment.
fn path_segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.trim().bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn deep_link(id: &Value, path: &str) -> Result<Value, String> {
    if is_blank(id) {
        return Ok(Value::from(""));
    }
    Ok(Value::from(format!(
        "{APP_URL}/{path}/{}",
        path_segment(&text(id))
    )))
}

fn audit_link(a: &[&Value]) -> Result<Value, String> {
    deep_link(a[0], "audits/pending")
}

fn audit_report_link(a: &[&Value]) -> Result<Value, String> {
    deep_link(a[0], "audits/archive")
}

fn action_link(a: &[&Value]) -> Result<Value, String> {
    deep_link(a[0], "actions/pending")
}

fn actions_link(_: &[&Value]) -> Result<Value, String> {
    Ok(Value::from(format!("{APP_URL}/actions/pending")))
}

fn join(a: &[&Value]) -> Result<Value, String> {
    let field = a.get(1).map(|v| text(v)).unwrap_or_default();
    let sep = a.get(2).map(|v| text(v)).unwrap_or_else(|| ", ".into());
    let items = match a[0] {
        Value::Null => return Ok(Value::from("")),
        Value::Array(items) => items,
        other => return Err(format!("expects a list, got {}", text(other))),
    };
    let parts: Vec<String> = items
        .iter()
        .map(|item| match item {
            Value::Object(o) => o.get(&field).map(text).unwrap_or_default(),
            other => text(other),
        })
        .filter(|s| !s.trim().is_empty())
        .collect();
    Ok(Value::from(parts.join(&sep)))
}

fn default(a: &[&Value]) -> Result<Value, String> {
    Ok(if is_blank(a[0]) { a[1] } else { a[0] }.clone())
}

fn truncate(a: &[&Value]) -> Result<Value, String> {
    let max = a[1]
        .as_u64()
        .ok_or_else(|| format!("the length must be a whole number, got {}", a[1]))?;
    Ok(Value::from(truncate_chars(&text(a[0]), max as usize)))
}

/// At most `max` characters of `s`; when cut, the end is trimmed and `…` added.
pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let cut: String = s.chars().take(max).collect();
    format!("{}…", cut.trim_end())
}

fn short_id(a: &[&Value]) -> Result<Value, String> {
    Ok(Value::from(
        text(a[0]).trim().chars().take(8).collect::<String>(),
    ))
}

fn compact(a: &[&Value]) -> Result<Value, String> {
    let max = a.get(1).and_then(|v| v.as_u64()).unwrap_or(80) as usize;
    Ok(Value::from(truncate_chars(&text(a[0]), max)))
}

//! The two filters every rule has besides `where`: the event type (exact names, globs, `*`)
//! and the company (by name or id).

use serde_json::Value;

use super::RuleError;
use super::explain::{cap, display_names};
use super::regex_cache::Regex;

/// Characters that other glob dialects give a meaning we do not support.
const UNSUPPORTED: &[char] = &['[', ']', '{', '}', '\\', '!'];

/// `events:` compiled: exact names (indexed by the rule set) and glob patterns (checked on
/// every event).
#[derive(Debug, Clone)]
pub(crate) struct EventFilter {
    exact: Vec<String>,
    globs: Vec<Regex>,
    written: Vec<String>,
}

impl EventFilter {
    pub(crate) fn compile(events: &[String], errors: &mut Vec<RuleError>) -> EventFilter {
        if events.is_empty() {
            errors.push(RuleError::at(
                &["events"],
                "name at least one event type, a glob such as `CORRECTIVE_ACTION_*`, or `*`",
            ));
        }
        let mut filter = EventFilter {
            exact: Vec::new(),
            globs: Vec::new(),
            written: events.to_vec(),
        };
        for (i, pattern) in events.iter().enumerate() {
            match compile_glob(pattern) {
                Ok(None) => filter.exact.push(pattern.clone()),
                Ok(Some(glob)) => filter.globs.push(glob),
                Err(message) => errors.push(RuleError::at(&["events", &i.to_string()], &message)),
            }
        }
        filter
    }

    /// Event types this rule names exactly (the rule set indexes them).
    pub(crate) fn exact(&self) -> &[String] {
        &self.exact
    }

    /// Whether the rule has a glob or `*` and must be checked on every event.
    pub(crate) fn has_globs(&self) -> bool {
        !self.globs.is_empty()
    }

    pub(crate) fn matches(&self, event_type: &str) -> bool {
        self.exact.iter().any(|e| e == event_type)
            || self.globs.iter().any(|g| g.is_match(event_type))
    }

    /// Why `event_type` does not match, in words.
    pub(crate) fn reason(&self, event_type: Option<&str>) -> String {
        let wanted = display_names(&self.written);
        match event_type {
            Some(t) => format!("event type {} is not one of {wanted}", cap(t)),
            None => format!("the event has no event type, needs one of {wanted}"),
        }
    }
}

/// Returns `None` for an exact name, or the compiled glob. `*` is any run of characters
/// (including none), `?` exactly one; matching is case-sensitive.
fn compile_glob(pattern: &str) -> Result<Option<Regex>, String> {
    if pattern.trim().is_empty() {
        return Err("an event type must not be empty".into());
    }
    if pattern.chars().any(char::is_whitespace) {
        return Err(format!(
            "event type `{}` contains white space",
            cap(pattern)
        ));
    }
    if let Some(c) = pattern.chars().find(|c| UNSUPPORTED.contains(c)) {
        return Err(format!(
            "`{c}` is not supported in event patterns; use `*` (any run of characters) or `?` \
             (exactly one character)"
        ));
    }
    if !pattern.contains(['*', '?']) {
        return Ok(None);
    }
    let mut source = String::from("^");
    for c in pattern.chars() {
        match c {
            '*' => source.push_str("(?s:.*)"),
            '?' => source.push_str("(?s:.)"),
            _ => source.push_str(&regex_syntax::escape(c.encode_utf8(&mut [0; 4]))),
        }
    }
    source.push('$');
    super::regex_cache::compile(&source)
        .map(Some)
        .map_err(|e| format!("event pattern `{}` cannot be compiled: {e}", cap(pattern)))
}

/// `company:` compiled: any of the entries, each matching `company.name` or `company.id`.
#[derive(Debug, Clone, Default)]
pub(crate) struct CompanyFilter {
    any_of: Vec<String>,
}

impl CompanyFilter {
    pub(crate) fn compile(company: &[String], errors: &mut Vec<RuleError>) -> CompanyFilter {
        for (i, entry) in company.iter().enumerate() {
            if entry.trim().is_empty() {
                errors.push(RuleError::at(
                    &["company", &i.to_string()],
                    "a company must be a name or an id, not empty",
                ));
            }
        }
        CompanyFilter {
            any_of: company.to_vec(),
        }
    }

    pub(crate) fn matches(&self, event: &Value) -> bool {
        if self.any_of.is_empty() {
            return true;
        }
        let (name, id) = name_and_id(event);
        self.any_of
            .iter()
            .any(|c| Some(c.as_str()) == name || Some(c.as_str()) == id)
    }

    /// Why the event's company does not match, in words.
    pub(crate) fn reason(&self, event: &Value) -> String {
        let wanted = display_names(&self.any_of);
        match name_and_id(event) {
            (Some(name), Some(id)) => {
                format!("company {} ({}) is not one of {wanted}", cap(name), cap(id))
            }
            (Some(one), None) | (None, Some(one)) => {
                format!("company {} is not one of {wanted}", cap(one))
            }
            (None, None) => format!("the event has no company name or id, needs one of {wanted}"),
        }
    }
}

fn name_and_id(event: &Value) -> (Option<&str>, Option<&str>) {
    let company = event.get("company");
    let field = |k| company.and_then(|c| c.get(k)).and_then(Value::as_str);
    (field("name"), field("id"))
}

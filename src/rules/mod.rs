//! Rule matching: compiled matchers for event type, company and `where` conditions, and an
//! index by event type so that 10 000 rules cost what the few candidates cost.
//!
//! Pure and synchronous: no I/O, no clock. Everything is checked and compiled once (paths,
//! regexes, globs) by [`Rule::compile`], which reports every problem of a rule at once with the
//! path of the offending key. Matching never fails: a missing path or a type mismatch is "does
//! not match", never a panic or an error.
//!
//! # Matching semantics
//!
//! The event is one JSON object, `{"event": …, "data": {…}, "company": {…}}` (plus `audit`
//! once enriched); `where` paths point into it: `data.correctiveAction.priority`,
//! `company.name`, `event`, `audit.template.name`.
//!
//! - **`events`**: exact names, globs (`*` = any run of characters, `?` = exactly one), or `*`
//!   alone. Case-sensitive. `[`, `]`, `{`, `}`, `\`, `!` and white space are rejected. An empty
//!   list is an error.
//! - **`company`**: any of the entries; each matches `company.name` or `company.id` exactly.
//!   Absent or empty: every company.
//! - **`where`**: a map whose entries must all hold. A key is a path, or `any` (a non-empty
//!   list of `where` maps, at least one must hold) or `not` (a `where` map that must not hold).
//!   A scalar value means "equals"; a map value is operators that must all hold
//!   (`{gte: 1, lte: 3}`); a list value is an error (write `in:` or `any_of:`).
//! - **Paths**: keys separated by dots, `[N]` for one array element, `[*]` for every element
//!   (several are allowed: `data.a[*].b[*].c`). A key holding dots or brackets is quoted:
//!   `data."weird.key"` (inside quotes, `\"` and `\\` escape). A missing key, an index out of
//!   range, `[*]` on something that is not an array, or a key on something that is not an
//!   object reaches no value.
//! - **Operators**:
//!   - `eq`, `ne`: equal / not equal to a scalar (string, number, boolean, null).
//!   - `in`: equal to one of a non-empty list of scalars; `not_in`: equal to none of them.
//!   - `any_of`: like `in`, but when the value is an array, some ELEMENT must be in the list
//!     (so `data.tags: {any_of: [a]}` and `data.tags[*]: {in: [a]}` agree).
//!   - `regex`: the value is a string the pattern matches somewhere (Rust `regex` syntax;
//!     anchor with `^…$`; `(?i)` ignores case).
//!   - `gt`, `gte`, `lt`, `lte`: numbers compare numerically; a string operand compares
//!     strings lexicographically, which orders ISO-8601 UTC times correctly.
//!   - `contains`: a string value contains the operand as a substring, or an array value has
//!     an element equal to it.
//!   - `exists`: `true` if the path reaches a value, `false` if it does not.
//! - **No coercion**: numbers compare numerically (`2` equals `2.0`), but a string never equals
//!   or compares with a number (`"2"` is not `2`), and `null` equals only `null`. A value of the
//!   wrong type for an operator (a string against `gt: 2`, a number against `regex`) does not
//!   match.
//! - **`null`** in the event counts as present: `exists: true` holds for it.
//! - **Several values** (a path with `[*]`): positive operators (`eq`, `in`, `any_of`,
//!   `regex`, `gt`…, `contains`) hold if SOME value satisfies them. `ne` and `not_in` are the
//!   exact negations of `eq` and `in`: they hold if NO value is equal / in the list.
//!   `exists: true` holds if at least one value is reached, `exists: false` if none is.
//! - **Missing values**: every positive operator fails on a missing path; `ne`, `not_in` and
//!   `exists: false` hold (nothing is equal). To demand presence as well, add `exists: true`.
//! - **Order**: every matching rule fires, in file order, up to and including the first
//!   matching rule with `stop: true`.

mod condition;
mod explain;
mod filter;
mod index;
mod operator;
mod path;
mod regex_cache;
pub(crate) mod shapes;
#[cfg(test)]
pub(crate) mod tests;

use serde_json::Value;

use condition::Condition;
use filter::{CompanyFilter, EventFilter};
use index::Index;

/// One rule as written in `rules.yaml`, before compilation. `where_` is the `where:` map as
/// JSON (paths to conditions, plus `any:` and `not:`).
#[derive(Debug, Clone, Default)]
pub struct RuleSpec {
    pub name: String,
    pub events: Vec<String>,
    pub company: Vec<String>,
    pub where_: Option<Value>,
    pub notify: Vec<String>,
    pub template: Option<String>,
    pub stop: bool,
}

/// A problem in one rule. `path` is relative to the rule and names the offending key (e.g.
/// `["where", "data.x", "gte"]`, `["events", "1"]`), so the config loader can point at
/// `file:line:col`. The message never quotes more than a short excerpt of a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RuleError {
    pub path: Vec<String>,
    pub message: String,
}

impl RuleError {
    fn at(path: &[&str], message: &str) -> RuleError {
        RuleError {
            path: path.iter().map(|s| (*s).to_owned()).collect(),
            message: message.to_owned(),
        }
    }
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub notify: Vec<String>,
    pub template: Option<String>,
    pub stop: bool,
    events: EventFilter,
    company: CompanyFilter,
    condition: Condition,
}

impl Rule {
    /// Checks and compiles a rule; on failure returns every problem found, in key order.
    pub fn compile(spec: RuleSpec) -> Result<Rule, Vec<RuleError>> {
        let mut errors = Vec::new();
        let events = EventFilter::compile(&spec.events, &mut errors);
        let company = CompanyFilter::compile(&spec.company, &mut errors);
        let condition = Condition::compile(spec.where_.as_ref(), &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Rule {
            name: spec.name,
            notify: spec.notify,
            template: spec.template,
            stop: spec.stop,
            events,
            company,
            condition,
        })
    }

    /// Whether the event satisfies this rule: event type, company and `where`.
    pub fn matches(&self, event: &Value) -> bool {
        event_type(event).is_some_and(|t| self.events.matches(t))
            && self.company.matches(event)
            && self.condition.holds(event)
    }

    /// The event types this rule names exactly (not its globs).
    pub fn exact_events(&self) -> &[String] {
        self.events.exact()
    }

    /// Whether this rule's `events` name the event type (ignoring company and `where`): the
    /// event types whose sample events `check` renders this rule's template against.
    pub fn handles(&self, event_type: &str) -> bool {
        self.events.matches(event_type)
    }

    /// The first reason this rule does not match, in words; `None` if it matches.
    fn mismatch(&self, event: &Value) -> Option<String> {
        let kind = event_type(event);
        if !kind.is_some_and(|t| self.events.matches(t)) {
            return Some(self.events.reason(kind));
        }
        if !self.company.matches(event) {
            return Some(self.company.reason(event));
        }
        self.condition.failure(event)
    }

    fn to_match(&self) -> Match<'_> {
        Match {
            rule: &self.name,
            targets: &self.notify,
            template: self.template.as_deref(),
        }
    }
}

fn event_type(event: &Value) -> Option<&str> {
    event.get("event").and_then(Value::as_str)
}

/// The rules of one configuration, in file order, with an index by event type.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
    index: Index,
}

/// A rule that matched an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match<'a> {
    pub rule: &'a str,
    pub targets: &'a [String],
    pub template: Option<&'a str>,
}

/// Why a rule did not match: its first failing condition, in words.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Explanation {
    pub rule: String,
    pub reason: String,
}

impl RuleSet {
    pub fn new(rules: Vec<Rule>) -> RuleSet {
        let index = Index::build(&rules);
        RuleSet { rules, index }
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Every matching rule, in file order, up to and including the first with `stop: true`.
    /// `event` is the event as one JSON object (`{event, data, company, …}`). Only the rules
    /// naming the event's type, and those with a glob, are looked at.
    pub fn evaluate<'a>(&'a self, event: &Value) -> Vec<Match<'a>> {
        let mut matches = Vec::new();
        for i in self.index.candidates(event_type(event)) {
            let rule = &self.rules[i];
            if rule.matches(event) {
                matches.push(rule.to_match());
                if rule.stop {
                    break;
                }
            }
        }
        matches
    }

    /// For every rule that did not match, in file order, its first failing condition; rules
    /// after a matching rule with `stop: true` are reported as not evaluated.
    pub fn explain(&self, event: &Value) -> Vec<Explanation> {
        let mut explanations = Vec::new();
        let mut stopped_by: Option<&str> = None;
        for rule in &self.rules {
            let reason = match stopped_by {
                Some(first) => Some(format!(
                    "not evaluated: rule \"{}\" matched first and has stop: true",
                    explain::cap(first)
                )),
                None => rule.mismatch(event),
            };
            match reason {
                Some(reason) => explanations.push(Explanation {
                    rule: rule.name.clone(),
                    reason,
                }),
                None if rule.stop => stopped_by = Some(&rule.name),
                None => {}
            }
        }
        explanations
    }
}

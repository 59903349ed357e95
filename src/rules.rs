//! Rule matching: compiled matchers for event type, company and `where` conditions.
//!
//! Pure and synchronous. A missing path or a type mismatch is "does not match", never a panic.
//! Rules are indexed by event type so that 10 000 rules cost what the few candidates cost.
//!
//! (Interface stub: the compiled engine replaces the bodies below.)

use serde_json::Value;

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

/// A problem in one rule. `path` is relative to the rule (e.g. `["where", "data.x", "gte"]`),
/// so the config loader can point at `file:line:col`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub path: Vec<String>,
    pub message: String,
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub notify: Vec<String>,
    pub template: Option<String>,
    pub stop: bool,
}

impl Rule {
    pub fn compile(spec: RuleSpec) -> Result<Rule, Vec<RuleError>> {
        Ok(Rule {
            name: spec.name,
            notify: spec.notify,
            template: spec.template,
            stop: spec.stop,
        })
    }
}

/// The rules of one configuration, in file order, with an index by event type.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
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
        RuleSet { rules }
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Every matching rule, in file order, up to and including the first with `stop: true`.
    /// `event` is the event as one JSON object (`{event, data, company, …}`).
    pub fn evaluate<'a>(&'a self, _event: &Value) -> Vec<Match<'a>> {
        Vec::new()
    }

    /// For every rule that did not match, its first failing condition.
    pub fn explain(&self, _event: &Value) -> Vec<Explanation> {
        Vec::new()
    }
}

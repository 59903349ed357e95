//! Message templates: what a notification says, independent of where it goes.
//!
//! A template (`templates/<name>.yaml`) is a message: `title`, `text`, ordered `fields`, a
//! `link` and a `color`, each a Handlebars string rendered against the event:
//!
//! ```yaml
//! title: "Corrective action rejected: {{data.correctiveAction.name}}"
//! text: "{{data.correctiveAction.information.text}}"
//! fields:                                   # in this order; empty values are dropped
//!   Where: "{{data.correctiveAction.auditObject.name}}"
//!   Priority: "{{priority_name data.correctiveAction.priority}}"
//!   Due: "{{local_time data.correctiveAction.dueDateUtc data.correctiveAction.audit.ianaTimeZone}}"
//! link:
//!   url: "{{action_link data.correctiveActionId}}"
//!   label: Open in MonitorQA                # the default label
//! color: danger                             # good | warning | danger | #rrggbb; may be {{…}}
//! ```
//!
//! The context is the event as JSON: `event`, `data`, `company`, plus `relay`
//! (`event_id`, `received_at`) when known and `audit` (the audit's details, looked up for
//! events that carry only `data.auditId`) when present. Templates must cope with `audit` being
//! absent: `{{#if audit}}…{{/if}}` or `{{default audit.number "…"}}`.
//!
//! **Escaping by construction.** There is one Handlebars registry per [`Markup`], each with its
//! own escape function; `{{value}}` and every helper's result are escaped for it,
//! while the template's own text is kept. Unescaped `{{{…}}}`/`{{&…}}` and partials are refused
//! at load. Values keep their newlines: as `\n` (plain, Slack), as a paragraph break (Teams)
//! or as `<br>` (HTML). `link.url` and `color` are rendered without markup: the URL must come
//! out as an absolute `http(s)` URL, which the target escapes for where it puts it.
//!
//! **Strict mode.** A field the event lacks is a render error, so `check` finds typos. To test
//! for a field that may be absent use `{{#if data.x}}…{{/if}}` (`#if` never errors) or
//! `{{default data.x "fallback"}}`; `(default data.x null)` passes "maybe absent" on to a
//! helper, which renders `null` as nothing.
//!
//! **Helpers** (besides Handlebars' `if`, `unless`, `each`, `with`, `lookup`, `eq`, `ne`, `gt`,
//! `gte`, `lt`, `lte`, `and`, `or`, `not`, `len`), with what they give for the sample events:
//!
//! | helper | example | gives |
//! |---|---|---|
//! | `status_name code` | `{{status_name data.correctiveAction.status}}` | `Rejected` (0 Open, 1 Approved, 2 Rejected, 3 Submitted, 4 Expired) |
//! | `priority_name code` | `{{priority_name data.correctiveAction.priority}}` | `High` (0 Low, 1 Medium, 2 High) |
//! | `local_time utc [zone] [format]` | `{{local_time data.correctiveAction.dueDateUtc data.correctiveAction.audit.ianaTimeZone}}` | `Sun 22 Nov 2026, 23:59 WET` |
//! | | `{{local_time data.endDate "America/New_York" "%Y-%m-%d %H:%M %Z"}}` | `2026-11-20 08:00 EST` |
//! | `duration seconds` | `{{duration data.completionTime}}` | `36 min` |
//! | `audit_link id` | `{{audit_link data.auditId}}` | `https://app.monitorqa.com/audits/pending/<id>` |
//! | `audit_report_link id` | `{{audit_report_link data.auditId}}` | `https://app.monitorqa.com/audits/archive/<id>` |
//! | `action_link id` | `{{action_link data.correctiveActionId}}` | `https://app.monitorqa.com/actions/pending/<id>` |
//! | `actions_link` | `{{actions_link}}` | `https://app.monitorqa.com/actions/pending` |
//! | `join list [field] [sep]` | `{{join data.correctiveAction.assignedUsers "name"}}` | `Tomás Ortega` (sep defaults to `, `) |
//! | `default value fallback` | `{{default audit.number "unknown"}}` | the value, or the fallback when absent, null or empty |
//! | `truncate value n` | `{{truncate data.correctiveAction.description 20}}` | `Call the refrigerati…` |
//! | `upper value`, `lower value` | `{{upper data.correctiveAction.number}}` | `CA-2026-0147` |
//! | `short_id id` | `{{short_id data.auditId}}` | `d6f4b0a5` (first 8 characters) |
//! | `compact value [n]` | `{{compact data.correctiveAction.tags}}` | a value as one line of at most n (80) characters; objects as JSON |
//! | `json value` (payload templates only) | `{{json data.correctiveAction.tags}}` | `[{"id":"…","name":"Cold chain"}]` |
//!
//! `local_time`: a missing or empty zone means UTC; an unknown zone falls back to UTC and adds
//! `(unknown time zone X)`; a time that does not parse is shown as given; the format is
//! strftime (jiff), default `%a %-d %b %Y, %H:%M %Z`.
//!
//! **Raw payload templates** (`templates/<name>.<kind>.hbs`, kind `slack`, `teams`, `email` or
//! `webhook`) render a target's whole JSON body. Values are JSON-string escaped without the
//! quotes, so the template writes `"name": "{{data.x}}"`; numbers go unquoted; `{{json v}}`
//! writes any value as JSON. The result must parse as JSON.
//!
//! Built-in defaults exist for every MonitorQA event type and for unknown ones
//! ([`Templates::default_name`]); files in `templates/` override them by name.

pub mod budget;
mod check;
mod defaults;
mod engine;
mod error;
pub(crate) mod escape;
mod helpers;
mod load;
mod render;
pub use render::Mode;
mod samples;
mod source;
#[cfg(test)]
mod tests;
mod time;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

pub use defaults::{EVENT_KINDS, UNKNOWN_EVENT};
pub use error::{RenderError, TemplateError};
pub use helpers::{priority_words, status_words, text as value_text};
pub use samples::{sample_event, sample_events};
pub use time::local_time;

use engine::Engines;
use source::{Pos, Role};

/// The markup a rendered message is for. Each has its own escaping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Markup {
    /// No markup: plain text (email text part, Slack `plain_text`, titles).
    Plain,
    /// Slack mrkdwn: `&`, `<`, `>` escaped, formatting characters neutralised.
    Slack,
    /// Teams Adaptive Card TextBlock (Markdown subset).
    Teams,
    /// HTML (email).
    Html,
}

impl Markup {
    pub const ALL: [Markup; 4] = [Markup::Plain, Markup::Slack, Markup::Teams, Markup::Html];
}

/// One rendered message, for one markup.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Message {
    /// In the markup (values escaped), trimmed.
    pub title: String,
    /// What a phone's notification shows, on one line (what, where, by when): Slack's
    /// top-level `text` and the email subject. Empty when the template has no `preview`; the
    /// title is shown instead.
    pub preview: String,
    /// In the markup, trimmed. Newlines from values are already line breaks for the markup
    /// (`<br>` for HTML, a blank line for Teams); the template's own newlines are kept as `\n`,
    /// which a target whose markup ignores single newlines (Teams) must turn into breaks.
    pub text: String,
    /// In a conversation (`threads: true`), what the thread is about, the same for every event
    /// of the object: the parent's title in Slack, the thread's subject in email. One line;
    /// empty when the template has none ([`Message::topic_or_title`]).
    pub topic: String,
    /// In a conversation, where the object stands after this event, who must act and by when:
    /// the line the parent shows in bold. One line; empty when the template has none.
    pub status: String,
    /// In a conversation, what the reply in the thread says (the parent already shows the
    /// object). Empty when the template has none ([`Message::reply_or_text`]).
    pub reply: String,
    /// Ordered `(label, value)` pairs; empty values are dropped at render time. Labels are
    /// the template's own text; values are in the markup.
    pub fields: Vec<(String, String)>,
    pub link: Option<Link>,
    /// `good`, `warning`, `danger`, or a `#rrggbb` colour.
    pub color: Option<String>,
}

impl Message {
    /// The thread's topic, else the title.
    pub fn topic_or_title(&self) -> &str {
        if self.topic.is_empty() {
            &self.title
        } else {
            &self.topic
        }
    }

    /// The parent's state line, else the preview, else the title.
    pub fn status_or_preview(&self) -> &str {
        [&self.status, &self.preview, &self.title]
            .into_iter()
            .find(|s| !s.is_empty())
            .map_or("", String::as_str)
    }

    /// The reply's text, else the title and the text.
    pub fn reply_or_text(&self) -> String {
        match (self.reply.is_empty(), self.text.is_empty()) {
            (false, _) => self.reply.clone(),
            (true, true) => self.title.clone(),
            (true, false) => format!("{}\n{}", self.title, self.text),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Link {
    /// An absolute `http(s)` URL, NOT escaped for the markup: escape it where it is placed.
    pub url: String,
    /// In the markup.
    pub label: String,
}

/// The kinds a raw payload template can be for (`templates/<name>.<kind>.hbs`).
pub const PAYLOAD_KINDS: [&str; 4] = ["slack", "teams", "email", "webhook"];

/// Every loaded template, compiled and ready to render. Cheap to share (`Arc`) and immutable:
/// a reload builds a new one.
pub struct Templates {
    /// Lenient: what delivery renders with.
    engines: Engines,
    /// Strict: what `check` renders with.
    strict: Engines,
    messages: BTreeMap<String, MessageTemplate>,
    payloads: BTreeMap<(String, String), PayloadTemplate>,
    /// Valid but risky constructs found at load (see [`Templates::warnings`]).
    warnings: Vec<TemplateError>,
    /// What one render may do: [`budget::LIMITS`] unless a test sets other limits.
    limits: budget::Limits,
}

/// A registered message template: where it came from and the registry key of each part.
struct MessageTemplate {
    file: Arc<Path>,
    parts: Vec<PartRef>,
}

struct PartRef {
    role: Role,
    key: String,
    pos: Option<Pos>,
}

struct PayloadTemplate {
    file: Arc<Path>,
    key: String,
}

impl Templates {
    /// The default template name for an event type (`AUDIT_EXPIRED` → `audit_expired`);
    /// types the relay does not know map to `unknown_event`.
    pub fn default_name(event_kind: &str) -> String {
        defaults::default_name(event_kind)
    }

    /// Whether a message template of this name exists (built in or from a file).
    pub fn contains(&self, name: &str) -> bool {
        self.messages.contains_key(name)
    }

    /// Whether a raw payload template `<name>.<kind>.hbs` exists.
    pub fn contains_payload(&self, name: &str, kind: &str) -> bool {
        self.payloads
            .contains_key(&(name.to_owned(), kind.to_owned()))
    }

    /// The names of all message templates, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.messages.keys().map(String::as_str)
    }

    /// Valid but risky: every `{{#each}}` over event data nested in another one, with its file
    /// and line. `check` prints them; the render budget bounds what they can cost.
    pub fn warnings(&self) -> &[TemplateError] {
        &self.warnings
    }

    /// The same templates under other render limits (tests; the relay uses [`budget::LIMITS`]).
    pub fn with_limits(mut self, limits: budget::Limits) -> Templates {
        self.limits = limits;
        self
    }

    /// The render limits in force.
    pub fn limits(&self) -> budget::Limits {
        self.limits
    }

    /// `(name, kind)` of all raw payload templates, sorted.
    pub fn payload_names(&self) -> impl Iterator<Item = (&str, &str)> {
        self.payloads.keys().map(|(n, k)| (n.as_str(), k.as_str()))
    }
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("messages", &self.messages.keys().collect::<Vec<_>>())
            .field("payloads", &self.payloads.keys().collect::<Vec<_>>())
            .finish()
    }
}

//! Message templates: what a notification says, independent of where it goes.
//!
//! A template (`templates/<name>.yaml`) is a message: `title`, `text`, ordered `fields`, a
//! `link` and a `color`, each a Handlebars string. Values from the event are escaped for the
//! target's markup by construction (one Handlebars registry per [`Markup`]); the template's own
//! markup is kept. Built-in defaults exist for every MonitorQA event type.
//!
//! (Interface stub: the template engine replaces the bodies below.)

/// The markup a rendered message is for. Each has its own escaping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Markup {
    /// No markup: plain text (email text part, Slack `plain_text`, titles).
    Plain,
    /// Slack mrkdwn: `&`, `<`, `>` escaped.
    Slack,
    /// Teams Adaptive Card TextBlock (Markdown subset).
    Teams,
    /// HTML (email).
    Html,
}

/// One rendered message, for one markup.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Message {
    pub title: String,
    pub text: String,
    /// Ordered `(label, value)` pairs; empty values are dropped at render time.
    pub fields: Vec<(String, String)>,
    pub link: Option<Link>,
    /// `good`, `warning`, `danger`, or a `#rrggbb` colour.
    pub color: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Link {
    pub url: String,
    pub label: String,
}

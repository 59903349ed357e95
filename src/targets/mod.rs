//! Delivery targets: one module per kind, dispatched by an enum.
//!
//! Each kind builds its HTTP request from a rendered message ([`Target::build`], pure) and
//! classifies the answer with one status → outcome table ([`Target::classify`], pure). The only
//! I/O is [`http::execute`]. What a provider says back passes through the target's
//! [`scrub::Scrubber`] before anyone sees it, so no encoding of a secret it echoes survives. Targets never retry, sleep or touch the store: the sender loop in
//! [`crate::pipeline`] decides when to try again, using the [`Verdict`].
//!
//! | kind | module | sends |
//! |---|---|---|
//! | Slack | [`slack`] | Block Kit to an incoming webhook, or `chat.postMessage` with a bot token |
//! | Teams | [`teams`] | an Adaptive Card to a Workflows webhook |
//! | email | [`email`] | HTML + text mail via SendGrid, Mailgun, Postmark or Resend |
//! | webhook | [`webhook`] | the event (or a raw payload) as JSON |

pub mod email;
pub mod http;
pub mod limits;
pub mod scrub;
pub mod slack;
pub mod teams;
pub mod verdict;
pub mod webhook;

use std::time::SystemTime;

pub use http::{
    HeaderText, HttpRequest, HttpResponse, RequestBody, TransportError, TransportErrorKind,
    classify_transport, execute,
};
pub use verdict::{RetryScope, Verdict};

use crate::config::{TargetConfig, TargetKind};
use crate::template::{Markup, Message};

/// A configured destination, ready to build requests and judge answers.
#[derive(Debug, Clone)]
pub struct Target {
    kind: Kind,
    /// Built once from the kind's secrets: compiling it per answer would cost every failure.
    scrubber: scrub::Scrubber,
}

/// One module per kind.
#[derive(Debug, Clone)]
enum Kind {
    Slack(slack::Slack),
    Teams(teams::Teams),
    Email(email::Email),
    Webhook(webhook::Webhook),
}

/// The renderings of one message, one per markup the target asked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rendered {
    messages: Vec<(Markup, Message)>,
}

impl Rendered {
    pub fn new(messages: Vec<(Markup, Message)>) -> Rendered {
        Rendered { messages }
    }

    /// The rendering for `markup`, if it was supplied.
    pub fn get(&self, markup: Markup) -> Option<&Message> {
        self.messages
            .iter()
            .find(|(m, _)| *m == markup)
            .map(|(_, msg)| msg)
    }

    fn require(&self, markup: Markup) -> Result<&Message, BuildError> {
        self.get(markup).ok_or(BuildError::MissingRendering(markup))
    }
}

/// What a delivery sends.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    /// A message rendered for each of [`Target::markups`]; the target lays it out.
    Message(Rendered),
    /// The output of a raw payload template: sent as the body as is.
    Payload(serde_json::Value),
    /// The event's template context, for webhook targets without a payload template.
    Event(serde_json::Value),
}

impl Content {
    fn name(&self) -> &'static str {
        match self {
            Content::Message(_) => "a rendered message",
            Content::Payload(_) => "a raw payload",
            Content::Event(_) => "the raw event",
        }
    }
}

/// Why no request could be built. Never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("the {0:?} rendering of the message is missing")]
    MissingRendering(Markup),
    #[error("{kind} targets cannot send {content}")]
    Unsupported {
        kind: &'static str,
        content: &'static str,
    },
    #[error("{0}")]
    Config(String),
}

impl Target {
    /// The target a validated configuration describes.
    pub fn from_config(cfg: &TargetConfig) -> Target {
        let kind = match &cfg.kind {
            TargetKind::Slack {
                url,
                token,
                channel,
                base_url,
            } => Kind::Slack(slack::Slack::new(
                url.clone(),
                token.clone(),
                channel.clone(),
                base_url.clone(),
            )),
            TargetKind::Teams { url } => Kind::Teams(teams::Teams::new(url.clone())),
            TargetKind::Email { .. } => Kind::Email(email::Email::from_kind(&cfg.kind)),
            TargetKind::Webhook { url, headers } => {
                Kind::Webhook(webhook::Webhook::new(url.clone(), headers.clone()))
            }
        };
        let scrubber = scrub::Scrubber::new(kind.secrets());
        Target { kind, scrubber }
    }

    /// `slack`, `teams`, `email` or `webhook`.
    pub fn kind_name(&self) -> &'static str {
        match &self.kind {
            Kind::Slack(_) => "slack",
            Kind::Teams(_) => "teams",
            Kind::Email(_) => "email",
            Kind::Webhook(_) => "webhook",
        }
    }

    /// The renderings a [`Content::Message`] for this target must carry.
    pub fn markups(&self) -> &'static [Markup] {
        match &self.kind {
            Kind::Slack(_) => slack::MARKUPS,
            Kind::Teams(_) => teams::MARKUPS,
            Kind::Email(_) => email::MARKUPS,
            Kind::Webhook(_) => &[],
        }
    }

    /// The request that delivers `content`. `delivery_key` is a stable id of the delivery,
    /// the same on every attempt (providers with idempotency keys use it).
    pub fn build(&self, content: &Content, delivery_key: &str) -> Result<HttpRequest, BuildError> {
        match &self.kind {
            Kind::Slack(t) => t.build(content),
            Kind::Teams(t) => t.build(content),
            Kind::Email(t) => t.build(content, delivery_key),
            Kind::Webhook(t) => t.build(content),
        }
    }

    /// What the provider's answer means. The verdict never contains one of this target's
    /// secrets, in any encoding, even if the provider echoed one back: the body is scrubbed
    /// before the table reads it (so an excerpt cannot keep half a secret), and the reason
    /// after (for what the table decoded from JSON).
    pub fn classify(&self, resp: &HttpResponse, now: SystemTime) -> Verdict {
        let resp = HttpResponse {
            status: resp.status,
            headers: resp.headers.clone(),
            body: self.scrubber.scrub(&resp.body),
        };
        let verdict = match &self.kind {
            Kind::Slack(t) => t.classify(&resp, now),
            Kind::Teams(t) => t.classify(&resp, now),
            Kind::Email(t) => t.classify(&resp, now),
            Kind::Webhook(t) => t.classify(&resp, now),
        };
        verdict.scrubbed(&self.scrubber)
    }

    /// `text` (a provider's answer, say) with this target's secrets removed, for showing it.
    pub fn scrub(&self, text: &str) -> String {
        self.scrubber.scrub(text)
    }
}

impl Kind {
    /// Every secret of the target, and every form of one it sends (see [`scrub`]).
    fn secrets(&self) -> Vec<String> {
        match self {
            Kind::Slack(t) => t.secrets(),
            Kind::Teams(t) => t.secrets(),
            Kind::Email(t) => t.secrets(),
            Kind::Webhook(t) => t.secrets(),
        }
    }
}

/// The error for content a kind does not take.
fn unsupported(kind: &'static str, content: &Content) -> BuildError {
    BuildError::Unsupported {
        kind,
        content: content.name(),
    }
}

/// Whether a link may become a button: http(s) only (never `javascript:` and the like).
fn is_web_url(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

//! Delivery targets: one module per kind, dispatched by an enum, and one [`ConfiguredTarget`]
//! per name in `rules.yaml`.
//!
//! Each kind owns everything about itself: its section of `rules.yaml` (`<kind>::config`, read
//! by `config` with `file:line:col` errors), its request built from a rendered message
//! ([`Target::build`], pure), its status → outcome table ([`Target::classify`], pure) and its
//! defaults ([`Target::default_pace`]). The only I/O is [`http::execute`]. What a provider
//! says back passes through the target's [`scrub::Scrubber`] before anyone sees it, so no
//! encoding of a secret it echoes survives. Targets never retry, sleep or touch the store: the
//! sender loop in [`crate::pipeline`] decides when to try again, using the [`Verdict`].
//!
//! | kind | module | sends |
//! |---|---|---|
//! | Slack | [`slack`] | Block Kit to an incoming webhook, or `chat.postMessage` with a bot token |
//! | Teams | [`teams`] | an Adaptive Card to a Workflows webhook |
//! | email | [`email`] | HTML + text mail via SendGrid, Mailgun, Postmark or Resend |
//! | webhook | [`webhook`] | the event (or a raw payload) as JSON |

pub(crate) mod config;
pub mod email;
pub mod http;
pub mod limits;
pub mod scrub;
pub mod slack;
pub mod teams;
pub mod verdict;
pub mod webhook;

use std::time::{Duration, SystemTime};

pub use http::{
    HeaderText, HttpRequest, HttpResponse, RequestBody, TransportError, TransportErrorKind,
    classify_transport, execute,
};
pub use verdict::{RetryScope, Verdict};

pub use crate::yaml::RateLimit;

use crate::backoff::RetryPolicy;
use crate::conversation::{Answer, Post, Threads};
use crate::template::{Markup, Message};

/// One entry of `targets:`: the destination with its name and everything the relay decides
/// around it (how long a send may take, how fast and how often to try). One per name: the
/// configuration, the sender, `check`, `test` and `send` all use the same one.
#[derive(Debug, Clone)]
pub struct ConfiguredTarget {
    pub name: String,
    pub target: Target,
    pub timeout: Duration,
    /// `rate_limit:` as written; see [`ConfiguredTarget::pace`] for what applies.
    pub rate_limit: Option<RateLimit>,
    pub retry: RetryPolicy,
    /// A raw payload template (`templates/<name>.<kind>.hbs`) instead of the message layout.
    pub payload_template: Option<String>,
    /// How many sends may be in flight at once (`max_in_flight`, else the kind's default). 1
    /// keeps the target's queue in strict order: a message waiting for its retry holds the
    /// ones behind it. More sends start in queue order and finish in any order.
    pub max_in_flight: usize,
    /// The readers' time zone (`time_zone:`, an IANA name): the default templates show times
    /// in it when the event names no zone of its own (an audit never does), instead of UTC.
    /// Templates read it as `relay.time_zone`.
    pub time_zone: Option<String>,
    /// `threads: true`: one conversation per audit and corrective action (see
    /// [`crate::conversation`]).
    pub threads: Option<Threads>,
}

impl ConfiguredTarget {
    /// Whether the target's queue is strictly ordered (one send at a time).
    pub fn ordered(&self) -> bool {
        self.max_in_flight <= 1
    }

    /// The pace sends keep: the target's `rate_limit`, else its provider's documented one.
    pub fn pace(&self) -> Option<RateLimit> {
        self.rate_limit.or_else(|| self.target.default_pace())
    }
}

/// A configured destination, ready to build requests and judge answers.
#[derive(Debug, Clone)]
pub struct Target {
    kind: Kind,
    /// Built once from the kind's secrets: compiling it per answer would cost every failure.
    scrubber: scrub::Scrubber,
}

/// One module per kind.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
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
    /// The target of one kind, with the scrubber built from its secrets.
    pub(crate) fn new(kind: Kind) -> Target {
        let scrubber = scrub::Scrubber::new(kind.secrets());
        Target { kind, scrubber }
    }

    /// How many sends the kind has in flight unless `max_in_flight` says: one for chat and
    /// webhooks, where order matters to the people or the system reading them; four for email,
    /// which arrives in no particular order anyway.
    pub fn default_max_in_flight(&self) -> usize {
        match &self.kind {
            Kind::Email(_) => 4,
            Kind::Slack(_) | Kind::Teams(_) | Kind::Webhook(_) => 1,
        }
    }

    /// The pace a provider documents, used when the target sets no `rate_limit`: Slack and
    /// Teams webhooks take about one message a second each.
    pub fn default_pace(&self) -> Option<RateLimit> {
        match &self.kind {
            Kind::Slack(_) | Kind::Teams(_) => Some(RateLimit {
                count: 1,
                per: Duration::from_secs(1),
            }),
            Kind::Email(_) | Kind::Webhook(_) => None,
        }
    }

    /// Why this target cannot keep conversations (`threads: true`), if it cannot.
    pub fn cannot_thread(&self) -> Option<&'static str> {
        match &self.kind {
            Kind::Slack(t) => t.cannot_thread(),
            Kind::Teams(_) => Some(
                "a Teams Workflows webhook can neither reply to a message nor edit one, so \
                 each event stays a card of its own; remove `threads`",
            ),
            Kind::Email(_) => None,
            Kind::Webhook(_) => Some(
                "a webhook target sends the event itself; the system receiving it threads, \
                 not the relay; remove `threads`",
            ),
        }
    }

    /// Whether the target edits its first message of a conversation (Slack) rather than only
    /// replying (email).
    pub fn edits_threads(&self) -> bool {
        matches!(self.kind, Kind::Slack(_))
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

    /// The host (and port, when its URL names one) its requests go to: all of its address a
    /// person may see (a webhook URL's path is a credential). `None` when it has no URL.
    pub fn host(&self) -> Option<String> {
        match &self.kind {
            Kind::Slack(t) => t.host(),
            Kind::Teams(t) => t.host(),
            Kind::Email(t) => t.host(),
            Kind::Webhook(t) => t.host(),
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
        self.build_in(content, delivery_key, None)
    }

    /// [`Target::build`] for `post` in a conversation (`None`: a message of its own).
    pub fn build_in(
        &self,
        content: &Content,
        delivery_key: &str,
        post: Option<&Post>,
    ) -> Result<HttpRequest, BuildError> {
        match (&self.kind, post) {
            (Kind::Slack(t), _) => t.build(content, post),
            (Kind::Email(t), _) => t.build(content, delivery_key, post),
            (Kind::Teams(t), None) => t.build(content),
            (Kind::Webhook(t), None) => t.build(content),
            (Kind::Teams(_) | Kind::Webhook(_), Some(_)) => Err(BuildError::Config(
                self.cannot_thread()
                    .unwrap_or("this target cannot keep conversations")
                    .to_owned(),
            )),
        }
    }

    /// The id a conversation keeps for the message of delivery `key` when it is the
    /// conversation's first: an email's own `Message-ID` (Slack's comes in its answer).
    pub fn own_message_id(&self, delivery_key: &str) -> Option<String> {
        match &self.kind {
            Kind::Email(t) => Some(t.message_id(delivery_key)),
            _ => None,
        }
    }

    /// What the answer to `post` in a conversation says of the conversation beyond its
    /// verdict: Slack's parent gone, or a reply posted outside its thread.
    pub fn conversation_answer(&self, resp: &HttpResponse, post: &Post) -> Option<Answer> {
        match &self.kind {
            Kind::Slack(t) => t.conversation_answer(resp, post),
            _ => None,
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

//! Slack: Block Kit messages to an incoming webhook, or to `chat.postMessage` with a bot token.
//!
//! The layout lives in [`blocks`], the answer tables in [`answer`]. Both destinations take the
//! same body; the Web API one also names the channel and carries `Authorization: Bearer`.

pub mod answer;
pub mod blocks;
pub(crate) mod config;

use std::time::SystemTime;

use serde_json::{Map, Value};

use super::scrub::url_secret_parts;
use super::{BuildError, Content, HeaderText, HttpRequest, HttpResponse, RequestBody, Verdict};
use crate::conversation::{self, Answer, Post};
use crate::secret::Secret;
use crate::template::Markup;

/// Plain for the header and the notification text, Slack mrkdwn for sections and fields.
pub const MARKUPS: &[Markup] = &[Markup::Plain, Markup::Slack];

/// The Web API base used when `base_url` is not set.
pub const DEFAULT_API_BASE: &str = "https://slack.com/api";

/// A Slack target.
#[derive(Debug, Clone)]
pub struct Slack {
    destination: Destination,
}

#[derive(Debug, Clone)]
enum Destination {
    /// An incoming webhook: the URL is the credential.
    Webhook(Secret),
    /// `chat.postMessage` (and `chat.update`, in conversations) with a bot token.
    Api {
        token: Secret,
        channel: String,
        /// The Web API's base URL, without a trailing `/`.
        base: String,
    },
    /// Neither a URL nor a token and channel (config validation prevents this).
    Incomplete,
}

impl Slack {
    pub fn new(
        url: Option<Secret>,
        token: Option<Secret>,
        channel: Option<String>,
        base_url: Option<String>,
    ) -> Slack {
        let destination = match (url, token, channel) {
            (Some(url), _, _) => Destination::Webhook(url),
            (None, Some(token), Some(channel)) => {
                let base = base_url.unwrap_or_else(|| DEFAULT_API_BASE.to_string());
                Destination::Api {
                    token,
                    channel,
                    base: base.trim_end_matches('/').to_owned(),
                }
            }
            _ => Destination::Incomplete,
        };
        Slack { destination }
    }

    /// Why this Slack target cannot keep conversations, if it cannot.
    pub(super) fn cannot_thread(&self) -> Option<&'static str> {
        match self.destination {
            Destination::Api { .. } => None,
            _ => Some(
                "an incoming webhook answers `ok` without the message's id, so nothing can be \
                 replied to or edited later; use a bot `token` and `channel` (chat.postMessage)",
            ),
        }
    }

    /// The request for `content`: a message of its own, or `post` in a conversation (the
    /// parent, a reply in its thread, or the parent's edit).
    pub(super) fn build(
        &self,
        content: &Content,
        post: Option<&Post>,
    ) -> Result<HttpRequest, BuildError> {
        let body = match content {
            Content::Message(rendered) => {
                let (plain, mrkdwn) = (
                    rendered.require(Markup::Plain)?,
                    rendered.require(Markup::Slack)?,
                );
                match post {
                    None => blocks::message_body(plain, mrkdwn),
                    Some(Post::Start { restarted, topic }) => {
                        blocks::parent_body(plain, mrkdwn, topic.as_deref(), *restarted)
                    }
                    Some(Post::Update {
                        topic, restarted, ..
                    }) => blocks::parent_body(plain, mrkdwn, topic.as_deref(), *restarted),
                    Some(Post::Skip { why }) => return Err(BuildError::Config((*why).to_owned())),
                    Some(Post::Reply { own, .. }) => blocks::reply_body(plain, mrkdwn, *own),
                }
            }
            Content::Payload(payload) => payload.clone(),
            Content::Event(_) => return Err(super::unsupported("slack", content)),
        };
        match &self.destination {
            Destination::Webhook(url) if post.is_none() => Ok(HttpRequest {
                url: url.clone(),
                headers: Vec::new(),
                body: RequestBody::Json(body),
            }),
            Destination::Api {
                token,
                channel,
                base,
            } => {
                let (method, body) = in_conversation(body, channel, post);
                Ok(HttpRequest {
                    url: Secret::new(format!("{base}/{method}")),
                    headers: vec![(
                        "authorization".to_string(),
                        HeaderText::Secret(Secret::new(format!("Bearer {}", token.expose()))),
                    )],
                    body: RequestBody::Json(body),
                })
            }
            Destination::Webhook(_) => Err(BuildError::Config(
                "an incoming webhook cannot keep a conversation (`threads: true` needs a bot \
                 token)"
                    .to_string(),
            )),
            Destination::Incomplete => Err(BuildError::Config(
                "a slack target needs either `url` or both `token` and `channel`".to_string(),
            )),
        }
    }

    /// What the answer to a reply or an edit in a conversation says of the conversation, when
    /// it says something the verdict does not: the parent (or its channel) is gone (an error
    /// of [`conversation::PARENT_GONE`]), or a reply was posted in the channel instead of the
    /// thread (Slack answers `ok` with a message that has no `thread_ts` when the parent was
    /// deleted).
    pub(super) fn conversation_answer(&self, resp: &HttpResponse, post: &Post) -> Option<Answer> {
        if !matches!(self.destination, Destination::Api { .. }) {
            return None;
        }
        let json: Value = serde_json::from_str(&resp.body).ok()?;
        if json["ok"] == Value::Bool(false) {
            let error = json["error"].as_str()?;
            return conversation::PARENT_GONE
                .contains(&error)
                .then(|| Answer::ParentGone(error.to_owned()));
        }
        let Post::Reply { thread_id, .. } = post else {
            return None;
        };
        let message = json["message"].as_object()?;
        let in_thread = message.get("thread_ts").and_then(Value::as_str) == Some(thread_id);
        if in_thread || json["ok"] != Value::Bool(true) {
            return None;
        }
        let (channel, ts) = (json["channel"].as_str()?, json["ts"].as_str()?);
        Some(Answer::Strayed {
            id: format!("{channel}/{ts}"),
        })
    }

    pub(super) fn classify(&self, resp: &HttpResponse, now: SystemTime) -> Verdict {
        match self.destination {
            Destination::Api { .. } => answer::classify_api(resp, now),
            _ => answer::classify_webhook(resp, now),
        }
    }

    /// The host of the incoming webhook, or of the Web API.
    pub(super) fn host(&self) -> Option<String> {
        match &self.destination {
            Destination::Webhook(url) => url.host(),
            Destination::Api { base, .. } => crate::secret::host(base),
            Destination::Incomplete => None,
        }
    }

    pub(super) fn secrets(&self) -> Vec<String> {
        match &self.destination {
            Destination::Webhook(url) => url_secret_parts(url.expose()),
            Destination::Api { token, .. } => vec![token.expose().to_string()],
            Destination::Incomplete => Vec::new(),
        }
    }
}

/// The Web API method and body for a post in a conversation (or a message of its own):
/// `chat.postMessage` with the target's channel, with `thread_ts` (and `reply_broadcast`) for a
/// reply; `chat.update` with the parent's channel and `ts` for an edit.
fn in_conversation(body: Value, channel: &str, post: Option<&Post>) -> (&'static str, Value) {
    let mut body = with_channel(body, channel);
    let Value::Object(fields) = &mut body else {
        return ("chat.postMessage", body);
    };
    match post {
        None | Some(Post::Start { .. } | Post::Skip { .. }) => ("chat.postMessage", body),
        Some(Post::Reply {
            channel,
            thread_id,
            broadcast,
            ..
        }) => {
            if let Some(channel) = channel {
                fields.insert("channel".into(), Value::from(channel.as_str()));
            }
            fields.insert("thread_ts".into(), Value::from(thread_id.as_str()));
            if *broadcast {
                fields.insert("reply_broadcast".into(), Value::Bool(true));
            }
            ("chat.postMessage", body)
        }
        Some(Post::Update {
            channel, thread_id, ..
        }) => {
            fields.insert("channel".into(), Value::from(channel.as_str()));
            fields.insert("ts".into(), Value::from(thread_id.as_str()));
            // chat.update takes neither; a raw payload may carry them.
            fields.remove("unfurl_links");
            fields.remove("unfurl_media");
            ("chat.update", body)
        }
    }
}

/// The body with `channel` first (a payload that names its own channel keeps it).
fn with_channel(body: Value, channel: &str) -> Value {
    match body {
        Value::Object(fields) if !fields.contains_key("channel") => {
            let mut out = Map::new();
            out.insert("channel".to_string(), Value::String(channel.to_string()));
            out.extend(fields);
            Value::Object(out)
        }
        other => other,
    }
}

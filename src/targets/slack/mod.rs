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
    /// `chat.postMessage` with a bot token.
    Api {
        token: Secret,
        channel: String,
        endpoint: String,
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
                    endpoint: format!("{}/chat.postMessage", base.trim_end_matches('/')),
                }
            }
            _ => Destination::Incomplete,
        };
        Slack { destination }
    }

    pub(super) fn build(&self, content: &Content) -> Result<HttpRequest, BuildError> {
        let body = match content {
            Content::Message(rendered) => blocks::message_body(
                rendered.require(Markup::Plain)?,
                rendered.require(Markup::Slack)?,
            ),
            Content::Payload(payload) => payload.clone(),
            Content::Event(_) => return Err(super::unsupported("slack", content)),
        };
        match &self.destination {
            Destination::Webhook(url) => Ok(HttpRequest {
                url: url.clone(),
                headers: Vec::new(),
                body: RequestBody::Json(body),
            }),
            Destination::Api {
                token,
                channel,
                endpoint,
            } => Ok(HttpRequest {
                url: Secret::new(endpoint.clone()),
                headers: vec![(
                    "authorization".to_string(),
                    HeaderText::Secret(Secret::new(format!("Bearer {}", token.expose()))),
                )],
                body: RequestBody::Json(with_channel(body, channel)),
            }),
            Destination::Incomplete => Err(BuildError::Config(
                "a slack target needs either `url` or both `token` and `channel`".to_string(),
            )),
        }
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
            Destination::Api { endpoint, .. } => crate::secret::host(endpoint),
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

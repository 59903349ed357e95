//! A generic JSON POST: the event (its template context) or a raw payload, with the
//! configured headers (their values are secrets: they often carry tokens).
//!
//! | answer | verdict |
//! |---|---|
//! | 2xx | delivered |
//! | 429 | pause the target for `Retry-After` |
//! | 408, 5xx | retry (`Retry-After` honoured) |
//! | other (3xx, 4xx) | dead |

pub(crate) mod config;

use std::time::SystemTime;

use super::scrub::{credential_parts, url_secret_parts};
use super::verdict::{by_status, excerpt};
use super::{BuildError, Content, HeaderText, HttpRequest, HttpResponse, RequestBody, Verdict};
use crate::secret::Secret;

/// A webhook target.
#[derive(Debug, Clone)]
pub struct Webhook {
    url: Secret,
    headers: Vec<(String, Secret)>,
}

impl Webhook {
    pub fn new(url: Secret, headers: Vec<(String, Secret)>) -> Webhook {
        Webhook { url, headers }
    }

    pub(super) fn build(&self, content: &Content) -> Result<HttpRequest, BuildError> {
        let body = match content {
            Content::Event(event) => event.clone(),
            Content::Payload(payload) => payload.clone(),
            Content::Message(_) => return Err(super::unsupported("webhook", content)),
        };
        let headers = self
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), HeaderText::Secret(value.clone())))
            .collect();
        Ok(HttpRequest {
            url: self.url.clone(),
            headers,
            body: RequestBody::Json(body),
        })
    }

    pub(super) fn classify(&self, resp: &HttpResponse, now: SystemTime) -> Verdict {
        by_status(
            "The webhook",
            resp.status,
            &excerpt(&resp.body),
            &resp.headers,
            now,
        )
    }

    /// The host of the URL.
    pub(super) fn host(&self) -> Option<String> {
        self.url.host()
    }

    pub(super) fn secrets(&self) -> Vec<String> {
        let mut out = url_secret_parts(self.url.expose());
        for (_, value) in &self.headers {
            out.push(value.expose().to_string());
            // `Bearer <token>`, `Basic <creds>`: the credential alone is a secret too, in case
            // a provider echoes just that part (short ones would redact common words).
            let parts = credential_parts(value.expose());
            out.extend(parts.into_iter().filter(|p| p.len() >= 8));
        }
        out
    }
}

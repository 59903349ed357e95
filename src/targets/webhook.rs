//! A generic JSON POST: the event (its template context) or a raw payload, with the
//! configured headers (their values are secrets: they often carry tokens).
//!
//! | answer | verdict |
//! |---|---|
//! | 2xx | delivered |
//! | 429 | pause the target for `Retry-After` |
//! | 408, 5xx | retry (`Retry-After` honoured) |
//! | other (3xx, 4xx) | dead |

use std::time::SystemTime;

use super::verdict::{by_status, excerpt, url_secret_parts};
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

    pub(super) fn secrets(&self) -> Vec<&str> {
        let mut out = url_secret_parts(self.url.expose());
        for (_, value) in &self.headers {
            let value = value.expose();
            out.push(value);
            // `Bearer <token>`, `Basic <creds>`: the credential alone is a secret too, in case
            // a provider echoes just that part.
            if let Some((_, credential)) = value.split_once(' ')
                && credential.trim().len() >= 8
            {
                out.push(credential.trim());
            }
        }
        out
    }
}

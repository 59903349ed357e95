//! Email over HTTP: one rendered message becomes a subject, an HTML part and a text part, sent
//! through SendGrid, Mailgun, Postmark or Resend (one module each: request and answer table).
//!
//! The layout is shared ([`layout`]); a raw payload cannot be sent by email.

pub(crate) mod config;
pub mod layout;
pub mod mailgun;
pub mod postmark;
pub mod resend;
pub mod sendgrid;

use std::time::SystemTime;

use super::limits::truncate_chars;
use super::{BuildError, Content, HttpRequest, HttpResponse, Verdict};
use crate::conversation::{self, Post};
use crate::secret::Secret;
use crate::template::{Markup, Message};

/// HTML for the HTML part, Plain for the subject and the text part.
pub const MARKUPS: &[Markup] = &[Markup::Html, Markup::Plain];

/// Longest subject; longer titles are cut with "…".
pub const MAX_SUBJECT: usize = 200;

/// The email APIs the relay sends through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailProvider {
    Sendgrid,
    Mailgun,
    Postmark,
    Resend,
}

/// Where a Mailgun domain lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailgunRegion {
    Us,
    Eu,
}

/// An email target.
#[derive(Debug, Clone)]
pub struct Email {
    provider: EmailProvider,
    api_key: Secret,
    from: String,
    to: Vec<String>,
    base_url: Option<String>,
    domain: Option<String>,
    region: MailgunRegion,
}

/// One mail, ready for any provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Extra headers: `Message-ID`, `In-Reply-To` and `References` in a conversation.
    pub headers: Vec<(String, String)>,
}

impl Email {
    pub fn provider(&self) -> EmailProvider {
        self.provider
    }

    /// The mail for `content`: a message of its own, or `post` in a conversation (the first
    /// mail of the thread, or a reply to it under its subject).
    pub(super) fn build(
        &self,
        content: &Content,
        key: &str,
        post: Option<&Post>,
    ) -> Result<HttpRequest, BuildError> {
        let Content::Message(rendered) = content else {
            return Err(super::unsupported("email", content));
        };
        if self.to.is_empty() || self.from.trim().is_empty() {
            return Err(BuildError::Config(
                "an email target needs `from` and at least one `to` address".to_string(),
            ));
        }
        let plain = rendered.require(Markup::Plain)?;
        let html = rendered.require(Markup::Html)?;
        let (subject, headers) = self.subject_and_headers(plain, key, post)?;
        let mail = Mail {
            from: self.from.clone(),
            to: self.to.clone(),
            subject,
            text: layout::text(plain),
            html: layout::html(html, plain),
            headers,
        };
        let base = self.base_url.as_deref();
        match self.provider {
            EmailProvider::Sendgrid => Ok(sendgrid::request(base, &self.api_key, &mail, key)),
            EmailProvider::Mailgun => mailgun::request(
                base,
                self.region,
                self.domain.as_deref(),
                &self.api_key,
                &mail,
                key,
            ),
            EmailProvider::Postmark => Ok(postmark::request(base, &self.api_key, &mail, key)),
            EmailProvider::Resend => Ok(resend::request(base, &self.api_key, &mail, key)),
        }
    }

    /// The subject and the threading headers: the preview (else the title) for a mail of its
    /// own; the thread's topic for its first mail, with the mail's own `Message-ID`; `Re: `
    /// and the topic for the others, with the first one's id as `In-Reply-To` and
    /// `References`.
    fn subject_and_headers(
        &self,
        plain: &Message,
        key: &str,
        post: Option<&Post>,
    ) -> Result<(String, Vec<(String, String)>), BuildError> {
        let Some(post) = post else {
            let line = [&plain.preview, &plain.title]
                .into_iter()
                .find(|s| !s.trim().is_empty())
                .map_or("", String::as_str);
            return Ok((subject(line), Vec::new()));
        };
        let own = ("Message-ID".to_owned(), self.message_id(key));
        match post {
            Post::Start { .. } => Ok((subject(plain.topic_or_title()), vec![own])),
            Post::Reply {
                thread_id, topic, ..
            } => Ok((
                subject(&conversation::reply_subject(topic)),
                vec![
                    own,
                    ("In-Reply-To".to_owned(), thread_id.clone()),
                    ("References".to_owned(), thread_id.clone()),
                ],
            )),
            Post::Update { .. } => Err(BuildError::Config(
                "a mail cannot be edited once sent".to_owned(),
            )),
            Post::Skip { why } => Err(BuildError::Config((*why).to_owned())),
        }
    }

    /// The `Message-ID` this target gives the mail of delivery `key` (the same on every
    /// attempt).
    pub fn message_id(&self, key: &str) -> String {
        conversation::message_id(key, &self.from)
    }

    pub(super) fn classify(&self, resp: &HttpResponse, now: SystemTime) -> Verdict {
        match self.provider {
            EmailProvider::Sendgrid => sendgrid::classify(resp, now),
            EmailProvider::Mailgun => mailgun::classify(resp, now),
            EmailProvider::Postmark => postmark::classify(resp, now),
            EmailProvider::Resend => resend::classify(resp, now),
        }
    }

    /// The host of the provider's API (`base_url`, else the provider's own).
    pub(super) fn host(&self) -> Option<String> {
        let default = match self.provider {
            EmailProvider::Sendgrid => sendgrid::DEFAULT_BASE,
            EmailProvider::Mailgun => mailgun::default_base(self.region),
            EmailProvider::Postmark => postmark::DEFAULT_BASE,
            EmailProvider::Resend => resend::DEFAULT_BASE,
        };
        crate::secret::host(&base(self.base_url.as_deref(), default))
    }

    /// The key, and the `api:<key>` that Mailgun receives as HTTP Basic credentials.
    pub(super) fn secrets(&self) -> Vec<String> {
        let key = self.api_key.expose();
        match self.provider {
            EmailProvider::Mailgun => vec![key.to_string(), mailgun::basic_credentials(key)],
            _ => vec![key.to_string()],
        }
    }
}

/// The subject: the title on one line, cut to [`MAX_SUBJECT`]; never empty.
pub fn subject(title: &str) -> String {
    let line = title.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.is_empty() {
        return "Notification".to_string();
    }
    truncate_chars(&line, MAX_SUBJECT)
}

/// `("Name", "addr")` from `Name <addr>`, or `(None, addr)` from a bare address.
pub fn split_address(address: &str) -> (Option<String>, String) {
    let address = address.trim();
    if let Some(open) = address.rfind('<')
        && let Some(rest) = address[open + 1..].strip_suffix('>')
    {
        let name = address[..open].trim().trim_matches('"').trim();
        let name = (!name.is_empty()).then(|| name.to_string());
        return (name, rest.trim().to_string());
    }
    (None, address.to_string())
}

/// Headers as a JSON object of name to value (SendGrid's and Resend's `headers`).
fn header_object(headers: &[(String, String)]) -> serde_json::Value {
    let map = headers
        .iter()
        .map(|(name, value)| (name.clone(), serde_json::Value::from(value.as_str())))
        .collect();
    serde_json::Value::Object(map)
}

/// The provider's base URL: the configured one (without a trailing `/`) or the default.
fn base(configured: Option<&str>, default: &str) -> String {
    configured
        .unwrap_or(default)
        .trim_end_matches('/')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_with_a_display_name_are_split() {
        assert_eq!(
            split_address("MonitorQA alerts <alerts@northwind.example>"),
            (
                Some("MonitorQA alerts".to_string()),
                "alerts@northwind.example".to_string()
            )
        );
        assert_eq!(
            split_address("\"QA, Managers\" <qa@northwind.example>"),
            (
                Some("QA, Managers".to_string()),
                "qa@northwind.example".to_string()
            )
        );
        assert_eq!(
            split_address("qa@northwind.example"),
            (None, "qa@northwind.example".to_string())
        );
    }

    #[test]
    fn the_subject_is_one_short_line() {
        assert_eq!(subject("Audit\nexpired"), "Audit expired");
        assert_eq!(subject("  "), "Notification");
        assert_eq!(subject(&"x".repeat(500)).chars().count(), MAX_SUBJECT);
    }
}

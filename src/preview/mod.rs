//! What a configuration would do with one event, without sending anything: which rules match
//! (and, for every other rule, why not), and the exact request body each matched target would
//! receive. Pure and synchronous. `mqa-relay test` prints it and the operator page's preview
//! and event detail show it, so both say exactly what `serve` does: the matching is the
//! router's ([`crate::rules`]) and the bodies are the senders' ([`crate::compose`]).
//!
//! [`slack`] draws a Slack body as HTML for the page; [`email_parts`] reads an email body
//! back whichever provider's shape it has.

pub mod slack;

use serde::Serialize;
use serde_json::Value;

use crate::app::App;
use crate::compose::{self, ComposeError, DeliveryInfo};
use crate::conversation::{self, Post};
use crate::rules::Explanation;

/// One event against one configuration.
#[derive(Debug, Serialize)]
pub struct Preview {
    pub matches: Vec<MatchReport>,
    /// Every rule that did not match, with its first failing condition in words.
    pub skipped: Vec<Explanation>,
}

/// A rule that matched, and what each of its targets would receive.
#[derive(Debug, Serialize)]
pub struct MatchReport {
    pub rule: String,
    pub targets: Vec<TargetReport>,
}

/// What one target would receive: the request body, or why it cannot be built.
#[derive(Debug, Serialize)]
pub struct TargetReport {
    pub target: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// With `threads`, the conversation the event goes to; `payload` is then its first
    /// message (later events reply in its thread).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation: Option<String>,
}

/// Matches `event` (as rules see it: the envelope plus what enrichment added) against `app`'s
/// rules and composes every matched target's request, as a delivery of event `event_id`.
pub fn evaluate(app: &App, event: &Value, event_id: &str) -> Preview {
    let rules = &app.config.rules;
    let matches = rules
        .evaluate(event)
        .into_iter()
        .map(|m| MatchReport {
            rule: m.rule.to_string(),
            targets: m
                .targets
                .iter()
                .map(|t| target_report(app, m.rule, t, m.template, event, event_id))
                .collect(),
        })
        .collect();
    Preview {
        matches,
        skipped: rules.explain(event),
    }
}

fn target_report(
    app: &App,
    rule: &str,
    target: &str,
    template: Option<&str>,
    event: &Value,
    event_id: &str,
) -> TargetReport {
    let info = DeliveryInfo {
        event_id,
        rule,
        target,
        ..Default::default()
    };
    let ctx = compose::context(event, &info);
    let configured = app.target(target);
    let kind = configured.map_or("unknown", |t| t.target.kind_name());
    let conversation = configured
        .and_then(|t| t.threads.as_ref())
        .and_then(|threads| conversation::key_for(event, threads));
    let first = Post::Start {
        restarted: false,
        topic: None,
    };
    let request = match (configured, &conversation) {
        (Some(t), Some(_)) => {
            compose::request_in_conversation(&app.templates, t, template, &ctx, event_id, &first)
                .map(|(request, _)| request)
        }
        (Some(t), None) => compose::request_for(&app.templates, t, template, &ctx, event_id),
        (None, _) => Err(ComposeError::UnknownTarget(target.to_owned())),
    };
    let (payload, error) = match request {
        Ok(request) => (Some(request.body_json()), None),
        Err(e) => (None, Some(e.to_string())),
    };
    TargetReport {
        target: target.to_string(),
        kind: kind.to_string(),
        payload,
        error,
        conversation,
    }
}

/// The parts of an email body a person sees, whichever provider's shape it has.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EmailParts {
    pub subject: String,
    pub html: String,
    pub text: Option<String>,
    pub from: Option<String>,
    pub to: Vec<String>,
}

/// Reads an email request body (SendGrid, Mailgun, Postmark or Resend) back into its parts;
/// `None` if it has no subject and HTML part.
pub fn email_parts(body: &Value) -> Option<EmailParts> {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let part = |kind: &str| {
        let content = body.get("content")?.as_array()?;
        let part = content.iter().find(|c| c["type"] == kind)?;
        text(part.get("value"))
    };
    let subject = text(body.get("subject")).or_else(|| text(body.get("Subject")))?;
    let html = text(body.get("html"))
        .or_else(|| text(body.get("HtmlBody")))
        .or_else(|| part("text/html"))?;
    let plain = text(body.get("text"))
        .or_else(|| text(body.get("TextBody")))
        .or_else(|| part("text/plain"));
    let from = body
        .get("from")
        .or_else(|| body.get("From"))
        .and_then(address);
    let to = recipients(body);
    Some(EmailParts {
        subject,
        html,
        text: plain,
        from,
        to,
    })
}

/// An address written as a string or as `{"email", "name"}`.
fn address(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("email").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

/// `to` in each provider's shape: a string, a list, Postmark's `To`, SendGrid's
/// personalizations.
fn recipients(body: &Value) -> Vec<String> {
    let listed = |v: &Value| -> Vec<String> {
        match v {
            Value::Array(items) => items.iter().filter_map(address).collect(),
            Value::String(s) => s.split(',').map(|a| a.trim().to_string()).collect(),
            other => address(other).into_iter().collect(),
        }
    };
    if let Some(v) = body.get("to").or_else(|| body.get("To")) {
        return listed(v);
    }
    body.get("personalizations")
        .and_then(Value::as_array)
        .map(|ps| ps.iter().flat_map(|p| listed(&p["to"])).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn email_parts_are_found_in_every_provider_shape() {
        let sendgrid = json!({"subject": "S", "from": {"email": "f@x"},
            "personalizations": [{"to": [{"email": "a@x"}]}],
            "content": [{"type": "text/plain", "value": "p"}, {"type": "text/html", "value": "<p>h</p>"}]});
        let postmark = json!({"Subject": "S", "From": "f@x", "To": "a@x", "HtmlBody": "<p>h</p>", "TextBody": "p"});
        let resend =
            json!({"subject": "S", "from": "f@x", "to": ["a@x"], "html": "<p>h</p>", "text": "p"});
        let mailgun =
            json!({"subject": "S", "from": "f@x", "to": "a@x", "html": "<p>h</p>", "text": "p"});
        for body in [sendgrid, postmark, resend, mailgun] {
            let parts = email_parts(&body).expect("an email");
            assert_eq!(parts.subject, "S");
            assert_eq!(parts.html, "<p>h</p>");
            assert_eq!(parts.text.as_deref(), Some("p"));
            assert_eq!(parts.from.as_deref(), Some("f@x"));
            assert_eq!(parts.to, vec!["a@x".to_string()], "{body}");
        }
        assert_eq!(email_parts(&json!({"text": "x"})), None);
    }
}

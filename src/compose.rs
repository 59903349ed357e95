//! Composing the request for one delivery: the template context, the rendered message (or raw
//! payload, or the event itself), and the target's HTTP request. Pure: the sender, `check`,
//! `test`, `send` and the admin API's payload view all call this, so what they show is exactly
//! what `serve` sends. It takes one configured target and the templates, never a whole
//! configuration, so the configuration's own check can use it without depending on the loops.

use serde_json::{Value, json};

use crate::conversation::Post;
use crate::store::Claim;
use crate::targets::{BuildError, ConfiguredTarget, Content, HttpRequest, Rendered};
use crate::template::{Markup, Mode, RenderError, Templates, budget};

/// Why a delivery's request could not be made. Nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComposeError {
    #[error("target {0:?} is not in the configuration")]
    UnknownTarget(String),
    /// The template failed for this event (with its file and line), or passed its budget.
    #[error(transparent)]
    Render(Box<RenderError>),
    #[error(transparent)]
    Build(#[from] BuildError),
}

impl From<RenderError> for ComposeError {
    fn from(e: RenderError) -> ComposeError {
        ComposeError::Render(Box::new(e))
    }
}

impl ComposeError {
    /// Whether composing again may succeed (a render that ran out of time); every other
    /// failure repeats itself, so the delivery is dead.
    pub fn is_transient(&self) -> bool {
        matches!(self, ComposeError::Render(e) if e.is_transient())
    }
}

/// What the relay knows about one delivery, beyond the event itself.
#[derive(Debug, Clone, Default)]
pub struct DeliveryInfo<'a> {
    pub event_id: &'a str,
    pub received_at: i64,
    pub delivery_id: i64,
    pub rule: &'a str,
    pub target: &'a str,
}

/// The template context of a delivery: the event (`event`, `data`, `company`, and `audit` /
/// `action` when enriched) plus `relay: {event_id, received_at, delivery_id, rule, target}`.
pub fn context(event: &Value, info: &DeliveryInfo<'_>) -> Value {
    let mut ctx = event.clone();
    if let Value::Object(map) = &mut ctx {
        map.insert(
            "relay".into(),
            json!({
                "event_id": info.event_id,
                "received_at": info.received_at,
                "delivery_id": info.delivery_id,
                "rule": info.rule,
                "target": info.target,
                // The target's `time_zone`, set when its message is rendered.
                "time_zone": null,
            }),
        );
    }
    ctx
}

/// The context of a claimed delivery: its stored event with what enrichment found.
pub fn claim_context(claim: &Claim) -> Value {
    let info = DeliveryInfo {
        event_id: &claim.event.id,
        received_at: claim.event.received_at,
        delivery_id: claim.delivery_id,
        rule: &claim.rule,
        target: &claim.target,
    };
    context(&claim.event.context(), &info)
}

/// What a target is given to send: a raw payload, the event itself (webhook targets), or a
/// message rendered in every markup the target needs. `template` is the rule's template; the
/// default for the event type is used when it is `None`.
pub fn content_for(
    templates: &Templates,
    target: &ConfiguredTarget,
    template: Option<&str>,
    ctx: &Value,
) -> Result<Content, ComposeError> {
    content_in(Mode::Lenient, templates, target, template, ctx)
}

/// [`content_for`] in a given render mode (`check` renders strictly). Every rendering of the
/// delivery (one per markup the target needs) shares one render budget.
pub fn content_in(
    mode: Mode,
    templates: &Templates,
    target: &ConfiguredTarget,
    template: Option<&str>,
    ctx: &Value,
) -> Result<Content, ComposeError> {
    let limits = templates.limits();
    budget::metered(limits, || render(mode, templates, target, template, ctx)).0
}

fn render(
    mode: Mode,
    templates: &Templates,
    configured: &ConfiguredTarget,
    template: Option<&str>,
    ctx: &Value,
) -> Result<Content, ComposeError> {
    let target = &configured.target;
    let zoned;
    let ctx = match &configured.time_zone {
        Some(zone) if ctx.get("relay").is_some_and(Value::is_object) => {
            zoned = with_time_zone(ctx, zone);
            &zoned
        }
        _ => ctx,
    };
    if let Some(name) = &configured.payload_template {
        let payload = templates.render_payload_in(mode, name, target.kind_name(), ctx)?;
        return Ok(Content::Payload(payload));
    }
    if target.markups().is_empty() {
        let mut event = ctx.clone();
        if let Value::Object(map) = &mut event {
            map.remove("relay");
        }
        return Ok(Content::Event(event));
    }
    let kind = ctx.get("event").and_then(Value::as_str).unwrap_or("");
    let name = template
        .map(str::to_string)
        .unwrap_or_else(|| Templates::default_name(kind));
    let mut rendered = Vec::with_capacity(target.markups().len());
    for markup in target.markups() {
        let message = templates.render_in(mode, &name, *markup, ctx)?;
        rendered.push((*markup, message));
    }
    Ok(Content::Message(Rendered::new(rendered)))
}

/// `ctx` with `relay.time_zone` set to `zone`.
fn with_time_zone(ctx: &Value, zone: &str) -> Value {
    let mut ctx = ctx.clone();
    ctx["relay"]["time_zone"] = Value::from(zone);
    ctx
}

/// Renders and builds the request for one delivery to `target`. An error is permanent (the
/// same template fails the same way next time) unless [`ComposeError::is_transient`]: it says
/// why, and nothing is sent.
pub fn request_for(
    templates: &Templates,
    target: &ConfiguredTarget,
    template: Option<&str>,
    ctx: &Value,
    delivery_key: &str,
) -> Result<HttpRequest, ComposeError> {
    request_in(
        Mode::Lenient,
        templates,
        target,
        template,
        ctx,
        delivery_key,
    )
}

/// [`request_for`] in a given render mode (`check` renders strictly).
pub fn request_in(
    mode: Mode,
    templates: &Templates,
    target: &ConfiguredTarget,
    template: Option<&str>,
    ctx: &Value,
    delivery_key: &str,
) -> Result<HttpRequest, ComposeError> {
    let content = content_in(mode, templates, target, template, ctx)?;
    Ok(target.target.build(&content, delivery_key)?)
}

/// What a conversation records of the message a delivery sends in it: the object (the
/// template's `topic`, else its title) and where it stands (`status`, else the preview), in
/// plain text. Empty for a raw payload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Thread {
    pub topic: String,
    pub status: String,
}

/// [`request_for`] for `post` in a conversation, with what the conversation records of it.
pub fn request_in_conversation(
    templates: &Templates,
    target: &ConfiguredTarget,
    template: Option<&str>,
    ctx: &Value,
    delivery_key: &str,
    post: &Post,
) -> Result<(HttpRequest, Thread), ComposeError> {
    let content = content_for(templates, target, template, ctx)?;
    let thread = match &content {
        Content::Message(rendered) => rendered
            .get(Markup::Plain)
            .map(|m| Thread {
                topic: m.topic_or_title().to_owned(),
                status: m.status_or_preview().to_owned(),
            })
            .unwrap_or_default(),
        _ => Thread::default(),
    };
    let request = target.target.build_in(&content, delivery_key, Some(post))?;
    Ok((request, thread))
}

/// The idempotency key of a delivery (Resend's `Idempotency-Key`): stable across retries of
/// the same delivery, new for a replayed one. The event id (a UUID) makes it unique beyond
/// this store: delivery ids start again at 1 in a new data directory or another installation
/// sharing the provider account, and a reused key makes the provider skip or refuse the mail.
pub fn delivery_key(event_id: &str, delivery_id: i64) -> String {
    format!("mqa-relay-{event_id}-{delivery_id}")
}

//! Rendering a loaded template against one event: a [`Message`] for a markup, or a raw JSON
//! payload. Pure; a failure is a [`RenderError`], never message text.

use std::sync::Arc;

use handlebars::{Context, RenderErrorReason};
use serde_json::Value;

use super::budget::{self, MeteredOutput};
use super::error::RenderError;
use super::helpers::truncate_chars;
use super::source::{Pos, Role};
use super::{Link, Markup, Message, MessageTemplate, PartRef, Templates};

/// How strictly to render: `Strict` makes a field the event lacks an error (for `check`);
/// `Lenient` renders it as nothing (for delivering real events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Strict,
    Lenient,
}

impl Templates {
    fn engines(&self, mode: Mode) -> &super::engine::Engines {
        match mode {
            Mode::Strict => &self.strict,
            Mode::Lenient => &self.engines,
        }
    }

    /// Renders message template `name` for `markup` against `ctx` (the event as JSON), as a
    /// delivery does: fields the event lacks render as nothing.
    pub fn render(&self, name: &str, markup: Markup, ctx: &Value) -> Result<Message, RenderError> {
        self.render_in(Mode::Lenient, name, markup, ctx)
    }

    /// Renders in the given mode (`check` uses [`Mode::Strict`]).
    pub fn render_in(
        &self,
        mode: Mode,
        name: &str,
        markup: Markup,
        ctx: &Value,
    ) -> Result<Message, RenderError> {
        metered(self.limits, || self.render_message(mode, name, markup, ctx))
    }

    fn render_message(
        &self,
        mode: Mode,
        name: &str,
        markup: Markup,
        ctx: &Value,
    ) -> Result<Message, RenderError> {
        let template = self
            .messages
            .get(name)
            .ok_or_else(|| RenderError::unknown(name, "message template"))?;
        let context = Context::from(ctx.clone());
        let mut message = Message::default();
        let (mut url, mut label) = (String::new(), String::new());
        for part in &template.parts {
            let registry = match part.role {
                Role::LinkUrl | Role::Color => self.engines(mode).for_markup(Markup::Plain),
                _ => self.engines(mode).for_markup(markup),
            };
            let rendered = render_part(registry, &part.key, &context)
                .map_err(|e| part_error(name, template, part, e))?;
            let out = rendered.trim().to_owned();
            match &part.role {
                Role::Title => message.title = out,
                Role::Preview => message.preview = one_line(&out),
                Role::Text => message.text = out,
                Role::Topic => message.topic = one_line(&out),
                Role::Status => message.status = one_line(&out),
                Role::Reply => message.reply = out,
                Role::Field(label) if !out.is_empty() => message.fields.push((label.clone(), out)),
                Role::Field(_) => {}
                Role::LinkUrl => url = out,
                Role::LinkLabel => label = out,
                Role::Color => {
                    message.color = color(&out).map_err(|m| invalid(name, template, part, m))?
                }
            }
        }
        if !url.is_empty() {
            let link_part = template.parts.iter().find(|p| p.role == Role::LinkUrl);
            if let Err(m) = check_url(&url) {
                return Err(match link_part {
                    Some(part) => invalid(name, template, part, m),
                    None => RenderError::unknown(name, "link"),
                });
            }
            message.link = Some(Link { url, label });
        }
        Ok(message)
    }

    /// Renders raw payload template `<name>.<kind>.hbs` against `ctx` as a delivery does; the
    /// result must be JSON.
    pub fn render_payload(
        &self,
        name: &str,
        kind: &str,
        ctx: &Value,
    ) -> Result<Value, RenderError> {
        self.render_payload_in(Mode::Lenient, name, kind, ctx)
    }

    /// Renders a raw payload template in the given mode.
    pub fn render_payload_in(
        &self,
        mode: Mode,
        name: &str,
        kind: &str,
        ctx: &Value,
    ) -> Result<Value, RenderError> {
        metered(self.limits, || {
            self.render_payload_text(mode, name, kind, ctx)
        })
    }

    fn render_payload_text(
        &self,
        mode: Mode,
        name: &str,
        kind: &str,
        ctx: &Value,
    ) -> Result<Value, RenderError> {
        let template = self
            .payloads
            .get(&(name.to_owned(), kind.to_owned()))
            .ok_or_else(|| {
                RenderError::unknown(&format!("{name}.{kind}.hbs"), "payload template")
            })?;
        let error = |message: String, line: Option<usize>, column: Option<usize>| RenderError {
            template: Arc::from(name),
            part: format!("payload ({kind})"),
            file: Some(template.file.clone()),
            line,
            column,
            message,
            budget: None,
        };
        let context = Context::from(ctx.clone());
        let rendered =
            render_part(self.engines(mode).json(), &template.key, &context).map_err(|e| {
                let (line, column) = Pos::map(Some(Pos::FILE_START), e.line_no, e.column_no);
                error(describe(e.reason()), line, column)
            })?;
        serde_json::from_str(&rendered).map_err(|e| {
            let msg = format!(
                "the rendered body is not valid JSON: {e} (line {} of the output)",
                e.line()
            );
            error(msg, None, None)
        })
    }
}

/// Runs a render under the budget; a breach becomes the error, whatever Handlebars made of it.
fn metered<T>(
    limits: budget::Limits,
    render: impl FnOnce() -> Result<T, RenderError>,
) -> Result<T, RenderError> {
    let (result, breach) = budget::metered(limits, render);
    match (result, breach) {
        (Err(mut e), Some(breach)) => {
            e.message = breach.to_string();
            e.budget = Some(breach);
            Err(e)
        }
        (result, _) => result,
    }
}

/// One registered template into a string, every byte counted against the budget.
fn render_part(
    registry: &handlebars::Handlebars<'static>,
    key: &str,
    context: &Context,
) -> Result<String, handlebars::RenderError> {
    let mut out = MeteredOutput::default();
    registry.render_with_context_to_write(key, context, &mut out)?;
    out.into_string()
        .map_err(|e| RenderErrorReason::Other(format!("the output is not UTF-8: {e}")).into())
}

fn part_error(
    name: &str,
    template: &MessageTemplate,
    part: &PartRef,
    e: handlebars::RenderError,
) -> RenderError {
    let (line, column) = Pos::map(part.pos, e.line_no, e.column_no);
    RenderError {
        template: Arc::from(name),
        part: part.role.to_string(),
        file: Some(template.file.clone()),
        line,
        column,
        message: describe(e.reason()),
        budget: None,
    }
}

fn invalid(name: &str, template: &MessageTemplate, part: &PartRef, message: String) -> RenderError {
    let (line, column) = Pos::map(part.pos, None, None);
    RenderError {
        template: Arc::from(name),
        part: part.role.to_string(),
        file: Some(template.file.clone()),
        line,
        column,
        message,
        budget: None,
    }
}

/// Handlebars' reasons, reworded where a template author needs to know what to do.
fn describe(reason: &RenderErrorReason) -> String {
    match reason {
        RenderErrorReason::MissingVariable(Some(path)) => format!(
            "`{path}` is not in the event (if it may be absent, test it with {{{{#if {path}}}}} or use {{{{default {path} \"…\"}}}})"
        ),
        RenderErrorReason::MissingVariable(None) => "a value is not in the event".to_owned(),
        RenderErrorReason::HelperNotFound(name) => format!("unknown helper `{name}`"),
        other => other.to_string(),
    }
}

/// `good`, `warning`, `danger` or `#rrggbb`; empty means no colour.
fn color(s: &str) -> Result<Option<String>, String> {
    let lower = s.to_ascii_lowercase();
    let hex = lower.strip_prefix('#').filter(|h| h.len() == 6);
    match lower.as_str() {
        "" => Ok(None),
        "good" | "warning" | "danger" => Ok(Some(lower)),
        _ if hex.is_some_and(|h| h.chars().all(|c| c.is_ascii_hexdigit())) => Ok(Some(lower)),
        _ => Err(format!(
            "the colour must be good, warning, danger or #rrggbb, got {:?}",
            truncate_chars(s, 40)
        )),
    }
}

/// An absolute http(s) URL with nothing in it that could break out of where a target puts it.
fn check_url(url: &str) -> Result<(), String> {
    let lower = url.to_ascii_lowercase();
    let scheme_ok = lower.starts_with("https://") || lower.starts_with("http://");
    let bad_char = url
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | '`'));
    if scheme_ok && !bad_char {
        Ok(())
    } else {
        Err(format!(
            "the link must be an absolute http(s) URL without spaces or <>\"`, got {:?}",
            truncate_chars(url, 80)
        ))
    }
}

/// A preview on one line: every run of white space (a value's line break too) as one space.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

//! Reading one template file into compiled Handlebars parts that remember where in the file
//! each part came from, so a syntax error or a render error can name the line.
//!
//! Pure: takes the file's text, does no I/O.

use std::fmt;
use std::path::{Path, PathBuf};

use handlebars::TemplateErrorReason;
use handlebars::template::{Parameter, Template, TemplateElement};
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_saphyr::{Location, Spanned};

use super::error::TemplateError;

/// The label of the link when a template gives only its URL.
pub const DEFAULT_LINK_LABEL: &str = "Open in MonitorQA";

/// Which part of a message a compiled template renders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Title,
    Preview,
    Text,
    Topic,
    Status,
    Reply,
    Field(String),
    LinkUrl,
    LinkLabel,
    Color,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Role::Title => f.write_str("title"),
            Role::Preview => f.write_str("preview"),
            Role::Text => f.write_str("text"),
            Role::Topic => f.write_str("topic"),
            Role::Status => f.write_str("status"),
            Role::Reply => f.write_str("reply"),
            Role::Field(label) => write!(f, "field {label:?}"),
            Role::LinkUrl => f.write_str("link.url"),
            Role::LinkLabel => f.write_str("link.label"),
            Role::Color => f.write_str("color"),
        }
    }
}

/// Where a part's text starts in its file, to turn a Handlebars line/column (counted within
/// the part) into a file line/column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    line: usize,
    /// Added to a column on the part's first line (the key and an opening quote before it).
    first_col: usize,
    /// Added to a column on later lines: the indentation of a block scalar; unknown otherwise.
    later_col: Option<usize>,
}

impl Pos {
    /// The start of a whole file (raw payload templates).
    pub const FILE_START: Pos = Pos {
        line: 1,
        first_col: 0,
        later_col: Some(0),
    };

    fn of(loc: &Location, source: &str) -> Option<Pos> {
        let (line, col) = (
            usize::try_from(loc.line()).ok()?,
            usize::try_from(loc.column()).ok()?,
        );
        let text = source.lines().nth(line.checked_sub(1)?)?;
        let before: String = text.chars().take(col.saturating_sub(1)).collect();
        let quoted = matches!(text.chars().nth(col.saturating_sub(1)), Some('"' | '\''));
        let own_line = before.trim().is_empty();
        Some(Pos {
            line,
            first_col: col.saturating_sub(1) + usize::from(quoted),
            later_col: own_line.then_some(col.saturating_sub(1)),
        })
    }

    /// The file line and column of a position Handlebars reports within the part.
    pub fn map(
        pos: Option<Pos>,
        line: Option<usize>,
        col: Option<usize>,
    ) -> (Option<usize>, Option<usize>) {
        let Some(pos) = pos else {
            return (None, None);
        };
        let Some(line) = line else {
            return (Some(pos.line), None);
        };
        let offset = if line <= 1 {
            Some(pos.first_col)
        } else {
            pos.later_col
        };
        let col = col.zip(offset).map(|(c, o)| c + o);
        (Some(pos.line + line.saturating_sub(1)), col)
    }
}

/// One compiled part of a message template.
#[derive(Debug, Clone)]
pub struct Part {
    pub role: Role,
    pub template: Template,
    pub pos: Option<Pos>,
}

/// A message template: its file and its compiled parts, in message order.
#[derive(Debug, Clone)]
pub struct MessageSource {
    pub file: PathBuf,
    pub parts: Vec<Part>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageConfig {
    title: Spanned<String>,
    #[serde(default)]
    preview: Option<Spanned<String>>,
    #[serde(default)]
    text: Option<Spanned<String>>,
    #[serde(default)]
    topic: Option<Spanned<String>>,
    #[serde(default)]
    status: Option<Spanned<String>>,
    #[serde(default)]
    reply: Option<Spanned<String>>,
    #[serde(default)]
    fields: FieldsConfig,
    #[serde(default)]
    link: Option<LinkConfig>,
    #[serde(default)]
    color: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkConfig {
    url: Spanned<String>,
    #[serde(default)]
    label: Option<Spanned<String>>,
}

/// `fields:` in file order (label → value).
#[derive(Default)]
struct FieldsConfig(Vec<(String, Spanned<String>)>);

impl<'de> Deserialize<'de> for FieldsConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;
        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = FieldsConfig;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of field label to value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FieldsConfig, A::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = map.next_entry::<String, Spanned<String>>()? {
                    fields.push(entry);
                }
                Ok(FieldsConfig(fields))
            }
        }
        d.deserialize_map(FieldsVisitor)
    }
}

/// Parses and compiles a message template (YAML). Reports every broken part, not just the
/// first.
pub fn parse_message(file: &Path, source: &str) -> Result<MessageSource, Vec<TemplateError>> {
    let config: MessageConfig =
        serde_saphyr::from_str(source).map_err(|e| vec![yaml_error(file, &e)])?;
    let mut raw: Vec<(Role, Spanned<String>)> = vec![(Role::Title, config.title)];
    raw.extend(config.preview.map(|p| (Role::Preview, p)));
    raw.extend(config.text.map(|t| (Role::Text, t)));
    raw.extend(config.topic.map(|t| (Role::Topic, t)));
    raw.extend(config.status.map(|t| (Role::Status, t)));
    raw.extend(config.reply.map(|t| (Role::Reply, t)));
    raw.extend(
        config
            .fields
            .0
            .into_iter()
            .map(|(k, v)| (Role::Field(k), v)),
    );
    if let Some(link) = config.link {
        raw.push((Role::LinkUrl, link.url));
        let label = link.label.unwrap_or_else(|| {
            Spanned::new(
                DEFAULT_LINK_LABEL.to_owned(),
                Location::UNKNOWN,
                Location::UNKNOWN,
            )
        });
        raw.push((Role::LinkLabel, label));
    }
    raw.extend(config.color.map(|c| (Role::Color, c)));

    let mut parts = Vec::with_capacity(raw.len());
    let mut errors = Vec::new();
    for (role, spanned) in raw {
        let pos = Pos::of(&spanned.referenced, source);
        match compile(&spanned.value, pos) {
            Ok(template) => parts.push(Part {
                role,
                template,
                pos,
            }),
            Err((line, col, msg)) => {
                errors.push(TemplateError::new(file, format!("{role}: {msg}")).at(line, col))
            }
        }
    }
    if errors.is_empty() {
        Ok(MessageSource {
            file: file.to_owned(),
            parts,
        })
    } else {
        Err(errors)
    }
}

/// Compiles a raw payload template (the whole file is one Handlebars template).
pub fn parse_payload(file: &Path, source: &str) -> Result<Template, TemplateError> {
    compile(source, Some(Pos::FILE_START))
        .map_err(|(line, col, msg)| TemplateError::new(file, msg).at(line, col))
}

type CompileError = (Option<usize>, Option<usize>, String);

fn compile(source: &str, pos: Option<Pos>) -> Result<Template, CompileError> {
    let template = Template::compile(source).map_err(|e| {
        let (line, col) = e.pos().map_or((None, None), |(l, c)| (Some(l), Some(c)));
        let (line, col) = Pos::map(pos, line, col);
        let message = match e.reason() {
            TemplateErrorReason::InvalidSyntax(_) => {
                "invalid Handlebars syntax (a `{{` without `}}`, or a block without its `{{/…}}`?)"
                    .to_owned()
            }
            other => other.to_string(),
        };
        (line, col, message)
    })?;
    if let Some((line, col, what)) = find_unescaped(&template) {
        let (line, col) = Pos::map(pos, Some(line), Some(col));
        let message =
            format!("{what} are not allowed: event values must be escaped; use `{{{{value}}}}`");
        return Err((line, col, message));
    }
    Ok(template)
}

/// The first `{{{value}}}`/`{{&value}}` (which would skip escaping) or partial, with its
/// position.
fn find_unescaped(template: &Template) -> Option<(usize, usize, &'static str)> {
    for (i, element) in template.elements.iter().enumerate() {
        let at = || template.mapping.get(i).map_or((1, 1), |m| (m.0, m.1));
        match element {
            TemplateElement::HtmlExpression(_) => {
                let (l, c) = at();
                return Some((l, c, "unescaped expressions (`{{{…}}}`, `{{&…}}`)"));
            }
            TemplateElement::PartialExpression(_) | TemplateElement::PartialBlock(_) => {
                let (l, c) = at();
                return Some((l, c, "partials (`{{> …}}`)"));
            }
            TemplateElement::HelperBlock(h) => {
                let inner = [&h.template, &h.inverse].into_iter().flatten();
                if let Some(found) = inner.filter_map(find_unescaped).next() {
                    return Some(found);
                }
            }
            _ => {}
        }
    }
    None
}

/// Where (line, column within the part) an `{{#each}}` over event data sits inside another
/// `{{#each}}`: its work is the product of the two lists' lengths, so a large event can pass the
/// render budget. `{{#each}}` over a literal is not event data.
pub fn nested_loops(template: &Template) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    walk_loops(template, 0, &mut found);
    found
}

fn walk_loops(template: &Template, depth: usize, found: &mut Vec<(usize, usize)>) {
    for (i, element) in template.elements.iter().enumerate() {
        let TemplateElement::HelperBlock(h) = element else {
            continue;
        };
        let is_loop = matches!(&h.name, Parameter::Name(n) if n == "each")
            && !matches!(h.params.first(), Some(Parameter::Literal(_)) | None);
        if is_loop && depth > 0 {
            found.push(template.mapping.get(i).map_or((1, 1), |m| (m.0, m.1)));
        }
        if let Some(body) = &h.template {
            walk_loops(body, depth + usize::from(is_loop), found);
        }
        if let Some(inverse) = &h.inverse {
            walk_loops(inverse, depth, found);
        }
    }
}

fn yaml_error(file: &Path, e: &serde_saphyr::Error) -> TemplateError {
    let location = e.location().filter(|l| l.line() > 0);
    let line = location.and_then(|l| usize::try_from(l.line()).ok());
    let col = location.and_then(|l| usize::try_from(l.column()).ok());
    let text = e.to_string();
    let first = text.lines().next().unwrap_or("invalid YAML").trim();
    // Drop an "error: line N column M: " prefix: the location is reported separately.
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let message = match first.split_once(": ") {
        Some((prefix, rest)) if prefix.starts_with("line ") => rest.to_owned(),
        _ => first.to_owned(),
    };
    TemplateError::new(file, message).at(line, col)
}

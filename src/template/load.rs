//! Building a [`Templates`]: the built-in defaults, then the files of a `templates/` directory
//! overriding them by name. Reading the directory is the only I/O of the template module.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use handlebars::template::Template;

use super::defaults::BUILTIN;
use super::engine::Engines;
use super::error::TemplateError;
use super::source::{self, MessageSource, Pos};
use super::{MessageTemplate, PAYLOAD_KINDS, PartRef, PayloadTemplate, Templates};

/// Compiled sources before registration: message templates by name, payloads by (name, kind).
#[derive(Default)]
struct Sources {
    messages: BTreeMap<String, MessageSource>,
    payloads: BTreeMap<(String, String), (PathBuf, Template)>,
}

impl Templates {
    /// The built-in templates only.
    pub fn builtin() -> Templates {
        Templates::from_sources(builtin_sources())
    }

    /// The built-in templates, then every template file in `dir` (not recursive), replacing
    /// a built-in of the same name: `<name>.yaml` (or `.yml`) is a message template,
    /// `<name>.<kind>.hbs` a raw payload template. Other files (a README) are ignored. A
    /// missing directory is not an error. Every broken file is reported, not just the first.
    pub fn load_dir(dir: &Path) -> Result<Templates, Vec<TemplateError>> {
        Templates::from_files(read_files(dir).map_err(|e| vec![e])?)
    }

    /// [`Templates::load_dir`] without the directory: the built-in templates, then `files`
    /// (each a path, whose file name says what it is, and its text). No I/O.
    pub fn from_files(files: Vec<(PathBuf, String)>) -> Result<Templates, Vec<TemplateError>> {
        let mut sources = builtin_sources();
        let mut errors = Vec::new();
        for (path, text) in files {
            if let Err(mut e) = add_file(&mut sources, &path, &text) {
                errors.append(&mut e);
            }
        }
        if errors.is_empty() {
            Ok(Templates::from_sources(sources))
        } else {
            Err(errors)
        }
    }

    fn from_sources(sources: Sources) -> Templates {
        let mut engines = Engines::new(false);
        let mut strict = Engines::new(true);
        let mut messages = BTreeMap::new();
        let mut warnings = Vec::new();
        for (name, source) in sources.messages {
            let mut parts = Vec::with_capacity(source.parts.len());
            for (i, part) in source.parts.into_iter().enumerate() {
                for (line, col) in source::nested_loops(&part.template) {
                    let (line, col) = Pos::map(part.pos, Some(line), Some(col));
                    let message = format!("{}: {NESTED_LOOP}", part.role);
                    warnings.push(TemplateError::new(&source.file, message).at(line, col));
                }
                let key = format!("{name}#{i}");
                engines.register_message_part(&key, &part.template);
                strict.register_message_part(&key, &part.template);
                parts.push(PartRef {
                    role: part.role,
                    key,
                    pos: part.pos,
                });
            }
            let file = Arc::from(source.file.as_path());
            messages.insert(name, MessageTemplate { file, parts });
        }
        let mut payloads = BTreeMap::new();
        for ((name, kind), (file, template)) in sources.payloads {
            for (line, col) in source::nested_loops(&template) {
                let warning = TemplateError::new(&file, NESTED_LOOP);
                warnings.push(warning.at(Some(line), Some(col)));
            }
            let key = format!("{name}.{kind}.hbs");
            strict.register_payload(&key, template.clone());
            engines.register_payload(&key, template);
            let file = Arc::from(file.as_path());
            payloads.insert((name, kind), PayloadTemplate { file, key });
        }
        Templates {
            engines,
            strict,
            messages,
            payloads,
            warnings,
            limits: super::budget::LIMITS,
        }
    }
}

/// The warning for a loop over event data inside another one.
const NESTED_LOOP: &str = "`{{#each}}` inside another `{{#each}}`: the work grows with the \
    product of both lists' lengths, so a large event can pass the render budget and its \
    delivery then fails; loop over one list, or over a short one inside";

/// How a built-in template is named in errors.
pub fn builtin_file(name: &str) -> PathBuf {
    PathBuf::from(format!("(builtin) {name}.yaml"))
}

/// The built-ins, parsed once per process (reloads and tests reuse them).
fn builtin_sources() -> Sources {
    static PARSED: OnceLock<BTreeMap<String, MessageSource>> = OnceLock::new();
    let messages = PARSED.get_or_init(|| {
        let mut messages = BTreeMap::new();
        for (name, yaml) in BUILTIN {
            // The built-ins are fixed at compile time and a test parses every one of them, so
            // a failure is a build defect; skipping it leaves `unknown_event` for that type.
            if let Ok(source) = source::parse_message(&builtin_file(name), yaml) {
                messages.insert(name.to_owned(), source);
            }
        }
        messages
    });
    Sources {
        messages: messages.clone(),
        payloads: BTreeMap::new(),
    }
}

/// `(path, text)` of every non-hidden template file in `dir`, sorted by name; each must be a
/// regular file (or a link to one) of at most [`crate::yaml::read::MAX_FILE_BYTES`].
fn read_files(dir: &Path) -> Result<Vec<(PathBuf, String)>, TemplateError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(TemplateError::new(
                dir,
                format!("cannot read the directory: {e}"),
            ));
        }
    };
    // Every name that looks like a template is read, so one that is not a regular file (a
    // FIFO, a dangling link) is an error naming it rather than silently left out.
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| !is_hidden(p) && template_kind(p).is_some())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| match crate::yaml::read::read_text(&path) {
            Ok(text) => Ok((path, text)),
            Err(e) => Err(TemplateError::new(
                &path,
                format!("cannot read the file: {e}"),
            )),
        })
        .collect()
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_none_or(|n| n.starts_with('.'))
}

enum FileKind {
    Message,
    Payload,
}

fn template_kind(path: &Path) -> Option<FileKind> {
    match path.extension()?.to_str()? {
        "yaml" | "yml" => Some(FileKind::Message),
        "hbs" => Some(FileKind::Payload),
        _ => None,
    }
}

fn add_file(sources: &mut Sources, path: &Path, text: &str) -> Result<(), Vec<TemplateError>> {
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let error = |msg: String| vec![TemplateError::new(path, msg)];
    match template_kind(path) {
        Some(FileKind::Message) => {
            let name = file_name
                .rsplit_once('.')
                .map_or(file_name, |(stem, _)| stem);
            check_name(name).map_err(error)?;
            let source = source::parse_message(path, text)?;
            if let Some(earlier) = sources.messages.get(name).filter(|s| !is_builtin(&s.file)) {
                let other = earlier.file.display();
                return Err(error(format!(
                    "template `{name}` is also defined in {other}"
                )));
            }
            sources.messages.insert(name.to_owned(), source);
        }
        Some(FileKind::Payload) => {
            let (name, kind) = payload_name(file_name).map_err(error)?;
            let template = source::parse_payload(path, text).map_err(|e| vec![e])?;
            sources
                .payloads
                .insert((name, kind), (path.to_owned(), template));
        }
        None => {}
    }
    Ok(())
}

fn is_builtin(file: &Path) -> bool {
    file.to_str().is_some_and(|f| f.starts_with("(builtin) "))
}

/// `erp.webhook.hbs` → (`erp`, `webhook`).
fn payload_name(file_name: &str) -> Result<(String, String), String> {
    let stem = file_name.strip_suffix(".hbs").unwrap_or(file_name);
    let Some((name, kind)) = stem.rsplit_once('.') else {
        return Err("a payload template is named <name>.<kind>.hbs, e.g. erp.webhook.hbs".into());
    };
    if !PAYLOAD_KINDS.contains(&kind) {
        let kinds = PAYLOAD_KINDS.join(", ");
        return Err(format!(
            "unknown payload kind `{kind}` (expected one of {kinds})"
        ));
    }
    check_name(name)?;
    Ok((name.to_owned(), kind.to_owned()))
}

fn check_name(name: &str) -> Result<(), String> {
    let valid = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if !name.is_empty() && name.chars().all(valid) {
        Ok(())
    } else {
        Err(format!(
            "template name `{name}` may hold only letters, digits, `_` and `-`"
        ))
    }
}

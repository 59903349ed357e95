//! The two template errors: one found while loading (bad YAML, bad Handlebars, a bad file
//! name), one found while rendering (a missing field in strict mode, a bad link or colour,
//! a payload that is not JSON). Both say where, so `check` can point at the line.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::budget::Breach;

/// A template that cannot be loaded, or that failed `check` against a sample event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// The template file, or `(builtin) <name>.yaml` for a built-in default.
    pub file: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl TemplateError {
    pub(crate) fn new(file: impl Into<PathBuf>, message: impl Into<String>) -> TemplateError {
        TemplateError {
            file: file.into(),
            line: None,
            column: None,
            message: message.into(),
        }
    }

    pub(crate) fn at(mut self, line: Option<usize>, column: Option<usize>) -> TemplateError {
        self.line = line;
        self.column = column;
        self
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for TemplateError {}

/// A template that could not be rendered for one event. Never turned into message text: the
/// delivery fails, and this says which template, which part and which line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: template `{template}`{}: {message}", location(.file, *.line, *.column), part_suffix(.part))]
pub struct RenderError {
    pub template: Arc<str>,
    /// `title`, `text`, `field "Due"`, `link.url`, `link.label`, `color`, `payload (slack)`;
    /// empty when the template itself is unknown.
    pub part: String,
    /// The template file (or `(builtin) <name>.yaml`), when the template exists.
    pub file: Option<Arc<Path>>,
    /// Line and column in that file, when Handlebars reports them.
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    /// The render budget limit this render passed, when that is why it failed.
    pub budget: Option<Breach>,
}

fn location(file: &Option<Arc<Path>>, line: Option<usize>, column: Option<usize>) -> String {
    let mut out = match file {
        Some(f) => f.display().to_string(),
        None => "templates".to_owned(),
    };
    if let Some(line) = line {
        out.push_str(&format!(":{line}"));
        if let Some(column) = column {
            out.push_str(&format!(":{column}"));
        }
    }
    out
}

fn part_suffix(part: &str) -> String {
    if part.is_empty() {
        String::new()
    } else {
        format!(", {part}")
    }
}

impl RenderError {
    /// Whether rendering again may succeed: only when it ran out of time (see
    /// [`super::budget`]); every other render error repeats itself.
    pub fn is_transient(&self) -> bool {
        self.budget.is_some_and(Breach::is_transient)
    }

    pub(crate) fn unknown(template: &str, what: &str) -> RenderError {
        RenderError {
            template: Arc::from(template),
            part: String::new(),
            file: None,
            line: None,
            column: None,
            message: format!("no {what} named `{template}`"),
            budget: None,
        }
    }

    /// The same problem as a [`TemplateError`], for `check`; `context` says what was rendered
    /// (e.g. `rendering sample AUDIT_EXPIRED for slack`).
    pub fn to_template_error(&self, context: &str) -> TemplateError {
        let file = match &self.file {
            Some(f) => f.to_path_buf(),
            None => PathBuf::from(&*self.template),
        };
        let message = format!("{context}{}: {}", part_suffix(&self.part), self.message);
        TemplateError::new(file, message).at(self.line, self.column)
    }
}

//! Collecting problems: every check adds to one [`Report`] instead of stopping at the first,
//! each problem a [`ConfigError`] with its `file:line:col`, and names are suggested by edit
//! distance ("did you mean `notify`?").

use std::path::{Path, PathBuf};

use super::tree::Pos;

/// Where in a file a problem is: 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub location: Option<Location>,
    /// `rule "name"` or `target "name"`, when the problem belongs to one.
    pub context: Option<String>,
    /// What is wrong, in words, never containing a secret.
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(loc) = &self.location {
            write!(f, "{}:{}:{}: ", loc.file.display(), loc.line, loc.column)?;
        }
        if let Some(ctx) = &self.context {
            write!(f, "{ctx}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem found in one load, in file order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    pub errors: Vec<ConfigError>,
}

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Every problem found so far in one file.
pub(crate) struct Report<'f> {
    file: &'f Path,
    errors: Vec<ConfigError>,
    warnings: Vec<ConfigError>,
    /// Where the values read as secrets start (for [`super::show`], which hides them).
    secrets: Vec<Pos>,
}

impl<'f> Report<'f> {
    pub fn new(file: &'f Path) -> Self {
        Report {
            file,
            errors: Vec::new(),
            warnings: Vec::new(),
            secrets: Vec::new(),
        }
    }

    /// Notes that the value starting at `pos` is a secret (a token, a key, a webhook URL).
    pub fn secret_at(&mut self, pos: Pos) {
        self.secrets.push(pos);
    }

    /// Where the secrets noted so far start.
    pub fn secrets(&self) -> &[Pos] {
        &self.secrets
    }

    /// Records a problem at `pos` (line 0: no location). `message` must not contain a secret.
    pub fn error(&mut self, pos: Pos, context: Option<&str>, message: impl Into<String>) {
        let problem = self.problem(pos, context, message.into());
        self.errors.push(problem);
    }

    /// Records something valid but probably wrong (a warning: the file still loads).
    pub fn warn(&mut self, pos: Pos, context: Option<&str>, message: impl Into<String>) {
        let problem = self.problem(pos, context, message.into());
        self.warnings.push(problem);
    }

    fn problem(&self, pos: Pos, context: Option<&str>, message: String) -> ConfigError {
        let location = (pos.line > 0).then(|| Location {
            file: self.file.to_path_buf(),
            line: pos.line,
            column: pos.column,
        });
        ConfigError {
            location,
            context: context.map(str::to_owned),
            message,
        }
    }

    /// The warnings in file order if nothing was reported, else every problem in file order.
    pub fn finish(mut self) -> Result<Vec<ConfigError>, ConfigErrors> {
        if self.errors.is_empty() {
            sort_by_place(&mut self.warnings);
            Ok(self.warnings)
        } else {
            Err(self.into_errors())
        }
    }

    /// The problems in file order (those without a location first).
    pub fn into_errors(mut self) -> ConfigErrors {
        sort_by_place(&mut self.errors);
        ConfigErrors {
            errors: self.errors,
        }
    }
}

/// File order (those without a location first).
fn sort_by_place(problems: &mut [ConfigError]) {
    problems.sort_by_key(|e| e.location.as_ref().map(|l| (l.line, l.column)));
}

/// `target "name"`, the context of problems inside one target.
pub(crate) fn target_context(name: &str) -> String {
    format!("target \"{name}\"")
}

/// `rule "name"`, or `rule #3` (1-based) for a rule without a usable name.
pub(crate) fn rule_context(index: usize, name: Option<&str>) -> String {
    match name {
        Some(name) if !name.trim().is_empty() => format!("rule \"{name}\""),
        _ => format!("rule #{}", index + 1),
    }
}

/// `; did you mean `x`?` when one of `candidates` is close to `word`, else nothing.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> String {
    let limit = (word.chars().count().div_ceil(3)).clamp(1, 3);
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| format!("; did you mean `{c}`?"))
        .unwrap_or_default()
}

/// Levenshtein distance over characters.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

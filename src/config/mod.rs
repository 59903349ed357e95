//! Loading and validating `rules.yaml`.
//!
//! [`load`] reads the file (a regular file of at most [`MAX_FILE_BYTES`], see [`crate::yaml::read`]) and hands
//! it to [`parse`], which is pure: it parses the YAML into a
//! tree that remembers where every key and value is ([`crate::yaml`]), expands `${VAR}` /
//! `${VAR:-default}` inside the parsed values (`interpolate`), then reads and checks each
//! section (`sections`, the targets' own modules through [`crate::targets`], `rules`) into a
//! [`Config`]. Unknown and repeated keys
//! are errors. Every problem is reported at once, in file order, each with `file:line:col` and
//! the rule or target it belongs to. Secrets never appear in an error.

mod interpolate;
mod locate;
mod rules;
mod sections;

pub use crate::backoff::RetryPolicy;
pub use crate::yaml::read::{MAX_FILE_BYTES, ReadError, read_text};
pub(crate) use crate::yaml::report::did_you_mean;
pub use crate::yaml::{ConfigError, ConfigErrors, Location, RateLimit};

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::rules::RuleSet;
use crate::secret::Secret;
use crate::targets::ConfiguredTarget;
use crate::targets::config::{self as targets, TargetDefaults};
use crate::yaml::fields::Fields;
use crate::yaml::report::Report;
use crate::yaml::tree::{self as yaml, Node, Pos, Value};

/// Where the embedded store lives when neither `--data-dir` nor `server.data_dir` says: this
/// directory beside the rules file.
pub const DEFAULT_DATA_DIR: &str = "data";

/// The directory that relative paths in the rules file `rules` are read from: its own.
pub fn base_dir(rules: &Path) -> &Path {
    match rules.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// The embedded store's directory when nothing names one: [`DEFAULT_DATA_DIR`] beside `rules`.
pub fn default_data_dir(rules: &Path) -> PathBuf {
    base_dir(rules).join(DEFAULT_DATA_DIR)
}

/// The top-level keys of `rules.yaml`.
const TOP_KEYS: &[&str] = &["server", "monitorqa", "defaults", "targets", "rules"];

/// A validated, compiled configuration.
#[derive(Debug)]
pub struct Config {
    /// The file it was loaded from.
    pub source: PathBuf,
    /// SHA-256 (hex) of the file's text after interpolation; exported as a metric on reload.
    pub hash: String,
    pub server: ServerConfig,
    pub monitorqa: Option<MonitorqaConfig>,
    pub defaults: Defaults,
    /// Targets by name, in name order: one configured target per name.
    pub targets: BTreeMap<String, ConfiguredTarget>,
    pub rules: RuleSet,
    /// What is valid but probably wrong, with its place (a `where` path no event of the
    /// rule's types has, an operand that can never match its field): `check` prints these,
    /// `check --strict` refuses the file for them.
    pub warnings: Vec<ConfigError>,
    /// The file as written, before `${VAR}` expansion, with every secret hidden and without
    /// comments: what the operator page shows (see [`crate::yaml::show`]).
    pub shown: String,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: Option<SocketAddr>,
    /// The webhook token MonitorQA presents (path segment, `?token=` or Bearer).
    pub token: Option<Secret>,
    /// For `POST /-/reload` and `/api/`; must differ from `token`.
    pub admin_token: Option<Secret>,
    pub data_dir: Option<PathBuf>,
    /// A PostgreSQL database instead of the embedded store (`server.store`).
    pub store: Option<crate::store::DatabaseUrl>,
    /// Request body limit in bytes (default 1 MiB).
    pub max_body_bytes: u64,
    /// Identical events within this window are one event (default 10 min).
    pub dedup_window: Duration,
    /// Delivered events and their history are deleted after this long (default 14 days);
    /// open dead letters are kept until dropped.
    pub retention: Duration,
}

#[derive(Debug, Clone)]
pub struct MonitorqaConfig {
    pub api_key: Secret,
    /// Default `https://api-external.monitorqa.com`.
    pub base_url: String,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct Defaults {
    pub retry: RetryPolicy,
    pub timeout: Duration,
}

/// Reads, interpolates from the process environment, parses and validates a rules file.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let text = read_text(path).map_err(|e| ConfigErrors {
        errors: vec![ConfigError {
            location: None,
            context: None,
            message: format!("cannot read {}: {e}", path.display()),
        }],
    })?;
    parse(&text, path, &|name| std::env::var(name).ok())
}

/// Parses and validates the text of a rules file; `file` names it in locations and is where a
/// relative `data_dir` is read from; `env` looks up the variables named in `${VAR}`. No I/O.
pub fn parse(
    text: &str,
    file: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    read(text, file, env, &mut Vec::new())
}

/// Parses a draft that someone pasted (the operator page's preview), which may read the
/// environment only where what it reads is never shown: a `${NAME}` is looked up with `env`
/// only when every place the draft names `NAME` is the whole value of a field read as a secret
/// (a token, a key, a webhook URL: used to send, never put in a message or an explanation).
/// Anywhere else, and for every other name, `${NAME}` stands for itself, so no value of the
/// relay's environment can reach a message body, a rule's verdict or an error.
pub fn parse_draft(
    text: &str,
    file: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    let stand_in = |name: &str| Some(format!("${{{name}}}"));
    let mut secrets = Vec::new();
    let _ = read(text, file, &stand_in, &mut secrets);
    let readable = match yaml::parse(text) {
        Ok(Some(root)) => interpolate::secret_only_names(&root, &secrets),
        _ => Default::default(),
    };
    let lookup = |name: &str| {
        if readable.contains(name) {
            env(name)
        } else {
            stand_in(name)
        }
    };
    read(text, file, &lookup, &mut Vec::new())
}

/// [`parse`], also saying where the values read as secrets start (in `secrets`), whether the
/// file loads or not.
fn read(
    text: &str,
    file: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    secrets: &mut Vec<Pos>,
) -> Result<Config, ConfigErrors> {
    let mut report = Report::new(file);
    let mut root = match yaml::parse(text) {
        Ok(root) => root.unwrap_or(Node {
            pos: FIRST,
            value: Value::Null,
        }),
        Err((pos, message)) => {
            report.error(pos, None, message);
            return Err(report.into_errors());
        }
    };
    let original = root.clone();
    interpolate::expand_document(&mut root, env, &mut report);
    let hash = hex::encode(Sha256::digest(root.to_json().to_string()));
    let Some(mut doc) = Fields::open(&root, FIRST, "the file", None, &mut report) else {
        return Err(report.into_errors());
    };
    doc.allow(TOP_KEYS, &mut report);
    // `what` names the section in messages.
    let section = |key: &str, what: &'static str, report: &mut Report| {
        Fields::open(doc.get(key)?, doc.key_pos(key), what, None, report)
    };
    let server = section("server", "`server`", &mut report);
    let mut server = sections::server(server, &mut report);
    // Relative to the rules file, as the templates are, not to wherever the relay started.
    server.data_dir = server.data_dir.map(|dir| base_dir(file).join(dir));
    let monitorqa = section("monitorqa", "`monitorqa`", &mut report)
        .and_then(|f| sections::monitorqa(f, &mut report));
    let defaults = section("defaults", "`defaults`", &mut report);
    let defaults = sections::defaults(defaults, &mut report);
    let target_defaults = TargetDefaults {
        retry: defaults.retry,
        timeout: defaults.timeout,
    };
    let targets = targets::build(doc.get("targets"), &target_defaults, &mut report);
    let enriched = monitorqa.is_some();
    let rules = rules::build(doc.get("rules"), &targets.names, enriched, &mut report);
    let shown = crate::yaml::show::redacted(&original, &root, report.secrets());
    secrets.extend_from_slice(report.secrets());
    let warnings = report.finish()?;
    Ok(Config {
        source: file.to_path_buf(),
        hash,
        server,
        monitorqa,
        defaults,
        targets: targets.built,
        rules: RuleSet::new(rules),
        warnings,
        shown,
    })
}

/// Line 1, column 1: where problems with the file as a whole point.
const FIRST: Pos = Pos { line: 1, column: 1 };

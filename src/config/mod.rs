//! Loading and validating `rules.yaml`.
//!
//! [`load`] reads the file (a regular file of at most [`MAX_FILE_BYTES`], see `read`) and hands
//! it to [`parse`], which is pure: it parses the YAML into a
//! tree that remembers where every key and value is (`yaml`), expands `${VAR}` /
//! `${VAR:-default}` inside the parsed values (`interpolate`), then reads and checks each
//! section (`sections`, `targets`, `rules`) into a [`Config`]. Unknown and repeated keys
//! are errors. Every problem is reported at once, in file order, each with `file:line:col` and
//! the rule or target it belongs to. Secrets never appear in an error.

mod fields;
mod interpolate;
mod locate;
mod read;
pub use read::{MAX_FILE_BYTES, ReadError, read_text};
mod report;
pub(crate) use report::did_you_mean;
mod rules;
mod sections;
mod targets;
mod values;
mod yaml;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::rules::RuleSet;
use crate::secret::Secret;
use fields::Fields;
use report::Report;
use yaml::{Node, Pos, Value};

/// Where the embedded store lives when neither `--data-dir` nor `server.data_dir` says.
pub const DEFAULT_DATA_DIR: &str = "./data";

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
    /// Targets by name, in name order.
    pub targets: BTreeMap<String, TargetConfig>,
    pub rules: RuleSet,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: Option<SocketAddr>,
    /// The webhook token MonitorQA presents (path segment, `?token=` or Bearer).
    pub token: Option<Secret>,
    /// For `POST /-/reload` and `/api/`; must differ from `token`.
    pub admin_token: Option<Secret>,
    pub data_dir: Option<PathBuf>,
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

/// When to give up on a delivery, and how long to wait between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub initial: Duration,
    pub max: Duration,
    pub max_age: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            // Enough that `max_age` is the limit: at the 10-minute cap, 24 h is ~150 tries. A
            // target down for an hour must get patient retries, not a full dead-letter list.
            max_attempts: 200,
            initial: Duration::from_secs(2),
            max: Duration::from_secs(600),
            max_age: Duration::from_secs(24 * 3600),
        }
    }
}

/// At most `count` requests per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub count: u32,
    pub per: Duration,
}

/// One entry of `targets:`, validated.
#[derive(Debug, Clone)]
pub struct TargetConfig {
    pub name: String,
    pub kind: TargetKind,
    pub timeout: Duration,
    pub rate_limit: Option<RateLimit>,
    pub retry: RetryPolicy,
    /// A raw payload template (`templates/<name>.<kind>.hbs`) instead of the message layout.
    pub payload_template: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailProvider {
    Sendgrid,
    Mailgun,
    Postmark,
    Resend,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailgunRegion {
    Us,
    Eu,
}

/// What each kind of target needs. URLs that carry a secret are `Secret`s.
#[derive(Debug, Clone)]
pub enum TargetKind {
    /// Incoming webhook (`url`), or chat.postMessage (`token` + `channel`, `base_url` optional).
    Slack {
        url: Option<Secret>,
        token: Option<Secret>,
        channel: Option<String>,
        base_url: Option<String>,
    },
    /// Workflows webhook URL.
    Teams { url: Secret },
    Email {
        provider: EmailProvider,
        api_key: Secret,
        from: String,
        to: Vec<String>,
        /// Override of the provider's API base URL (tests point it at 127.0.0.1).
        base_url: Option<String>,
        /// Mailgun only: the sending domain and its region.
        domain: Option<String>,
        region: MailgunRegion,
    },
    /// A generic JSON POST.
    Webhook {
        url: Secret,
        headers: Vec<(String, Secret)>,
    },
}

impl TargetKind {
    /// `slack`, `teams`, `email` or `webhook`: the word used in `rules.yaml` and file names.
    pub fn name(&self) -> &'static str {
        match self {
            TargetKind::Slack { .. } => "slack",
            TargetKind::Teams { .. } => "teams",
            TargetKind::Email { .. } => "email",
            TargetKind::Webhook { .. } => "webhook",
        }
    }
}

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

/// Parses and validates the text of a rules file; `file` is only used in locations, `env`
/// looks up the variables named in `${VAR}`. No I/O.
pub fn parse(
    text: &str,
    file: &Path,
    env: &dyn Fn(&str) -> Option<String>,
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
    let server = sections::server(server, &mut report);
    let monitorqa = section("monitorqa", "`monitorqa`", &mut report)
        .and_then(|f| sections::monitorqa(f, &mut report));
    let defaults = section("defaults", "`defaults`", &mut report);
    let defaults = sections::defaults(defaults, &mut report);
    let targets = targets::build(doc.get("targets"), &defaults, &mut report);
    let rules = rules::build(doc.get("rules"), &targets.names, &mut report);
    report.finish()?;
    Ok(Config {
        source: file.to_path_buf(),
        hash,
        server,
        monitorqa,
        defaults,
        targets: targets.built,
        rules: RuleSet::new(rules),
    })
}

/// Line 1, column 1: where problems with the file as a whole point.
const FIRST: Pos = Pos { line: 1, column: 1 };

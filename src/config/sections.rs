//! The `server`, `monitorqa` and `defaults` sections.

use std::net::SocketAddr;
use std::time::Duration;

use super::{Defaults, MonitorqaConfig, RetryPolicy, ServerConfig};
use crate::store::DatabaseUrl;
use crate::targets::config::retry;
use crate::yaml::fields::{Fields, http_url, positive_duration};
use crate::yaml::report::Report;
use crate::yaml::tree::Value;
use crate::yaml::values;

const SERVER_KEYS: &[&str] = &[
    "listen",
    "token",
    "admin_token",
    "data_dir",
    "store",
    "max_body",
    "dedup_window",
    "retention",
];
const MONITORQA_KEYS: &[&str] = &["api_key", "base_url", "timeout"];
const DEFAULTS_KEYS: &[&str] = &["retry", "timeout"];

const DEFAULT_MAX_BODY: u64 = 1 << 20;
const DEFAULT_DEDUP_WINDOW: Duration = Duration::from_secs(600);
const DEFAULT_RETENTION: Duration = Duration::from_secs(14 * 24 * 3600);
const DEFAULT_MONITORQA_URL: &str = "https://api-external.monitorqa.com";
const DEFAULT_MONITORQA_TIMEOUT: Duration = Duration::from_secs(3);
const DEFAULT_TARGET_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) fn server(section: Option<Fields>, report: &mut Report) -> ServerConfig {
    let mut server = ServerConfig {
        listen: None,
        token: None,
        admin_token: None,
        data_dir: None,
        store: None,
        max_body_bytes: DEFAULT_MAX_BODY,
        dedup_window: DEFAULT_DEDUP_WINDOW,
        retention: DEFAULT_RETENTION,
    };
    let Some(mut f) = section else { return server };
    f.allow(SERVER_KEYS, report);
    server.listen = f.text("listen", report).and_then(|(text, pos)| {
        let parsed = text.trim().parse::<SocketAddr>().ok();
        if parsed.is_none() {
            let message = format!("`listen`: `{text}` is not an address like 127.0.0.1:8080");
            report.error(pos, f.context(), message);
        }
        parsed
    });
    server.token = f.secret("token", false, report);
    server.admin_token = f.secret("admin_token", false, report);
    if let (Some(token), Some(admin), Some(node)) =
        (&server.token, &server.admin_token, f.get("admin_token"))
        && token.ct_eq(admin.expose().as_bytes())
    {
        f.problem(node, "`admin_token` must differ from `token`", report);
    }
    server.data_dir = f.text("data_dir", report).map(|(text, _)| text.into());
    server.store = store(&f, report);
    if let Some(bytes) = max_body(&f, report) {
        server.max_body_bytes = bytes;
    }
    if let Some(window) = f.duration("dedup_window", report) {
        server.dedup_window = window;
    }
    if let Some(retention) = f.duration("retention", report) {
        server.retention = retention;
    }
    server
}

/// `store`: a PostgreSQL URL (a secret: it may hold a password), instead of the embedded store
/// in `data_dir`; both at once is a mistake, not a preference.
fn store(f: &Fields, report: &mut Report) -> Option<DatabaseUrl> {
    let url = f.secret("store", false, report)?;
    let node = f.get("store")?;
    let parsed = DatabaseUrl::parse(url.expose())
        .map_err(|e| f.problem(node, format!("`store`: {e}"), report))
        .ok()?;
    if f.has("data_dir") {
        let message = "`store` (a PostgreSQL database) and `data_dir` (the embedded store) \
                       exclude each other: keep the one the relay should use";
        f.problem(node, message, report);
    }
    Some(parsed)
}

fn max_body(f: &Fields, report: &mut Report) -> Option<u64> {
    let node = f.get("max_body")?;
    let parsed = match &node.value {
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| "`max_body` must be a positive number of bytes".to_string()),
        Value::Str(s) => values::size(s).map_err(|e| format!("`max_body`: {e}")),
        Value::Invalid => return None,
        _ => Err(format!(
            "`max_body` must be a size, found {}",
            node.kind_name()
        )),
    };
    match parsed {
        Ok(0) => f.problem(node, "`max_body` must be more than 0 bytes", report),
        Ok(bytes) => return Some(bytes),
        Err(message) => f.problem(node, message, report),
    }
    None
}

pub(crate) fn monitorqa(mut section: Fields, report: &mut Report) -> Option<MonitorqaConfig> {
    section.allow(MONITORQA_KEYS, report);
    let api_key = section.secret("api_key", true, report);
    let base_url = http_url(&section, "base_url", report);
    let timeout = positive_duration(&section, "timeout", report);
    Some(MonitorqaConfig {
        api_key: api_key?,
        base_url: base_url.unwrap_or_else(|| DEFAULT_MONITORQA_URL.to_string()),
        timeout: timeout.unwrap_or(DEFAULT_MONITORQA_TIMEOUT),
    })
}

pub(crate) fn defaults(section: Option<Fields>, report: &mut Report) -> Defaults {
    let mut defaults = Defaults {
        retry: RetryPolicy::default(),
        timeout: DEFAULT_TARGET_TIMEOUT,
    };
    let Some(mut f) = section else {
        return defaults;
    };
    f.allow(DEFAULTS_KEYS, report);
    if let Some(node) = f.get("retry") {
        defaults.retry = retry(
            node,
            f.key_pos("retry"),
            defaults.retry,
            f.context(),
            report,
        );
    }
    if let Some(timeout) = positive_duration(&f, "timeout", report) {
        defaults.timeout = timeout;
    }
    defaults
}

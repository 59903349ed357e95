//! Settings read once at start: a reload that changes them must say they wait for a restart,
//! not let the user believe they apply.

use std::time::Duration;

use crate::config::ServerConfig;

/// The start-only settings that differ between the file the relay started with and `now`,
/// each as `server.<name> (<then> → <now>)`. None of them is a secret.
pub fn changes(started: &ServerConfig, now: &ServerConfig) -> Vec<String> {
    let mut out = Vec::new();
    let mut note = |name: &str, then: String, now: String| {
        if then != now {
            out.push(format!("server.{name} ({then} → {now})"));
        }
    };
    note("listen", show(started.listen), show(now.listen));
    note(
        "data_dir",
        show(started.data_dir.as_ref().map(|d| d.display())),
        show(now.data_dir.as_ref().map(|d| d.display())),
    );
    note(
        "store",
        show(started.store.as_ref()),
        show(now.store.as_ref()),
    );
    note(
        "dedup_window",
        duration(started.dedup_window),
        duration(now.dedup_window),
    );
    note(
        "retention",
        duration(started.retention),
        duration(now.retention),
    );
    out
}

/// Says which changed settings wait for the next start (the rest of the reload applies).
pub fn warn(settings: &[String]) {
    for setting in settings {
        tracing::warn!("{setting} changed in the rules file; it takes effect at the next start");
    }
}

fn show<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "unset".to_string(), |v| v.to_string())
}

fn duration(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> ServerConfig {
        ServerConfig {
            listen: Some("127.0.0.1:8080".parse().unwrap()),
            token: None,
            admin_token: None,
            data_dir: None,
            store: None,
            max_body_bytes: 1 << 20,
            dedup_window: Duration::from_secs(600),
            retention: Duration::from_secs(14 * 86_400),
        }
    }

    #[test]
    fn unchanged_settings_need_no_restart() {
        assert!(changes(&server(), &server()).is_empty());
    }

    #[test]
    fn each_changed_start_only_setting_is_named_with_both_values() {
        let mut now = server();
        now.listen = Some("0.0.0.0:9000".parse().unwrap());
        now.data_dir = Some("/var/lib/mqa-relay".into());
        now.dedup_window = Duration::from_secs(1800);
        now.max_body_bytes = 10;
        assert_eq!(
            changes(&server(), &now),
            [
                "server.listen (127.0.0.1:8080 → 0.0.0.0:9000)",
                "server.data_dir (unset → /var/lib/mqa-relay)",
                "server.dedup_window (10m → 30m)",
            ]
        );
    }
}

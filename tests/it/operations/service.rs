//! Running the relay as a service, as an operator does: the hash `check` prints is the one the
//! running relay shows (`/metrics`, `/api/config`, its log), a failed reload is visible in
//! `/api/config` until fixed, logs written to a file carry no colour codes, and a relative
//! `data_dir` is beside the rules file whichever directory the relay starts in. The systemd
//! unit in `deploy/` passes `systemd-analyze verify`, and the relay tells a `NOTIFY_SOCKET`
//! (here one the test binds) when it is ready, reloading and stopping.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::process::{BIN, Launch, RelayProcess};
use crate::support::relay::{TOKEN, numbered, write_file};
use crate::support::wait::eventually;

const ADMIN: &str = "admin-token-for-the-service-tests";
const LIMIT: Duration = Duration::from_secs(10);

fn rules(extra_server: &str) -> String {
    format!(
        "server:\n  token: ${{RELAY_TOKEN}}\n  admin_token: {ADMIN}\n{extra_server}\
         targets:\n  erp:\n    kind: webhook\n    url: http://127.0.0.1:9/erp\n\
         rules:\n  - name: all\n    events: \"*\"\n    notify: [erp]\n"
    )
}

/// `mqa-relay check` on `file`: the hash it prints after `config hash `.
fn checked_hash(file: &Path) -> String {
    let out = Command::new(BIN)
        .args(["check", "--rules"])
        .arg(file)
        .env("RELAY_TOKEN", TOKEN)
        .output()
        .expect("run mqa-relay check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let hash = stdout
        .trim_end()
        .rsplit_once("config hash ")
        .map(|(_, hash)| hash.to_string())
        .unwrap_or_else(|| panic!("no hash in {stdout:?}"));
    assert_eq!(hash.len(), 64, "{stdout}");
    hash
}

async fn config(relay: &RelayProcess) -> serde_json::Value {
    let (status, body) = relay
        .call("GET", "/api/config", Some(ADMIN), LIMIT)
        .await
        .expect("the relay answers");
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn the_hash_check_prints_is_the_one_the_running_relay_shows_and_a_failed_reload_stays_visible()
 {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.yaml");
    write_file(&file, &rules(""));
    let hash = checked_hash(&file);
    let relay = RelayProcess::start(dir.path(), 1, TOKEN).await;

    let metrics = reqwest::get(format!("http://{}/metrics", relay.addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!("mqa_relay_config_info{{hash=\"{hash}\"}} 1")),
        "{metrics}"
    );
    let shown = config(&relay).await;
    assert_eq!(shown["hash"], hash.as_str());
    assert_eq!(shown["path"], file.display().to_string());
    assert_eq!(
        (shown["rules"].as_u64(), shown["targets"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(shown["last_reload_error"].is_null(), "{shown}");
    let text = shown.to_string();
    assert!(
        !text.contains(ADMIN) && !text.contains(TOKEN),
        "a secret in {text}"
    );
    assert!(relay.log_text().contains(&hash), "{}", relay.log_text());

    // A broken file: the old configuration keeps serving, and the problem stays in view.
    write_file(&file, "rules:\n  - name: [broken\n");
    relay.signal("HUP");
    let failed = eventually("the failed reload in /api/config", async || {
        let shown = config(&relay).await;
        (!shown["last_reload_error"].is_null()).then_some(shown)
    })
    .await;
    assert_eq!(failed["hash"], hash.as_str(), "the old file keeps serving");
    let problems = failed["last_reload_error"]["problems"].to_string();
    assert!(
        problems.contains(&format!("{}:2:", file.display())),
        "{problems}"
    );
    assert_eq!(failed["loads"][0]["outcome"], "refused");
    assert_eq!(failed["loads"][1]["outcome"], "loaded");

    // Fixed: the new hash is the one `check` prints, and nothing is left to fix.
    write_file(&file, &rules("  retention: 7d\n"));
    let fixed_hash = checked_hash(&file);
    assert_ne!(fixed_hash, hash);
    relay.signal("HUP");
    let fixed = eventually("the fixed reload in /api/config", async || {
        let shown = config(&relay).await;
        (shown["hash"] == fixed_hash.as_str()).then_some(shown)
    })
    .await;
    assert!(fixed["last_reload_error"].is_null(), "{fixed}");
    relay.ack(&numbered(1)).await;

    // The log went to a file: plain text, no terminal colour codes.
    let log = relay.log_text();
    assert!(log.contains("configuration reloaded"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a log file: {log:?}"
    );
}

#[tokio::test]
async fn a_relative_data_dir_is_beside_the_rules_file_wherever_the_relay_starts() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let how = Launch {
        data_dir_flag: false,
        cwd: Some(elsewhere.path().to_path_buf()),
        ..Launch::default()
    };
    // A relative `data_dir`, then none at all (the store is `data` beside the rules file).
    for (run, server, store) in [(1, "  data_dir: ./store\n", "store"), (2, "", "data")] {
        write_file(&dir.path().join("rules.yaml"), &rules(server));
        let mut relay = RelayProcess::start_as(dir.path(), run, TOKEN, &how).await;
        relay.ack(&numbered(u64::from(run))).await;
        assert!(dir.path().join(store).join("relay.db").is_file(), "{store}");
        assert!(!elsewhere.path().join(store).exists(), "{store}");
        relay.signal("TERM");
        assert_eq!(relay.wait_exit().await, Some(0));
    }
}

/// The notification socket a service manager would bind: every datagram the relay sends.
struct NotifySocket {
    socket: tokio::net::UnixDatagram,
    path: std::path::PathBuf,
    seen: Vec<String>,
}

impl NotifySocket {
    fn bind(dir: &Path) -> NotifySocket {
        let path = dir.join("notify.sock");
        let socket = tokio::net::UnixDatagram::bind(&path).expect("bind the notify socket");
        NotifySocket {
            socket,
            path,
            seen: Vec::new(),
        }
    }

    /// Waits (bounded) for the next message that has every line of `lines`; returns it.
    async fn expect(&mut self, lines: &[&str]) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let mut buf = vec![0u8; 4096];
        loop {
            let read = tokio::time::timeout_at(deadline, self.socket.recv(&mut buf)).await;
            let Ok(Ok(n)) = read else {
                panic!("no message with {lines:?}; seen: {:?}", self.seen);
            };
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            self.seen.push(text.clone());
            if lines.iter().all(|l| text.lines().any(|have| have == *l)) {
                return text;
            }
        }
    }
}

#[tokio::test]
async fn the_relay_tells_systemd_when_it_is_ready_reloading_and_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.yaml");
    write_file(&file, &rules(""));
    let mut notify = NotifySocket::bind(dir.path());
    let how = Launch {
        envs: vec![("NOTIFY_SOCKET".into(), notify.path.display().to_string())],
        ..Launch::default()
    };
    let mut relay = RelayProcess::start_as(dir.path(), 1, TOKEN, &how).await;
    let ready = notify.expect(&["READY=1"]).await;
    assert!(
        ready.contains(&format!(
            "STATUS=listening on {}; 1 rules, 1 targets",
            relay.addr
        )),
        "{ready}"
    );
    relay.ack(&numbered(1)).await;

    relay.signal("HUP");
    let reloading = notify.expect(&["RELOADING=1"]).await;
    assert!(reloading.contains("MONOTONIC_USEC="), "{reloading}");
    let reloaded = notify.expect(&["READY=1"]).await;
    assert!(reloaded.contains("STATUS=reloaded;"), "{reloaded}");

    write_file(&file, "rules:\n  - name: [broken\n");
    relay.signal("HUP");
    notify.expect(&["RELOADING=1"]).await;
    let refused = notify.expect(&["READY=1"]).await;
    assert!(
        refused.contains("STATUS=reload refused (1 problem,"),
        "{refused}"
    );

    // A reload over HTTP is told the same way.
    write_file(&file, &rules("  retention: 7d\n"));
    let (status, body) = relay
        .call("POST", "/-/reload", Some(ADMIN), LIMIT)
        .await
        .expect("the relay answers");
    assert_eq!(status, 200, "{body}");
    notify.expect(&["RELOADING=1"]).await;
    let reloaded = notify.expect(&["READY=1"]).await;
    assert!(reloaded.contains("STATUS=reloaded;"), "{reloaded}");

    relay.signal("TERM");
    notify.expect(&["STOPPING=1"]).await;
    assert_eq!(relay.wait_exit().await, Some(0));
}

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    let unit = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/mqa-relay.service");
    let text = std::fs::read_to_string(&unit).expect("deploy/mqa-relay.service");
    assert!(text.contains("Type=notify"), "{text}");
    assert!(
        text.contains("ExecReload=/bin/kill -HUP $MAINPID"),
        "{text}"
    );
    assert!(text.contains("StateDirectory=mqa-relay"), "{text}");
    // verify checks that the programs exist: the unit names the installed path, the test
    // points it at the binary just built, and changes nothing else.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("mqa-relay.service");
    std::fs::write(&copy, text.replace("/usr/local/bin/mqa-relay", BIN)).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .expect("systemd-analyze (Debian package systemd; .ci/run installs it)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.trim().is_empty(), "warnings: {stderr}");
}

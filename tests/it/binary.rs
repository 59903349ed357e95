//! The real `mqa-relay` binary, driven as an operator would: started on port 0 with a rules
//! file, killed with SIGKILL, reloaded with SIGHUP, checked with `check` and `test`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use mqa_relay::store::{Store, StoreConfig};

use crate::support::process::{BIN, RelayProcess};
use crate::support::wait::{eventually, eventually_within};

const TOKEN: &str = "test-webhook-token-7f3a";

fn sample(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/events")
        .join(name);
    std::fs::read(path).expect("sample event")
}

/// Polls `f` until it returns Some, or panics after `limit`.
async fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    eventually_within(what, limit, async || f()).await
}

fn write_rules(dir: &Path, rules: &str) {
    let text = format!(
        "server:\n  token: ${{RELAY_TOKEN}}\n\
         targets:\n  kitchen:\n    kind: webhook\n    url: http://127.0.0.1:9/kitchen\n  \
         quality:\n    kind: webhook\n    url: http://127.0.0.1:9/quality\n\
         rules:\n{rules}"
    );
    std::fs::write(dir.join("rules.yaml"), text).expect("write rules");
}

const RULES_TO_KITCHEN: &str =
    "  - name: everything to the kitchen\n    events: \"*\"\n    notify: [kitchen]\n";
const RULES_TO_QUALITY: &str =
    "  - name: everything to quality\n    events: \"*\"\n    notify: [quality]\n";

/// The targets of the deliveries the store holds for one event, once it is routed.
async fn routed_targets(store: &Store, id: &str) -> Option<Vec<String>> {
    let details = store.event(id).await.ok()??;
    details.routed_at?;
    let mut targets: Vec<String> = details
        .deliveries
        .iter()
        .map(|(d, _)| d.target.clone())
        .collect();
    targets.sort();
    Some(targets)
}

async fn wait_routed(dir: &Path, id: &str) -> Vec<String> {
    let store = Store::open(&StoreConfig::embedded(dir.join("data")))
        .await
        .unwrap();
    let what = format!("event {id} to be routed");
    let targets = eventually(&what, async || routed_targets(&store, id).await).await;
    store.close().await;
    targets
}

#[tokio::test]
async fn acknowledged_events_survive_sigkill_and_are_routed_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    write_rules(dir.path(), RULES_TO_KITCHEN);
    let relay = RelayProcess::start(dir.path(), 1, TOKEN).await;
    let mut ids = Vec::new();
    for name in [
        "audit_expired.json",
        "corrective_action_rejected.json",
        "template_created.json",
    ] {
        let (status, body) = relay
            .post_bytes(&sample(name))
            .await
            .expect("the relay answers");
        assert_eq!(status, 202, "{body}");
        ids.push(body["id"].as_str().expect("an id").to_string());
    }
    relay.signal("KILL");
    drop(relay);

    let mut relay = RelayProcess::start(dir.path(), 2, TOKEN).await;
    for id in &ids {
        assert_eq!(
            wait_routed(dir.path(), id).await,
            vec!["kitchen".to_string()]
        );
    }
    relay.signal("TERM");
    assert_eq!(relay.wait_exit().await, Some(0));
}

#[tokio::test]
async fn sighup_swaps_the_rules_and_a_broken_file_keeps_the_old_ones() {
    let dir = tempfile::tempdir().unwrap();
    write_rules(dir.path(), RULES_TO_KITCHEN);
    let relay = RelayProcess::start(dir.path(), 1, TOKEN).await;
    let (_, first) = relay
        .post_bytes(&sample("audit_expired.json"))
        .await
        .expect("the relay answers");
    let first = first["id"].as_str().unwrap().to_string();
    assert_eq!(wait_routed(dir.path(), &first).await, vec!["kitchen"]);

    write_rules(dir.path(), RULES_TO_QUALITY);
    relay.signal("HUP");
    wait_for("the reload", Duration::from_secs(20), || {
        relay
            .log_text()
            .contains("configuration reloaded")
            .then_some(())
    })
    .await;
    let (_, second) = relay
        .post_bytes(&sample("audit_deleted.json"))
        .await
        .expect("the relay answers");
    let second = second["id"].as_str().unwrap().to_string();
    assert_eq!(wait_routed(dir.path(), &second).await, vec!["quality"]);

    std::fs::write(dir.path().join("rules.yaml"), "rules:\n  - name: [broken\n").unwrap();
    relay.signal("HUP");
    wait_for("the failed reload", Duration::from_secs(20), || {
        relay.log_text().contains("reload failed").then_some(())
    })
    .await;
    let (status, third) = relay
        .post_bytes(&sample("audit_assigned.json"))
        .await
        .expect("the relay answers");
    assert_eq!(status, 202, "the old rules keep serving: {third}");
    let third = third["id"].as_str().unwrap().to_string();
    assert_eq!(wait_routed(dir.path(), &third).await, vec!["quality"]);
}

#[test]
fn check_reports_every_mistake_with_its_line() {
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config/five_mistakes.yaml");
    let out = Command::new(BIN)
        .args(["check", "--rules"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let prefix = format!("{}:", file.display());
    let lines: Vec<usize> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix)?.split(':').next()?.parse().ok())
        .collect();
    assert_eq!(lines, vec![4, 9, 10, 18, 21], "{stderr}");
    assert!(stderr.ends_with("5 problems\n"), "{stderr}");
}

/// The two mistakes that loaded silently before `check` knew MonitorQA's event shapes: each a
/// warning at its place with what was meant; `--strict` refuses the file for them.
#[test]
fn check_warns_about_a_path_monitorqa_never_sends_and_a_string_against_a_number() {
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config/silent_mistakes.yaml");
    let run = |strict: bool| {
        let mut command = Command::new(BIN);
        command.arg("check");
        if strict {
            command.arg("--strict");
        }
        let out = command.arg("--rules").arg(&file).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stderr) = run(false);
    assert_eq!(code, Some(0), "warnings, not errors: {stderr}");
    let place = |line: usize, col: usize| format!("warning: {}:{line}:{col}: ", file.display());
    let typo = stderr
        .lines()
        .find(|l| l.starts_with(&place(9, 7)))
        .unwrap_or_else(|| panic!("the misspelt path at 9:7: {stderr}"));
    assert!(
        typo.contains(
            "rule \"urgent rejected actions\": data.correctiveAction.priorty: no such field"
        ) && typo.ends_with("did you mean `data.correctiveAction.priority`?"),
        "{typo}"
    );
    let string = stderr
        .lines()
        .find(|l| l.starts_with(&place(14, 46)))
        .unwrap_or_else(|| panic!("the string operand at 14:46: {stderr}"));
    assert!(
        string.contains("`gte` never matches: its value is a string, but the field is a number")
            && string.ends_with("write the number without quotes"),
        "{string}"
    );
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("warning:")).count(),
        2,
        "{stderr}"
    );

    let (code, stderr) = run(true);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.ends_with("2 warnings (refused with --strict)\n"),
        "{stderr}"
    );
}

#[test]
fn check_accepts_the_example_rules_without_any_environment() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules.example.yaml");
    let out = Command::new(BIN)
        .args(["check", "--rules"])
        .arg(&file)
        .env_clear()
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // Every condition of the example can hold for MonitorQA's events.
    assert!(!stderr.contains("warning"), "{stderr}");
}

//! Every command that README.md and rules.example.yaml show, found by reading them (code blocks
//! and inline code), so that the next drift between the docs and the binary fails here:
//!
//! - the ones a reader runs in a checkout are run, in the order the README gives them, by one
//!   shell script against the built binary (as `mqa-relay` on the `PATH`; `cargo run --release
//!   --` is the same binary): the quick start's relay on its own port 8080, `curl` posting the
//!   sample, `events`, `dlq`, `test`, `check`, `store backup`. The script runs in a network
//!   namespace of its own (`unshare -n`) with only loopback, so the relay's placeholder targets
//!   fail as they do for a reader (no name resolves) and nothing leaves the machine. Each must
//!   exit 0, or, where the README shows its output, print exactly that;
//! - the ones that name placeholders (`ID`, `FILE`, `[--json]`) or need what a test does not
//!   have (a real Slack workspace, the MonitorQA API, root) are checked against the binary's
//!   `--help`: the subcommand exists and takes every flag shown;
//! - the rest (`cargo test`, `sudo …`) are listed below with the reason they are not run; a
//!   command in neither list fails the test until it is given a place.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::process::BIN;

/// A command as the docs show it.
#[derive(Debug, Clone)]
struct Shown {
    /// `README.md:22` (inline code: the file alone).
    place: String,
    text: String,
    /// The output shown after it (a `$ ` line of a `text` block).
    output: Option<String>,
}

/// Commands that are not run, by prefix, and why.
const NOT_RUN: &[(&str, &str)] = &[
    ("cargo test", "this is the test command itself"),
    ("cargo clippy", "a development check that CI runs"),
    ("cargo fmt", "a development check that CI runs"),
    (
        "cargo bench",
        "the benchmarks take minutes; CI compiles them",
    ),
    (
        "cargo build --release",
        "builds the binary this test already runs",
    ),
    (
        "cargo install --path .",
        "copies the binary this test runs into ~/.cargo/bin",
    ),
    ("cargo doc", "opens a browser"),
    (
        "cargo fuzz",
        "a fuzz run takes minutes and a nightly toolchain",
    ),
    (
        "cargo install cargo-fuzz",
        "installs a development tool into ~/.cargo/bin",
    ),
    (
        "MQA_RELAY_SCREENSHOTS=",
        "runs one browser test of the suite, which this test is part of",
    ),
    (
        "sudo ",
        "installs a system service: needs root and a running systemd",
    ),
];

/// `mqa-relay` commands only checked against `--help`, and why.
const HELP_ONLY: &[(&str, &str)] = &[
    ("mqa-relay send ", "sends a real message to a real target"),
    (
        "mqa-relay test --enrich",
        "looks events up in the real MonitorQA API",
    ),
    (
        "mqa-relay serve --rules /etc/",
        "a service's paths and a public address",
    ),
    (
        "mqa-relay store copy ",
        "needs a PostgreSQL database named by the reader",
    ),
    (
        "mqa-relay store backup --data-dir /var/lib/",
        "a service's state directory",
    ),
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every command in `file`: lines of `sh` blocks (continuations joined, comments cut), `$ `
/// lines of `text` blocks with the output after them, and inline code that starts with
/// `mqa-relay ` or `cargo `.
fn shown_in(file: &str) -> Vec<Shown> {
    let text = std::fs::read_to_string(repo().join(file)).expect("read the docs");
    let mut shown = Vec::new();
    let mut block: Option<String> = None;
    let mut pending = String::new();
    let mut outside = String::new();
    for (index, line) in text.lines().enumerate() {
        let place = format!("{file}:{}", index + 1);
        if let Some(fence) = line.strip_prefix("```") {
            block = match block {
                Some(_) => None,
                None => Some(fence.trim().to_string()),
            };
            continue;
        }
        match block.as_deref() {
            Some("sh") => {
                let line = cut_comment(line);
                if let Some(head) = line.strip_suffix('\\') {
                    pending.push_str(head);
                    continue;
                }
                pending.push_str(line);
                let command = std::mem::take(&mut pending).trim().to_string();
                if !command.is_empty() {
                    shown.push(Shown {
                        place,
                        text: command,
                        output: None,
                    });
                }
            }
            Some("text") => match line.strip_prefix("$ ") {
                Some(command) => shown.push(Shown {
                    place,
                    text: command.to_string(),
                    output: Some(String::new()),
                }),
                None => {
                    if let Some(Shown {
                        output: Some(out), ..
                    }) = shown.last_mut()
                    {
                        out.push_str(line);
                        out.push('\n');
                    }
                }
            },
            Some(_) => {}
            None => {
                outside.push_str(line);
                outside.push('\n');
            }
        }
    }
    for span in code_spans(&outside) {
        let span = span.split_whitespace().collect::<Vec<_>>().join(" ");
        if span.starts_with("mqa-relay ") || span.starts_with("cargo ") {
            shown.push(Shown {
                place: file.to_string(),
                text: span,
                output: None,
            });
        }
    }
    shown
}

/// The inline code spans of Markdown text, as CommonMark reads them: a run of n backticks
/// opens a span that the next run of exactly n backticks closes (so `` ` `` is one span).
fn code_spans(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let run_at = |at: usize| bytes[at..].iter().take_while(|b| **b == b'`').count();
    let mut spans = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] != b'`' {
            at += 1;
            continue;
        }
        let open = run_at(at);
        let start = at + open;
        let mut look = start;
        let mut closed = None;
        while look < bytes.len() {
            if bytes[look] == b'`' {
                let run = run_at(look);
                if run == open {
                    closed = Some(look);
                    break;
                }
                look += run;
            } else {
                look += 1;
            }
        }
        match closed {
            Some(end) => {
                spans.push(text[start..end].trim());
                at = end + open;
            }
            // An unmatched run is literal text.
            None => at = start,
        }
    }
    spans
}

/// `line` without a trailing shell comment (` # …`).
fn cut_comment(line: &str) -> &str {
    match line.find(" #") {
        Some(at) => line[..at].trim_end(),
        None => line,
    }
}

/// A word that stands for something the reader fills in: `ID`, `FILE`, `[--json]`, `EVENT.json…`.
fn is_placeholder(word: &str) -> bool {
    word.contains(['[', ']', '…', '|'])
        || (word.chars().all(|c| c.is_ascii_uppercase() || c == '_') && !word.is_empty())
        || word.starts_with("EVENT.")
}

/// What the test does with a command.
#[derive(Debug)]
enum Plan {
    /// Run by the script; the index of its result files.
    Run,
    /// Checked against `--help`.
    Help,
    NotRun(&'static str),
}

fn plan(command: &Shown) -> Plan {
    let text = command.text.as_str();
    if let Some((_, why)) = NOT_RUN.iter().find(|(prefix, _)| text.starts_with(prefix)) {
        return Plan::NotRun(why);
    }
    if text.starts_with("cargo run --release -- ") || text.starts_with("curl ") {
        return Plan::Run;
    }
    let Some(rest) = text.strip_prefix("mqa-relay ") else {
        panic!(
            "{}: `{text}` is neither run nor listed as not run: give it a place in tests/it/docs.rs",
            command.place
        );
    };
    let words: Vec<&str> = rest.split_whitespace().collect();
    let names_a_command = words.len() <= 1;
    if names_a_command
        || words.iter().any(|w| is_placeholder(w))
        || HELP_ONLY.iter().any(|(prefix, _)| text.starts_with(prefix))
    {
        Plan::Help
    } else {
        Plan::Run
    }
}

/// The subcommand and the flags a command line uses: `dlq list --target T` → (`dlq list`,
/// `--target`).
fn subcommand_and_flags(text: &str) -> (Vec<String>, Vec<String>) {
    let words: Vec<&str> = text.split_whitespace().skip(1).collect();
    let path = words
        .iter()
        .take_while(|w| {
            !w.starts_with('-') && !is_placeholder(w) && w.chars().all(|c| c.is_ascii_lowercase())
        })
        .map(|w| w.to_string())
        .collect();
    let flags = words
        .iter()
        .map(|w| w.trim_matches(['[', ']']))
        .filter(|w| w.starts_with("--"))
        .map(|w| w.split('=').next().unwrap_or(w).to_string())
        .collect();
    (path, flags)
}

fn check_against_help(command: &Shown) {
    let (path, flags) = subcommand_and_flags(&command.text);
    let out = Command::new(BIN)
        .args(&path)
        .arg("--help")
        .output()
        .expect("run mqa-relay --help");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}: `mqa-relay {} --help` failed: {}",
        command.place,
        path.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    for flag in flags {
        assert!(
            help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n")),
            "{}: `{}` shows {flag}, which `mqa-relay {} --help` does not list:\n{help}",
            command.place,
            command.text,
            path.join(" ")
        );
    }
}

/// A checkout's files that the commands read, copied into `dir`.
fn sandbox(dir: &Path) {
    for part in [
        "rules.example.yaml",
        "examples",
        "templates",
        "tests/fixtures",
    ] {
        copy(&repo().join(part), &dir.join(part));
    }
}

fn copy(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    }
}

/// The script that runs `commands` in order in `dir`, each one's output and exit code in
/// `dir/.out/<n>.{out,err,rc}`. The quick start's `serve` runs in the background until the
/// end; the commands after it wait (bounded) for it to answer.
fn script(dir: &Path, commands: &[&Shown]) -> String {
    let bin_dir = Path::new(BIN).parent().unwrap();
    let mut s = format!(
        "set -u\nip link set lo up\nexport PATH={}:$PATH\ncd {}\nmkdir .out\n",
        bin_dir.display(),
        dir.display()
    );
    for (n, command) in commands.iter().enumerate() {
        let text = command
            .text
            .replace("cargo run --release -- ", "mqa-relay ");
        if text.starts_with("mqa-relay serve ") {
            s.push_str(&format!(
                "{text} >.out/{n}.out 2>.out/{n}.err &\nSERVE=$!\n\
                 for _ in $(seq 1 300); do curl -s -o /dev/null http://127.0.0.1:8080/healthz && break; sleep 0.1; done\n"
            ));
        } else {
            s.push_str(&format!(
                "( {text} ) >.out/{n}.out 2>.out/{n}.err </dev/null; echo $? >.out/{n}.rc\n"
            ));
        }
    }
    s.push_str("kill -TERM ${SERVE:-0} 2>/dev/null; wait\n");
    s
}

#[tokio::test]
async fn every_command_the_readme_and_the_example_rules_show_works_as_written() {
    let mut shown = shown_in("README.md");
    shown.extend(shown_in("rules.example.yaml"));
    assert!(shown.len() > 20, "too few commands found: {shown:#?}");
    let mut run = Vec::new();
    for command in &shown {
        match plan(command) {
            Plan::Run => run.push(command),
            Plan::Help => check_against_help(command),
            // Shown with `--nocapture`: what the docs show that no test runs, and why.
            Plan::NotRun(why) => println!("not run: {} ({why})", command.text),
        }
    }
    // The quick start first, whatever the README's order: the other commands work on its store.
    run.sort_by_key(|c| !c.text.contains(" serve "));
    assert!(
        run[0].text.contains(" serve --rules rules.example.yaml"),
        "{run:#?}"
    );

    let dir = tempfile::tempdir().unwrap();
    sandbox(dir.path());
    let script_file = dir.path().join("readme.sh");
    std::fs::write(&script_file, script(dir.path(), &run)).unwrap();
    let mut child = Command::new("unshare")
        .args(["--net", "bash"])
        .arg(&script_file)
        .spawn()
        .expect("unshare (util-linux) and bash");
    let status = crate::support::wait::eventually_within(
        "the README's commands to finish",
        Duration::from_secs(120),
        async || child.try_wait().ok().flatten(),
    )
    .await;
    assert!(status.success(), "the script itself failed: {status}");

    let out_dir = dir.path().join(".out");
    let read = |n: usize, ext: &str| {
        std::fs::read_to_string(out_dir.join(format!("{n}.{ext}"))).unwrap_or_default()
    };
    let mut event_id = None;
    for (n, command) in run.iter().enumerate().skip(1) {
        let (out, err) = (read(n, "out"), read(n, "err"));
        let rc = read(n, "rc");
        let context = format!(
            "{}: `{}` exited {}\nstdout:\n{out}\nstderr:\n{err}\nthe relay's log:\n{}",
            command.place,
            command.text,
            rc.trim(),
            read(0, "err")
        );
        match &command.output {
            Some(expected) => assert_eq!(format!("{out}{err}"), *expected, "{context}"),
            None => assert_eq!(rc.trim(), "0", "{context}"),
        }
        if command.text.starts_with("curl ") {
            assert!(out.contains("202 Accepted"), "{context}");
            let body = out.lines().last().unwrap_or_default();
            let id: serde_json::Value = serde_json::from_str(body).expect("a JSON answer");
            event_id = id["id"].as_str().map(str::to_string);
        }
        if command.text.starts_with("mqa-relay events list") {
            let id = event_id.as_deref().expect("the curl ran first");
            assert!(out.contains(id), "the posted event is listed: {context}");
        }
    }
    assert!(event_id.is_some(), "the quick start's curl was run");
}

#[test]
fn code_spans_are_read_as_commonmark_reads_them() {
    assert_eq!(
        code_spans("a `x` and `` ` `` then `mqa-relay check` and ``` `` ```"),
        ["x", "`", "mqa-relay check", "``"]
    );
    assert_eq!(code_spans("an ``unmatched run stays text, `y`"), ["y"]);
}

#[test]
fn the_readme_reader_finds_every_kind_of_command() {
    let readme = shown_in("README.md");
    // Commands from the whole file: the quick start, the command table, the operations.
    for expected in [
        "mqa-relay events waiting --rules rules.example.yaml",
        "mqa-relay store backup --rules rules.example.yaml --to relay-2026-12-01.db",
        "mqa-relay dlq replay --all --target kitchen-slack",
        "mqa-relay store copy --from DATA_DIR --to URL",
    ] {
        assert!(
            readme.iter().any(|c| c.text == expected),
            "`{expected}` not found in {readme:#?}"
        );
    }
    let plans: Vec<String> = readme.iter().map(|c| format!("{:?}", plan(c))).collect();
    for kind in ["Run", "Help", "NotRun"] {
        assert!(
            plans.iter().any(|p| p.starts_with(kind)),
            "no {kind} command in {readme:#?}"
        );
    }
    let check = readme
        .iter()
        .find(|c| c.output.is_some())
        .expect("the check example with its output");
    assert!(
        check.text.starts_with("mqa-relay check --rules"),
        "{check:?}"
    );
    assert!(check.output.as_deref().unwrap().ends_with("5 problems\n"));
}

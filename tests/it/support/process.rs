//! The real `mqa-relay` binary, run as an operator runs it: `serve` on port 0 with a rules
//! file and data directory, its log in a file, signals sent with `kill`, and the `dlq`
//! command run beside it on the same store.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use mqa_relay::store::{Store, StoreConfig};
use serde_json::Value;

use super::wait::eventually_within;

pub const BIN: &str = env!("CARGO_BIN_EXE_mqa-relay");

/// Start-up and exit may take a while on a busy machine.
const PROCESS_DEADLINE: Duration = Duration::from_secs(30);

/// One running relay process, on `dir/rules.yaml` and `dir/data`, logging to `dir/relay-N.log`.
pub struct RelayProcess {
    child: Child,
    pub addr: String,
    log: PathBuf,
    /// The webhook token the rules file names (also given as `RELAY_TOKEN` for `${RELAY_TOKEN}`).
    token: String,
    client: reqwest::Client,
}

impl RelayProcess {
    /// Starts run number `run` (each run has its own log file) and waits until it listens.
    pub async fn start(dir: &Path, run: u32, token: &str) -> RelayProcess {
        RelayProcess::launch(Command::new(BIN), dir, run, token).await
    }

    /// [`RelayProcess::start`] with at most `limit` open files (soft and hard limit, set by
    /// `prlimit`, which then runs the relay in its own process).
    pub async fn start_with_open_files(
        dir: &Path,
        run: u32,
        token: &str,
        limit: u64,
    ) -> RelayProcess {
        let mut command = Command::new("prlimit");
        command
            .arg(format!("--nofile={limit}:{limit}"))
            .arg("--")
            .arg(BIN);
        RelayProcess::launch(command, dir, run, token).await
    }

    /// [`RelayProcess::start`] as `how` says: without `--data-dir`, from another directory,
    /// with more environment.
    pub async fn start_as(dir: &Path, run: u32, token: &str, how: &Launch) -> RelayProcess {
        let mut command = Command::new(BIN);
        how.apply(&mut command);
        RelayProcess::launch_with(command, dir, run, token, how.data_dir_flag).await
    }

    async fn launch(command: Command, dir: &Path, run: u32, token: &str) -> RelayProcess {
        RelayProcess::launch_with(command, dir, run, token, true).await
    }

    async fn launch_with(
        command: Command,
        dir: &Path,
        run: u32,
        token: &str,
        data_dir_flag: bool,
    ) -> RelayProcess {
        let (child, log) = spawn_serve(command, dir, run, token, data_dir_flag);
        let addr = eventually_within("the relay to listen", PROCESS_DEADLINE, async || {
            let text = std::fs::read_to_string(&log).ok()?;
            let rest = text.split("listening on ").nth(1)?;
            Some(rest.split_whitespace().next()?.to_string())
        })
        .await;
        RelayProcess {
            child,
            addr,
            log,
            token: token.to_string(),
            client: reqwest::Client::new(),
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log holds `text` at least `times` times.
    pub async fn wait_log(&self, text: &str, times: usize) {
        let what = format!("{times} × {text:?} in the relay's log");
        eventually_within(&what, PROCESS_DEADLINE, async || {
            (self.log_text().matches(text).count() >= times).then_some(())
        })
        .await;
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (`KILL`, `TERM`, `HUP`) to this process only.
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([format!("-{sig}"), self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{sig} failed");
    }

    /// Posts an event; `Err` when the relay did not answer (not running, connection cut).
    pub async fn post(&self, event: &Value) -> Result<(u16, Value), reqwest::Error> {
        self.post_bytes(&serde_json::to_vec(event).expect("a JSON value"))
            .await
    }

    /// Posts a body as it is (a sample file, or malformed JSON).
    pub async fn post_bytes(&self, body: &[u8]) -> Result<(u16, Value), reqwest::Error> {
        let url = format!("http://{}/webhook/{}", self.addr, self.token);
        let response = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await?;
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    /// Posts an event that must be acknowledged; returns its id.
    pub async fn ack(&self, event: &Value) -> String {
        let (status, body) = self.post(event).await.expect("the relay answers");
        assert_eq!(status, 202, "the relay acknowledges: {body}");
        body["id"].as_str().expect("an event id").to_string()
    }

    /// A request to `path` with `Authorization: Bearer <bearer>` (none if `None`); `Err` when
    /// the relay did not answer within `limit`.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        limit: Duration,
    ) -> Result<(u16, Value), reqwest::Error> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        let url = format!("http://{}{path}", self.addr);
        let mut request = self.client.request(method, url).timeout(limit);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    /// The most memory the process has held so far (its peak resident set), in bytes.
    pub fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("the relay's /proc status");
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/<pid>/status");
        kib * 1024
    }

    /// Waits for the process to exit by itself; returns its exit code.
    pub async fn wait_exit(&mut self) -> Option<i32> {
        wait_exit(&mut self.child).await
    }
}

/// How [`RelayProcess::start_as`] starts the relay, beyond what every start does.
pub struct Launch {
    /// Whether to give `--data-dir dir/data` (else the rules file or the default decides).
    pub data_dir_flag: bool,
    /// The working directory (default: the test's).
    pub cwd: Option<PathBuf>,
    pub envs: Vec<(String, String)>,
}

impl Default for Launch {
    fn default() -> Launch {
        Launch {
            data_dir_flag: true,
            cwd: None,
            envs: Vec::new(),
        }
    }
}

impl Launch {
    fn apply(&self, command: &mut Command) {
        if let Some(cwd) = &self.cwd {
            command.current_dir(cwd);
        }
        command.envs(self.envs.iter().map(|(k, v)| (k, v)));
    }
}

/// Starts `serve` (with `command`: the binary, or a wrapper that runs it) on `dir/rules.yaml`
/// (and `dir/data` with `data_dir_flag`), logging to `dir/relay-<run>.log`.
fn spawn_serve(
    mut command: Command,
    dir: &Path,
    run: u32,
    token: &str,
    data_dir_flag: bool,
) -> (Child, PathBuf) {
    let log = dir.join(format!("relay-{run}.log"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--rules"])
        .arg(dir.join("rules.yaml"));
    if data_dir_flag {
        command.arg("--data-dir").arg(dir.join("data"));
    }
    let child = command
        .env("RUST_LOG", "info")
        .env("RELAY_TOKEN", token)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("create the log file"))
        .spawn()
        .expect("spawn mqa-relay (prlimit, from util-linux, for a limit on open files)");
    (child, log)
}

async fn wait_exit(child: &mut Child) -> Option<i32> {
    let status = eventually_within("the relay to exit", PROCESS_DEADLINE, async || {
        child.try_wait().ok().flatten()
    })
    .await;
    status.code()
}

/// Runs `serve` as [`RelayProcess::start`] does, for a relay that must refuse to start: waits
/// for it to exit (killing it if it does not) and returns its exit code and its log.
pub async fn serve_refused(dir: &Path, run: u32, token: &str) -> (Option<i32>, String) {
    struct KillOnDrop(Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let (child, log) = spawn_serve(Command::new(BIN), dir, run, token, true);
    let mut child = KillOnDrop(child);
    let code = wait_exit(&mut child.0).await;
    (code, std::fs::read_to_string(&log).unwrap_or_default())
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Opens the store in `data_dir` beside a running relay, as `dlq` does: without the data
/// directory's lock (SQLite allows a second process, and a second connection pool in this
/// one, on the same file).
pub async fn open_store(data_dir: &Path) -> Store {
    Store::open(&StoreConfig::embedded(data_dir))
        .await
        .expect("open the relay's store")
}

/// Runs `mqa-relay dlq --rules <dir>/rules.yaml --data-dir <dir>/data <args>`.
pub fn dlq(dir: &Path, args: &[&str]) -> Output {
    beside(dir, "dlq", args)
}

/// Runs `mqa-relay events --rules <dir>/rules.yaml --data-dir <dir>/data <args>`.
pub fn events(dir: &Path, args: &[&str]) -> Output {
    beside(dir, "events", args)
}

/// Runs a command that works beside a running relay on its store.
fn beside(dir: &Path, command: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg(command)
        .arg("--rules")
        .arg(dir.join("rules.yaml"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run mqa-relay {command}: {e}"))
}

//! A server under test run as a child process: started, its address read from its
//! `listening on ADDR` line, its CPU time and memory read from /proc, signalled (SIGHUP for a
//! reload), and stopped (SIGTERM, then kill after a deadline).

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::clock;

/// Log lines kept per process (the first ones and every one mentioning a reload or an error).
const KEPT_LINES: usize = 2_000;

pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    /// (ns since the harness epoch, line) for the lines the process wrote.
    pub log: Arc<Mutex<Vec<(u64, String)>>>,
    pub ticks_per_second: u64,
}

/// CPU time and memory of a process at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    pub cpu_ms: f64,
    pub rss_kib: u64,
    pub peak_rss_kib: u64,
}

impl Server {
    /// Starts `command` and waits (up to 30 s) for the `listening on ADDR` line on stdout or
    /// stderr.
    pub fn start(mut command: Command) -> Result<Server> {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("NO_COLOR", "1");
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {command:?}"))?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        if let Some(out) = child.stdout.take() {
            watch(out, log.clone(), tx.clone());
        }
        if let Some(err) = child.stderr.take() {
            watch(err, log.clone(), tx);
        }
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let lines = log.lock().map(|l| l.clone()).unwrap_or_default();
                let text: Vec<_> = lines.into_iter().map(|(_, l)| l).collect();
                bail!(
                    "no `listening on` line within 30 s; output:\n{}",
                    text.join("\n")
                );
            }
        };
        Ok(Server {
            child,
            addr,
            log,
            ticks_per_second: clock_ticks(),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time (user + system) and memory, from /proc.
    pub fn usage(&self) -> Usage {
        read_usage(self.pid(), self.ticks_per_second)
    }

    pub fn signal(&self, name: &str) -> Result<()> {
        send_signal(self.pid(), name)
    }

    /// Log lines containing `needle` written after `since_ns`.
    pub fn lines_since(&self, since_ns: u64, needle: &str) -> Vec<(u64, String)> {
        let log = self.log.lock().map(|l| l.clone()).unwrap_or_default();
        log.into_iter()
            .filter(|(t, line)| *t >= since_ns && line.contains(needle))
            .collect()
    }

    /// SIGTERM, then a kill if the process has not ended within 20 s.
    pub fn stop(mut self) -> Result<()> {
        let _ = self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child.kill()?;
        self.child.wait()?;
        bail!("the process did not stop within 20 s of SIGTERM")
    }
}

/// Sends a signal by name (`HUP`, `TERM`) with kill(1).
pub fn send_signal(pid: u32, name: &str) -> Result<()> {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()?;
    if !status.success() {
        bail!("kill -{name} {pid} failed");
    }
    Ok(())
}

/// CPU time (user + system) and memory of `pid`, from /proc; zeros once it has ended.
pub fn read_usage(pid: u32, ticks_per_second: u64) -> Usage {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at the last ')'; counted
    // from `state` = 0, utime and stime (fields 14 and 15 of proc(5)) are 11 and 12.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    Usage {
        cpu_ms: ticks as f64 * 1000.0 / ticks_per_second as f64,
        rss_kib: status_kib(&status, "VmRSS:"),
        peak_rss_kib: status_kib(&status, "VmHWM:"),
    }
}

/// CPU time (ms) of the PostgreSQL server on this machine so far: every `postgres` process's
/// own, plus what its exited children left in the postmaster's account.
pub fn database_cpu_ms() -> f64 {
    let ticks_per_second = clock_ticks();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    let mut ticks = 0u64;
    for entry in entries.flatten() {
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        if !head.ends_with("(postgres") {
            continue;
        }
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime, stime, cutime, cstime: fields 14-17 of proc(5), 11-14 counted from `state`.
        ticks += [11, 12, 13, 14]
            .iter()
            .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
            .sum::<u64>();
    }
    ticks as f64 * 1000.0 / ticks_per_second as f64
}

/// Reads lines on a thread: the first `listening on ADDR` is sent on `tx`; lines are kept.
fn watch(
    stream: impl Read + Send + 'static,
    log: Arc<Mutex<Vec<(u64, String)>>>,
    tx: std::sync::mpsc::Sender<SocketAddr>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if let Some(addr) = listening_addr(&line) {
                let _ = tx.send(addr);
            }
            if let Ok(mut log) = log.lock() {
                let wanted = log.len() < KEPT_LINES
                    || ["reload", "ERROR", "WARN", "error"]
                        .iter()
                        .any(|w| line.contains(w));
                if wanted {
                    log.push((clock::now_ns(), line));
                }
            }
        }
    });
}

/// The address after `listening on`, whatever surrounds it (text or JSON log lines).
fn listening_addr(line: &str) -> Option<SocketAddr> {
    let lower = line.to_ascii_lowercase();
    let at = lower.find("listening on")? + "listening on".len();
    let rest = lower[at..].trim_start_matches([' ', ':', '=', '"']);
    let rest = rest.strip_prefix("address=").unwrap_or(rest);
    let end = rest
        .find(|c: char| !(c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '[' | ']')))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

fn status_kib(status: &str, key: &str) -> u64 {
    status
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_is_read_from_text_and_json_log_lines() {
        let text = "2026-11-20T06:41:52Z  INFO listening on 127.0.0.1:8080";
        let json = r#"{"message":"listening on 127.0.0.1:4000","level":"INFO"}"#;
        assert_eq!(
            listening_addr(text),
            Some("127.0.0.1:8080".parse().unwrap())
        );
        assert_eq!(
            listening_addr(json),
            Some("127.0.0.1:4000".parse().unwrap())
        );
        let logfmt = r#"level=info msg="Listening on" address=127.0.0.1:9093"#;
        assert_eq!(
            listening_addr(logfmt),
            Some("127.0.0.1:9093".parse().unwrap())
        );
    }
}

//! Capturing what the relays under test log, to assert that no secret ever reaches a log line.
//!
//! tracing caches each callsite's interest process-wide, so a per-test subscriber would miss
//! lines: one global subscriber is installed once for the test binary, writing into a shared
//! buffer.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

/// Everything the tests of this binary logged, at DEBUG and finer (the relay's own crate
/// at TRACE), including the HTTP client's `log` records.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub fn text(&self) -> String {
        let buffer = self.0.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&buffer).into_owned()
    }
}

impl Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut buffer = self.0.lock().unwrap_or_else(|p| p.into_inner());
        buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber (once) and returns its buffer.
pub fn logs() -> Logs {
    static LOGS: OnceLock<Logs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Logs::default();
        let writer = logs.clone();
        let filter = tracing_subscriber::EnvFilter::new("debug,mqa_relay=trace");
        // `try_init` also routes `log` records (reqwest, hyper) into the subscriber.
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .try_init()
            .expect("the only global subscriber of this test binary");
        logs
    })
    .clone()
}

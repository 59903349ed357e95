//! Capturing what the relays under test log, to assert that no secret ever reaches a log line.
//!
//! tracing caches each callsite's interest process-wide, so a per-test subscriber would miss
//! lines: one global subscriber is installed once for the test binary, writing into a shared
//! buffer. It records while a test holds a [`Logs`] (from [`logs`], taken before the relay it
//! watches starts), so that the tests that read no log do not pay for formatting every line.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tracing_subscriber::filter::{EnvFilter, FilterExt, dynamic_filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

/// How many [`Logs`] are alive: the capture records while there is one.
static HOLDERS: AtomicUsize = AtomicUsize::new(0);

/// Everything logged in this binary while a test held one, at DEBUG and finer (the relay's own
/// crate at TRACE), including the HTTP client's `log` records.
pub struct Logs(Buffer);

impl Logs {
    pub fn text(&self) -> String {
        self.0.text()
    }
}

impl Drop for Logs {
    fn drop(&mut self) {
        HOLDERS.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The shared buffer the subscriber writes into.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Buffer {
    fn text(&self) -> String {
        let buffer = self.0.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&buffer).into_owned()
    }
}

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut buffer = self.0.lock().unwrap_or_else(|p| p.into_inner());
        buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber (once) and keeps it recording until the [`Logs`] is
/// dropped.
pub fn logs() -> Logs {
    static BUFFER: OnceLock<Buffer> = OnceLock::new();
    let buffer = BUFFER.get_or_init(|| {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let levels = EnvFilter::new("debug,mqa_relay=trace");
        let held = dynamic_filter_fn(|_, _| HOLDERS.load(Ordering::Acquire) > 0);
        let layer = fmt::layer()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .with_filter(levels.and(held));
        // `try_init` also routes `log` records (reqwest, hyper) into the subscriber.
        tracing_subscriber::registry()
            .with(layer)
            .try_init()
            .expect("the only global subscriber of this test binary");
        buffer
    });
    HOLDERS.fetch_add(1, Ordering::AcqRel);
    Logs(buffer.clone())
}

//! Waiting in tests without sleeping blindly, and the sample events the tests read.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long any wait in the integration tests may take before it fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Polls `f` every 20 ms until it gives `Some`; panics after [`DEADLINE`].
pub async fn eventually<T>(what: &str, f: impl AsyncFnMut() -> Option<T>) -> T {
    eventually_within(what, DEADLINE, f).await
}

/// Polls `f` every 20 ms until it gives `Some`; panics after `limit`.
pub async fn eventually_within<T>(
    what: &str,
    limit: Duration,
    mut f: impl AsyncFnMut() -> Option<T>,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A sample event from `examples/events/`.
pub fn sample(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/events")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).expect("a sample event");
    serde_json::from_str(&text).expect("the sample is JSON")
}

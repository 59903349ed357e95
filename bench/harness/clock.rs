//! One clock for the whole harness: nanoseconds since the first call, so acknowledgement and
//! arrival times recorded by different tasks compare directly.

use std::sync::OnceLock;
use std::time::Instant;

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Nanoseconds since the harness epoch; never 0 (0 means "not recorded").
pub fn now_ns() -> u64 {
    let epoch = EPOCH.get_or_init(Instant::now);
    epoch.elapsed().as_nanos() as u64 + 1
}

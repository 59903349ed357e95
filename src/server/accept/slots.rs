//! How many connections the server holds at once, and which it lets go first when all are
//! taken.
//!
//! A slot is taken before `accept`, so beyond the cap clients wait in the kernel's backlog
//! instead of the server running out of file descriptors. The cap stays under the process's
//! open-file limit with room for the store, outgoing requests and files. When every slot is
//! taken, the oldest connections are asked to close, a batch at a time: an idle one (between
//! requests, or before its first byte) closes at once, one with a request in flight answers it
//! first. The loop takes the slot for its next client as soon as it has accepted one, so at the
//! cap one slot is kept ready for whoever comes next. So a flood of idle connections cannot
//! keep a real request out for longer than it takes to close a few of them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::metrics::ConnectionMetrics;

/// The cap when none is configured.
pub(super) const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// The fewest slots, however low the open-file limit.
const MIN_CONNECTIONS: usize = 16;
/// Descriptors kept free for everything else: at least this many, and a quarter of the limit.
const MIN_HEADROOM: u64 = 64;
/// While every slot stays taken, another batch is asked to close this often.
const EVICT_EVERY: Duration = Duration::from_millis(250);

/// The number of slots: `configured` (or the default), but at most the open-file limit less
/// the headroom.
pub(super) fn connection_cap(configured: Option<usize>, fd_limit: Option<u64>) -> usize {
    let wanted = configured.unwrap_or(DEFAULT_MAX_CONNECTIONS).max(1);
    let Some(limit) = fd_limit else {
        return wanted;
    };
    let headroom = MIN_HEADROOM.max(limit / 4);
    let room = usize::try_from(limit.saturating_sub(headroom)).unwrap_or(usize::MAX);
    wanted.min(room.max(MIN_CONNECTIONS))
}

/// The process's soft limit on open files; `None` when unlimited or unknown.
pub(super) fn fd_soft_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The slots of one server.
pub(super) struct Slots {
    cap: usize,
    permits: Arc<Semaphore>,
    /// The close request of every open connection, oldest first.
    open: Mutex<BTreeMap<u64, CancellationToken>>,
    next_id: AtomicU64,
    /// Cancelled at shutdown: the parent of every connection's close request.
    closing: CancellationToken,
    metrics: ConnectionMetrics,
}

/// One taken slot: a connection's right to be open, and its close request. Dropping it frees
/// the slot.
pub(super) struct Slot {
    id: u64,
    close: CancellationToken,
    slots: Arc<Slots>,
    _permit: OwnedSemaphorePermit,
}

impl Slot {
    /// Resolves when the server wants this connection closed (shutdown, or to make room).
    pub(super) async fn close_requested(&self) {
        self.close.cancelled().await;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.lock_open().remove(&self.id);
        self.slots.metrics.open.dec();
    }
}

impl Slots {
    pub(super) fn new(cap: usize, metrics: ConnectionMetrics) -> Arc<Slots> {
        Arc::new(Slots {
            cap,
            permits: Arc::new(Semaphore::new(cap)),
            open: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(0),
            closing: CancellationToken::new(),
            metrics,
        })
    }

    /// Waits for a free slot, asking the oldest connections to close while none is free.
    /// `None` only if the slots were closed for good (which this server never does).
    pub(super) async fn take(self: &Arc<Slots>) -> Option<Slot> {
        loop {
            if let Ok(permit) = self.permits.clone().try_acquire_owned() {
                return Some(self.slot(permit));
            }
            self.make_room();
            match tokio::time::timeout(EVICT_EVERY, self.permits.clone().acquire_owned()).await {
                Ok(Ok(permit)) => return Some(self.slot(permit)),
                Ok(Err(_closed)) => return None,
                Err(_still_full) => {}
            }
        }
    }

    /// Asks the oldest batch of connections to close (all slots taken, or no descriptor left).
    pub(super) fn make_room(&self) {
        let batch = (self.cap / 16).max(1);
        let mut open = self.lock_open();
        let oldest: Vec<u64> = open.keys().take(batch).copied().collect();
        for id in oldest {
            if let Some(close) = open.remove(&id) {
                close.cancel();
                self.metrics.closed_for_room.inc();
            }
        }
    }

    /// Asks every connection to close (shutdown): idle ones close at once.
    pub(super) fn close_all(&self) {
        self.closing.cancel();
    }

    fn slot(self: &Arc<Slots>, permit: OwnedSemaphorePermit) -> Slot {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let close = self.closing.child_token();
        self.lock_open().insert(id, close.clone());
        self.metrics.open.inc();
        Slot {
            id,
            close,
            slots: self.clone(),
            _permit: permit,
        }
    }

    fn lock_open(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, CancellationToken>> {
        // Every entry is complete on its own: a panic elsewhere cannot leave the map half-updated.
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_a_quarter_of_the_open_file_limit_for_everything_else() {
        assert_eq!(connection_cap(None, Some(1024)), 768);
        assert_eq!(connection_cap(None, Some(256)), 192);
        assert_eq!(
            connection_cap(None, Some(1_048_576)),
            DEFAULT_MAX_CONNECTIONS
        );
        assert_eq!(connection_cap(None, None), DEFAULT_MAX_CONNECTIONS);
    }

    #[test]
    fn a_configured_cap_is_kept_only_under_the_limit() {
        assert_eq!(connection_cap(Some(100), Some(1024)), 100);
        assert_eq!(connection_cap(Some(10_000), Some(1024)), 768);
        assert_eq!(connection_cap(Some(0), None), 1);
    }

    #[test]
    fn a_tiny_limit_still_leaves_a_few_slots_and_at_least_64_descriptors_free() {
        assert_eq!(connection_cap(None, Some(128)), 64);
        assert_eq!(connection_cap(None, Some(40)), MIN_CONNECTIONS);
    }

    #[tokio::test]
    async fn when_every_slot_is_taken_the_oldest_connections_are_asked_to_close() {
        let metrics = ConnectionMetrics::default();
        let slots = Slots::new(32, metrics.clone());
        let mut taken = Vec::new();
        for _ in 0..32 {
            taken.push(slots.take().await.expect("a free slot"));
        }
        assert_eq!(metrics.open.get(), 32);
        slots.make_room();
        // A batch of 32 / 16: the two oldest, nothing else.
        let asked: Vec<bool> = taken.iter().map(|s| s.close.is_cancelled()).collect();
        assert_eq!(asked.iter().filter(|a| **a).count(), 2);
        assert!(asked[0] && asked[1]);
        assert_eq!(metrics.closed_for_room.get(), 2);
        drop(taken.remove(0));
        let next = slots.take().await.expect("the freed slot");
        assert!(!next.close.is_cancelled());
        assert_eq!(metrics.open.get(), 32);
    }

    #[tokio::test]
    async fn shutdown_asks_every_connection_to_close() {
        let slots = Slots::new(4, ConnectionMetrics::default());
        let a = slots.take().await.expect("a slot");
        let b = slots.take().await.expect("a slot");
        slots.close_all();
        assert!(a.close.is_cancelled() && b.close.is_cancelled());
    }
}

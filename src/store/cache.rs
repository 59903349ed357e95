//! The in-memory hand-off of events from intake to the senders: the events stored most
//! recently, parsed, by id. A claim takes its event from here instead of reading the body
//! back from the store and parsing it again; a miss (a restart, a retry long after, an event
//! another replica took in) reads the store. Bounded by count and by the size of the bodies,
//! oldest out first, so a burst cannot grow memory without bound.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use crate::store::StoredEvent;

/// At most this many events are kept...
const MAX_EVENTS: usize = 4096;
/// ... and at most this many bytes of canonical bodies.
const MAX_BYTES: usize = 32 * 1024 * 1024;

#[derive(Default)]
pub(crate) struct EventCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    by_id: HashMap<String, (Arc<StoredEvent>, usize)>,
    order: VecDeque<String>,
    bytes: usize,
}

impl EventCache {
    /// Keeps `event`, whose canonical body is `size` bytes long, evicting the oldest.
    pub(crate) fn insert(&self, event: Arc<StoredEvent>, size: usize) {
        let mut inner = self.lock();
        if size > MAX_BYTES || inner.by_id.contains_key(&event.id) {
            return;
        }
        inner.order.push_back(event.id.clone());
        inner.by_id.insert(event.id.clone(), (event, size));
        inner.bytes += size;
        while inner.by_id.len() > MAX_EVENTS || inner.bytes > MAX_BYTES {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            if let Some((_, size)) = inner.by_id.remove(&oldest) {
                inner.bytes -= size;
            }
        }
    }

    pub(crate) fn get(&self, id: &str) -> Option<Arc<StoredEvent>> {
        self.lock().by_id.get(id).map(|(event, _)| event.clone())
    }

    /// A stored event changed (its enrichment was saved): the next claim reads it again.
    pub(crate) fn forget(&self, id: &str) {
        let mut inner = self.lock();
        if let Some((_, size)) = inner.by_id.remove(id) {
            inner.bytes -= size;
            inner.order.retain(|other| other != id);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The map is consistent after every statement above, so a panic elsewhere while the
        // lock was held leaves nothing half-done.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;

    fn stored(id: &str) -> Arc<StoredEvent> {
        let event = Event::parse(br#"{"event":"AUDIT_EXPIRED","data":{"auditId":"a"}}"#).unwrap();
        Arc::new(StoredEvent {
            id: id.into(),
            received_at: 1,
            event,
            enrichment: None,
        })
    }

    #[test]
    fn an_event_is_found_by_id_until_forgotten() {
        let cache = EventCache::default();
        cache.insert(stored("e1"), 10);
        assert_eq!(cache.get("e1").unwrap().id, "e1");
        assert!(cache.get("e2").is_none());
        cache.forget("e1");
        assert!(cache.get("e1").is_none());
    }

    #[test]
    fn the_oldest_events_leave_first_when_the_count_or_size_is_reached() {
        let cache = EventCache::default();
        for i in 0..MAX_EVENTS + 10 {
            cache.insert(stored(&format!("e{i}")), 1);
        }
        assert!(cache.get("e0").is_none() && cache.get("e9").is_none());
        assert!(cache.get("e10").is_some());
        cache.insert(stored("big"), MAX_BYTES - 5);
        assert!(cache.get("big").is_some());
        assert!(cache.get("e10").is_none(), "room was made for the big one");
        cache.insert(stored("huge"), MAX_BYTES + 1);
        assert!(cache.get("huge").is_none(), "larger than the whole cache");
    }
}

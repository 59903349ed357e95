//! The lookup cache: successful answers keyed by (kind, id), with a time to live and a size
//! bound that evicts the oldest entry first.
//!
//! Pure and synchronous: the caller passes the current instant, so tests need no clock. Only
//! successful lookups are stored; a 404 is not (a brand-new audit may not be visible to the API
//! yet, and a cached "not found" would hide it for the whole TTL).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::LookupKind;

type Key = (LookupKind, String);

struct Entry {
    value: Value,
    stored_at: Instant,
    /// Matches the `seq` of this key's newest slot in the insertion queue.
    seq: u64,
}

/// A bounded map with a time to live. Eviction order is insertion order (a refreshed entry
/// counts as new), which for a TTL cache is what LRU would mostly be anyway.
pub(crate) struct Cache {
    ttl: Duration,
    capacity: usize,
    entries: HashMap<Key, Entry>,
    /// Insertion order; a slot whose `seq` no longer matches its entry is stale and skipped.
    order: VecDeque<(Key, u64)>,
    next_seq: u64,
}

impl Cache {
    /// A cache holding at most `capacity` entries (0 turns caching off), each for `ttl`.
    pub(crate) fn new(ttl: Duration, capacity: usize) -> Cache {
        Cache {
            ttl,
            capacity,
            entries: HashMap::new(),
            order: VecDeque::new(),
            next_seq: 0,
        }
    }

    /// The stored value, if there is one younger than the TTL. An expired entry is removed.
    pub(crate) fn get(&mut self, kind: LookupKind, id: &str, now: Instant) -> Option<Value> {
        let key = (kind, id.to_string());
        let entry = self.entries.get(&key)?;
        if now.saturating_duration_since(entry.stored_at) < self.ttl {
            return Some(entry.value.clone());
        }
        self.entries.remove(&key);
        None
    }

    /// Stores a value, evicting the oldest entries while the cache is over its bound.
    pub(crate) fn insert(&mut self, kind: LookupKind, id: &str, value: Value, now: Instant) {
        if self.capacity == 0 || self.ttl.is_zero() {
            return;
        }
        let key = (kind, id.to_string());
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.push_back((key.clone(), seq));
        self.entries.insert(
            key,
            Entry {
                value,
                stored_at: now,
                seq,
            },
        );
        while self.entries.len() > self.capacity {
            self.evict_oldest();
        }
        // Refreshed keys leave stale slots behind; keep the queue proportional to the map.
        if self.order.len() > 2 * self.capacity.max(16) {
            self.compact();
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }

    fn evict_oldest(&mut self) {
        while let Some((key, seq)) = self.order.pop_front() {
            if self.entries.get(&key).is_some_and(|e| e.seq == seq) {
                self.entries.remove(&key);
                return;
            }
        }
    }

    fn compact(&mut self) {
        let entries = &self.entries;
        self.order
            .retain(|(key, seq)| entries.get(key).is_some_and(|e| e.seq == *seq));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const A: LookupKind = LookupKind::Audit;

    #[test]
    fn a_stored_value_is_found_until_its_ttl_passes() {
        let t0 = Instant::now();
        let mut cache = Cache::new(Duration::from_secs(60), 10);
        cache.insert(A, "ab", json!({"n": 1}), t0);
        assert_eq!(
            cache.get(A, "ab", t0 + Duration::from_secs(59)),
            Some(json!({"n": 1}))
        );
        assert_eq!(cache.get(A, "ab", t0 + Duration::from_secs(60)), None);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn kinds_do_not_share_entries() {
        let t0 = Instant::now();
        let mut cache = Cache::new(Duration::from_secs(60), 10);
        cache.insert(A, "ab", json!(1), t0);
        assert_eq!(cache.get(LookupKind::CorrectiveAction, "ab", t0), None);
    }

    #[test]
    fn the_oldest_entry_is_evicted_when_full() {
        let t0 = Instant::now();
        let mut cache = Cache::new(Duration::from_secs(60), 2);
        cache.insert(A, "a1", json!(1), t0);
        cache.insert(A, "a2", json!(2), t0);
        cache.insert(A, "a1", json!(11), t0); // refreshed: now the newest
        cache.insert(A, "a3", json!(3), t0);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(A, "a2", t0), None);
        assert_eq!(cache.get(A, "a1", t0), Some(json!(11)));
        assert_eq!(cache.get(A, "a3", t0), Some(json!(3)));
    }

    #[test]
    fn refreshing_one_key_many_times_keeps_the_queue_bounded() {
        let t0 = Instant::now();
        let mut cache = Cache::new(Duration::from_secs(60), 4);
        for i in 0..1000 {
            cache.insert(A, "same", json!(i), t0);
        }
        assert_eq!(cache.len(), 1);
        assert!(cache.order.len() <= 2 * 16 + 1);
        assert_eq!(cache.get(A, "same", t0), Some(json!(999)));
    }

    #[test]
    fn a_zero_capacity_cache_stores_nothing() {
        let t0 = Instant::now();
        let mut cache = Cache::new(Duration::from_secs(60), 0);
        cache.insert(A, "ab", json!(1), t0);
        assert_eq!(cache.get(A, "ab", t0), None);
    }
}

//! Prometheus metrics: what happened to every event and delivery, in numbers.
//!
//! One [`Metrics`] per process, owned by the `Relay`. Counters are bumped where things happen;
//! queue gauges are refreshed from the store just before a scrape. Label values are bounded:
//! event types we do not know are counted as `other`, so a sender of random types cannot grow
//! the series without end.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

use crate::event::EVENT_TYPES;
use crate::store::WriterStats;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabel {
    event: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TargetLabel {
    target: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    target: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConfigLabel {
    hash: String,
}

fn latency_histogram() -> Histogram {
    // 50 ms … ~7 h: a delivery can wait hours behind a target that is down.
    Histogram::new(exponential_buckets(0.05, 3.0, 11))
}

/// Every metric the relay exports.
pub struct Metrics {
    registry: Registry,
    events_received: Family<EventLabel, Counter>,
    events_rejected: Family<ReasonLabel, Counter>,
    events_deduplicated: Counter,
    deliveries: Family<OutcomeLabel, Counter>,
    attempts: Family<TargetLabel, Counter>,
    latency: Family<TargetLabel, Histogram, fn() -> Histogram>,
    queue_depth: Family<TargetLabel, Gauge>,
    oldest_due_age: Family<TargetLabel, Gauge<f64, AtomicU64>>,
    dead: Gauge,
    reload_success: Gauge,
    reload_timestamp: Gauge<f64, AtomicU64>,
    config_info: Family<ConfigLabel, Gauge>,
    enrichment: Family<ReasonLabel, Counter>,
    store_commits: Counter,
    store_writes: Counter,
    store_events: Counter,
    store_wal_frames: Gauge,
    store_wal_restarts: Counter,
    http_connections: Gauge,
    http_connection_limit: Gauge,
    http_connections_closed: Counter,
}

/// The server's own handles on its connection metrics (shared with the registry).
#[derive(Debug, Clone, Default)]
pub struct ConnectionMetrics {
    /// Connections open now.
    pub open: Gauge,
    /// Connections asked to close to make room for new ones.
    pub closed_for_room: Counter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut m = Metrics {
            registry: Registry::with_prefix("mqa_relay"),
            events_received: Family::default(),
            events_rejected: Family::default(),
            events_deduplicated: Counter::default(),
            deliveries: Family::default(),
            attempts: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            queue_depth: Family::default(),
            oldest_due_age: Family::default(),
            dead: Gauge::default(),
            reload_success: Gauge::default(),
            reload_timestamp: Gauge::default(),
            config_info: Family::default(),
            enrichment: Family::default(),
            store_commits: Counter::default(),
            store_writes: Counter::default(),
            store_events: Counter::default(),
            store_wal_frames: Gauge::default(),
            store_wal_restarts: Counter::default(),
            http_connections: Gauge::default(),
            http_connection_limit: Gauge::default(),
            http_connections_closed: Counter::default(),
        };
        m.register_all();
        m
    }

    fn register_all(&mut self) {
        let r = &mut self.registry;
        r.register(
            "events_received",
            "Events acknowledged, by type",
            self.events_received.clone(),
        );
        r.register(
            "events_rejected",
            "Webhook requests refused, by reason",
            self.events_rejected.clone(),
        );
        r.register(
            "events_deduplicated",
            "MonitorQA retries recognised as an event already stored",
            self.events_deduplicated.clone(),
        );
        r.register(
            "deliveries",
            "Delivery outcomes, by target",
            self.deliveries.clone(),
        );
        r.register(
            "delivery_attempts",
            "Delivery attempts, by target",
            self.attempts.clone(),
        );
        r.register(
            "delivery_latency_seconds",
            "From acknowledgement of the event to delivery, by target",
            self.latency.clone(),
        );
        r.register(
            "queue_depth",
            "Deliveries waiting or in flight, by target",
            self.queue_depth.clone(),
        );
        r.register(
            "oldest_due_age_seconds",
            "Age of the oldest unfinished delivery, by target",
            self.oldest_due_age.clone(),
        );
        r.register(
            "dead_deliveries",
            "Deliveries in the dead-letter list",
            self.dead.clone(),
        );
        r.register(
            "config_reload_success",
            "1 if the last configuration load succeeded, else 0",
            self.reload_success.clone(),
        );
        r.register(
            "config_reload_timestamp_seconds",
            "When the configuration was last loaded successfully",
            self.reload_timestamp.clone(),
        );
        r.register(
            "config_info",
            "The hash of the configuration in use",
            self.config_info.clone(),
        );
        r.register(
            "enrichment_lookups",
            "MonitorQA API lookups, by outcome",
            self.enrichment.clone(),
        );
        r.register(
            "store_commits",
            "Group commits (one transaction and fsync each)",
            self.store_commits.clone(),
        );
        r.register(
            "store_commit_writes",
            "Writes made by group commits: events, routings, lane outcomes and claims",
            self.store_writes.clone(),
        );
        r.register(
            "store_commit_events",
            "Events stored or recognised as duplicates by group commits",
            self.store_events.clone(),
        );
        r.register(
            "store_wal_frames",
            "Pages (4 KiB) in the write-ahead log when the writer last looked",
            self.store_wal_frames.clone(),
        );
        r.register(
            "store_wal_restarts",
            "Times an overlong write-ahead log was checkpointed and started over",
            self.store_wal_restarts.clone(),
        );
        r.register(
            "http_connections",
            "HTTP connections open now",
            self.http_connections.clone(),
        );
        r.register(
            "http_connection_limit",
            "The most HTTP connections held at once (under the open-file limit)",
            self.http_connection_limit.clone(),
        );
        r.register(
            "http_connections_closed_for_room",
            "HTTP connections asked to close because all were taken",
            self.http_connections_closed.clone(),
        );
    }

    /// The `event` label for a type: itself if MonitorQA documents it, else `other`.
    pub fn event_label(kind: &str) -> &str {
        if EVENT_TYPES.contains(&kind) {
            kind
        } else {
            "other"
        }
    }

    pub fn event_received(&self, kind: &str) {
        let event = Metrics::event_label(kind).to_string();
        self.events_received
            .get_or_create(&EventLabel { event })
            .inc();
    }

    pub fn event_rejected(&self, reason: &str) {
        self.events_rejected
            .get_or_create(&ReasonLabel {
                reason: reason.to_string(),
            })
            .inc();
    }

    pub fn event_deduplicated(&self) {
        self.events_deduplicated.inc();
    }

    /// One attempt ended with `outcome` (`delivered`, `retry` or `dead`).
    pub fn attempt(&self, target: &str, outcome: &str) {
        let t = target.to_string();
        self.attempts
            .get_or_create(&TargetLabel { target: t.clone() })
            .inc();
        self.deliveries
            .get_or_create(&OutcomeLabel {
                target: t,
                outcome: outcome.into(),
            })
            .inc();
    }

    pub fn delivered_after(&self, target: &str, seconds: f64) {
        self.latency
            .get_or_create(&TargetLabel {
                target: target.to_string(),
            })
            .observe(seconds);
    }

    pub fn enrichment(&self, outcome: &str) {
        self.enrichment
            .get_or_create(&ReasonLabel {
                reason: outcome.to_string(),
            })
            .inc();
    }

    /// Records a configuration load: success, and the hash in use (old hash series removed).
    pub fn config_loaded(&self, ok: bool, hash: Option<&str>, unix_seconds: f64) {
        self.reload_success.set(i64::from(ok));
        if let Some(hash) = hash {
            self.reload_timestamp.set(unix_seconds);
            self.config_info.clear();
            self.config_info
                .get_or_create(&ConfigLabel {
                    hash: hash.to_string(),
                })
                .set(1);
        }
    }

    /// Sets the group-commit counters from the writer's own totals (read just before a scrape).
    pub fn set_store_writer(&self, stats: &WriterStats) {
        use std::sync::atomic::Ordering::Relaxed;
        self.store_commits.inner().store(stats.batches, Relaxed);
        self.store_writes.inner().store(stats.writes, Relaxed);
        self.store_events.inner().store(stats.events, Relaxed);
        self.store_wal_frames
            .set(i64::try_from(stats.wal_frames).unwrap_or(i64::MAX));
        self.store_wal_restarts
            .inner()
            .store(stats.wal_restarts, Relaxed);
    }

    /// Sets the queue gauges from a fresh reading of the store.
    pub fn set_queues(&self, per_target: &[(String, i64, f64)], dead: i64) {
        self.queue_depth.clear();
        self.oldest_due_age.clear();
        for (target, depth, oldest) in per_target {
            let label = TargetLabel {
                target: target.clone(),
            };
            self.queue_depth.get_or_create(&label).set(*depth);
            self.oldest_due_age.get_or_create(&label).set(*oldest);
        }
        self.dead.set(dead);
    }

    /// Records the server's connection limit; the server updates the returned handles.
    pub fn connections(&self, limit: usize) -> ConnectionMetrics {
        self.http_connection_limit
            .set(i64::try_from(limit).unwrap_or(i64::MAX));
        ConnectionMetrics {
            open: self.http_connections.clone(),
            closed_for_room: self.http_connections_closed.clone(),
        }
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_event_types_share_one_label() {
        let m = Metrics::new();
        m.event_received("AUDIT_EXPIRED");
        m.event_received("RANDOM_1");
        m.event_received("RANDOM_2");
        let text = m.encode();
        assert!(text.contains(r#"mqa_relay_events_received_total{event="AUDIT_EXPIRED"} 1"#));
        assert!(text.contains(r#"mqa_relay_events_received_total{event="other"} 2"#));
        assert!(!text.contains("RANDOM_1"));
    }

    #[test]
    fn config_info_keeps_only_the_current_hash() {
        let m = Metrics::new();
        m.config_loaded(true, Some("aaa"), 1.0);
        m.config_loaded(true, Some("bbb"), 2.0);
        m.config_loaded(false, None, 3.0);
        let text = m.encode();
        assert!(text.contains(r#"mqa_relay_config_info{hash="bbb"} 1"#));
        assert!(!text.contains(r#"hash="aaa""#));
        assert!(text.contains("mqa_relay_config_reload_success 0"));
        assert!(text.contains("mqa_relay_config_reload_timestamp_seconds 2.0"));
    }

    #[test]
    fn connection_handles_move_the_exported_series() {
        let m = Metrics::new();
        let handles = m.connections(768);
        handles.open.inc();
        handles.closed_for_room.inc();
        let text = m.encode();
        assert!(
            text.contains("mqa_relay_http_connection_limit 768"),
            "{text}"
        );
        assert!(text.contains("mqa_relay_http_connections 1"), "{text}");
        assert!(text.contains("mqa_relay_http_connections_closed_for_room_total 1"));
    }

    #[test]
    fn attempts_count_by_target_and_outcome() {
        let m = Metrics::new();
        m.attempt("kitchen-slack", "retry");
        m.attempt("kitchen-slack", "delivered");
        m.delivered_after("kitchen-slack", 0.2);
        let text = m.encode();
        assert!(text.contains(r#"mqa_relay_delivery_attempts_total{target="kitchen-slack"} 2"#));
        assert!(
            text.contains(
                r#"mqa_relay_deliveries_total{target="kitchen-slack",outcome="retry"} 1"#
            )
        );
        assert!(
            text.contains(r#"mqa_relay_delivery_latency_seconds_count{target="kitchen-slack"} 1"#)
        );
    }
}

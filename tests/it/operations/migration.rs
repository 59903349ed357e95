//! A data directory written by the previous release opens, migrates and carries on.
//!
//! `tests/fixtures/store/v3-relay.db` was written by the relay at commit 691759b (schema
//! version 3, the sqlx engine) with the rules below, then stopped with SIGTERM: three events,
//! the two audit events delivered to `erp`, the rejected corrective action still pending for
//! `down` after four failed attempts (its URL was a closed port).

use mqa_relay::store::DeliveryState;

use crate::support::providers::WebhookReceiver;
use crate::support::relay::{Spec, numbered, spawn_relay, wait_deliveries, webhook_target};
use crate::support::wait::{eventually, sample};

const FIXTURE: &[u8] = include_bytes!("../../fixtures/store/v3-relay.db");
const EXPIRED: &str = "01a236d1-e000-73c6-9c9a-2fc1a064e94e";
const COMPLETED: &str = "01a236d1-e017-7680-b0fe-890bf03cf72f";
const REJECTED: &str = "01a236d1-e038-7059-90be-845d4fa89db3";

#[tokio::test]
async fn a_version_3_store_keeps_its_events_sends_what_was_pending_once_and_nothing_twice() {
    let erp = WebhookReceiver::start().await;
    let down = WebhookReceiver::start().await;
    let data = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(data.path().join("relay.db"), FIXTURE).expect("the fixture is copied");
    let body = format!(
        "targets:\n  erp: {}\n  down: {}\nrules:\n  \
         - name: everything-to-erp\n    events: [AUDIT_EXPIRED, AUDIT_COMPLETED]\n    notify: [erp]\n  \
         - name: rejections-to-down\n    events: [CORRECTIVE_ACTION_REJECTED]\n    notify: [down]\n",
        webhook_target(&erp.url(), ""),
        webhook_target(&down.url(), ""),
    );
    let relay = spawn_relay(Spec {
        // The fixture's events are older than any default window.
        server: "  dedup_window: 3650d\n",
        body: &body,
        data_dir: Some(data.path().to_path_buf()),
        ..Spec::default()
    })
    .await;

    // The pending delivery goes out, once, with its earlier attempts counted.
    let pending = wait_deliveries(relay.store(), REJECTED, 1, DeliveryState::Delivered).await;
    assert_eq!(pending[0].attempts, 5, "{pending:?}");
    let sent = eventually("the pending message", async || {
        let got = down.received();
        (!got.is_empty()).then_some(got)
    })
    .await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].json()["event"], "CORRECTIVE_ACTION_REJECTED");

    // What was delivered before stays delivered, with its history.
    for id in [EXPIRED, COMPLETED] {
        let done = relay.deliveries(id).await;
        assert_eq!(done.len(), 1, "{id}: {done:?}");
        assert_eq!(done[0].state, DeliveryState::Delivered, "{id}");
        assert_eq!(done[0].attempts, 1, "{id}");
    }
    let counts = relay.counts().await;
    assert_eq!((counts.events, counts.unrouted), (3, 0), "{counts:?}");

    // The dedup keys survived: MonitorQA retrying the old event gets the old id.
    assert_eq!(relay.ack(&sample("audit_expired")).await, EXPIRED);

    // The admin API reads the migrated rows.
    let listed = relay.admin("GET", &format!("/api/events/{REJECTED}")).await;
    assert_eq!(listed.status, 200, "{listed:?}");
    assert_eq!(listed.body["event"]["event"], "CORRECTIVE_ACTION_REJECTED");
    assert_eq!(listed.body["matched_rules"][0], "rejections-to-down");
    assert_eq!(
        listed.body["deliveries"][0]["history"]
            .as_array()
            .map(Vec::len),
        Some(5)
    );

    // A new event takes the new path beside the old rows, and nothing old was sent again.
    let fresh = relay.ack(&numbered(1)).await;
    wait_deliveries(relay.store(), &fresh, 1, DeliveryState::Delivered).await;
    assert_eq!(erp.received().len(), 1, "only the new event reached erp");
    assert_eq!(down.received().len(), 1);
}

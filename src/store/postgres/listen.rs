//! Wake-ups between relays: every transaction that gives a lane new work (deliveries routed, a
//! dead letter replayed, a claim released) sends a notification `'<sender> <target>'`, which
//! PostgreSQL delivers to every listening relay once the transaction commits. Notification
//! channels are database-wide, so the channel is named after the relays' schema
//! (`mqa_relay_<md5 of the schema name>`): relays of another schema in the same database are
//! not woken by these. A relay listens
//! on a connection of its own and hands each notification from another relay to its loops as a
//! [`Nudge`]; its own are skipped (it woke its lanes itself).
//!
//! A notification is a hint, never the only way work is found: the loops still look at their
//! queues every few seconds (a lease that ran out sends no notification). When the listening
//! connection is lost the relay connects again, and says [`Nudge::Everything`] once it listens
//! again, because notifications sent meanwhile are gone.

use std::time::Duration;

use tokio::sync::broadcast;
use tokio_postgres::AsyncMessage;
use tokio_util::sync::CancellationToken;

use super::{DatabaseUrl, cause};
use crate::store::Nudge;

/// The channel the relays of the connection's schema notify and listen on.
const CHANNEL: &str = "'mqa_relay_' || md5(current_schema())";

/// Notifies the schema's channel of work in the lanes `$2` (a text array), sent by `$1`;
/// PostgreSQL delivers it when the transaction commits, and not at all when it rolls back.
pub(super) const NOTIFY: &str = "SELECT pg_notify('mqa_relay_' || md5(current_schema()), \
     $1 || ' ' || target) FROM unnest($2::text[]) AS target";

/// Notifications held for a slow reader before it is told [`Nudge::Everything`] instead.
pub(super) const BACKLOG: usize = 1024;

/// The pauses before connecting again, one per failure in a row; the last one repeats.
const PAUSES: [Duration; 3] = [
    Duration::from_millis(200),
    Duration::from_secs(1),
    Duration::from_secs(5),
];

/// How long the idle listening connection may go without a sign of life before it counts as
/// lost (TCP keepalives: it sends nothing of its own).
const KEEPALIVE_IDLE: Duration = Duration::from_secs(15);

/// What a notification's payload says, seen by the relay `me`: `None` for its own and for a
/// payload no relay sends.
pub(super) fn nudge_of(payload: &str, me: &str) -> Option<Nudge> {
    let (sender, target) = payload.split_once(' ')?;
    (sender != me && !target.is_empty()).then(|| Nudge::Lane(target.to_owned()))
}

/// Starts listening for the relay `me` until `stop`; the nudges go to `nudges`.
pub(super) fn start(
    url: DatabaseUrl,
    me: String,
    nudges: broadcast::Sender<Nudge>,
    stop: CancellationToken,
) {
    tokio::spawn(async move {
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = listen(&url, &me, &nudges) => {}
        }
    });
}

/// Listens, connecting again after every loss, forever.
async fn listen(url: &DatabaseUrl, me: &str, nudges: &broadcast::Sender<Nudge>) {
    let mut failures = 0usize;
    loop {
        match listen_once(url, me, nudges, &mut failures).await {
            Ok(()) => {
                tracing::warn!(store = %url, "the connection that listens for other relays ended; connecting again")
            }
            Err(why) => {
                tracing::warn!(store = %url, error = %why, "cannot listen for other relays' work; trying again")
            }
        }
        let pause = PAUSES[failures.min(PAUSES.len() - 1)];
        failures += 1;
        tokio::time::sleep(pause).await;
    }
}

/// One listening connection, until it ends. `failures` is reset once it listens.
async fn listen_once(
    url: &DatabaseUrl,
    me: &str,
    nudges: &broadcast::Sender<Nudge>,
    failures: &mut usize,
) -> Result<(), String> {
    let mut config = url.config.clone();
    config.keepalives(true).keepalives_idle(KEEPALIVE_IDLE);
    let (client, mut connection) = config
        .connect(url.tls.clone())
        .await
        .map_err(|e| cause(&e))?;
    let subscribe = async {
        let channel: String = client
            .query_one(&format!("SELECT {CHANNEL}"), &[])
            .await?
            .get(0);
        // Hex digits after a fixed prefix: a plain identifier.
        client.batch_execute(&format!("LISTEN {channel}")).await
    };
    tokio::pin!(subscribe);
    let mut listening = false;
    loop {
        tokio::select! {
            subscribed = &mut subscribe, if !listening => {
                subscribed.map_err(|e| cause(&e))?;
                listening = true;
                *failures = 0;
                // Whatever was notified before this connection listened is not coming.
                let _ = nudges.send(Nudge::Everything);
            }
            message = std::future::poll_fn(|cx| connection.poll_message(cx)) => match message {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    if let Some(nudge) = nudge_of(n.payload(), me) {
                        let _ = nudges.send(nudge);
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(cause(&e)),
                None => return Ok(()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The payload [`NOTIFY`] makes.
    fn payload(sender: &str, target: &str) -> String {
        format!("{sender} {target}")
    }

    #[test]
    fn the_notification_goes_to_the_channel_relays_listen_on() {
        assert!(NOTIFY.contains(&format!("pg_notify({CHANNEL},")));
    }

    #[test]
    fn a_payload_names_its_sender_and_the_lane() {
        let text = payload("relay-a", "kitchen slack");
        assert_eq!(
            nudge_of(&text, "relay-b"),
            Some(Nudge::Lane("kitchen slack".into()))
        );
    }

    #[test]
    fn a_relay_skips_its_own_notifications_and_ones_no_relay_sends() {
        assert_eq!(nudge_of(&payload("relay-a", "kitchen"), "relay-a"), None);
        assert_eq!(nudge_of("relay-a", "relay-b"), None);
        assert_eq!(nudge_of("relay-a ", "relay-b"), None);
    }
}

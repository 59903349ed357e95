//! Graceful shutdown of the real binary: SIGTERM while a send is in flight. The send
//! completes and is recorded, an event whose request straddles the signal is refused with 503
//! (MonitorQA retries it), the process exits 0, and the restarted relay sends nothing again.

use std::time::Duration;

use mqa_relay::store::DeliveryState;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::process::{RelayProcess, open_store};
use crate::support::providers::WebhookReceiver;
use crate::support::relay::{
    TOKEN, deliveries_of, numbered, seq_of, wait_deliveries, within, write_file,
};
use crate::support::wait::eventually;

#[tokio::test]
async fn sigterm_finishes_the_send_in_flight_refuses_new_events_and_exits_0() {
    let receiver = WebhookReceiver::start_slow(Duration::from_millis(1500)).await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let rules = format!(
        "server:\n  token: {TOKEN}\n\
         targets:\n  erp: {{ kind: webhook, url: \"{}\", timeout: 5s, retry: {{ initial: 100ms }} }}\n\
         rules:\n  - name: all\n    events: \"*\"\n    notify: [erp]\n",
        receiver.url()
    );
    write_file(&dir.path().join("rules.yaml"), &rules);
    let mut relay = RelayProcess::start(dir.path(), 1, TOKEN).await;
    let in_flight = relay.ack(&numbered(1)).await;
    eventually("the send to be in flight", async || {
        (!receiver.received().is_empty()).then_some(())
    })
    .await;

    // An event whose request has begun (headers and half the body) when the signal comes.
    let mut straddling = PartialPost::begin(&relay.addr, &numbered(2)).await;
    relay.signal("TERM");
    relay.wait_log("shutting down", 1).await;
    let (status, head) = straddling.finish().await;
    assert_eq!(status, 503, "an event completed during the drain: {head}");
    assert!(head.contains("draining"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("retry-after:"),
        "503 without Retry-After: {head}"
    );
    // A new connection during the drain is not acknowledged either.
    if let Ok((status, body)) = relay.post(&numbered(3)).await {
        assert_eq!(status, 503, "a new event during the drain: {body}");
    }

    assert_eq!(relay.wait_exit().await, Some(0), "{}", relay.log_text());
    let arrivals = receiver.received();
    assert_eq!(arrivals.len(), 1);
    assert!(arrivals[0].answered, "the in-flight send was cut off");
    let store = open_store(&dir.path().join("data")).await;
    let recorded = deliveries_of(&store, &in_flight).await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].state, DeliveryState::Delivered);
    assert_eq!(recorded[0].attempts, 1);
    assert_eq!(
        store.counts().await.expect("counts").events,
        1,
        "an event refused during the drain was stored"
    );

    let mut relay = RelayProcess::start(dir.path(), 2, TOKEN).await;
    let after = relay.ack(&numbered(4)).await;
    // The lane is FIFO: once the new event is delivered, anything left over would have gone.
    wait_deliveries(&store, &after, 1, DeliveryState::Delivered).await;
    let seqs: Vec<u64> = receiver
        .received()
        .iter()
        .map(|a| seq_of(&a.json()))
        .collect();
    assert_eq!(seqs, [1, 4], "nothing was sent again after the restart");
    relay.signal("TERM");
    assert_eq!(relay.wait_exit().await, Some(0));
    store.close().await;
}

/// A webhook request written by hand, so that it can stop halfway through its body.
struct PartialPost {
    stream: TcpStream,
    rest: Vec<u8>,
}

impl PartialPost {
    /// Sends a keep-alive request and reads its answer (so the server has accepted and is
    /// serving the connection), then the headers and half the body of the webhook request.
    async fn begin(addr: &str, event: &serde_json::Value) -> PartialPost {
        let mut stream = TcpStream::connect(addr)
            .await
            .expect("connect to the relay");
        let probe = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        stream.write_all(probe.as_bytes()).await.expect("write");
        let answer = read_answer(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let body = serde_json::to_vec(event).expect("JSON");
        let head = format!(
            "POST /webhook/{TOKEN} HTTP/1.1\r\nHost: {addr}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let half = body.len() / 2;
        stream.write_all(head.as_bytes()).await.expect("write");
        stream.write_all(&body[..half]).await.expect("write");
        // No signal says the server has parsed the headers; give it a moment.
        tokio::time::sleep(Duration::from_millis(300)).await;
        PartialPost {
            stream,
            rest: body[half..].to_vec(),
        }
    }

    /// Sends the rest of the body; returns the answer's status and head.
    async fn finish(&mut self) -> (u16, String) {
        self.stream.write_all(&self.rest).await.expect("write");
        let head = read_answer(&mut self.stream).await;
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, head)
    }
}

/// Reads one whole answer: status line, headers and body (by Content-Length).
async fn read_answer(stream: &mut TcpStream) -> String {
    within("an HTTP answer", Duration::from_secs(10), async {
        let mut buffer = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&buffer).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if body.len() >= length {
                    return text;
                }
            }
            let n = stream.read(&mut chunk).await.expect("read the answer");
            assert!(n > 0, "the connection closed before the answer: {text}");
            buffer.extend_from_slice(&chunk[..n]);
        }
    })
    .await
}

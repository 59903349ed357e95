//! The accept loop over real sockets on 127.0.0.1: slow clients are cut off, shutdown drains
//! in-flight requests but not past its deadline, and a flood of idle connections neither
//! exhausts the file descriptors nor keeps a webhook out (in-process, and the real binary
//! under a low open-file limit).

use std::net::SocketAddr;
use std::time::Duration;

use super::*;
use mqa_relay::server::ServerOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The longest any test waits for the server to act.
const BOUND: Duration = Duration::from_secs(15);
/// The pace of a trickling client.
const TRICKLE: Duration = Duration::from_millis(100);

/// Reads until the server closes the connection; `None` if it is still open after `BOUND`.
async fn read_until_closed(stream: &mut TcpStream) -> Option<String> {
    let mut seen = Vec::new();
    let read_all = async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(BOUND, read_all).await.ok()?;
    Some(String::from_utf8_lossy(&seen).into_owned())
}

/// Sends one request with `Connection: close` and returns the whole answer.
async fn exchange(addr: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    read_until_closed(&mut stream)
        .await
        .expect("the server answers and closes")
}

/// Reads until the interim `100 Continue`, which hyper sends once the handler reads the body:
/// proof that the request is in flight.
async fn await_continue(stream: &mut TcpStream) {
    let mut seen = Vec::new();
    let wait = async {
        let mut byte = [0u8; 1];
        while !seen.ends_with(b"\r\n\r\n") {
            let n = stream.read(&mut byte).await.expect("read interim answer");
            assert_eq!(n, 1, "the connection closed before 100 Continue");
            seen.push(byte[0]);
        }
    };
    tokio::time::timeout(BOUND, wait)
        .await
        .expect("100 Continue arrives");
    assert!(seen.starts_with(b"HTTP/1.1 100"), "{seen:?}");
}

/// Sends headers (with `Expect: 100-continue`) for a body that is not sent yet.
async fn start_event_post(addr: SocketAddr, body_len: usize) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /webhook/{TOKEN} HTTP/1.1\r\nHost: relay.test\r\nContent-Type: application/json\r\n\
         Expect: 100-continue\r\nContent-Length: {body_len}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("write head");
    await_continue(&mut stream).await;
    stream
}

#[tokio::test]
async fn a_client_sending_its_headers_a_byte_at_a_time_is_cut_off() {
    let t = relay().await;
    let opts = ServerOptions {
        header_read_timeout: Duration::from_secs(1),
        ..ServerOptions::default()
    };
    let server = spawn_server(t.relay.clone(), opts).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream
        .write_all(b"POST /webhook HTTP/1.1\r\nX-Slow: ")
        .await
        .unwrap();
    let mut closed = false;
    let mut buf = [0u8; 1024];
    for _ in 0..(BOUND.as_millis() / TRICKLE.as_millis()) {
        if stream.write_all(b"a").await.is_err() {
            closed = true;
            break;
        }
        match tokio::time::timeout(TRICKLE, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(_)) | Err(_) => {}
        }
    }
    assert!(closed, "the server kept a trickling header open");
}

#[tokio::test]
async fn a_trickling_body_is_answered_408() {
    let t = relay().await;
    let opts = ServerOptions {
        request_timeout: Duration::from_secs(1),
        ..ServerOptions::default()
    };
    let server = spawn_server(t.relay.clone(), opts).await;
    let mut stream = start_event_post(server.addr, 100_000).await;
    let trickle = async {
        for _ in 0..(BOUND.as_millis() / TRICKLE.as_millis()) {
            if stream.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(TRICKLE).await;
        }
    };
    // Trickling stops when the server stops reading; what matters is the answer.
    let _ = tokio::time::timeout(Duration::from_secs(2), trickle).await;
    let answer = read_until_closed(&mut stream)
        .await
        .expect("the server closes the connection");
    assert!(answer.contains("408 Request Timeout"), "{answer}");
    assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_refused_413() {
    let t = relay_with(&format!("{{ token: {TOKEN}, max_body: 64 }}")).await;
    let server = spawn_server(t.relay.clone(), ServerOptions::default()).await;
    let chunk = "x".repeat(40);
    let request = format!(
        "POST /webhook/{TOKEN} HTTP/1.1\r\nHost: relay.test\r\nConnection: close\r\n\
         Transfer-Encoding: chunked\r\n\r\n28\r\n{chunk}\r\n28\r\n{chunk}\r\n0\r\n\r\n"
    );
    let answer = exchange(server.addr, &request).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert_eq!(t.relay.store.counts().await.unwrap().events, 0);
}

#[tokio::test]
async fn garbage_on_the_wire_does_not_stop_the_server() {
    let t = relay().await;
    let server = spawn_server(t.relay.clone(), ServerOptions::default()).await;
    for junk in [
        &b"\x00\x01\x02 nonsense\r\n\r\n"[..],
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
    ] {
        let mut stream = TcpStream::connect(server.addr).await.expect("connect");
        let _ = stream.write_all(junk).await;
        read_until_closed(&mut stream)
            .await
            .expect("the server closes a garbage connection");
    }
    let answer = exchange(
        server.addr,
        "GET /healthz HTTP/1.1\r\nHost: relay.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_event_finish_and_stops_accepting() {
    let t = relay().await;
    let server = spawn_server(t.relay.clone(), ServerOptions::default()).await;
    let mut stream = start_event_post(server.addr, AUDIT_EXPIRED.len()).await;
    server.shutdown.cancel();
    stream.write_all(AUDIT_EXPIRED.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut stream)
        .await
        .expect("the server answers and closes");
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    tokio::time::timeout(BOUND, server.task)
        .await
        .expect("serve returns once drained")
        .expect("the server task does not panic")
        .expect("serve ends without error");
    assert!(TcpStream::connect(server.addr).await.is_err());
    assert_eq!(t.relay.store.counts().await.unwrap().events, 1);
}

#[tokio::test]
async fn the_drain_deadline_closes_a_client_stalled_mid_body() {
    let t = relay().await;
    let opts = ServerOptions {
        request_timeout: Duration::from_secs(600),
        drain_deadline: Duration::from_secs(1),
        ..ServerOptions::default()
    };
    let server = spawn_server(t.relay.clone(), opts).await;
    let mut stream = start_event_post(server.addr, AUDIT_EXPIRED.len()).await;
    server.shutdown.cancel();
    tokio::time::timeout(BOUND, server.task)
        .await
        .expect("serve returns at the drain deadline")
        .expect("the server task does not panic")
        .expect("serve ends without error");
    read_until_closed(&mut stream)
        .await
        .expect("the stalled connection is closed");
}

/// Opens `n` connections that send nothing.
async fn idle_connections(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut idle = Vec::with_capacity(n);
    for _ in 0..n {
        idle.push(TcpStream::connect(addr).await.expect("connect"));
    }
    idle
}

/// Whether the server has closed `stream` (read gives end of file or an error) within `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(limit, stream.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

fn event_request() -> String {
    format!(
        "POST /webhook/{TOKEN} HTTP/1.1\r\nHost: relay.test\r\nContent-Type: application/json\r\n\
         Connection: close\r\nContent-Length: {}\r\n\r\n{AUDIT_EXPIRED}",
        AUDIT_EXPIRED.len()
    )
}

#[tokio::test]
async fn idle_connections_beyond_the_cap_are_closed_oldest_first_to_let_a_webhook_in() {
    let t = relay().await;
    let opts = ServerOptions {
        max_connections: Some(8),
        ..ServerOptions::default()
    };
    let server = spawn_server(t.relay.clone(), opts).await;
    let mut idle = idle_connections(server.addr, 40).await;
    // Well under the 5 s header timeout, which would close idle connections anyway.
    let answer = tokio::time::timeout(
        Duration::from_secs(3),
        exchange(server.addr, &event_request()),
    )
    .await
    .expect("the webhook is answered while 40 idle connections wait");
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    let mut closed = Vec::new();
    for stream in &mut idle {
        closed.push(closed_within(stream, Duration::from_millis(300)).await);
    }
    let n = closed.iter().filter(|c| **c).count();
    assert!(closed[..n].iter().all(|c| *c), "oldest first: {closed:?}");
    // One per connection accepted beyond the cap (32 idle ones and the webhook's), and one
    // more so that a slot is ready for the next client; the 6 youngest idle ones stay.
    assert_eq!(n, 34, "{closed:?}");
    let metrics = t.relay.metrics.encode();
    assert!(
        metrics.contains("mqa_relay_http_connection_limit 8"),
        "{metrics}"
    );
    assert!(
        metrics.contains("mqa_relay_http_connections_closed_for_room_total 34"),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_real_binary_under_a_low_open_file_limit_answers_a_webhook_through_a_flood_of_idle_connections()
 {
    use crate::support::process::RelayProcess;

    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("rules.yaml"),
        "server:\n  token: ${RELAY_TOKEN}\n\
         targets:\n  erp:\n    kind: webhook\n    url: http://127.0.0.1:9/erp\n\
         rules:\n  - name: everything\n    events: \"*\"\n    notify: [erp]\n",
    )
    .expect("write rules");
    // 256 descriptors: a cap of 192 connections, and 400 idle ones would exhaust them.
    let relay = RelayProcess::start_with_open_files(dir.path(), 1, TOKEN, 256).await;
    let addr: SocketAddr = relay.addr.parse().expect("the relay's address");
    let event: serde_json::Value = serde_json::from_str(AUDIT_EXPIRED).expect("a sample event");
    // The kernel's backlog holds only so many connections: without room made for them, the
    // last connects wait for the first idle ones to time out (5 s), and so does the webhook.
    let flood_then_webhook = async {
        let idle = idle_connections(addr, 400).await;
        (idle, relay.post(&event).await)
    };
    let (_idle, answer) = tokio::time::timeout(Duration::from_secs(4), flood_then_webhook)
        .await
        .expect("the flood and the webhook are through well within MonitorQA's 10 s");
    let (status, body) = answer.expect("the relay answers");
    assert_eq!(status, 202, "{body}");
    let log = relay.log_text();
    let failures = log.matches("accept failed").count();
    assert!(failures < 5, "{failures} accept failures logged:\n{log}");
    let metrics = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("metrics text");
    assert!(
        metrics.contains("mqa_relay_http_connection_limit 192"),
        "{metrics}"
    );
}

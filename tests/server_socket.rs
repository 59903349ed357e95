//! The accept loop over real sockets on 127.0.0.1: slow clients are cut off, shutdown drains
//! in-flight requests but not past its deadline.

mod server_common;

use std::net::SocketAddr;
use std::time::Duration;

use mqa_relay::server::ServerOptions;
use server_common::*;
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
    let mut config = server_config(Some(TOKEN), None);
    config.max_body_bytes = 64;
    let t = relay_with(config).await;
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

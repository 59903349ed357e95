//! The access log over a real socket: one line per request, and never a token, at TRACE level.
//!
//! The capture of `support::logs` holds the lines of every test of the binary (one global
//! subscriber: tracing caches per-callsite interest process-wide), so each request is found by
//! its client's address, a port bound for it alone.

use std::net::SocketAddr;
use std::time::Duration;

use super::*;
use mqa_relay::server::ServerOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

const BOUND: Duration = Duration::from_secs(15);

/// Sends one request with `Connection: close` from a port of its own, waits until the server
/// closes, and returns the client's address (`remote=` in the access line).
async fn exchange(addr: SocketAddr, request: &str) -> SocketAddr {
    let socket = TcpSocket::new_v4().expect("a socket");
    // A port taken by bind is not shared with other connections, as a connect's may be.
    socket
        .bind("127.0.0.1:0".parse().expect("an address"))
        .expect("bind a loopback port");
    let mut stream = socket.connect(addr).await.expect("connect");
    let client = stream.local_addr().expect("the client's address");
    stream.write_all(request.as_bytes()).await.expect("write");
    let read_all = async {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    };
    tokio::time::timeout(BOUND, read_all)
        .await
        .expect("the server answers and closes");
    client
}

/// The access lines of requests from `client`.
fn access_lines(text: &str, client: SocketAddr) -> Vec<&str> {
    let remote = format!("remote={client}");
    text.lines()
        .filter(|l| l.contains("mqa_relay::access"))
        .filter(|l| l.split_whitespace().any(|word| word == remote))
        .collect()
}

fn post(path: &str, extra_headers: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: relay.test\r\nConnection: close\r\n\
         Content-Type: application/json\r\n{extra_headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn the_access_log_shows_each_request_but_never_a_token() {
    let logs = crate::support::logs::logs();

    let t = relay().await;
    let server = spawn_server(t.relay.clone(), ServerOptions::default()).await;
    let bearer = format!("Authorization: Bearer {TOKEN}\r\n");
    let admin = format!("Authorization: Bearer {ADMIN_TOKEN}\r\n");
    let requests = [
        post(&format!("/webhook/{TOKEN}"), "", AUDIT_EXPIRED),
        post(&format!("/webhook?source=mqa&token={TOKEN}"), "", "{"),
        post("/webhook", &bearer, "[]"),
        post(&format!("/webhooks/{TOKEN}"), "", AUDIT_EXPIRED),
        post("/-/reload", &admin, ""),
        post(&format!("/{TOKEN}"), "", "{}"),
    ];
    let mut clients = Vec::new();
    for request in &requests {
        clients.push(exchange(server.addr, request).await);
    }
    server.shutdown.cancel();
    let _ = tokio::time::timeout(BOUND, server.task).await;

    let text = logs.text();
    assert!(!text.contains(TOKEN), "the webhook token leaked:\n{text}");
    assert!(
        !text.contains(ADMIN_TOKEN),
        "the admin token leaked:\n{text}"
    );
    let access: Vec<&str> = clients
        .iter()
        .map(|client| match access_lines(&text, *client)[..] {
            [line] => line,
            ref lines => panic!("{} access lines from {client}: {lines:#?}", lines.len()),
        })
        .collect();
    let first = access[0];
    for part in [
        "method=POST",
        "path=/webhook/<redacted>",
        "status=202",
        "duration_ms=",
        "remote=127.0.0.1:",
    ] {
        assert!(first.contains(part), "{part} missing in: {first}");
    }
    assert!(
        access[1].contains("path=/webhook?source=mqa&token=<redacted>"),
        "{}",
        access[1]
    );
    assert!(access[3].contains("status=404"), "{}", access[3]);
    assert!(access[5].contains("path=/<redacted>"), "{}", access[5]);
}

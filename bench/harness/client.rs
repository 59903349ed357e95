//! A minimal HTTP/1.1 keep-alive client for the load generator: one pre-formatted POST per
//! call, the status read back, the body skipped. Cheaper per request than a full client, so
//! the generator takes as little as possible of the CPU the server under test needs.

use std::net::SocketAddr;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Connection {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Connection {
    pub fn new(addr: SocketAddr) -> Connection {
        Connection {
            addr,
            stream: None,
            buf: Vec::with_capacity(4096),
        }
    }

    /// POSTs `body` to `path` and returns the status code. On any error the connection is
    /// dropped and the next call opens a new one.
    pub async fn post(&mut self, path: &str, body: &[u8]) -> Result<u16> {
        let result = self.try_post(path, body).await;
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    async fn try_post(&mut self, path: &str, body: &[u8]) -> Result<u16> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.addr).await?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
        }
        let Some(stream) = self.stream.as_mut() else {
            bail!("no connection");
        };
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            self.addr,
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        stream.write_all(&request).await?;
        self.buf.clear();
        read_response(stream, &mut self.buf).await
    }
}

/// Reads one response; returns its status. Handles `content-length` and chunked bodies.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<u16> {
    let head_end = loop {
        if let Some(at) = find(buf, b"\r\n\r\n") {
            break at + 4;
        }
        read_more(stream, buf).await?;
    };
    let head = std::str::from_utf8(&buf[..head_end]).context("response head is not UTF-8")?;
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no status code")?;
    let lower = head.to_ascii_lowercase();
    if let Some(length) = header(&lower, "content-length") {
        let length: usize = length.parse().context("bad content-length")?;
        while buf.len() < head_end + length {
            read_more(stream, buf).await?;
        }
    } else if header(&lower, "transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        while find(&buf[head_end..], b"0\r\n\r\n").is_none() {
            read_more(stream, buf).await?;
        }
    }
    Ok(status)
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<()> {
    let mut chunk = [0u8; 4096];
    let n = stream.read(&mut chunk).await?;
    if n == 0 {
        bail!("connection closed by the server");
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == name).then(|| value.trim())
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

//! The durable 202 server (`mqa-bench durable-server --dir D`): answers 202 `{}` only once the
//! request body is appended to a file in D and `fdatasync`ed, many bodies sharing one write and
//! one sync (group commit). No parsing, no database: the fastest any server can durably
//! acknowledge on this disk and these cores.

use std::convert::Infallible;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender};

use anyhow::Result;
use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use warp::Filter;
use warp::http::StatusCode;

/// One body waiting to be made durable, and where to say whether it was.
type Pending = (Bytes, oneshot::Sender<bool>);

/// Prints its address on stdout, then serves until killed; every body goes to `D/bodies.log`.
pub async fn run_durable_server(dir: &Path) -> Result<()> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("bodies.log"))?;
    let (tx, rx) = std::sync::mpsc::channel::<Pending>();
    std::thread::spawn(move || write_loop(file, rx));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on {}", listener.local_addr()?);
    let route = warp::body::bytes().and_then(move |body: Bytes| {
        let tx = tx.clone();
        async move { Ok::<_, Infallible>(durable_reply(&tx, body).await) }
    });
    warp::serve(route).incoming(listener).run().await;
    Ok(())
}

/// Queues `body` for the writer and waits for its sync: 202 once durable, 500 otherwise.
async fn durable_reply(tx: &Sender<Pending>, body: Bytes) -> warp::reply::WithStatus<String> {
    let (done, synced) = oneshot::channel();
    let durable = tx.send((body, done)).is_ok() && synced.await.unwrap_or(false);
    let status = if durable {
        StatusCode::ACCEPTED
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    warp::reply::with_status(String::from("{}"), status)
}

/// The single writer: takes every body queued, writes them with one `write_all`, one
/// `sync_data`, then answers all of them. Ends when every sender is gone.
fn write_loop(mut file: File, rx: Receiver<Pending>) {
    let mut buf = Vec::new();
    while let Ok(first) = rx.recv() {
        let batch: Vec<Pending> = std::iter::once(first).chain(rx.try_iter()).collect();
        buf.clear();
        for (body, _) in &batch {
            buf.extend_from_slice(body);
            buf.push(b'\n');
        }
        let durable = file.write_all(&buf).and_then(|()| file.sync_data()).is_ok();
        for (_, done) in batch {
            let _ = done.send(durable);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_queued_body_is_written_and_answered_once_synced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bodies.log");
        let file = File::create(&path).unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<Pending>();
        let replies: Vec<_> = ["a", "b", "c"]
            .into_iter()
            .map(|body| {
                let (done, synced) = oneshot::channel();
                tx.send((Bytes::from(body), done)).unwrap();
                synced
            })
            .collect();
        drop(tx);
        write_loop(file, rx);
        for synced in replies {
            assert_eq!(synced.blocking_recv(), Ok(true));
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\nb\nc\n");
    }
}

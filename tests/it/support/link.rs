//! A network link to a real server that the test can take down and bring back: a TCP relay on
//! 127.0.0.1 that forwards every connection to the server, until [`Link::go_down`] cuts every
//! connection through it and refuses new ones (they are closed as soon as they open, as a
//! database that is restarting or unreachable closes them), and [`Link::come_up`] lets them
//! through again. The server itself (the machine's PostgreSQL) is never touched.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// The link: its address, and whether it is up.
pub struct Link {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: tokio::task::JoinHandle<()>,
}

struct Shared {
    down: AtomicBool,
    /// Cancelled when the link goes down: every connection of this up period ends.
    up_period: std::sync::Mutex<CancellationToken>,
    /// Connections closed at once because the link was down.
    refused: AtomicU64,
}

impl Link {
    /// A link to `server`, up.
    pub async fn to(server: SocketAddr) -> Link {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let addr = listener.local_addr().expect("its address");
        let shared = Arc::new(Shared {
            down: AtomicBool::new(false),
            up_period: std::sync::Mutex::new(CancellationToken::new()),
            refused: AtomicU64::new(0),
        });
        let accept = tokio::spawn(accept(listener, server, shared.clone()));
        Link {
            addr,
            shared,
            accept,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Cuts every connection through the link; new ones are closed until [`Link::come_up`].
    pub fn go_down(&self) {
        self.shared.down.store(true, Ordering::SeqCst);
        self.shared.period().cancel();
    }

    pub fn come_up(&self) {
        *self
            .shared
            .up_period
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = CancellationToken::new();
        self.shared.down.store(false, Ordering::SeqCst);
    }

    /// How many connections were closed because the link was down.
    pub fn refused(&self) -> u64 {
        self.shared.refused.load(Ordering::SeqCst)
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.accept.abort();
        self.shared.period().cancel();
    }
}

impl Shared {
    fn period(&self) -> CancellationToken {
        self.up_period
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

async fn accept(listener: TcpListener, server: SocketAddr, shared: Arc<Shared>) {
    while let Ok((mut client, _)) = listener.accept().await {
        if shared.down.load(Ordering::SeqCst) {
            shared.refused.fetch_add(1, Ordering::SeqCst);
            drop(client);
            continue;
        }
        let period = shared.period();
        tokio::spawn(async move {
            let Ok(mut upstream) = TcpStream::connect(server).await else {
                return;
            };
            tokio::select! {
                _ = period.cancelled() => {}
                _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
            }
        });
    }
}

//! A webhook receiver that takes its time: it records each JSON body when it arrives, waits
//! a set delay, then answers `200`. While it waits the relay's send is in flight, which is the
//! moment crash and shutdown tests need to catch. (The scriptable mocks of `support`
//! answer at once or never.)

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};
use warp::Filter;

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub body: Value,
    /// Whether the answer was sent (false while waiting, or if the client went away).
    pub answered: bool,
}

/// A running slow receiver. Stops when dropped.
pub struct SlowReceiver {
    addr: SocketAddr,
    arrivals: Arc<Mutex<Vec<Arrival>>>,
    task: tokio::task::JoinHandle<()>,
}

impl SlowReceiver {
    /// Starts on 127.0.0.1, on a free port; every answer comes `delay` after its request.
    pub async fn start(delay: Duration) -> SlowReceiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let arrivals: Arc<Mutex<Vec<Arrival>>> = Arc::default();
        let state = arrivals.clone();
        let route = warp::post()
            .and(warp::body::json())
            .then(move |body: Value| {
                let state = state.clone();
                async move {
                    let index = {
                        let mut arrivals = lock(&state);
                        arrivals.push(Arrival {
                            body,
                            answered: false,
                        });
                        arrivals.len() - 1
                    };
                    tokio::time::sleep(delay).await;
                    lock(&state)[index].answered = true;
                    warp::reply::json(&json!({"received": true}))
                }
            });
        let task = tokio::spawn(warp::serve(route).incoming(listener).run());
        SlowReceiver {
            addr,
            arrivals,
            task,
        }
    }

    /// The URL to configure a webhook target with.
    pub fn url(&self) -> String {
        format!("http://{}/hooks/slow", self.addr)
    }

    /// Every request so far, in order of arrival.
    pub fn arrivals(&self) -> Vec<Arrival> {
        lock(&self.arrivals).clone()
    }
}

impl Drop for SlowReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(state: &Mutex<Vec<Arrival>>) -> MutexGuard<'_, Vec<Arrival>> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

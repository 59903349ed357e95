//! A local stand-in for the MonitorQA API: `GET /audit/{id}` and `GET /corrective-actions/{id}`
//! on 127.0.0.1, answering as the real one is documented to (error shape
//! `{"error":{"message","code","details"}}`, 401 without the right `X-API-KEY`, 404 for unknown
//! ids). Replies can be scripted per id (429, 5xx, slow, odd bodies) and every request is
//! recorded so tests can count them.

#![allow(dead_code)] // each test binary uses a different part of it

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One scripted answer, used once, before the id is served normally.
#[derive(Debug, Clone, Copy)]
pub enum Reply {
    /// This status with the documented error body.
    Status(u16),
    /// 429, with `Retry-After: <value>` when given.
    TooManyRequests { retry_after: Option<&'static str> },
    /// Waits this long, then answers normally.
    Slow(Duration),
    /// 200 with this body as it is.
    Body(&'static str),
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub api_key: Option<String>,
}

#[derive(Default)]
struct State {
    api_key: String,
    audits: HashMap<String, Value>,
    actions: HashMap<String, Value>,
    scripts: HashMap<String, VecDeque<Reply>>,
    requests: Vec<Recorded>,
}

/// The running server; stops when dropped.
pub struct MockMonitorqa {
    pub base_url: String,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl MockMonitorqa {
    /// Starts a server on 127.0.0.1 (port 0) that accepts `api_key`.
    pub async fn start(api_key: &str) -> MockMonitorqa {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            api_key: api_key.to_string(),
            ..State::default()
        }));
        let task = tokio::spawn(accept_loop(listener, state.clone()));
        MockMonitorqa {
            base_url,
            state,
            task,
        }
    }

    pub fn add_audit(&self, id: &str, body: Value) {
        self.state().audits.insert(id.to_string(), body);
    }

    pub fn add_action(&self, id: &str, body: Value) {
        self.state().actions.insert(id.to_string(), body);
    }

    /// Answers for the next requests about `id`, one each, in order.
    pub fn script(&self, id: &str, replies: impl IntoIterator<Item = Reply>) {
        self.state()
            .scripts
            .entry(id.to_string())
            .or_default()
            .extend(replies);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }

    pub fn request_count(&self) -> usize {
        self.state().requests.len()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }
}

impl Drop for MockMonitorqa {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<Mutex<State>>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(req, state.clone()));
            // A client that gives up (timeout) ends the connection; that is expected.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    req: Request<Incoming>,
    state: Arc<Mutex<State>>,
) -> Result<Response<String>, Infallible> {
    let path = req.uri().path().to_string();
    let presented = req
        .headers()
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let id = path.rsplit('/').next().unwrap_or_default().to_string();
    let scripted = {
        let mut state = state.lock().unwrap();
        state.requests.push(Recorded {
            path: path.clone(),
            api_key: presented.clone(),
        });
        if presented.as_deref() != Some(state.api_key.as_str()) {
            return Ok(error(401, "Invalid API key"));
        }
        state.scripts.get_mut(&id).and_then(VecDeque::pop_front)
    };
    match scripted {
        Some(Reply::Status(code)) => return Ok(error(code, "Scripted failure")),
        Some(Reply::TooManyRequests { retry_after }) => {
            let mut response = error(429, "Too many requests");
            if let Some(value) = retry_after {
                response
                    .headers_mut()
                    .insert("retry-after", value.parse().unwrap());
            }
            return Ok(response);
        }
        Some(Reply::Body(body)) => return Ok(json_response(200, body.to_string())),
        Some(Reply::Slow(wait)) => tokio::time::sleep(wait).await,
        None => {}
    }
    Ok(serve(&path, &id, &state.lock().unwrap()))
}

fn serve(path: &str, id: &str, state: &State) -> Response<String> {
    let table = if path.starts_with("/audit/") && !path.starts_with("/audit/complete/") {
        &state.audits
    } else if path.starts_with("/corrective-actions/") {
        &state.actions
    } else {
        return error(404, "Not found");
    };
    match table.get(id) {
        Some(body) => json_response(200, body.to_string()),
        None => error(404, "Entity not found"),
    }
}

fn error(code: u16, message: &str) -> Response<String> {
    let body = json!({"error": {"message": message, "code": code, "details": null}});
    json_response(code, body.to_string())
}

fn json_response(code: u16, body: String) -> Response<String> {
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::from_u16(code).unwrap();
    response
        .headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    response
}

//! A scriptable HTTP server on 127.0.0.1 that records every request and answers through a
//! [`Provider`]: the behaviour of one real service.
//!
//! ```ignore
//! let slack = SlackWebhook::start().await;          // a Mock<SlackWebhook>
//! slack.script([Answer::status(503), Answer::retry_after(429, 2), Answer::ok()]);
//! // … point a target at slack.url() …
//! let requests = slack.received();                 // method, path, query, headers, body
//! ```
//!
//! Each request takes the next scripted [`Answer`]; when the script is empty the fallback
//! answers (by default [`Answer::ok`]: behave like the real service, validation included).
//! An answer may also come late ([`Answer::slow`]: the send is in flight meanwhile) or never
//! ([`Answer::hang`]).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use warp::Filter;
use warp::http::Response;

/// One request as the mock received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// The raw query string, without `?`.
    pub query: Option<String>,
    /// Header names are lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When the request arrived (its body read).
    pub at: Instant,
    /// Whether the answer went out: false while a slow answer waits, when it never comes, or
    /// when the client went away first.
    pub answered: bool,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (`Value::Null` if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// A query parameter's raw (still percent-encoded) value.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query.as_deref()?.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then(|| v.to_string())
        })
    }

    /// The fields of a `multipart/form-data` body, in order (empty if it is not one).
    pub fn form(&self) -> Vec<(String, String)> {
        let Some(boundary) = self
            .header("content-type")
            .filter(|ct| ct.starts_with("multipart/form-data"))
            .and_then(|ct| ct.split("boundary=").nth(1))
        else {
            return Vec::new();
        };
        parse_multipart(&self.text(), boundary.trim_matches('"'))
    }

    /// Every value of a form field.
    pub fn form_values(&self, name: &str) -> Vec<String> {
        self.form()
            .into_iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v)
            .collect()
    }
}

fn parse_multipart(body: &str, boundary: &str) -> Vec<(String, String)> {
    let delimiter = format!("--{boundary}");
    body.split(&delimiter)
        .skip(1)
        .take_while(|part| !part.starts_with("--"))
        .filter_map(|part| {
            let part = part.strip_prefix("\r\n")?;
            let (head, value) = part.split_once("\r\n\r\n")?;
            let name = head.split("name=\"").nth(1)?.split('"').next()?.to_string();
            Some((
                name,
                value.strip_suffix("\r\n").unwrap_or(value).to_string(),
            ))
        })
        .collect()
}

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn json(status: u16, body: &Value) -> Reply {
        Reply::empty(status)
            .header("content-type", "application/json; charset=utf-8")
            .body(body.to_string())
    }

    /// A plain-text body with the given content type.
    pub fn text(status: u16, content_type: &str, body: &str) -> Reply {
        Reply::empty(status)
            .header("content-type", content_type)
            .body(body.to_string())
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    fn body(mut self, body: String) -> Reply {
        self.body = body.into_bytes();
        self
    }
}

/// How long a rate-limited answer asks the client to wait.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Wait {
    Seconds(u64),
    Until(SystemTime),
}

impl Wait {
    /// The wait as a `Retry-After` value.
    pub fn retry_after(self) -> String {
        match self {
            Wait::Seconds(s) => s.to_string(),
            Wait::Until(at) => httpdate::fmt_http_date(at),
        }
    }

    pub fn until(self) -> SystemTime {
        match self {
            Wait::Seconds(s) => SystemTime::now() + Duration::from_secs(s),
            Wait::Until(at) => at,
        }
    }

    pub fn seconds(self) -> u64 {
        match self {
            Wait::Seconds(s) => s,
            Wait::Until(at) => at
                .duration_since(SystemTime::now())
                .map_or(0, |d| d.as_secs_f64().ceil() as u64),
        }
    }
}

/// What the mock does with one request.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Behave like the real service (validate, then accept or reject).
    Normal,
    /// The service's own error answer for `status`; `code` names the error in the service's
    /// vocabulary (Slack's error string, Postmark's ErrorCode, Resend's `name`…), or "" for
    /// the usual one for that status.
    Error { status: u16, code: String },
    /// The service's rate-limit answer with its way of saying how long to wait.
    RateLimited { status: u16, wait: Wait },
    /// Exactly this answer.
    Raw(Reply),
    /// Behave like the real service, after waiting this long.
    Slow(Duration),
    /// Never answer (the connection stays open until the client gives up).
    Hang,
}

impl Answer {
    pub fn ok() -> Answer {
        Answer::Normal
    }

    pub fn status(status: u16) -> Answer {
        Answer::error(status, "")
    }

    pub fn error(status: u16, code: &str) -> Answer {
        Answer::Error {
            status,
            code: code.to_string(),
        }
    }

    /// A rate-limit answer asking for `seconds` (`Retry-After: seconds` where the service
    /// sends it, its own reset header or message otherwise).
    pub fn retry_after(status: u16, seconds: u64) -> Answer {
        Answer::RateLimited {
            status,
            wait: Wait::Seconds(seconds),
        }
    }

    /// A rate-limit answer naming a moment (`Retry-After: <HTTP date>` where supported).
    pub fn retry_at(status: u16, at: SystemTime) -> Answer {
        Answer::RateLimited {
            status,
            wait: Wait::Until(at),
        }
    }

    pub fn raw(reply: Reply) -> Answer {
        Answer::Raw(reply)
    }

    pub fn slow(delay: Duration) -> Answer {
        Answer::Slow(delay)
    }

    pub fn hang() -> Answer {
        Answer::Hang
    }
}

/// The behaviour of one service.
pub trait Provider: Send + 'static {
    /// The path (and query) of the credential URL a target is configured with, e.g.
    /// `/services/T…/B…/secret`; "" for APIs addressed by their base URL.
    fn path(&self) -> String {
        String::new()
    }
    /// The real service's answer to this request.
    fn answer(&mut self, req: &Recorded) -> Reply;
    /// The real service's error answer for `status` and error `code` ("" = the usual one).
    fn error(&mut self, status: u16, code: &str) -> Reply;
    /// The real service's rate-limit answer.
    fn rate_limited(&mut self, status: u16, wait: Wait) -> Reply {
        self.error(status, "")
            .header("retry-after", wait.retry_after())
    }
}

struct State<P> {
    provider: P,
    received: Vec<Recorded>,
    script: VecDeque<Answer>,
    fallback: Answer,
}

/// A running mock service. Stops when dropped.
pub struct Mock<P: Provider> {
    addr: SocketAddr,
    state: Arc<Mutex<State<P>>>,
    task: tokio::task::JoinHandle<()>,
}

impl<P: Provider> Mock<P> {
    /// Starts `provider` on 127.0.0.1, on a free port.
    pub async fn start_with(provider: P) -> Mock<P> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(Mutex::new(State {
            provider,
            received: Vec::new(),
            script: VecDeque::new(),
            fallback: Answer::Normal,
        }));
        let routes = routes(state.clone());
        let task = tokio::spawn(warp::serve(routes).incoming(listener).run());
        Mock { addr, state, task }
    }

    /// `http://127.0.0.1:<port>`: the base URL for API targets.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The full URL a target is configured with (the base URL plus the credential path).
    pub fn url(&self) -> String {
        format!("{}{}", self.base_url(), self.lock().provider.path())
    }

    /// Every request received so far, in order.
    pub fn received(&self) -> Vec<Recorded> {
        self.lock().received.clone()
    }

    /// Appends answers for the next requests.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.lock().script.extend(answers);
    }

    /// The answer once the script is used up (default: [`Answer::ok`]).
    pub fn always(&self, answer: Answer) {
        self.lock().fallback = answer;
    }

    /// Reads or changes the provider's own state.
    pub fn with<R>(&self, f: impl FnOnce(&mut P) -> R) -> R {
        f(&mut self.lock().provider)
    }

    /// Waits until at least `count` requests arrived (polling, bounded by `timeout`) and
    /// returns them; panics on timeout.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Recorded> {
        let deadline = Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "expected {count} requests, got {} within {timeout:?}",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<P>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<P: Provider> Drop for Mock<P> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn routes<P: Provider>(
    state: Arc<Mutex<State<P>>>,
) -> impl Filter<Extract = (Response<Vec<u8>>,), Error = warp::Rejection> + Clone + Send + Sync + 'static
{
    let query = warp::query::raw()
        .map(Some)
        .or(warp::any().map(|| None))
        .unify();
    warp::method()
        .and(warp::path::full())
        .and(query)
        .and(warp::header::headers_cloned())
        .and(warp::body::bytes())
        .then(
            move |method,
                  path: warp::path::FullPath,
                  query,
                  headers: warp::http::HeaderMap,
                  body: bytes::Bytes| {
                let state = state.clone();
                async move {
                    let req = Recorded {
                        method: format!("{method}"),
                        path: path.as_str().to_string(),
                        query,
                        headers: headers
                            .iter()
                            .map(|(n, v)| {
                                (
                                    n.as_str().to_string(),
                                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                                )
                            })
                            .collect(),
                        body: body.to_vec(),
                        at: Instant::now(),
                        answered: false,
                    };
                    match respond(&state, req) {
                        Respond::Now(reply) => into_response(reply),
                        Respond::After(index, delay) => {
                            tokio::time::sleep(delay).await;
                            into_response(answer_late(&state, index))
                        }
                        Respond::Never => std::future::pending().await,
                    }
                }
            },
        )
}

/// When the answer to a recorded request goes out.
enum Respond {
    Now(Reply),
    /// After the delay, the provider's answer to request number `.0`.
    After(usize, Duration),
    Never,
}

/// Records the request and decides its answer.
fn respond<P: Provider>(state: &Mutex<State<P>>, mut req: Recorded) -> Respond {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    let answer = match state.script.pop_front() {
        Some(answer) => answer,
        None => state.fallback.clone(),
    };
    let index = state.received.len();
    req.answered = !matches!(answer, Answer::Slow(_) | Answer::Hang);
    state.received.push(req.clone());
    let provider = &mut state.provider;
    match answer {
        Answer::Normal => Respond::Now(provider.answer(&req)),
        Answer::Error { status, code } => Respond::Now(provider.error(status, &code)),
        Answer::RateLimited { status, wait } => Respond::Now(provider.rate_limited(status, wait)),
        Answer::Raw(reply) => Respond::Now(reply),
        Answer::Slow(delay) => Respond::After(index, delay),
        Answer::Hang => Respond::Never,
    }
}

/// The provider's answer to request number `index`, which waited; marks it answered.
fn answer_late<P: Provider>(state: &Mutex<State<P>>, index: usize) -> Reply {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    state.received[index].answered = true;
    let req = state.received[index].clone();
    state.provider.answer(&req)
}

fn into_response(reply: Reply) -> Response<Vec<u8>> {
    let mut builder = Response::builder().status(reply.status);
    for (name, value) in &reply.headers {
        builder = builder.header(name, value);
    }
    builder
        .body(reply.body)
        .unwrap_or_else(|_| Response::new(b"mock: invalid reply".to_vec()))
}

/// Decodes standard base64 (for checking HTTP Basic credentials); `None` if malformed.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let text = text.trim_end_matches('=');
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        bits = (bits << 6) | v;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}

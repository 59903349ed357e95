//! Mock Slack (incoming webhook and Web API), Teams (Workflows) and a generic webhook receiver,
//! answering as `targets.md` §5 describes the real services; and a service that echoes every
//! request back in its error answer.
//!
//! Start one with `SlackWebhook::start().await` (a [`Mock`]); configure the target with
//! `mock.url()` (or `mock.base_url()` for the Slack Web API); script answers with
//! `mock.script([...])`; read what arrived with `mock.received()`.

use std::time::Duration;

use serde_json::{Value, json};

use super::mock::{Answer, Mock, Provider, Recorded, Reply, Wait};

/// Checks a Block Kit message like Slack does; `Err` names Slack's error string.
pub fn check_slack_message(msg: &Value) -> Result<(), &'static str> {
    let Some(obj) = msg.as_object() else {
        return Err("invalid_payload");
    };
    let has = |key: &str| match obj.get(key) {
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        _ => false,
    };
    if !has("text") && !has("blocks") && !has("attachments") {
        return Err("no_text");
    }
    if obj
        .get("attachments")
        .and_then(Value::as_array)
        .is_some_and(|a| a.len() > 100)
    {
        return Err("too_many_attachments");
    }
    let blocks = match obj.get("blocks") {
        None => return Ok(()),
        Some(Value::Array(blocks)) => blocks,
        Some(_) => return Err("invalid_blocks"),
    };
    if blocks.len() > 50 {
        return Err("invalid_blocks");
    }
    let mut total = 0;
    for block in blocks {
        total += check_block(block)?;
    }
    if total > 12_000 {
        return Err("msg_blocks_too_long");
    }
    Ok(())
}

/// A text's length as the stricter of Slack's counts: UTF-16 code units (an emoji outside
/// the Basic Multilingual Plane is two), never fewer than its code points.
fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.encode_utf16().count())
}

/// Checks one block; returns the characters of text it holds.
fn check_block(block: &Value) -> Result<usize, &'static str> {
    let bad = Err("invalid_blocks");
    match block["type"].as_str() {
        Some("header") => {
            let n = chars(&block["text"]["text"]);
            if block["text"]["type"] != "plain_text" || n == 0 || n > 150 {
                return bad;
            }
            Ok(n)
        }
        Some("section") => {
            let mut n = 0;
            if !block["text"].is_null() {
                n = chars(&block["text"]["text"]);
                if n == 0 || n > 3000 {
                    return bad;
                }
            }
            if let Some(fields) = block["fields"].as_array() {
                if fields.is_empty() || fields.len() > 10 {
                    return bad;
                }
                for f in fields {
                    let m = chars(&f["text"]);
                    if m == 0 || m > 2000 {
                        return bad;
                    }
                    n += m;
                }
            } else if block["text"].is_null() {
                return bad;
            }
            Ok(n)
        }
        Some("actions") => {
            let elements = block["elements"].as_array().map_or(&[][..], Vec::as_slice);
            if elements.is_empty() || elements.len() > 25 {
                return bad;
            }
            for e in elements {
                let label = chars(&e["text"]["text"]);
                if label == 0 || label > 75 || chars(&e["url"]) > 3000 {
                    return bad;
                }
            }
            Ok(0)
        }
        Some("context") => {
            let elements = block["elements"].as_array().map_or(&[][..], Vec::as_slice);
            if elements.is_empty() || elements.len() > 10 {
                return bad;
            }
            Ok(elements.iter().map(|e| chars(&e["text"])).sum())
        }
        Some("divider") => Ok(0),
        _ => bad,
    }
}

fn is_json(req: &Recorded) -> bool {
    req.header("content-type")
        .is_some_and(|ct| ct.starts_with("application/json"))
}

/// A Slack incoming webhook: `200 text/html ok`, plain-text errors.
pub struct SlackWebhook {
    /// `/services/T…/B…/<secret>`.
    pub hook_path: String,
    /// After this many 429s the hook is disabled (`404 no_active_hooks`), like Slack does to
    /// abusive senders.
    pub disable_after_429s: Option<u32>,
    rate_limited: u32,
}

impl SlackWebhook {
    pub const SECRET: &'static str = "mockHookSecret0123456789";

    pub async fn start() -> Mock<SlackWebhook> {
        Mock::start_with(SlackWebhook {
            hook_path: format!("/services/T0MQA0001/B0MQA0001/{}", Self::SECRET),
            disable_after_429s: None,
            rate_limited: 0,
        })
        .await
    }

    fn text(status: u16, body: &str) -> Reply {
        Reply::text(status, "text/html", body)
    }

    fn disabled(&self) -> bool {
        self.disable_after_429s
            .is_some_and(|k| self.rate_limited >= k)
    }
}

impl Provider for SlackWebhook {
    fn path(&self) -> String {
        self.hook_path.clone()
    }

    fn answer(&mut self, req: &Recorded) -> Reply {
        if self.disabled() {
            return Self::text(404, "no_active_hooks");
        }
        if req.path != self.hook_path {
            return match req.path.starts_with("/services/") {
                true => Self::text(403, "invalid_token"),
                false => Self::text(404, "no_service"),
            };
        }
        if req.method != "POST" || !is_json(req) {
            return Self::text(400, "invalid_payload");
        }
        let msg: Value = match serde_json::from_slice(&req.body) {
            Ok(v) => v,
            Err(_) => return Self::text(400, "invalid_payload"),
        };
        match check_slack_message(&msg) {
            Ok(()) => Self::text(200, "ok"),
            Err("no_text") => Self::text(400, "no_text"),
            Err("too_many_attachments") => Self::text(400, "too_many_attachments"),
            Err(_) => Self::text(400, "invalid_payload"),
        }
    }

    fn error(&mut self, status: u16, code: &str) -> Reply {
        let code = match (status, code) {
            (_, c) if !c.is_empty() => c,
            (400, _) => "invalid_payload",
            (403, _) => "invalid_token",
            (404, _) => "no_service",
            (410, _) => "channel_is_archived",
            (500, _) => "rollup_error",
            _ => "error",
        };
        Self::text(status, code)
    }

    fn rate_limited(&mut self, status: u16, wait: Wait) -> Reply {
        self.rate_limited += 1;
        let body = json!({"retry_after": wait.seconds(), "ok": false, "error": "rate_limited"});
        Reply::json(status, &body).header("retry-after", wait.retry_after())
    }
}

/// Slack's Web API `chat.postMessage`: always 200 JSON with `ok`, except 429.
pub struct SlackApi {
    pub channels: Vec<String>,
    next_ts: u64,
    /// Every message posted and not deleted, as it stands now (edits applied).
    pub messages: Vec<SlackMessage>,
}

/// One message the mock Web API holds.
#[derive(Debug, Clone)]
pub struct SlackMessage {
    pub channel: String,
    pub ts: String,
    /// The parent's `ts`, for a reply in a thread.
    pub thread_ts: Option<String>,
    /// Also shown in the channel (`reply_broadcast`).
    pub broadcast: bool,
    /// The message as last posted or edited (`text`, `blocks`).
    pub body: Value,
    /// Times `chat.update` changed it.
    pub edits: u32,
}

impl SlackMessage {
    /// All the text of its blocks and its notification text, for assertions.
    pub fn shown(&self) -> String {
        let mut out = self.body["text"].as_str().unwrap_or("").to_owned();
        collect_text(&self.body["blocks"], &mut out);
        out
    }
}

fn collect_text(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => {
            out.push('\n');
            out.push_str(s);
        }
        Value::Array(items) => items.iter().for_each(|i| collect_text(i, out)),
        Value::Object(map) => map
            .iter()
            .filter(|(k, _)| *k != "type" && *k != "url")
            .for_each(|(_, v)| collect_text(v, out)),
        _ => {}
    }
}

impl SlackApi {
    pub const TOKEN: &'static str = "xoxb-mock-bot-token-0123456789";
    pub const CHANNEL: &'static str = "C0KITCHEN1";

    pub async fn start() -> Mock<SlackApi> {
        Mock::start_with(SlackApi {
            channels: vec![Self::CHANNEL.to_string()],
            next_ts: 1,
            messages: Vec::new(),
        })
        .await
    }

    fn fail(error: &str) -> Reply {
        Reply::json(200, &json!({"ok": false, "error": error}))
    }

    /// The top-level messages (not replies), oldest first.
    pub fn parents(&self) -> Vec<SlackMessage> {
        let top = self.messages.iter().filter(|m| m.thread_ts.is_none());
        top.cloned().collect()
    }

    /// The replies in the thread of `ts`, oldest first.
    pub fn replies(&self, ts: &str) -> Vec<SlackMessage> {
        let of = |m: &&SlackMessage| m.thread_ts.as_deref() == Some(ts);
        self.messages.iter().filter(of).cloned().collect()
    }

    /// A person deletes the message `ts` (its replies stay, as in Slack).
    pub fn delete(&mut self, ts: &str) {
        self.messages.retain(|m| m.ts != ts);
    }

    /// `chat.postMessage`. A reply whose parent was deleted is posted in the channel, not in a
    /// thread, and answered `ok` with a message that has no `thread_ts`, as Slack does.
    fn post(&mut self, msg: &Value, channel: &str) -> Reply {
        let thread_ts = msg["thread_ts"].as_str().filter(|parent| {
            self.messages
                .iter()
                .any(|m| m.ts == *parent && m.channel == channel)
        });
        let thread_ts = thread_ts.map(str::to_owned);
        let ts = format!("1767225600.{:06}", self.next_ts);
        self.next_ts += 1;
        let mut message = json!({"text": msg["text"], "ts": ts});
        if let Some(parent) = &thread_ts {
            message["thread_ts"] = Value::from(parent.as_str());
        }
        self.messages.push(SlackMessage {
            channel: channel.to_owned(),
            ts: ts.clone(),
            thread_ts,
            broadcast: msg["reply_broadcast"] == Value::Bool(true),
            body: msg.clone(),
            edits: 0,
        });
        Reply::json(
            200,
            &json!({"ok": true, "channel": channel, "ts": ts, "message": message}),
        )
    }

    fn update(&mut self, msg: &Value, channel: &str) -> Reply {
        let ts = msg["ts"].as_str().unwrap_or("");
        let Some(m) = self
            .messages
            .iter_mut()
            .find(|m| m.ts == ts && m.channel == channel)
        else {
            return Self::fail("message_not_found");
        };
        m.body = msg.clone();
        m.edits += 1;
        Reply::json(
            200,
            &json!({"ok": true, "channel": channel, "ts": ts, "text": msg["text"]}),
        )
    }
}

impl Provider for SlackApi {
    fn answer(&mut self, req: &Recorded) -> Reply {
        let update = req.path.ends_with("/chat.update");
        if !req.path.ends_with("/chat.postMessage") && !update {
            return Self::fail("unknown_method");
        }
        match req.header("authorization") {
            None => return Self::fail("not_authed"),
            Some(auth) if auth != format!("Bearer {}", Self::TOKEN) => {
                return Self::fail("invalid_auth");
            }
            Some(_) => {}
        }
        if !is_json(req) {
            return Self::fail("invalid_form_data");
        }
        let Ok(msg) = serde_json::from_slice::<Value>(&req.body) else {
            return Self::fail("invalid_json");
        };
        let channel = msg["channel"].as_str().unwrap_or("");
        if !self.channels.iter().any(|c| c == channel) {
            return Self::fail("channel_not_found");
        }
        if let Err(e) = check_slack_message(&msg) {
            return Self::fail(e);
        }
        match update {
            true => self.update(&msg, channel),
            false => self.post(&msg, channel),
        }
    }

    fn error(&mut self, status: u16, code: &str) -> Reply {
        let code = if code.is_empty() {
            "internal_error"
        } else {
            code
        };
        Reply::json(status, &json!({"ok": false, "error": code}))
    }

    fn rate_limited(&mut self, status: u16, wait: Wait) -> Reply {
        Reply::json(status, &json!({"ok": false, "error": "ratelimited"}))
            .header("retry-after", wait.retry_after())
    }
}

/// One run of the Teams flow that a `202` started.
#[derive(Debug, Clone)]
pub struct FlowRun {
    /// Whether "Post card in a chat or channel" succeeded.
    pub posted: bool,
    pub failure: Option<String>,
}

/// A Teams Workflows webhook ("Send webhook alerts to a channel"): SAS `sig` in the URL,
/// `202` with an empty body, and the card checked afterwards by the flow run.
pub struct TeamsWorkflow {
    pub runs: Vec<FlowRun>,
}

impl TeamsWorkflow {
    pub const WORKFLOW_ID: &'static str = "0f1e2d3c4b5a49788796a5b4c3d2e1f0";
    pub const SIG: &'static str = "mockSasSignature_0123456789abcdef";
    /// Teams' limit for one posted message.
    pub const MAX_MESSAGE: usize = 28 * 1024;

    pub async fn start() -> Mock<TeamsWorkflow> {
        Mock::start_with(TeamsWorkflow { runs: Vec::new() }).await
    }

    fn workflow_path() -> String {
        format!(
            "/powerautomate/automations/direct/workflows/{}/triggers/manual/paths/invoke",
            Self::WORKFLOW_ID
        )
    }

    fn error_body(status: u16, code: &str, message: &str) -> Reply {
        Reply::json(
            status,
            &json!({"error": {"code": code, "message": message}}),
        )
    }

    /// What the flow's "Post card" step makes of the body.
    fn run(req: &Recorded) -> FlowRun {
        let body = req.json();
        let failure = if req.body.len() > Self::MAX_MESSAGE {
            Some("RequestEntityTooLarge: the message is larger than 28 KB".to_string())
        } else if body["type"] != "message" {
            Some("the body is not a message with attachments".to_string())
        } else if !body["attachments"].as_array().is_some_and(|a| {
            a.iter()
                .any(|x| x["contentType"] == "application/vnd.microsoft.card.adaptive")
        }) {
            Some("no Adaptive Card attachment".to_string())
        } else {
            None
        };
        FlowRun {
            posted: failure.is_none(),
            failure,
        }
    }
}

impl Provider for TeamsWorkflow {
    fn path(&self) -> String {
        format!(
            "{}?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={}",
            Self::workflow_path(),
            Self::SIG
        )
    }

    fn answer(&mut self, req: &Recorded) -> Reply {
        let sig = req.query_param("sig");
        if sig.is_some() && req.header("authorization").is_some() {
            return Self::error_body(
                400,
                "DirectApiRequestHasMoreThanOneAuthorization",
                "The request has both SAS authentication scheme and 'Bearer' authorization \
                 scheme. Only one scheme should be used.",
            );
        }
        let Some(sig) = sig else {
            return Self::error_body(
                401,
                "DirectApiAuthorizationRequired",
                "The request must be authenticated only by Shared Access scheme.",
            );
        };
        if req.path != Self::workflow_path() {
            return Self::error_body(404, "WorkflowNotFound", "The workflow was not found.");
        }
        if sig != Self::SIG {
            return Self::error_body(
                401,
                "DirectApiInvalidAuthorizationSignature",
                "The provided authorization signature is invalid.",
            );
        }
        if serde_json::from_slice::<Value>(&req.body).is_err() {
            return Self::error_body(
                400,
                "InvalidRequestContent",
                "The request content is not valid and could not be deserialized.",
            );
        }
        self.runs.push(Self::run(req));
        Reply::empty(202)
    }

    fn error(&mut self, status: u16, code: &str) -> Reply {
        let code = match (status, code) {
            (_, c) if !c.is_empty() => c,
            (401, _) => "DirectApiAuthorizationRequired",
            (404, _) => "WorkflowNotFound",
            (429, _) => "TooManyRequests",
            (s, _) if s >= 500 => "InternalServerError",
            _ => "BadRequest",
        };
        Self::error_body(status, code, "Mock Power Automate error.")
    }
}

/// A generic webhook receiver: `200 {"received":true}`.
pub struct WebhookReceiver;

impl WebhookReceiver {
    pub async fn start() -> Mock<WebhookReceiver> {
        Mock::start_with(WebhookReceiver).await
    }

    /// A receiver that answers each request `delay` after it arrived: meanwhile the relay's
    /// send is in flight, the moment crash and shutdown tests need to catch.
    pub async fn start_slow(delay: Duration) -> Mock<WebhookReceiver> {
        let mock = WebhookReceiver::start().await;
        mock.always(Answer::slow(delay));
        mock
    }
}

impl Provider for WebhookReceiver {
    fn path(&self) -> String {
        "/hooks/monitorqa".to_string()
    }

    fn answer(&mut self, req: &Recorded) -> Reply {
        if !is_json(req) || serde_json::from_slice::<Value>(&req.body).is_err() {
            return Reply::json(400, &json!({"error": "expected JSON"}));
        }
        Reply::json(200, &json!({"received": true}))
    }

    fn error(&mut self, status: u16, code: &str) -> Reply {
        let message = if code.is_empty() { "mock error" } else { code };
        Reply::json(status, &json!({"error": message}))
    }
}

/// How an [`Echoing`] service writes the request back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    AsIs,
    LowerCase,
    UpperCase,
    /// Every byte but ASCII letters and digits as `%XX`, in lower-case hex.
    PercentEncoded,
    /// As a JSON string that escapes `/` as `\/` (as PHP's `json_encode` does).
    JsonEscaped,
    /// The whole echo in base64.
    Base64,
}

/// A service that refuses every request with one status and echoes the whole request back in
/// its error body (request line, then the credential headers, then the other headers and the
/// body), in one [`Echo`] encoding: what a misbehaving provider or a debugging proxy does.
pub struct Echoing {
    pub status: u16,
    pub encoding: Echo,
    /// The path a target is configured with (a credential URL's path and query).
    pub path: String,
}

impl Echoing {
    pub async fn start(status: u16, encoding: Echo, path: &str) -> Mock<Echoing> {
        let path = path.to_string();
        Mock::start_with(Echoing {
            status,
            encoding,
            path,
        })
        .await
    }

    /// The request as text, credentials first so that they come early in any excerpt.
    pub fn echo(req: &Recorded) -> String {
        let query = req
            .query
            .as_deref()
            .map_or(String::new(), |q| format!("?{q}"));
        let mut text = format!("{} {}{query}\n", req.method, req.path);
        let secret_first = |(n, _): &&(String, String)| {
            !matches!(n.as_str(), "authorization" | "x-postmark-server-token")
        };
        let mut headers: Vec<&(String, String)> = req.headers.iter().collect();
        headers.sort_by_key(secret_first);
        for (name, value) in headers {
            text.push_str(&format!("{name}: {value}\n"));
        }
        text.push_str(&req.text());
        text
    }
}

impl Provider for Echoing {
    fn path(&self) -> String {
        self.path.clone()
    }

    fn answer(&mut self, req: &Recorded) -> Reply {
        let echo = Echoing::echo(req);
        let body = match self.encoding {
            Echo::AsIs => echo,
            Echo::LowerCase => echo.to_lowercase(),
            Echo::UpperCase => echo.to_uppercase(),
            Echo::PercentEncoded => echo
                .bytes()
                .map(|b| match b {
                    b if b.is_ascii_alphanumeric() => char::from(b).to_string(),
                    b => format!("%{b:02x}"),
                })
                .collect(),
            Echo::JsonEscaped => Value::String(echo).to_string().replace('/', "\\/"),
            Echo::Base64 => mqa_relay::targets::http::base64(echo.as_bytes()),
        };
        Reply::text(self.status, "text/plain; charset=utf-8", &body)
    }

    fn error(&mut self, status: u16, _code: &str) -> Reply {
        Reply::text(status, "text/plain; charset=utf-8", "refused")
    }
}

/// The forms in which a provider may echo `secret`, to check that none survives: as is, in
/// either case, percent-encoded (upper- and lower-case hex, every byte or only symbols),
/// JSON-escaped (`\/`), and base64 (standard and URL-safe; without padding, so that the
/// padded form contains it; and inside a longer base64 text, at each alignment, the
/// characters that encode only the secret).
pub fn echoed_forms(secret: &str) -> Vec<String> {
    let percent = |all: bool, upper: bool| -> String {
        secret
            .bytes()
            .map(|b| match b {
                b if b.is_ascii_alphanumeric() && !all => char::from(b).to_string(),
                b if upper => format!("%{b:02X}"),
                b => format!("%{b:02x}"),
            })
            .collect()
    };
    let base64 = mqa_relay::targets::http::base64(secret.as_bytes());
    let base64 = base64.trim_end_matches('=');
    let mut forms = vec![
        secret.to_string(),
        secret.to_lowercase(),
        secret.to_uppercase(),
        percent(false, true),
        percent(false, false),
        percent(true, true),
        secret.replace('/', "\\/"),
        base64.to_string(),
        base64.replace('+', "-").replace('/', "_"),
    ];
    for offset in 1..3 {
        let mut shifted = vec![b'x'; offset];
        shifted.extend_from_slice(secret.as_bytes());
        let encoded = mqa_relay::targets::http::base64(&shifted);
        // Character i holds bits 6i..6i+6; keep those that lie wholly within the secret.
        let (first, end) = ((8 * offset).div_ceil(6), 8 * (offset + secret.len()) / 6);
        forms.push(encoded[first..end].to_string());
    }
    forms.sort();
    forms.dedup();
    forms
}

/// A loopback address where nothing listens (for connection errors): port 1, which no test
/// binds (they all bind port 0, and the kernel picks those from the ephemeral range). A port
/// bound and let go again could be taken by another test's server meanwhile.
pub async fn closed_port_url() -> String {
    "http://127.0.0.1:1/hooks/closed".to_string()
}

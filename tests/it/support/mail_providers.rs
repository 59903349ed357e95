//! Mock SendGrid, Mailgun, Postmark and Resend APIs, answering as `targets.md` §3 and §5
//! describe them: their auth schemes, body checks, success bodies, error shapes and 429s.
//!
//! Configure an email target with `base_url: mock.base_url()` and the provider's `API_KEY`.

use std::collections::HashMap;
use std::time::SystemTime;

use serde_json::{Value, json};

use super::mock::{Mock, Provider, Recorded, Reply, Wait, base64_decode};

fn bearer_is(req: &Recorded, key: &str) -> Option<bool> {
    req.header("authorization")
        .map(|auth| auth == format!("Bearer {key}"))
}

fn epoch(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// SendGrid v3 `POST /v3/mail/send`: `202` empty with `X-Message-Id`.
pub struct SendGrid {
    next_id: u32,
}

impl SendGrid {
    pub const API_KEY: &'static str = "SG.mockKeyId.mockKeySecret0123456789";

    pub async fn start() -> Mock<SendGrid> {
        Mock::start_with(SendGrid { next_id: 1 }).await
    }

    fn errors(status: u16, message: &str, field: Option<&str>) -> Reply {
        Reply::json(
            status,
            &json!({"errors": [{"message": message, "field": field, "help": null}]}),
        )
    }

    fn check(body: &Value) -> Result<(), Reply> {
        let bad = |m: &str, f: &str| Err(Self::errors(400, m, Some(f)));
        let to_ok = body["personalizations"].as_array().is_some_and(|p| {
            !p.is_empty()
                && p.iter().all(|p| {
                    p["to"].as_array().is_some_and(|to| {
                        !to.is_empty()
                            && to
                                .iter()
                                .all(|t| t["email"].as_str().is_some_and(|e| e.contains('@')))
                    })
                })
        });
        if !to_ok {
            return bad(
                "The to array is required for all personalization objects, and must have at least one email object with a valid email address.",
                "personalizations.0.to",
            );
        }
        if !body["from"]["email"]
            .as_str()
            .is_some_and(|e| e.contains('@'))
        {
            return bad(
                "The from email does not contain a valid address.",
                "from.email",
            );
        }
        if body["subject"].as_str().is_none_or(str::is_empty) {
            return bad("The subject is required.", "subject");
        }
        let content = body["content"].as_array().map_or(&[][..], Vec::as_slice);
        if content.is_empty()
            || content
                .iter()
                .any(|c| c["value"].as_str().is_none_or(str::is_empty))
        {
            return bad(
                "The content value must be a string at least one character in length.",
                "content.0.value",
            );
        }
        if content.len() > 1 && content[0]["type"] != "text/plain" {
            return bad(
                "The text/plain content type must be first, followed by any other content.",
                "content.0.type",
            );
        }
        Ok(())
    }
}

impl Provider for SendGrid {
    fn answer(&mut self, req: &Recorded) -> Reply {
        if req.path != "/v3/mail/send" {
            return Self::errors(404, "not found", None);
        }
        match bearer_is(req, Self::API_KEY) {
            None => return Self::errors(401, "authorization required", None),
            Some(false) => {
                return Self::errors(
                    401,
                    "The provided authorization grant is invalid, expired, or revoked",
                    None,
                );
            }
            Some(true) => {}
        }
        let body: Value = match serde_json::from_slice(&req.body) {
            Ok(v) => v,
            Err(_) => return Self::errors(400, "Bad Request", None),
        };
        if let Err(reply) = Self::check(&body) {
            return reply;
        }
        let id = format!("mockSendGridMsg{:04}", self.next_id);
        self.next_id += 1;
        Reply::empty(202).header("x-message-id", id)
    }

    fn error(&mut self, status: u16, code: &str) -> Reply {
        let message = match (status, code) {
            (_, c) if !c.is_empty() => c,
            (401, _) => "authorization required",
            (403, _) => "access forbidden",
            (413, _) => "content too large",
            (429, _) => "too many requests",
            (s, _) if s >= 500 => "internal server error",
            _ => "Bad Request",
        };
        Self::errors(status, message, None)
    }

    /// SendGrid sends no `Retry-After`: the wait is in `X-RateLimit-Reset` (epoch seconds).
    fn rate_limited(&mut self, status: u16, wait: Wait) -> Reply {
        self.error(status, "too many requests")
            .header("x-ratelimit-limit", "600")
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-reset", epoch(wait.until()).to_string())
    }
}

/// Mailgun `POST /v3/{domain}/messages`: Basic `api:<key>`, multipart form,
/// `200 {"id","message":"Queued. Thank you."}`.
pub struct Mailgun {
    /// Domains this (regional) API knows.
    pub domains: Vec<String>,
    next_id: u32,
}

impl Mailgun {
    pub const API_KEY: &'static str = "key-mockmailgun0123456789abcdef";
    pub const DOMAIN: &'static str = "mg.northwind.example";

    pub async fn start() -> Mock<Mailgun> {
        Mock::start_with(Mailgun {
            domains: vec![Self::DOMAIN.to_string()],
            next_id: 1,
        })
        .await
    }

    fn message(status: u16, message: &str) -> Reply {
        Reply::json(status, &json!({"message": message}))
    }

    fn authorized(req: &Recorded) -> bool {
        req.header("authorization")
            .and_then(|a| a.strip_prefix("Basic "))
            .and_then(base64_decode)
            .is_some_and(|c| c == format!("api:{}", Self::API_KEY).as_bytes())
    }
}

impl Provider for Mailgun {
    fn answer(&mut self, req: &Recorded) -> Reply {
        if !Self::authorized(req) {
            return Reply::text(401, "text/plain", "Forbidden");
        }
        let domain = req
            .path
            .strip_prefix("/v3/")
            .and_then(|p| p.strip_suffix("/messages"))
            .unwrap_or("");
        if !self.domains.iter().any(|d| d == domain) {
            return Self::message(404, &format!("Domain not found: {domain}"));
        }
        if !req
            .header("content-type")
            .is_some_and(|ct| ct.starts_with("multipart/form-data"))
        {
            return Self::message(
                400,
                "Invalid request content type. Expecting 'multipart/form-data'",
            );
        }
        let form = req.form();
        let has = |name: &str| form.iter().any(|(n, v)| n == name && !v.is_empty());
        for field in ["from", "to", "subject"] {
            if !has(field) {
                return Self::message(400, &format!("{field} parameter is missing"));
            }
        }
        if !has("text") && !has("html") {
            return Self::message(
                400,
                "Need at least one of 'text' or 'html' parameters specified",
            );
        }
        let id = format!("<20260830100000.{}.mock@{domain}>", self.next_id);
        self.next_id += 1;
        Reply::json(200, &json!({"id": id, "message": "Queued. Thank you."}))
    }

    fn error(&mut self, status: u16, code: &str) -> Reply {
        if status == 401 {
            return Reply::text(401, "text/plain", "Forbidden");
        }
        let message = match (status, code) {
            (_, c) if !c.is_empty() => c.to_string(),
            (404, _) => format!("Domain not found: {}", Self::DOMAIN),
            (413, _) => "request size exceeds 52.4MiB limit".to_string(),
            (s, _) if s >= 500 => "Internal Server Error".to_string(),
            _ => "Bad Request".to_string(),
        };
        Self::message(status, &message)
    }

    /// Mailgun names the moment in the message (no `Retry-After` is documented).
    fn rate_limited(&mut self, status: u16, wait: Wait) -> Reply {
        let date = httpdate::fmt_http_date(wait.until()).replace("GMT", "UTC");
        Self::message(
            status,
            &format!(
                "Domain {} is not allowed to send: request limit exceeded, try again after {date}",
                Self::DOMAIN
            ),
        )
    }
}

/// Postmark `POST /email`: `X-Postmark-Server-Token`, PascalCase JSON,
/// `200 {…"ErrorCode":0,"Message":"OK"}`, `422 {"ErrorCode":…}`.
pub struct Postmark {
    /// Addresses suppressed after a bounce or complaint (`422` ErrorCode 406).
    pub inactive: Vec<String>,
    next_id: u32,
}

impl Postmark {
    pub const TOKEN: &'static str = "mock-postmark-server-token-0123456789";

    pub async fn start() -> Mock<Postmark> {
        Mock::start_with(Postmark {
            inactive: Vec::new(),
            next_id: 1,
        })
        .await
    }

    fn code(status: u16, code: i64, message: &str) -> Reply {
        Reply::json(status, &json!({"ErrorCode": code, "Message": message}))
    }

    fn message_for(code: i64) -> &'static str {
        match code {
            10 => {
                "The Server Token you provided in the X-Postmark-Server-Token request header was invalid."
            }
            300 => "Invalid email request.",
            405 => "Not allowed to send. Your account has run out of credits.",
            406 => "You tried to send to recipient(s) that have been marked as inactive.",
            429 => "Rate limit exceeded.",
            _ => "Error.",
        }
    }
}

impl Provider for Postmark {
    fn answer(&mut self, req: &Recorded) -> Reply {
        if req.path != "/email" {
            return Reply::empty(404);
        }
        match req.header("x-postmark-server-token") {
            None => {
                return Self::code(
                    401,
                    10,
                    "No Account or Server API tokens were supplied in the HTTP headers.",
                );
            }
            Some(t) if t != Self::TOKEN => return Self::code(401, 10, Self::message_for(10)),
            Some(_) => {}
        }
        let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
            return Self::code(422, 402, "Received invalid JSON input.");
        };
        if body["From"].as_str().is_none_or(|f| !f.contains('@')) {
            return Self::code(422, 300, "Invalid 'From' address: ''.");
        }
        let to = body["To"].as_str().unwrap_or("");
        if to.trim().is_empty() {
            return Self::code(422, 300, "Zero recipients specified");
        }
        if body["HtmlBody"].as_str().is_none() && body["TextBody"].as_str().is_none() {
            return Self::code(
                422,
                300,
                "Provide either email TextBody or HtmlBody or both.",
            );
        }
        let inactive: Vec<&String> = self
            .inactive
            .iter()
            .filter(|a| to.contains(a.as_str()))
            .collect();
        if !inactive.is_empty() {
            let list = inactive
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            return Self::code(
                422,
                406,
                &format!(
                    "You tried to send to recipient(s) that have been marked as inactive. Found \
                     inactive addresses: {list}. Inactive recipients are ones that have generated \
                     a hard bounce, a spam complaint, or a manual suppression."
                ),
            );
        }
        let id = format!("0a1b2c3d-0000-4000-8000-{:012}", self.next_id);
        self.next_id += 1;
        Reply::json(
            200,
            &json!({"To": to, "SubmittedAt": "2026-08-30T10:00:00.0000000Z", "MessageID": id,
                    "ErrorCode": 0, "Message": "OK"}),
        )
    }

    /// `code` is Postmark's numeric ErrorCode ("" = the usual one for the status).
    fn error(&mut self, status: u16, code: &str) -> Reply {
        let code: i64 = code.parse().unwrap_or(match status {
            401 => 10,
            422 => 300,
            429 => 429,
            _ => 0,
        });
        if status >= 500 || code == 0 {
            return Reply::text(status, "text/plain", "Internal Server Error");
        }
        Self::code(status, code, Self::message_for(code))
    }

    /// Postmark sends neither `Retry-After` nor rate-limit headers.
    fn rate_limited(&mut self, status: u16, _wait: Wait) -> Reply {
        Self::code(status, 429, Self::message_for(429))
    }
}

/// Resend `POST /emails`: Bearer, `Idempotency-Key` replay, `ratelimit-*` headers,
/// `{"statusCode","message","name"}` errors.
pub struct Resend {
    /// The mails accepted (not counting idempotent replays).
    pub sent: Vec<Value>,
    seen: HashMap<String, (Vec<u8>, Reply)>,
}

impl Resend {
    pub const API_KEY: &'static str = "re_mockResendKey_0123456789";

    pub async fn start() -> Mock<Resend> {
        Mock::start_with(Resend {
            sent: Vec::new(),
            seen: HashMap::new(),
        })
        .await
    }

    fn err(status: u16, name: &str, message: &str) -> Reply {
        Self::limits(Reply::json(
            status,
            &json!({"statusCode": status, "message": message, "name": name}),
        ))
    }

    fn limits(reply: Reply) -> Reply {
        reply
            .header("ratelimit-limit", "5")
            .header("ratelimit-remaining", "4")
            .header("ratelimit-reset", "1")
    }

    fn check(body: &Value) -> Result<(), Reply> {
        for field in ["from", "to", "subject"] {
            if body[field].is_null() {
                return Err(Self::err(
                    422,
                    "missing_required_field",
                    &format!("Missing `{field}` field."),
                ));
            }
        }
        if body["html"].is_null() && body["text"].is_null() {
            return Err(Self::err(
                422,
                "validation_error",
                "Missing `html` or `text` field.",
            ));
        }
        Ok(())
    }
}

impl Provider for Resend {
    fn answer(&mut self, req: &Recorded) -> Reply {
        if req.path != "/emails" {
            return Self::err(404, "not_found", "The requested endpoint does not exist.");
        }
        match bearer_is(req, Self::API_KEY) {
            None => {
                return Self::err(
                    401,
                    "missing_api_key",
                    "Missing API key in the authorization header.",
                );
            }
            Some(false) => return Self::err(403, "invalid_api_key", "API key is invalid"),
            Some(true) => {}
        }
        let key = req.header("idempotency-key").map(str::to_string);
        if let Some(key) = &key {
            if key.is_empty() || key.len() > 256 {
                return Self::err(
                    400,
                    "invalid_idempotency_key",
                    "The key must be between 1-256 chars.",
                );
            }
            if let Some((body, reply)) = self.seen.get(key) {
                if *body == req.body {
                    return reply.clone();
                }
                return Self::err(
                    409,
                    "invalid_idempotent_request",
                    "Same idempotency key used with a different request payload.",
                );
            }
        }
        let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
            return Self::err(400, "validation_error", "Invalid JSON.");
        };
        if let Err(reply) = Self::check(&body) {
            return reply;
        }
        let id = format!("49a3999c-0ce1-4ea6-ab68-{:012}", self.sent.len() + 1);
        self.sent.push(body);
        let reply = Self::limits(Reply::json(200, &json!({"id": id})));
        if let Some(key) = key {
            self.seen.insert(key, (req.body.clone(), reply.clone()));
        }
        reply
    }

    /// `code` is Resend's error `name` ("" = the usual one for the status).
    fn error(&mut self, status: u16, code: &str) -> Reply {
        let name = match (status, code) {
            (_, c) if !c.is_empty() => c,
            (401, _) => "missing_api_key",
            (403, _) => "invalid_api_key",
            (404, _) => "not_found",
            (409, _) => "concurrent_idempotent_requests",
            (422, _) => "validation_error",
            (429, _) => "rate_limit_exceeded",
            (s, _) if s >= 500 => "internal_server_error",
            _ => "validation_error",
        };
        let message = match name {
            "daily_quota_exceeded" => "You have reached your daily email sending quota.",
            "monthly_quota_exceeded" => "You have reached your monthly email sending quota.",
            "concurrent_idempotent_requests" => {
                "Same idempotency key used while original request is still in progress."
            }
            "rate_limit_exceeded" => "Too many requests. You can only make 5 requests per second.",
            _ => "Mock Resend error.",
        };
        Self::err(status, name, message)
    }

    fn rate_limited(&mut self, status: u16, wait: Wait) -> Reply {
        let secs = wait.seconds().to_string();
        Reply::json(
            status,
            &json!({"statusCode": status, "message": "Too many requests. You can only make 5 requests per second.", "name": "rate_limit_exceeded"}),
        )
        .header("ratelimit-limit", "5")
        .header("ratelimit-remaining", "0")
        .header("ratelimit-reset", secs.clone())
        .header("retry-after", secs)
    }
}

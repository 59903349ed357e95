//! SendGrid v3 Mail Send: `POST /v3/mail/send`, Bearer key, JSON with `personalizations`.
//!
//! | answer | verdict |
//! |---|---|
//! | 2xx (202, empty) | delivered, id from `X-Message-Id` |
//! | 429 | pause the target until `Retry-After` or `X-RateLimit-Reset` (epoch seconds) |
//! | 408, 5xx | retry |
//! | 400, 401, 403, 404, 413, other 4xx | dead, with `errors[].message` |

use std::time::SystemTime;

use serde_json::{Value, json};

use super::{Mail, base, split_address};
use crate::secret::Secret;
use crate::targets::verdict::{by_status, epoch_reset, excerpt, header_str, retry_after};
use crate::targets::{HeaderText, HttpRequest, HttpResponse, RequestBody, Verdict};

pub const DEFAULT_BASE: &str = "https://api.sendgrid.com";

/// The Mail Send request; plain text comes before HTML, as SendGrid requires.
pub fn request(base_url: Option<&str>, api_key: &Secret, mail: &Mail, key: &str) -> HttpRequest {
    let to: Vec<Value> = mail.to.iter().map(|a| address(a)).collect();
    let mut body = json!({
        "personalizations": [{"to": to}],
        "from": address(&mail.from),
        "subject": mail.subject,
        "content": [
            {"type": "text/plain", "value": mail.text},
            {"type": "text/html", "value": mail.html},
        ],
        "custom_args": {"mqa_delivery": key},
    });
    if !mail.headers.is_empty() {
        body["headers"] = super::header_object(&mail.headers);
    }
    HttpRequest {
        url: Secret::new(format!("{}/v3/mail/send", base(base_url, DEFAULT_BASE))),
        headers: vec![(
            "authorization".to_string(),
            HeaderText::Secret(Secret::new(format!("Bearer {}", api_key.expose()))),
        )],
        body: RequestBody::Json(body),
    }
}

/// `{email, name?}` from `Name <addr>` or a bare address.
fn address(text: &str) -> Value {
    match split_address(text) {
        (Some(name), email) => json!({"email": email, "name": name}),
        (None, email) => json!({"email": email}),
    }
}

pub fn classify(resp: &HttpResponse, now: SystemTime) -> Verdict {
    if (200..300).contains(&resp.status) {
        let id = header_str(&resp.headers, "x-message-id").map(str::to_string);
        return Verdict::delivered(id);
    }
    let detail = error_detail(resp.status, &resp.body);
    if resp.status == 429 {
        let wait = retry_after(&resp.headers, now)
            .or_else(|| epoch_reset(&resp.headers, "x-ratelimit-reset", now));
        return Verdict::pause_target(wait, format!("SendGrid answered 429 {detail}"));
    }
    by_status("SendGrid", resp.status, &detail, &resp.headers, now)
}

/// The `errors[].message` texts (with their field), and what the status usually means.
fn error_detail(status: u16, body: &str) -> String {
    let messages: Vec<String> = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|json| json["errors"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|e| {
            let message = e["message"].as_str()?;
            Some(match e["field"].as_str() {
                Some(field) => format!("{message} ({field})"),
                None => message.to_string(),
            })
        })
        .collect();
    let text = if messages.is_empty() {
        excerpt(body)
    } else {
        excerpt(&messages.join("; "))
    };
    let hint = match status {
        401 => ": the API key is wrong or revoked",
        403 => ": the key lacks the mail.send permission, or the sender is not verified",
        413 => ": the message is too large",
        _ => "",
    };
    format!("{text}{hint}")
}

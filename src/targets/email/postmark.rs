//! Postmark: `POST /email`, `X-Postmark-Server-Token`, PascalCase JSON.
//!
//! | answer | verdict |
//! |---|---|
//! | 200 with `ErrorCode` 0 | delivered, `MessageID` |
//! | 422 `ErrorCode` 405 (not allowed to send, e.g. out of credits) | pause the target for an hour |
//! | 422 `ErrorCode` 406 (inactive recipient), 300, 400–413 | dead, with `Message` |
//! | 401 (`ErrorCode` 10) | dead: bad server token |
//! | 429 | pause the target (backoff; Postmark sends no wait) |
//! | 408, 5xx | retry |
//! | other 4xx | dead |

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::{Mail, base};
use crate::secret::Secret;
use crate::targets::verdict::{by_status, excerpt};
use crate::targets::{HeaderText, HttpRequest, HttpResponse, RequestBody, Verdict};

pub const DEFAULT_BASE: &str = "https://api.postmarkapp.com";

/// How long to pause a server that may not send (out of credits, account pending).
pub const NOT_ALLOWED_PAUSE: Duration = Duration::from_secs(3600);

pub fn request(base_url: Option<&str>, token: &Secret, mail: &Mail, key: &str) -> HttpRequest {
    let mut body = json!({
        "From": mail.from,
        "To": mail.to.join(", "),
        "Subject": mail.subject,
        "HtmlBody": mail.html,
        "TextBody": mail.text,
        "MessageStream": "outbound",
        "Metadata": {"mqa_delivery": key},
    });
    if !mail.headers.is_empty() {
        // `[{"Name": …, "Value": …}]`.
        let headers: Vec<Value> = mail
            .headers
            .iter()
            .map(|(name, value)| json!({"Name": name, "Value": value}))
            .collect();
        body["Headers"] = Value::Array(headers);
    }
    HttpRequest {
        url: Secret::new(format!("{}/email", base(base_url, DEFAULT_BASE))),
        headers: vec![
            (
                "accept".to_string(),
                HeaderText::Plain("application/json".to_string()),
            ),
            (
                "x-postmark-server-token".to_string(),
                HeaderText::Secret(token.clone()),
            ),
        ],
        body: RequestBody::Json(body),
    }
}

pub fn classify(resp: &HttpResponse, now: SystemTime) -> Verdict {
    let json: Value = serde_json::from_str(&resp.body).unwrap_or(Value::Null);
    let code = json["ErrorCode"].as_i64();
    let message = json["Message"]
        .as_str()
        .map(excerpt)
        .unwrap_or_else(|| excerpt(&resp.body));
    let ok = (200..300).contains(&resp.status);
    if ok && code.unwrap_or(0) == 0 {
        return Verdict::delivered(json["MessageID"].as_str().map(str::to_string));
    }
    let status = resp.status;
    let detail = match code {
        Some(c) => format!("(ErrorCode {c}) {message}"),
        None => message,
    };
    match (status, code) {
        (_, Some(405)) => Verdict::pause_target(
            Some(NOT_ALLOWED_PAUSE),
            format!(
                "Postmark answered {status} {detail}: the account may not send (out of credits?)"
            ),
        ),
        (_, Some(406)) => Verdict::dead(format!(
            "Postmark answered {status} {detail}: the recipient is suppressed after a bounce \
             or complaint; reactivate it in Postmark"
        )),
        (401, _) | (_, Some(10)) => Verdict::dead(format!(
            "Postmark answered {status} {detail}: the server token is wrong"
        )),
        (s, Some(_)) if (200..300).contains(&s) => {
            Verdict::dead(format!("Postmark answered {s} {detail}"))
        }
        _ => by_status("Postmark", status, &detail, &resp.headers, now),
    }
}

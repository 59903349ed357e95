//! Resend: `POST /emails`, Bearer key, JSON, and an `Idempotency-Key` derived from the
//! delivery key so a retry after a lost answer cannot send the mail twice.
//!
//! | answer | verdict |
//! |---|---|
//! | 2xx | delivered, `id` |
//! | 409 `concurrent_idempotent_requests`, `resource_locked` | retry (the first attempt is still running) |
//! | 409 `invalid_idempotent_request` | dead (the key was reused for another body) |
//! | 429 `daily_quota_exceeded`, `monthly_quota_exceeded` | pause the target ≥ 1 h |
//! | 429 `rate_limit_exceeded` (or other) | pause the target for `retry-after` / `ratelimit-reset` |
//! | 408, 5xx | retry |
//! | 400, 401, 403, 404, 405, 422, other 4xx | dead, with `name: message` |

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Mail, base};
use crate::secret::Secret;
use crate::targets::verdict::{by_status, excerpt, retry_after, seconds_header};
use crate::targets::{HeaderText, HttpRequest, HttpResponse, RequestBody, Verdict};

pub const DEFAULT_BASE: &str = "https://api.resend.com";

/// The shortest pause for a daily or monthly quota.
pub const QUOTA_PAUSE: Duration = Duration::from_secs(3600);

pub fn request(base_url: Option<&str>, api_key: &Secret, mail: &Mail, key: &str) -> HttpRequest {
    let mut body = json!({
        "from": mail.from,
        "to": mail.to,
        "subject": mail.subject,
        "html": mail.html,
        "text": mail.text,
    });
    if !mail.headers.is_empty() {
        body["headers"] = super::header_object(&mail.headers);
    }
    HttpRequest {
        url: Secret::new(format!("{}/emails", base(base_url, DEFAULT_BASE))),
        headers: vec![
            (
                "authorization".to_string(),
                HeaderText::Secret(Secret::new(format!("Bearer {}", api_key.expose()))),
            ),
            (
                "idempotency-key".to_string(),
                HeaderText::Plain(idempotency_key(key)),
            ),
        ],
        body: RequestBody::Json(body),
    }
}

/// The delivery key itself when Resend accepts it (1–256 visible ASCII characters), else a
/// hash of it.
pub fn idempotency_key(key: &str) -> String {
    let fits = (1..=256).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic());
    if fits {
        key.to_string()
    } else {
        format!("mqa-{}", hex::encode(Sha256::digest(key.as_bytes())))
    }
}

pub fn classify(resp: &HttpResponse, now: SystemTime) -> Verdict {
    let json: Value = serde_json::from_str(&resp.body).unwrap_or(Value::Null);
    if (200..300).contains(&resp.status) {
        return Verdict::delivered(json["id"].as_str().map(str::to_string));
    }
    let name = json["name"].as_str().unwrap_or("");
    let detail = match (name, json["message"].as_str()) {
        ("", None) => excerpt(&resp.body),
        (n, None) => excerpt(n),
        (n, Some(m)) => excerpt(&format!("{n}: {m}")),
    };
    let status = resp.status;
    let wait = retry_after(&resp.headers, now)
        .or_else(|| seconds_header(&resp.headers, "ratelimit-reset"));
    match (status, name) {
        (409, "invalid_idempotent_request") => Verdict::dead(format!(
            "Resend answered 409 {detail}: the delivery key was already used for another message"
        )),
        (409, "concurrent_idempotent_requests" | "resource_locked") => Verdict::retry(
            wait,
            format!("Resend answered 409 {detail}: an earlier attempt is still being processed"),
        ),
        (429, "daily_quota_exceeded" | "monthly_quota_exceeded") => Verdict::pause_target(
            Some(wait.map_or(QUOTA_PAUSE, |w| w.max(QUOTA_PAUSE))),
            format!("Resend answered 429 {detail}: the sending quota is used up"),
        ),
        (429, _) => Verdict::pause_target(wait, format!("Resend answered 429 {detail}")),
        _ => by_status("Resend", status, &detail, &resp.headers, now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_usable_delivery_key_is_the_idempotency_key() {
        assert_eq!(idempotency_key("delivery-42"), "delivery-42");
    }

    #[test]
    fn an_unusable_delivery_key_is_hashed_stably() {
        let long = "k".repeat(300);
        let a = idempotency_key(&long);
        assert_eq!(a, idempotency_key(&long));
        assert!(a.starts_with("mqa-") && a.len() == 68);
        assert!(idempotency_key("with space").starts_with("mqa-"));
        assert!(idempotency_key("").starts_with("mqa-"));
    }
}

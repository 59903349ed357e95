//! What Slack's answers mean, for incoming webhooks (plain-text error bodies keyed on the
//! status class) and for the Web API (HTTP 200 with `"ok": false` and an error string).

use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::targets::verdict::{answered, by_status, excerpt, is_transient, retry_after};
use crate::targets::{HttpResponse, Verdict};

/// How long to pause a workspace that hit its free-plan message quota.
pub const QUOTA_PAUSE: Duration = Duration::from_secs(3600);

/// Incoming webhook: 200 is delivered; 429 pauses the target for `Retry-After`; 408 and 5xx
/// are retried; every other status is permanent, explained from the error string.
pub fn classify_webhook(resp: &HttpResponse, now: SystemTime) -> Verdict {
    let body = resp.body.trim();
    if (200..300).contains(&resp.status) {
        // A JSON `ok: false` in a 2xx (seen behind some proxies and on workflow hooks).
        if let Some(error) = api_error(body) {
            return classify_api_error(&error, resp, now);
        }
        return Verdict::delivered(None);
    }
    let detail = with_hint(excerpt(body), webhook_hint(body));
    by_status("Slack", resp.status, &detail, &resp.headers, now)
}

/// Web API: `ok: true` is delivered (`channel/ts` as the id); `ok: false` is judged by its
/// error string; 429 pauses the target for `Retry-After`; 5xx is retried.
pub fn classify_api(resp: &HttpResponse, now: SystemTime) -> Verdict {
    if resp.status == 200 {
        let Ok(json) = serde_json::from_str::<Value>(&resp.body) else {
            return Verdict::retry(
                None,
                answered(
                    "Slack",
                    200,
                    &format!("with a body that is not JSON: {}", excerpt(&resp.body)),
                ),
            );
        };
        if json["ok"] == Value::Bool(true) {
            return Verdict::delivered(message_id(&json));
        }
        let error = json["error"]
            .as_str()
            .unwrap_or("unknown_error")
            .to_string();
        return classify_api_error(&error, resp, now);
    }
    let detail = api_error(&resp.body).map_or_else(|| excerpt(&resp.body), |e| excerpt(&e));
    by_status("Slack", resp.status, &detail, &resp.headers, now)
}

/// The `error` of a JSON body with `"ok": false`.
fn api_error(body: &str) -> Option<String> {
    let json: Value = serde_json::from_str(body).ok()?;
    if json["ok"] != Value::Bool(false) {
        return None;
    }
    Some(
        json["error"]
            .as_str()
            .unwrap_or("unknown_error")
            .to_string(),
    )
}

fn message_id(json: &Value) -> Option<String> {
    let ts = json["ts"].as_str()?;
    Some(match json["channel"].as_str() {
        Some(channel) => format!("{channel}/{ts}"),
        None => ts.to_string(),
    })
}

/// One row of the Web API error table.
fn classify_api_error(error: &str, resp: &HttpResponse, now: SystemTime) -> Verdict {
    let status = resp.status;
    // Matched as sent, shown as one bounded line: the string is the server's to choose.
    let shown = excerpt(error);
    let reason = |hint: &str| with_hint(format!("Slack answered {status} {shown}"), Some(hint));
    match error {
        "ratelimited" | "rate_limited" => {
            Verdict::pause_target(retry_after(&resp.headers, now), reason("rate limited"))
        }
        "message_limit_exceeded" => Verdict::pause_target(
            Some(QUOTA_PAUSE),
            reason("the workspace reached its message quota"),
        ),
        "internal_error" | "fatal_error" => Verdict::retry(
            None,
            reason(
                "a Slack-side failure; the post may have partly succeeded, so a retry can duplicate it",
            ),
        ),
        "service_unavailable" | "request_timeout" | "team_added_to_org" | "org_login_required" => {
            Verdict::retry(
                retry_after(&resp.headers, now),
                reason("a transient Slack condition"),
            )
        }
        _ if is_transient(status) => Verdict::retry(retry_after(&resp.headers, now), reason("")),
        _ => Verdict::dead(with_hint(
            format!("Slack answered {status} {shown}"),
            api_hint(error),
        )),
    }
}

fn with_hint(text: String, hint: Option<&str>) -> String {
    match hint {
        Some(h) if !h.is_empty() => format!("{text}: {h}"),
        _ => text,
    }
}

/// What an incoming-webhook error string means, for the operator.
fn webhook_hint(body: &str) -> Option<&'static str> {
    Some(match body {
        "invalid_payload" => "Slack could not read the message (check a raw payload template)",
        "no_text" | "missing_text_or_fallback_or_attachments" => "the message had nothing to show",
        "too_many_attachments" => "the message had more than 100 attachments",
        "user_not_found" | "no_service_id" | "invalid_token" => {
            "the webhook URL is wrong or was revoked"
        }
        "action_prohibited" => "an admin restricted this webhook",
        "posting_to_general_channel_denied" => "an admin restricted posting to #general",
        "channel_not_found" => "the channel was deleted or the app lost access to it",
        "no_service" | "no_active_hooks" => "the webhook was removed or its app uninstalled",
        "no_team" | "team_disabled" => "the workspace is gone or disabled",
        "channel_is_archived" => "the channel is archived",
        "rollup_error" => "a Slack-side failure",
        _ => return None,
    })
}

/// What a Web API error string means, for the operator.
fn api_hint(error: &str) -> Option<&'static str> {
    Some(match error {
        "channel_not_found" => "the channel does not exist or the bot cannot see it",
        "not_in_channel" => "invite the bot to the channel (or grant chat:write.public)",
        "is_archived" => "the channel is archived",
        "invalid_auth" | "not_authed" | "account_inactive" | "token_revoked" | "token_expired" => {
            "the bot token is wrong, expired or revoked"
        }
        "missing_scope"
        | "no_permission"
        | "not_allowed_token_type"
        | "access_denied"
        | "ekm_access_denied"
        | "app_access_restricted"
        | "enterprise_is_restricted" => "the token lacks permission (it needs chat:write)",
        e if e.starts_with("restricted_action") => "an admin restricted posting here",
        "team_not_found" => "the workspace is gone",
        "no_text"
        | "msg_too_long"
        | "invalid_blocks"
        | "invalid_blocks_format"
        | "msg_blocks_too_long"
        | "too_many_attachments"
        | "attachment_payload_limit_exceeded"
        | "markdown_text_conflict"
        | "invalid_arguments"
        | "invalid_arg_name"
        | "invalid_charset"
        | "invalid_form_data"
        | "invalid_post_type"
        | "missing_post_type"
        | "invalid_json"
        | "json_not_object"
        | "metadata_too_large" => "Slack rejected the message (check a raw payload template)",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_api_error_string_is_shown_as_one_bounded_line() {
        let error = format!("channel_gone\nforged line\u{1b}[31m{}", "x".repeat(10_000));
        let body = serde_json::json!({"ok": false, "error": error}).to_string();
        for status in [200, 400, 500] {
            let verdict = classify_api(&HttpResponse::new(status, body.clone()), SystemTime::now());
            let reason = verdict.reason().unwrap_or_default();
            assert!(reason.contains("channel_gone forged line"), "{reason}");
            assert!(!reason.contains(['\n', '\u{1b}']), "{reason}");
            assert!(reason.chars().count() < 400, "{} characters", reason.len());
        }
    }
}

//! `POST /webhook/<token>` (also `POST /webhook` with `?token=` or `Authorization: Bearer`):
//! authenticates against the current configuration's token, checks the Content-Type, reads the
//! body up to the size limit and within the time limit, and hands it to intake.
//!
//! The checks run in the order of their answers' precedence: 401, 415, 413 / 408, then what
//! intake says (400, 503, 202). Nothing here matches rules or sends anything.

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Buf;
use futures_util::{Stream, StreamExt};
use serde_json::json;
use warp::Filter;
use warp::http::{HeaderMap, StatusCode, header};
use warp::path::FullPath;
use warp::reject::Rejection;
use warp::reply::Response;

use super::auth::{self, Credential};
use super::reply::{ApiError, json_response, respond};
use crate::app::Relay;
use crate::pipeline::intake::{self, IntakeError};

/// The webhook route.
pub(super) fn route(
    relay: Arc<Relay>,
    body_timeout: Duration,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static {
    webhook_path()
        .and(warp::post())
        .and(raw_query())
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .then(
            move |path: Option<String>, query: String, headers: HeaderMap, body| {
                let relay = relay.clone();
                async move {
                    let credential = Credential::from_request(path.as_deref(), &query, &headers);
                    respond(handle(&relay, credential, &headers, body, body_timeout).await)
                }
            },
        )
}

/// `/webhook` (no token in the path) or `/webhook/<token>`. Matched on the full path rather
/// than with warp's segment filters, which trace-log the segments they see (the token).
fn webhook_path() -> impl Filter<Extract = (Option<String>,), Error = Rejection> + Clone {
    warp::path::full().and_then(|full: FullPath| async move {
        match full.as_str().strip_prefix("/webhook") {
            Some("" | "/") => Ok(None),
            Some(rest) => match rest.strip_prefix('/') {
                Some(token) if !token.contains('/') => Ok(Some(token.to_string())),
                _ => Err(warp::reject::not_found()),
            },
            None => Err(warp::reject::not_found()),
        }
    })
}

/// The raw query string, empty when there is none.
fn raw_query() -> impl Filter<Extract = (String,), Error = std::convert::Infallible> + Clone {
    warp::query::raw().or(warp::any().map(String::new)).unify()
}

async fn handle<S, B>(
    relay: &Relay,
    credential: Option<Credential>,
    headers: &HeaderMap,
    body: S,
    body_timeout: Duration,
) -> Result<Response, ApiError>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let body = match checked_body(relay, credential, headers, body, body_timeout).await {
        Ok(body) => body,
        Err(e) => {
            // Refused before intake, which counts its own refusals.
            relay.metrics.event_rejected(e.code);
            return Err(e);
        }
    };
    match intake::accept(relay, &body).await {
        Ok(ingested) => Ok(json_response(
            StatusCode::ACCEPTED,
            &json!({ "id": ingested.id }),
        )),
        Err(err) => Err(intake_error(err)),
    }
}

/// Token, content type and size checks, then the body, read within `body_timeout`.
async fn checked_body<S, B>(
    relay: &Relay,
    credential: Option<Credential>,
    headers: &HeaderMap,
    body: S,
    body_timeout: Duration,
) -> Result<Vec<u8>, ApiError>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    // One snapshot for the whole request, so a reload mid-request cannot mix two configs.
    let app = relay.app();
    let server = &app.config.server;
    auth::check(server.token.as_ref(), credential.as_ref(), WEBHOOK_AUTH)?;
    check_content_type(headers)?;
    check_content_length(headers, server.max_body_bytes)?;
    tokio::time::timeout(body_timeout, read_body(body, server.max_body_bytes))
        .await
        .map_err(|_| ApiError::request_timeout(body_timeout))?
}

const WEBHOOK_AUTH: auth::Messages = auth::Messages {
    not_configured: "no webhook token is configured (server.token), so no event is accepted",
    missing: "missing token: post to /webhook/<token>, or send ?token= or Authorization: Bearer <token>",
    wrong: "wrong token",
};

fn intake_error(err: IntakeError) -> ApiError {
    match err {
        IntakeError::Envelope(e) => ApiError::bad_request(e.code(), e.to_string()),
        IntakeError::Draining => {
            ApiError::unavailable("draining", "the relay is shutting down; retry shortly")
        }
        IntakeError::Store(e) => {
            tracing::warn!(error = %e, "event not stored");
            ApiError::unavailable(
                "store_unavailable",
                "the event could not be stored now; retry shortly",
            )
        }
    }
}

/// Accepts `application/json` and any `<type>/<subtype>+json`, with any parameters. An absent
/// Content-Type is accepted (the body is parsed as JSON).
fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let essence = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if is_json_media_type(&essence) {
        return Ok(());
    }
    let shown: String = essence.chars().take(80).collect();
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        format!("the Content-Type must be application/json (or a +json type), got `{shown}`"),
    ))
}

fn is_json_media_type(essence: &str) -> bool {
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    let token = |s: &str| !s.is_empty() && !s.contains(char::is_whitespace);
    if !token(kind) || !token(subtype) {
        return false;
    }
    subtype == "json" && kind == "application"
        || subtype.len() > "+json".len() && subtype.ends_with("+json")
}

/// Refuses early when the announced length is already over the limit.
fn check_content_length(headers: &HeaderMap, limit: u64) -> Result<(), ApiError> {
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match announced {
        Some(len) if len > limit => Err(ApiError::payload_too_large(limit)),
        _ => Ok(()),
    }
}

/// Reads the body chunk by chunk and stops as soon as it passes `limit` (chunked bodies have
/// no Content-Length to check up front).
pub(super) async fn read_body<S, B>(body: S, limit: u64) -> Result<Vec<u8>, ApiError>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let mut body = pin!(body);
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.map_err(|e| {
            tracing::debug!(error = %e, "request body read failed");
            ApiError::bad_request("unreadable_body", "the request body could not be read")
        })?;
        let total = out.len() as u64 + chunk.remaining() as u64;
        if total > limit {
            return Err(ApiError::payload_too_large(limit));
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            let n = part.len();
            out.extend_from_slice(part);
            chunk.advance(n);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_media_types_are_recognised() {
        for ok in [
            "application/json",
            "application/vnd.monitorqa+json",
            "text/x+json",
        ] {
            assert!(is_json_media_type(ok), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/jsonx",
            "+json",
            "application/+json",
            "json",
            "",
        ] {
            assert!(!is_json_media_type(bad), "{bad}");
        }
    }
}

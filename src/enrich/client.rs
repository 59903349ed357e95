//! The MonitorQA API client: one GET per lookup, a few short retries, and a verdict.
//!
//! Owns the request (URL built from validated segments, the `X-API-KEY` header marked
//! sensitive, no redirects so the key never travels to another host), the status table
//! (which answers are worth another try), the retry delay and the body check. It never
//! returns an error: every way a lookup can go wrong becomes an [`Answer`]. Nothing it
//! produces (answers, log lines) contains the API key or text taken from the response.

use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Client, Response, StatusCode, Url};
use serde_json::Value;

use super::{EnrichOptions, LookupKind};
use crate::backoff::Backoff;
use crate::config::MonitorqaConfig;
use crate::targets::verdict::retry_after;

/// The per-request timeout when the configuration leaves it at zero.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

/// How one lookup ended, after any retries.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Answer {
    Found(Value),
    NotFound,
    Unauthorized,
    Forbidden,
    Failed(String),
}

/// How one HTTP attempt ended.
#[derive(Debug)]
enum Attempt {
    Done(Answer),
    /// Worth another try; `retry_after` is the server's wish, if it said one.
    Retry {
        reason: String,
        retry_after: Option<Duration>,
    },
}

/// What a status code means for a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatusClass {
    Success,
    NotFound,
    Unauthorized,
    Forbidden,
    /// 429, 500, 502, 503, 504.
    Transient,
    /// Anything else (a 400, an unexpected redirect): trying again will not help.
    Permanent,
}

/// The status table. Pure.
pub(crate) fn classify(status: StatusCode) -> StatusClass {
    match status.as_u16() {
        200..=299 => StatusClass::Success,
        401 => StatusClass::Unauthorized,
        403 => StatusClass::Forbidden,
        404 => StatusClass::NotFound,
        429 | 500 | 502 | 503 | 504 => StatusClass::Transient,
        _ => StatusClass::Permanent,
    }
}

/// The wait before retry number `retry` (0-based), with the relay's one backoff
/// ([`crate::backoff`]): from `backoff_base`, doubling, a server's `Retry-After` honoured up to
/// `max_retry_after` but never shorter than the backoff's floor.
pub(crate) fn retry_delay(
    retry: u32,
    retry_after: Option<Duration>,
    opts: &EnrichOptions,
    jitter: f64,
) -> Duration {
    let backoff = Backoff {
        initial: opts.backoff_base,
        max: opts.max_retry_after,
        longest_server_wait: opts.max_retry_after,
    };
    backoff.wait(retry_after, retry.saturating_add(1), jitter)
}

/// A 2xx body must be a JSON object; anything else is an unexpected answer.
pub(crate) fn parse_body(body: &[u8]) -> Answer {
    match serde_json::from_slice::<Value>(body) {
        Ok(value @ Value::Object(_)) => Answer::Found(value),
        _ => Answer::Failed("unexpected answer".into()),
    }
}

/// One configured connection to the MonitorQA API.
pub(crate) struct ApiClient {
    http: Client,
    base: Url,
    timeout: Duration,
    opts: EnrichOptions,
}

/// Why an [`ApiClient`] could not be built. Never contains the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ClientError {
    #[error("the API key cannot be sent as a header value")]
    BadKey,
    #[error("the API base URL is not an http(s) URL")]
    BadBaseUrl,
    #[error("the HTTP client could not be initialised")]
    Http,
}

impl ApiClient {
    pub(crate) fn new(
        cfg: &MonitorqaConfig,
        opts: EnrichOptions,
    ) -> Result<ApiClient, ClientError> {
        let mut key =
            HeaderValue::from_str(cfg.api_key.expose()).map_err(|_| ClientError::BadKey)?;
        key.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", key);
        let base = parse_base_url(&cfg.base_url)?;
        let timeout = if cfg.timeout.is_zero() {
            DEFAULT_TIMEOUT
        } else {
            cfg.timeout
        };
        let http = Client::builder()
            .default_headers(headers)
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| ClientError::Http)?;
        Ok(ApiClient {
            http,
            base,
            timeout,
            opts,
        })
    }

    /// `GET /audit/{id}` or `GET /corrective-actions/{id}`, retried on transient failures
    /// within the total budget. `id` must already be validated.
    pub(crate) async fn fetch(&self, kind: LookupKind, id: &str) -> Answer {
        let url = self.url_for(kind, id);
        let started = Instant::now();
        let mut retries = 0;
        loop {
            let remaining = self.opts.total_budget.saturating_sub(started.elapsed());
            let (reason, retry_after) = match self.attempt(url.clone(), remaining).await {
                Attempt::Done(answer) => return answer,
                Attempt::Retry {
                    reason,
                    retry_after,
                } => (reason, retry_after),
            };
            let attempts = retries + 1;
            if retries >= self.opts.max_retries {
                return Answer::Failed(format!("{reason} after {attempts} attempts"));
            }
            let delay = retry_delay(retries, retry_after, &self.opts, fastrand::f64());
            if started.elapsed() + delay >= self.opts.total_budget {
                return Answer::Failed(format!("{reason}, out of time after {attempts} attempts"));
            }
            tracing::debug!(kind = kind.label(), id, %reason, ?delay, "retrying MonitorQA lookup");
            tokio::time::sleep(delay).await;
            retries += 1;
        }
    }

    fn url_for(&self, kind: LookupKind, id: &str) -> Url {
        let mut url = self.base.clone();
        // Cannot fail: `parse_base_url` rejected URLs that cannot be a base.
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().push(kind.path_segment()).push(id);
        }
        url
    }

    async fn attempt(&self, url: Url, remaining: Duration) -> Attempt {
        let timeout = self.timeout.min(remaining);
        let response = match self.http.get(url).timeout(timeout).send().await {
            Ok(response) => response,
            Err(err) => return transport_failure(err),
        };
        let status = response.status();
        match classify(status) {
            StatusClass::Success => self.read_body(response).await,
            StatusClass::NotFound => Attempt::Done(Answer::NotFound),
            StatusClass::Unauthorized => Attempt::Done(Answer::Unauthorized),
            StatusClass::Forbidden => Attempt::Done(Answer::Forbidden),
            StatusClass::Transient => Attempt::Retry {
                reason: format!("HTTP {}", status.as_u16()),
                retry_after: retry_after(response.headers(), SystemTime::now()),
            },
            StatusClass::Permanent => {
                Attempt::Done(Answer::Failed(format!("HTTP {}", status.as_u16())))
            }
        }
    }

    async fn read_body(&self, mut response: Response) -> Attempt {
        let cap = self.opts.max_body_bytes;
        if response.content_length().is_some_and(|n| n > cap as u64) {
            return Attempt::Done(Answer::Failed("answer too large".into()));
        }
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) if body.len() + chunk.len() > cap => {
                    return Attempt::Done(Answer::Failed("answer too large".into()));
                }
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => return Attempt::Done(parse_body(&body)),
                Err(err) => return transport_failure(err),
            }
        }
    }
}

fn parse_base_url(text: &str) -> Result<Url, ClientError> {
    let url = Url::parse(text).map_err(|_| ClientError::BadBaseUrl)?;
    let usable = matches!(url.scheme(), "http" | "https") && !url.cannot_be_a_base();
    if usable {
        Ok(url)
    } else {
        Err(ClientError::BadBaseUrl)
    }
}

/// A timeout or a connection problem is worth another try; the words are our own, so no URL
/// or response text reaches a log line.
fn transport_failure(err: reqwest::Error) -> Attempt {
    let err = err.without_url();
    let reason = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    tracing::debug!(error = %err, "MonitorQA request failed");
    Attempt::Retry {
        reason: reason.into(),
        retry_after: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::RETRY_AFTER;

    fn opts() -> EnrichOptions {
        EnrichOptions::default()
    }

    #[test]
    fn retryable_statuses_are_exactly_the_transient_ones() {
        for code in [429, 500, 502, 503, 504] {
            let status = StatusCode::from_u16(code).unwrap();
            assert_eq!(classify(status), StatusClass::Transient, "{code}");
        }
        for code in [400, 301, 405, 501] {
            let status = StatusCode::from_u16(code).unwrap();
            assert_eq!(classify(status), StatusClass::Permanent, "{code}");
        }
        assert_eq!(
            classify(StatusCode::UNAUTHORIZED),
            StatusClass::Unauthorized
        );
        assert_eq!(classify(StatusCode::FORBIDDEN), StatusClass::Forbidden);
        assert_eq!(classify(StatusCode::NOT_FOUND), StatusClass::NotFound);
        assert_eq!(classify(StatusCode::OK), StatusClass::Success);
    }

    #[test]
    fn the_lookup_backoff_is_the_relays_one_doubling_from_the_base() {
        assert_eq!(
            retry_delay(0, None, &opts(), 0.0),
            Duration::from_millis(100)
        );
        assert_eq!(
            retry_delay(0, None, &opts(), 0.999),
            Duration::from_micros(199_900)
        );
        assert_eq!(
            retry_delay(1, None, &opts(), 0.0),
            Duration::from_millis(200)
        );
        assert_eq!(
            retry_delay(1, None, &opts(), 0.5),
            Duration::from_millis(300)
        );
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap_and_never_below_the_backoff() {
        let wish = Some(Duration::from_secs(2));
        assert_eq!(retry_delay(0, wish, &opts(), 0.0), Duration::from_secs(2));
        let long = Some(Duration::from_secs(3600));
        assert_eq!(retry_delay(0, long, &opts(), 0.0), opts().max_retry_after);
        let zero = Some(Duration::ZERO);
        assert_eq!(
            retry_delay(1, zero, &opts(), 0.5),
            Duration::from_millis(300)
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let header = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
            retry_after(&headers, now)
        };
        assert_eq!(header(" 7 "), Some(Duration::from_secs(7)));
        let date = httpdate::fmt_http_date(now + Duration::from_secs(3));
        assert_eq!(header(&date), Some(Duration::from_secs(3)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(3));
        assert_eq!(header(&past), Some(Duration::ZERO));
        assert_eq!(header("soon"), None);
    }

    #[test]
    fn only_a_json_object_is_an_answer() {
        assert_eq!(
            parse_body(br#"{"id":"a1"}"#),
            Answer::Found(serde_json::json!({"id":"a1"}))
        );
        for body in [&b"[1]"[..], b"\"x\"", b"null", b"<html>", b""] {
            assert_eq!(parse_body(body), Answer::Failed("unexpected answer".into()));
        }
    }

    #[test]
    fn the_base_url_must_be_http() {
        assert!(parse_base_url("https://api-external.monitorqa.com").is_ok());
        assert!(parse_base_url("http://127.0.0.1:9/prefix/").is_ok());
        assert_eq!(parse_base_url("mailto:x@y"), Err(ClientError::BadBaseUrl));
        assert_eq!(parse_base_url("not a url"), Err(ClientError::BadBaseUrl));
    }
}

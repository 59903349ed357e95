//! The request a target builds, the answer it classifies, and the one function that does I/O:
//! [`execute`] sends an [`HttpRequest`] with a `reqwest::Client` and reads the answer.
//!
//! Secrets stay secret here: the URL and secret headers are [`Secret`]s, so `Debug` shows
//! neither, and a [`TransportError`] never carries the URL (reqwest's errors print it).

use std::fmt;
use std::time::Duration;

use reqwest::header::HeaderMap;

use super::scrub::{Scrubber, credential_parts, url_secret_parts};
use super::verdict::Verdict;
use crate::secret::Secret;

/// How much of an answer's body is kept for classification and reasons.
pub const MAX_RESPONSE_BODY: usize = 8 * 1024;

/// One HTTP POST, ready to send. Built purely by [`super::Target::build`].
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    /// The full URL (a Slack or Teams webhook URL is itself the credential).
    pub url: Secret,
    /// Extra headers; `Content-Type` is set from the body.
    pub headers: Vec<(String, HeaderText)>,
    pub body: RequestBody,
}

impl HttpRequest {
    /// The body as JSON, for showing what would be sent (never the URL or headers, which carry
    /// secrets): a JSON body as is; a multipart form (Mailgun) as an object of fields, a
    /// repeated field becoming a list.
    pub fn body_json(&self) -> serde_json::Value {
        use serde_json::{Map, Value};
        match &self.body {
            RequestBody::Json(v) => v.clone(),
            RequestBody::Multipart(fields) => {
                let mut map = Map::new();
                for (k, v) in fields {
                    let v = Value::String(v.clone());
                    match map.get_mut(k) {
                        Some(Value::Array(list)) => list.push(v),
                        Some(first) => *first = Value::Array(vec![first.take(), v]),
                        None => {
                            map.insert(k.clone(), v);
                        }
                    }
                }
                Value::Object(map)
            }
        }
    }

    /// The value of a header, secret or not (for tests and the `send` command's dry run).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.expose())
    }

    /// Every secret this request carries: the URL and its secret parts, the secret header
    /// values and their credential parts.
    pub fn secrets(&self) -> Vec<String> {
        let mut out = url_secret_parts(self.url.expose());
        for (_, value) in &self.headers {
            if let HeaderText::Secret(s) = value {
                out.push(s.expose().to_string());
                out.extend(credential_parts(s.expose()));
            }
        }
        out
    }
}

/// A header value: plain, or a secret that `Debug` does not show.
#[derive(Debug, Clone, PartialEq)]
pub enum HeaderText {
    Plain(String),
    Secret(Secret),
}

impl HeaderText {
    pub fn expose(&self) -> &str {
        match self {
            HeaderText::Plain(s) => s,
            HeaderText::Secret(s) => s.expose(),
        }
    }
}

/// The body of a request.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestBody {
    /// `application/json; charset=utf-8`.
    Json(serde_json::Value),
    /// `multipart/form-data`, fields in order (a name may repeat).
    Multipart(Vec<(String, String)>),
}

/// What the provider answered. The body is cut to [`MAX_RESPONSE_BODY`] bytes.
#[derive(Debug, Clone, Default)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl HttpResponse {
    /// An answer with a status and a body and no headers (tests, the `test` command).
    pub fn new(status: u16, body: impl Into<String>) -> HttpResponse {
        HttpResponse {
            status,
            headers: HeaderMap::new(),
            body: body.into(),
        }
    }

    /// The same answer with one more header; an invalid name or value is skipped.
    pub fn with_header(mut self, name: &str, value: &str) -> HttpResponse {
        if let (Ok(n), Ok(v)) = (
            reqwest::header::HeaderName::from_bytes(name.as_bytes()),
            reqwest::header::HeaderValue::from_str(value),
        ) {
            self.headers.append(n, v);
        }
        self
    }
}

/// Why no answer came back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TransportError {
    pub kind: TransportErrorKind,
    /// What went wrong, without the URL or any secret.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportErrorKind {
    /// No complete answer within the timeout; the request may have arrived.
    Timeout,
    /// No connection was made: the request was certainly not sent.
    Connect,
    /// Anything else (TLS, a broken connection, an invalid request).
    Other,
}

impl fmt::Display for TransportErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportErrorKind::Timeout => "timeout",
            TransportErrorKind::Connect => "connect",
            TransportErrorKind::Other => "transport",
        })
    }
}

/// A client for targets: no redirects (a POST to a moved webhook must fail loudly, and
/// credentials must not follow it), a `mqa-relay/<version>` user agent.
pub fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("mqa-relay/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Sends `req` and reads the answer, all within `timeout`.
pub async fn execute(
    client: &reqwest::Client,
    req: &HttpRequest,
    timeout: Duration,
) -> Result<HttpResponse, TransportError> {
    let fail = |err: reqwest::Error| transport_error(err, req);
    let builder = prepare(client, req)?.timeout(timeout);
    let resp = builder.send().await.map_err(fail)?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = read_body(resp).await.map_err(fail)?;
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

/// The reqwest request for `req`, with the content type its body needs.
fn prepare(
    client: &reqwest::Client,
    req: &HttpRequest,
) -> Result<reqwest::RequestBuilder, TransportError> {
    let url = reqwest::Url::parse(req.url.expose()).map_err(|e| TransportError {
        kind: TransportErrorKind::Other,
        message: format!("the target URL is not valid: {e}"),
    })?;
    let mut builder = client.post(url);
    for (name, value) in &req.headers {
        builder = builder.header(name.as_str(), value.expose());
    }
    Ok(match &req.body {
        // Serializing a `Value` cannot fail (its keys are strings), so the default is unused.
        RequestBody::Json(value) => builder
            .header("content-type", "application/json; charset=utf-8")
            .body(serde_json::to_vec(value).unwrap_or_default()),
        RequestBody::Multipart(fields) => {
            let boundary = boundary_for(fields);
            builder
                .header(
                    "content-type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(encode_multipart(fields, &boundary))
        }
    })
}

/// Reads at most [`MAX_RESPONSE_BODY`] bytes of the answer, lossily as UTF-8.
async fn read_body(mut resp: reqwest::Response) -> reqwest::Result<String> {
    let mut bytes = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        let room = MAX_RESPONSE_BODY - bytes.len();
        bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if bytes.len() >= MAX_RESPONSE_BODY {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The error, its causes, and no secret: reqwest's own text without the URL, and every secret
/// of the request scrubbed from the causes (built only on failure: it is a compiled pattern).
fn transport_error(err: reqwest::Error, req: &HttpRequest) -> TransportError {
    let kind = if err.is_timeout() {
        TransportErrorKind::Timeout
    } else if err.is_connect() {
        TransportErrorKind::Connect
    } else {
        TransportErrorKind::Other
    };
    TransportError {
        kind,
        message: Scrubber::new(req.secrets()).scrub(&describe(&err.without_url())),
    }
}

/// The error and its causes on one line: reqwest's own text ("error sending request") says
/// little; the causes say why (connection refused, operation timed out).
fn describe(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    for _ in 0..8 {
        let Some(cause) = source else { break };
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

/// A transport failure is always worth another try; a timeout may have delivered already.
pub fn classify_transport(err: &TransportError) -> Verdict {
    let reason = match err.kind {
        TransportErrorKind::Timeout => format!(
            "no answer before the timeout ({}); the provider may have received the message, \
             so a retry can duplicate it",
            err.message
        ),
        TransportErrorKind::Connect => {
            format!("could not connect; nothing was sent ({})", err.message)
        }
        TransportErrorKind::Other => format!("the request failed ({})", err.message),
    };
    Verdict::retry(None, reason)
}

/// A boundary that occurs in none of the fields.
fn boundary_for(fields: &[(String, String)]) -> String {
    let mut boundary = String::new();
    for _ in 0..8 {
        boundary = format!(
            "mqa-relay-{:016x}{:016x}",
            fastrand::u64(..),
            fastrand::u64(..)
        );
        if !fields
            .iter()
            .any(|(n, v)| n.contains(&boundary) || v.contains(&boundary))
        {
            break;
        }
    }
    boundary
}

/// `multipart/form-data` (RFC 7578) for text fields.
pub fn encode_multipart(fields: &[(String, String)], boundary: &str) -> Vec<u8> {
    let mut out = String::new();
    for (name, value) in fields {
        let name = name.replace(['"', '\r', '\n'], "_");
        out.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\n{value}\r\n"
        ));
    }
    out.push_str(&format!("--{boundary}--\r\n"));
    out.into_bytes()
}

/// Standard base64 with padding (for HTTP Basic credentials).
pub fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_multipart_body_becomes_an_object_with_lists_for_repeated_fields() {
        let req = HttpRequest {
            url: Secret::new("https://api.mailgun.net/v3/x/messages"),
            headers: vec![],
            body: RequestBody::Multipart(vec![
                ("to".into(), "a@x.example".into()),
                ("to".into(), "b@x.example".into()),
                ("subject".into(), "Hi".into()),
            ]),
        };
        assert_eq!(
            req.body_json(),
            json!({"to": ["a@x.example", "b@x.example"], "subject": "Hi"})
        );
    }

    #[test]
    fn base64_matches_the_rfc_examples() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(b"api:key-123"), "YXBpOmtleS0xMjM=");
    }

    #[test]
    fn multipart_keeps_repeated_fields_in_order() {
        let fields = vec![
            ("to".to_string(), "a@example.com".to_string()),
            ("to".to_string(), "b@example.com".to_string()),
        ];
        let body = String::from_utf8(encode_multipart(&fields, "XYZ")).unwrap();
        let a = body.find("a@example.com").unwrap();
        let b = body.find("b@example.com").unwrap();
        assert!(a < b);
        assert_eq!(body.matches("name=\"to\"").count(), 2);
        assert!(body.ends_with("--XYZ--\r\n"));
    }

    #[test]
    fn the_boundary_never_occurs_in_a_field() {
        let fields = vec![("text".to_string(), "mqa-relay-".repeat(50))];
        let boundary = boundary_for(&fields);
        assert!(!fields[0].1.contains(&boundary));
    }

    #[test]
    fn debug_of_a_request_shows_no_secret() {
        let req = HttpRequest {
            url: Secret::new("https://hooks.slack.com/services/T1/B1/hooksecret"),
            headers: vec![(
                "authorization".to_string(),
                HeaderText::Secret(Secret::new("Bearer tokensecret")),
            )],
            body: RequestBody::Json(serde_json::json!({"text": "hi"})),
        };
        let shown = format!("{req:?}");
        assert!(!shown.contains("hooksecret"));
        assert!(!shown.contains("tokensecret"));
    }

    #[test]
    fn a_timeout_says_the_message_may_have_arrived() {
        let err = TransportError {
            kind: TransportErrorKind::Timeout,
            message: "operation timed out".to_string(),
        };
        let Verdict::Retry { reason, .. } = classify_transport(&err) else {
            panic!("a timeout is retried");
        };
        assert!(reason.contains("may have received"));
    }
}

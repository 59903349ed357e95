//! Every answer the server gives that is not a success: one JSON shape,
//! `{"error": {"code": "...", "message": "..."}}`, and the one `recover` that turns warp's own
//! rejections (unknown path, wrong method, ...) into it, so no default HTML or text answer leaks.
//!
//! Messages never contain a secret or the request path (which may carry the webhook token).

use std::convert::Infallible;

use serde_json::{Value, json};
use warp::http::{HeaderValue, StatusCode, header};
use warp::reject::Rejection;
use warp::reply::{Reply, Response};

/// Seconds MonitorQA (or any client) is asked to wait after a 503.
const RETRY_AFTER_SECS: u32 = 5;

/// One failed request: status, a stable machine-readable code and a precise message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Sent as `Retry-After` (seconds).
    pub retry_after: Option<u32>,
    /// Itemised problems (invalid configuration on reload), in the error object.
    pub problems: Vec<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
            problems: Vec::new(),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 503 with `Retry-After`: the client should try again shortly.
    pub fn unavailable(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            retry_after: Some(RETRY_AFTER_SECS),
            ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
        }
    }

    pub fn payload_too_large(limit: u64) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "the request body is larger than the limit of {limit} bytes (server.max_body_bytes)"
            ),
        )
    }

    pub fn request_timeout(limit: std::time::Duration) -> ApiError {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the request body did not arrive within {} ms",
                limit.as_millis()
            ),
        )
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    pub fn with_problems(mut self, problems: Vec<String>) -> ApiError {
        self.problems = problems;
        self
    }

    /// The JSON body, without status and headers.
    pub fn body(&self) -> Value {
        let mut error = json!({ "code": self.code, "message": self.message });
        if !self.problems.is_empty() {
            error["problems"] = json!(self.problems);
        }
        json!({ "error": error })
    }
}

impl Reply for ApiError {
    fn into_response(self) -> Response {
        let mut response = json_response(self.status, &self.body());
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// A JSON answer with the given status.
pub fn json_response(status: StatusCode, body: &Value) -> Response {
    warp::reply::with_status(warp::reply::json(body), status).into_response()
}

/// Turns a handler result into the response, success or JSON error alike.
pub fn respond(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(Reply::into_response)
}

/// The one rejection handler: every rejection warp produces becomes a JSON error.
pub async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    Ok(error_for(&rejection).into_response())
}

fn error_for(rejection: &Rejection) -> ApiError {
    use warp::reject::{
        InvalidHeader, InvalidQuery, LengthRequired, MethodNotAllowed, MissingHeader,
        PayloadTooLarge, UnsupportedMediaType,
    };
    if rejection.is_not_found() {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "there is nothing at this path; events go to POST /webhook/<token>",
        );
    }
    if rejection.find::<MethodNotAllowed>().is_some() {
        return ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this path does not answer to this HTTP method",
        );
    }
    if rejection.find::<PayloadTooLarge>().is_some() {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is too large",
        );
    }
    if rejection.find::<UnsupportedMediaType>().is_some() {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the Content-Type is not supported",
        );
    }
    if rejection.find::<LengthRequired>().is_some() {
        return ApiError::new(
            StatusCode::LENGTH_REQUIRED,
            "length_required",
            "a Content-Length is required",
        );
    }
    if rejection.find::<InvalidHeader>().is_some() || rejection.find::<MissingHeader>().is_some() {
        return ApiError::bad_request("invalid_header", "a request header is missing or invalid");
    }
    if rejection.find::<InvalidQuery>().is_some() {
        return ApiError::bad_request("invalid_query", "the query string is invalid");
    }
    tracing::error!(?rejection, "unhandled rejection");
    ApiError::internal("the request could not be handled")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_body_has_code_and_message_under_error() {
        let e = ApiError::unauthorized("wrong token");
        assert_eq!(
            e.body(),
            json!({"error": {"code": "unauthorized", "message": "wrong token"}})
        );
    }

    #[test]
    fn problems_are_listed_inside_the_error_object() {
        let e =
            ApiError::bad_request("invalid_config", "1 problem").with_problems(vec!["x".into()]);
        assert_eq!(e.body()["error"]["problems"], json!(["x"]));
    }

    #[test]
    fn unavailable_answers_carry_retry_after() {
        let response = ApiError::unavailable("draining", "shutting down").into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
    }
}

//! Every answer of the routes, through `warp::test` against a real relay and SQLite store.

use super::*;
use mqa_relay::server::routes;
use serde_json::{Value, json};
use warp::http::{Response, StatusCode};
use warp::hyper::body::Bytes;

fn body_json(response: &Response<Bytes>) -> Value {
    serde_json::from_slice(response.body()).expect("every answer is JSON")
}

/// Asserts a JSON error answer and returns its message.
fn assert_error(response: &Response<Bytes>, status: StatusCode, code: &str) -> String {
    assert_eq!(response.status(), status, "body: {:?}", response.body());
    assert_eq!(response.headers()["content-type"], "application/json");
    let body = body_json(response);
    assert_eq!(body["error"]["code"], code, "body: {body}");
    body["error"]["message"]
        .as_str()
        .expect("an error has a message")
        .to_string()
}

fn post_event(path: &str, body: &str) -> warp::test::RequestBuilder {
    warp::test::request()
        .method("POST")
        .path(path)
        .header("content-type", "application/json")
        .body(body)
}

async fn accepted_id(t: &TestRelay, request: warp::test::RequestBuilder) -> String {
    let response = request.reply(&routes(t.relay.clone())).await;
    assert_eq!(
        response.status(),
        StatusCode::ACCEPTED,
        "{:?}",
        response.body()
    );
    body_json(&response)["id"]
        .as_str()
        .expect("202 carries the event id")
        .to_string()
}

#[tokio::test]
async fn an_event_posted_to_the_token_path_is_accepted_with_its_id() {
    let t = relay().await;
    let id = accepted_id(&t, post_event(&format!("/webhook/{TOKEN}"), AUDIT_EXPIRED)).await;
    assert!(t.relay.store.event(&id).await.unwrap().is_some());
}

#[tokio::test]
async fn the_token_may_come_as_a_query_parameter_or_a_bearer_header() {
    let t = relay().await;
    let by_query = post_event(&format!("/webhook?token={TOKEN}"), AUDIT_EXPIRED);
    accepted_id(&t, by_query).await;
    let by_header =
        post_event("/webhook", AUDIT_EXPIRED).header("authorization", format!("Bearer {TOKEN}"));
    accepted_id(&t, by_header).await;
}

#[tokio::test]
async fn a_retried_event_is_acknowledged_with_the_first_id() {
    let t = relay().await;
    let path = format!("/webhook/{TOKEN}");
    let first = accepted_id(&t, post_event(&path, AUDIT_EXPIRED)).await;
    let second = accepted_id(&t, post_event(&path, AUDIT_EXPIRED)).await;
    assert_eq!(first, second);
}

#[tokio::test]
async fn an_unknown_event_type_is_accepted() {
    let t = relay().await;
    let body = r#"{"event": "AUDIT_TELEPORTED", "data": {"auditId": "a-1"}, "company": {}}"#;
    accepted_id(&t, post_event(&format!("/webhook/{TOKEN}"), body)).await;
}

#[tokio::test]
async fn json_content_types_with_parameters_and_a_missing_content_type_are_accepted() {
    let t = relay().await;
    let path = format!("/webhook/{TOKEN}");
    for (n, content_type) in [
        "application/json; charset=utf-8",
        "application/vnd.monitorqa+json",
    ]
    .into_iter()
    .enumerate()
    {
        let body = format!(r#"{{"event": "AUDIT_ASSIGNED", "data": {{"auditId": "ct-{n}"}}}}"#);
        let request = warp::test::request()
            .method("POST")
            .path(&path)
            .header("content-type", content_type)
            .body(body);
        accepted_id(&t, request).await;
    }
    let bare = warp::test::request()
        .method("POST")
        .path(&path)
        .body(r#"{"event": "AUDIT_ASSIGNED", "data": {"auditId": "no-ct"}}"#);
    accepted_id(&t, bare).await;
}

#[tokio::test]
async fn a_wrong_token_is_refused_without_storing_anything() {
    let t = relay().await;
    let response = post_event("/webhook/not-the-token", AUDIT_EXPIRED)
        .reply(&routes(t.relay.clone()))
        .await;
    let message = assert_error(&response, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(message, "wrong token");
    assert_eq!(t.relay.store.counts().await.unwrap().events, 0);
}

#[tokio::test]
async fn a_missing_token_is_refused_with_where_to_put_one() {
    let t = relay().await;
    let response = post_event("/webhook", AUDIT_EXPIRED)
        .reply(&routes(t.relay.clone()))
        .await;
    let message = assert_error(&response, StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(message.starts_with("missing token"), "{message}");
}

#[tokio::test]
async fn without_a_configured_token_every_event_is_refused_and_the_answer_says_why() {
    let t = relay_with(&format!("{{ admin_token: {ADMIN_TOKEN} }}")).await;
    let response = post_event("/webhook/anything", AUDIT_EXPIRED)
        .reply(&routes(t.relay.clone()))
        .await;
    let message = assert_error(&response, StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(
        message.contains("no webhook token is configured"),
        "{message}"
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused() {
    let t = relay_with(&format!("{{ token: {TOKEN}, max_body: 64 }}")).await;
    let response = post_event(&format!("/webhook/{TOKEN}"), AUDIT_EXPIRED)
        .reply(&routes(t.relay.clone()))
        .await;
    let message = assert_error(
        &response,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
    assert!(message.contains("64 bytes"), "{message}");
}

#[tokio::test]
async fn a_non_json_content_type_is_refused() {
    let t = relay().await;
    let response = post_event(&format!("/webhook/{TOKEN}"), AUDIT_EXPIRED)
        .header("content-type", "text/plain")
        .reply(&routes(t.relay.clone()))
        .await;
    let message = assert_error(
        &response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    assert!(message.contains("text/plain"), "{message}");
}

#[tokio::test]
async fn a_body_that_is_not_an_event_gets_the_precise_reason() {
    let t = relay().await;
    let cases = [
        ("{not json", "malformed_json", "not valid JSON"),
        (
            r#"{"event": 7}"#,
            "invalid_event",
            "`event` must be a string",
        ),
        (
            r#"{"event": "X", "data": []}"#,
            "invalid_data",
            "`data` must be an object",
        ),
        (
            r#"{"event": "X", "company": "Northwind"}"#,
            "invalid_company",
            "`company` must be an object",
        ),
    ];
    for (body, code, says) in cases {
        let response = post_event(&format!("/webhook/{TOKEN}"), body)
            .reply(&routes(t.relay.clone()))
            .await;
        let message = assert_error(&response, StatusCode::BAD_REQUEST, code);
        assert!(message.contains(says), "{body}: {message}");
    }
}

#[tokio::test]
async fn while_draining_events_are_refused_with_retry_after() {
    let t = relay().await;
    t.relay.start_draining();
    let response = post_event(&format!("/webhook/{TOKEN}"), AUDIT_EXPIRED)
        .reply(&routes(t.relay.clone()))
        .await;
    assert_error(&response, StatusCode::SERVICE_UNAVAILABLE, "draining");
    assert_eq!(response.headers()["retry-after"], "5");
}

#[tokio::test]
async fn when_the_store_is_closed_events_are_refused_with_retry_after() {
    let t = relay().await;
    t.relay.store.close().await;
    let response = post_event(&format!("/webhook/{TOKEN}"), AUDIT_EXPIRED)
        .reply(&routes(t.relay.clone()))
        .await;
    assert_error(
        &response,
        StatusCode::SERVICE_UNAVAILABLE,
        "store_unavailable",
    );
    assert_eq!(response.headers()["retry-after"], "5");
}

#[tokio::test]
async fn an_unknown_path_is_a_json_404() {
    let t = relay().await;
    for path in ["/", "/nothing", "/webhook/a/b", "/healthz/x"] {
        let response = warp::test::request()
            .path(path)
            .reply(&routes(t.relay.clone()))
            .await;
        assert_error(&response, StatusCode::NOT_FOUND, "not_found");
    }
}

#[tokio::test]
async fn a_known_path_with_the_wrong_method_is_a_json_405() {
    let t = relay().await;
    let cases = [
        ("GET", format!("/webhook/{TOKEN}")),
        ("GET", "/webhook".to_string()),
        ("POST", "/healthz".to_string()),
        ("DELETE", "/readyz".to_string()),
        ("GET", "/-/reload".to_string()),
    ];
    for (method, path) in cases {
        let response = warp::test::request()
            .method(method)
            .path(&path)
            .reply(&routes(t.relay.clone()))
            .await;
        assert_error(
            &response,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        );
    }
}

#[tokio::test]
async fn healthz_answers_ok_even_while_draining() {
    let t = relay().await;
    t.relay.start_draining();
    let response = warp::test::request()
        .path("/healthz")
        .reply(&routes(t.relay.clone()))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_json(&response), json!({"status": "ok"}));
}

#[tokio::test]
async fn readyz_turns_503_once_draining_begins() {
    let t = relay().await;
    let ready = warp::test::request()
        .path("/readyz")
        .reply(&routes(t.relay.clone()))
        .await;
    assert_eq!(ready.status(), StatusCode::OK);
    t.relay.start_draining();
    let draining = warp::test::request()
        .path("/readyz")
        .reply(&routes(t.relay.clone()))
        .await;
    assert_error(&draining, StatusCode::SERVICE_UNAVAILABLE, "draining");
}

fn reload_request(bearer: Option<&str>) -> warp::test::RequestBuilder {
    let request = warp::test::request().method("POST").path("/-/reload");
    match bearer {
        Some(token) => request.header("authorization", format!("Bearer {token}")),
        None => request,
    }
}

#[tokio::test]
async fn reload_without_an_admin_token_configured_is_forbidden_and_points_to_sighup() {
    let t = relay_with(&format!("{{ token: {TOKEN} }}")).await;
    let response = reload_request(Some(TOKEN))
        .reply(&routes(t.relay.clone()))
        .await;
    let message = assert_error(&response, StatusCode::FORBIDDEN, "reload_disabled");
    assert!(
        message.contains("SIGHUP") && message.contains("server.admin_token"),
        "{message}"
    );
}

#[tokio::test]
async fn reload_refuses_a_missing_or_wrong_admin_token_and_the_webhook_token() {
    let t = relay().await;
    for bearer in [None, Some("wrong"), Some(TOKEN)] {
        let response = reload_request(bearer).reply(&routes(t.relay.clone())).await;
        assert_error(&response, StatusCode::UNAUTHORIZED, "unauthorized");
    }
}

#[tokio::test]
async fn reload_of_an_invalid_file_lists_the_problems_and_keeps_the_old_config() {
    let t = relay().await;
    let loaded = t.relay.app().config.hash.clone();
    std::fs::write(
        t.rules_path(),
        "bogus_key: 1\nrules:\n  - name: r\n    events: X\n    notify: [no-such-target]\n",
    )
    .unwrap();
    let response = reload_request(Some(ADMIN_TOKEN))
        .reply(&routes(t.relay.clone()))
        .await;
    let message = assert_error(&response, StatusCode::BAD_REQUEST, "invalid_config");
    let problems = body_json(&response)["error"]["problems"]
        .as_array()
        .expect("problems are listed")
        .len();
    assert!(problems >= 1);
    assert!(
        message.ends_with("problem") || message.ends_with("problems"),
        "{message}"
    );
    assert!(message.starts_with(&problems.to_string()), "{message}");
    assert_eq!(t.relay.app().config.hash, loaded);
}

#[tokio::test]
async fn every_refusal_is_counted_once_by_reason() {
    let t = relay().await;
    let app = routes(t.relay.clone());
    let wrong_token = post_event("/webhook/not-the-token", AUDIT_EXPIRED);
    assert_error(
        &wrong_token.reply(&app).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    let form = warp::test::request()
        .method("POST")
        .path(&format!("/webhook/{TOKEN}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(AUDIT_EXPIRED);
    assert_error(
        &form.reply(&app).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    let malformed = post_event(&format!("/webhook/{TOKEN}"), "{");
    assert_error(
        &malformed.reply(&app).await,
        StatusCode::BAD_REQUEST,
        "malformed_json",
    );
    accepted_id(&t, post_event(&format!("/webhook/{TOKEN}"), AUDIT_EXPIRED)).await;

    let metrics = warp::test::request().path("/metrics").reply(&app).await;
    let text = String::from_utf8_lossy(metrics.body());
    for line in [
        r#"mqa_relay_events_rejected_total{reason="unauthorized"} 1"#,
        r#"mqa_relay_events_rejected_total{reason="unsupported_media_type"} 1"#,
        r#"mqa_relay_events_rejected_total{reason="malformed_json"} 1"#,
        r#"mqa_relay_events_received_total{event="AUDIT_EXPIRED"} 1"#,
    ] {
        assert!(text.contains(line), "missing {line} in:\n{text}");
    }
}

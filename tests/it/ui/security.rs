//! Who may use the operator page, over plain HTTP: off without an admin token, signed in only
//! with the right one (after a delay for a wrong one), no state change from another site or
//! without the form's token, Bearer for scripts, strict headers, and no configured secret on
//! any screen.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};

use super::{ADMIN, action, admin_get, dead_letters, server, start};
use crate::support::mock::Answer;
use crate::support::process::RelayProcess;
use crate::support::providers::SlackWebhook;
use crate::support::relay::TOKEN;

/// A form body, as a browser encodes it.
fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A form body on a request, as a browser sends it.
trait FormBody {
    fn form_body(self, pairs: &[(&str, &str)]) -> Self;
}

impl FormBody for reqwest::RequestBuilder {
    fn form_body(self, pairs: &[(&str, &str)]) -> Self {
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(form(pairs))
    }
}

/// The page at `path` for the session `cookie`.
async fn signed_in_page(relay: &RelayProcess, cookie: &str, path: &str) -> String {
    let answer = client()
        .get(format!("http://{}{path}", relay.addr))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    answer.text().await.unwrap()
}

/// A client that follows no redirect, so each answer can be looked at.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn same_origin(relay: &RelayProcess) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "origin",
        HeaderValue::from_str(&format!("http://{}", relay.addr)).unwrap(),
    );
    h
}

/// Signs in over HTTP; the session cookie and the CSRF token of the page's forms.
async fn signed_in(relay: &RelayProcess) -> (String, String) {
    let answer = client()
        .post(format!("http://{}/ui/login", relay.addr))
        .headers(same_origin(relay))
        .form_body(&[("token", ADMIN), ("next", "/ui/rules")])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(answer.headers()["location"], "/ui/rules");
    let cookie = answer.headers()["set-cookie"].to_str().unwrap().to_string();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    let cookie = cookie.split(';').next().unwrap().to_string();
    let page = signed_in_page(relay, &cookie, "/ui/rules").await;
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a form with the CSRF token")
        .to_string();
    (cookie, csrf)
}

#[tokio::test]
async fn without_an_admin_token_there_is_no_page() {
    let dir = tempfile::tempdir().unwrap();
    let rules = format!("server:\n  token: {TOKEN}\ntargets: {{}}\nrules: []\n");
    let relay = start(dir.path(), &rules, &[]).await;
    for path in ["/ui/", "/ui/login", "/ui/rules", "/ui/assets/ui.js"] {
        let answer = client()
            .get(format!("http://{}{path}", relay.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(
            answer.text().await.unwrap().contains("server.admin_token"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn only_the_admin_token_signs_in_and_the_page_carries_strict_headers() {
    let dir = tempfile::tempdir().unwrap();
    let relay = start(
        dir.path(),
        &format!("{}targets: {{}}\nrules: []\n", server("")),
        &[],
    )
    .await;
    let answer = client()
        .get(format!("http://{}/ui/rules", relay.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(answer.headers()["location"], "/ui/login?next=%2Fui%2Frules");

    for wrong in ["not-it", TOKEN, ""] {
        let answer = client()
            .post(format!("http://{}/ui/login", relay.addr))
            .headers(same_origin(&relay))
            .form_body(&[("token", wrong)])
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "{wrong:?}");
        assert!(answer.headers().get("set-cookie").is_none());
    }
    let answer = client()
        .get(format!("http://{}/ui/rules", relay.addr))
        .bearer_auth("not-it")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    let (status, _) = admin_get(&relay, "/ui/rules").await;
    assert_eq!(status, 200, "Bearer works for scripts");

    let (cookie, _) = signed_in(&relay).await;
    let answer = client()
        .get(format!("http://{}/ui/", relay.addr))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let csp = answer.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(answer.headers()["x-content-type-options"], "nosniff");
    assert_eq!(answer.headers()["cache-control"], "no-store");
    let page = answer.text().await.unwrap();
    assert!(
        !page.contains("<script>") && !page.contains(" style=\""),
        "no inline script or style"
    );

    // The filter form sends every field, empty or not: only a value narrows the list.
    for (query, says) in [
        (
            "event=&company=&rule=&target=&outcome=&since=&until=",
            "No event has arrived yet",
        ),
        ("event=AUDIT_EXPIRED", "No event matches these filters"),
        ("since=soon", "since&#x60; is a duration back from now"),
        (
            "outcome=fine",
            "is not one of delivered, waiting, dead, none, unrouted",
        ),
    ] {
        let page = signed_in_page(&relay, &cookie, &format!("/ui/?{query}")).await;
        assert!(page.contains(says), "{query}: {page}");
    }
}

#[tokio::test]
async fn a_post_from_another_site_or_without_the_form_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let relay = start(
        dir.path(),
        &format!("{}targets: {{}}\nrules: []\n", server("")),
        &[],
    )
    .await;
    let (cookie, csrf) = signed_in(&relay).await;
    let reload = format!("http://{}/ui/rules/reload", relay.addr);
    let cases: [(&str, Option<&str>, Option<&str>); 4] = [
        (
            "another site's page",
            Some("https://evil.example"),
            Some(csrf.as_str()),
        ),
        ("a cross-site fetch", None, Some(csrf.as_str())),
        ("no form token", Some("same"), None),
        ("a wrong form token", Some("same"), Some("0000")),
    ];
    for (what, origin, token) in cases {
        let mut request = client().post(&reload).header("cookie", &cookie);
        request = match origin {
            Some("same") => request.headers(same_origin(&relay)),
            Some(other) => request.header("origin", other),
            None => request
                .headers(same_origin(&relay))
                .header("sec-fetch-site", "cross-site"),
        };
        if let Some(token) = token {
            request = request.form_body(&[("csrf", token)]);
        }
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::FORBIDDEN, "{what}");
    }
    let (_, config) = admin_get(&relay, "/api/config").await;
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    let loads = config["loads"].as_array().map(Vec::len);
    assert_eq!(
        loads,
        Some(1),
        "no refused post reloaded: only the start's load"
    );
    let answer = client()
        .post(&reload)
        .header("cookie", &cookie)
        .headers(same_origin(&relay))
        .form_body(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(answer.headers()["location"], "/ui/rules?reloaded=1");
}

#[tokio::test]
async fn no_configured_secret_is_on_any_screen() {
    let slack = SlackWebhook::start().await;
    slack.script([Answer::status(404)]);
    let dir = tempfile::tempdir().unwrap();
    let api_key = "mqa-api-key-never-shown-7f3a";
    let rules = format!(
        "{}monitorqa:\n  api_key: \"{api_key}\"\n  base_url: \"http://127.0.0.1:9\"\n\
         targets:\n  kitchen: {{ kind: slack, url: \"{}\" }}\n\
         rules:\n  - name: rejected\n    events: CORRECTIVE_ACTION_REJECTED\n    notify: [kitchen]\n",
        server(""),
        slack.url()
    );
    let relay = start(dir.path(), &rules, &[]).await;
    let id = relay.ack(&action("Fix the tap")).await;
    let dead = dead_letters(&relay, 1).await;
    let screens = [
        "/ui/".to_string(),
        format!("/ui/events/{id}"),
        format!("/ui/deliveries/{}", dead[0]),
        "/ui/dead".into(),
        "/ui/rules".into(),
        format!("/ui/preview?event={id}"),
    ];
    for path in &screens {
        let (status, page) = admin_get(&relay, path).await;
        assert_eq!(status, 200, "{path}");
        for secret in [SlackWebhook::SECRET, api_key, ADMIN, TOKEN] {
            assert!(!page.contains(secret), "{path} shows a secret");
        }
    }
    let (_, rules_page) = admin_get(&relay, "/ui/rules").await;
    assert!(
        rules_page.contains("http://127.0.0.1:"),
        "the Slack URL's host is shown"
    );
    assert!(
        rules_page.contains("&lt;secret&gt;"),
        "hidden values say so"
    );
}

/// Wrong admin tokens from one address, on the page, the API and `/-/reload` alike.
async fn wrong_token(relay: &RelayProcess, n: usize) -> StatusCode {
    let url = format!("http://{}", relay.addr);
    let answer = match n % 3 {
        0 => client()
            .post(format!("{url}/ui/login"))
            .headers(same_origin(relay))
            .form_body(&[("token", "guess")])
            .send(),
        1 => client()
            .get(format!("{url}/api/events"))
            .bearer_auth("guess")
            .send(),
        _ => client()
            .post(format!("{url}/-/reload"))
            .bearer_auth("guess")
            .send(),
    };
    answer.await.unwrap().status()
}

#[tokio::test]
async fn ten_wrong_tokens_lock_an_address_out_of_every_admin_route_for_a_minute() {
    let dir = tempfile::tempdir().unwrap();
    let relay = start(
        dir.path(),
        &format!("{}targets: {{}}\nrules: []\n", server("")),
        &[],
    )
    .await;
    for n in 0..10 {
        let status = wrong_token(&relay, n).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "wrong token {n}");
    }
    let started = Instant::now();
    for path in ["/ui/rules", "/api/config"] {
        let answer = client()
            .get(format!("http://{}{path}", relay.addr))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        assert_eq!(
            answer.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "{path}: even the right token"
        );
        let wait: u64 = answer.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused at once, nothing held"
    );
    relay.wait_log("remote=127.0.0.1", 10).await;
}

#[tokio::test]
async fn a_sign_in_too_large_or_too_slow_is_refused_and_holds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let relay = start(
        dir.path(),
        &format!("{}targets: {{}}\nrules: []\n", server("")),
        &[],
    )
    .await;
    let big = "t".repeat(64 * 1024);
    let answer = client()
        .post(format!("http://{}/ui/login", relay.addr))
        .headers(same_origin(&relay))
        .form_body(&[("token", big.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let mut slow = tokio::net::TcpStream::connect(&relay.addr).await.unwrap();
    let head = format!(
        "POST /ui/login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: 100\r\n\r\ntoken=",
        relay.addr
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), slow.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the relay answered within 20 s");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_resent_re_route_confirmation_sends_nothing_more() {
    let erp = crate::support::providers::WebhookReceiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let rules = format!(
        "{}targets:\n  erp: {}\nrules:\n  - name: all\n    events: \"*\"\n    notify: [erp]\n",
        server(""),
        crate::support::relay::webhook_target(&erp.url(), ""),
    );
    let relay = start(dir.path(), &rules, &[]).await;
    let id = relay.ack(&action("Fix the tap")).await;
    erp.wait_for(1, super::DEADLINE).await;
    let url = format!("http://{}/ui/events/{id}/reroute", relay.addr);
    let confirmed = || {
        client()
            .post(&url)
            .bearer_auth(ADMIN)
            .form_body(&[("confirmed", "1"), ("had", "1")])
            .send()
    };
    assert_eq!(confirmed().await.unwrap().status(), StatusCode::SEE_OTHER);
    assert_eq!(confirmed().await.unwrap().status(), StatusCode::CONFLICT);
    erp.wait_for(2, super::DEADLINE).await;
    let (_, body) = admin_get(&relay, &format!("/api/events/{id}")).await;
    let event: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(event["deliveries"].as_array().map(Vec::len), Some(2));
    assert_eq!(erp.received().len(), 2, "sent once more, not twice");
}

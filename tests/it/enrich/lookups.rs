//! Enrichment against a local MonitorQA API: lookups, failures, retries, the cache, and that
//! the API key never shows up in an outcome or a log line.

use std::time::{Duration, Instant};

use mqa_relay::enrich::{EnrichOptions, Enricher, LookupOutcome, apply};
use mqa_relay::event::Event;
use serde_json::{Value, json};

use crate::support::config::{config, quoted};
use crate::support::mock::{Answer, Mock, Reply};
use crate::support::monitorqa::MonitorqaApi;
use crate::support::providers::closed_port_url;

const KEY: &str = "mqa-key-Zq81xVt2";
const AUDIT_ID: &str = "a3c1e7d2-4b5f-4e8a-9c0d-1f2e3d4c5b6a";
const ACTION_ID: &str = "7b8c9d0e-8888-4bbb-9ccc-7d8e9fa0b1c2";

fn sample(name: &str) -> Event {
    let path = format!("{}/examples/events/{name}.json", env!("CARGO_MANIFEST_DIR"));
    Event::parse(&std::fs::read(path).unwrap()).unwrap()
}

/// A sample audit event about the audit the API knows.
fn audit_event(name: &str) -> Event {
    let mut event = sample(name);
    event.data.insert("auditId".into(), AUDIT_ID.into());
    event
}

/// The API's answer for an audit: the AUDIT_COMPLETED sample's details, under another id.
fn audit_body(id: &str) -> Value {
    let mut data = Value::Object(sample("audit_completed").data);
    data["id"] = Value::String(id.into());
    data["auditId"] = Value::String(id.into());
    data
}

fn action_body() -> Value {
    sample("corrective_action_rejected").data["correctiveAction"].clone()
}

/// An enricher with `options` as the section `monitorqa: { api_key: <key>, base_url:
/// <base_url><extra> }` configures it (`extra`: more keys, e.g. ", timeout: 200ms").
fn enricher_for(base_url: &str, key: &str, extra: &str, options: EnrichOptions) -> Enricher {
    let section = format!(
        "monitorqa: {{ api_key: {}, base_url: {}{extra} }}\n",
        quoted(key),
        quoted(base_url)
    );
    let monitorqa = config(&section).monitorqa.expect("the monitorqa section");
    Enricher::with_options(&monitorqa, options)
}

/// Production settings with short backoffs, so retry tests stay quick.
fn quick() -> EnrichOptions {
    EnrichOptions {
        backoff_base: Duration::from_millis(10),
        ..EnrichOptions::default()
    }
}

async fn api_with_audit() -> (Mock<MonitorqaApi>, Enricher) {
    let api = MonitorqaApi::start(KEY).await;
    api.with(|a| a.add_audit(AUDIT_ID, audit_body(AUDIT_ID)));
    let enricher = enricher_for(&api.base_url(), KEY, "", quick());
    (api, enricher)
}

#[tokio::test]
async fn an_assigned_audit_is_looked_up_and_applied_under_audit() {
    let (api, enricher) = api_with_audit().await;
    let event = sample("audit_assigned");
    let before = event.clone();

    let enrichment = enricher.enrich(&event).await;

    assert_eq!(enrichment.outcome, LookupOutcome::Found);
    assert_eq!(enrichment.action, None);
    let audit = enrichment.audit.as_ref().unwrap();
    assert_eq!(audit["template"]["name"], "Food Safety Daily Check");
    assert_eq!(audit["number"], "AUD-2026-0311");
    let mut context = event.to_value();
    apply(&enrichment, &mut context);
    assert_eq!(
        context["audit"]["template"]["name"],
        "Food Safety Daily Check"
    );
    assert_eq!(context["data"], Value::Object(before.data.clone()));
    assert_eq!(event, before);
    let requests = api.received();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, format!("/audit/{AUDIT_ID}"));
    assert_eq!(requests[0].header("x-api-key"), Some(KEY));
}

#[tokio::test]
async fn a_wrong_api_key_gives_no_enrichment_and_unauthorized() {
    let api = MonitorqaApi::start(KEY).await;
    api.with(|a| a.add_audit(AUDIT_ID, audit_body(AUDIT_ID)));
    let enricher = enricher_for(&api.base_url(), "not-the-key", "", quick());

    let enrichment = enricher.enrich(&audit_event("audit_expired")).await;

    assert_eq!(enrichment.outcome, LookupOutcome::Unauthorized);
    assert_eq!(enrichment.audit, None);
    assert_eq!(api.received().len(), 1, "a 401 is not retried");
}

#[tokio::test]
async fn a_forbidden_lookup_is_not_retried() {
    let (api, enricher) = api_with_audit().await;
    api.script([Answer::status(403)]);

    let enrichment = enricher.enrich(&audit_event("audit_expired")).await;

    assert_eq!(enrichment.outcome, LookupOutcome::Forbidden);
    assert_eq!(enrichment.audit, None);
    assert_eq!(api.received().len(), 1);
}

#[tokio::test]
async fn an_unknown_audit_is_not_found_without_a_retry() {
    let api = MonitorqaApi::start(KEY).await;
    let enricher = enricher_for(&api.base_url(), KEY, "", quick());

    let enrichment = enricher.enrich(&audit_event("audit_deleted")).await;

    assert_eq!(enrichment.outcome, LookupOutcome::NotFound);
    assert_eq!(enrichment.audit, None);
    assert_eq!(api.received().len(), 1);
}

#[tokio::test]
async fn a_rate_limited_lookup_succeeds_after_one_retry() {
    let (api, enricher) = api_with_audit().await;
    api.script([Answer::status(429)]);

    let enrichment = enricher.enrich(&audit_event("audit_rescheduled")).await;

    assert_eq!(enrichment.outcome, LookupOutcome::Found);
    assert!(enrichment.audit.is_some());
    assert_eq!(api.received().len(), 2);
}

#[tokio::test]
async fn a_rate_limited_lookup_waits_as_retry_after_says_and_succeeds() {
    let (api, enricher) = api_with_audit().await;
    api.script([Answer::retry_after(429, 1)]);

    let enrichment = enricher.enrich(&audit_event("audit_rescheduled")).await;

    assert_eq!(enrichment.outcome, LookupOutcome::Found);
    assert_eq!(api.received().len(), 2);
}

#[tokio::test]
async fn two_unavailable_answers_then_success_is_found() {
    let (api, enricher) = api_with_audit().await;
    api.script([Answer::status(503), Answer::status(502)]);

    let enrichment = enricher.enrich(&sample("audit_assigned")).await;

    assert_eq!(enrichment.outcome, LookupOutcome::Found);
    assert_eq!(api.received().len(), 3);
}

#[tokio::test]
async fn server_errors_fail_after_two_retries() {
    let (api, enricher) = api_with_audit().await;
    api.script(vec![Answer::status(500); 4]);

    let enrichment = enricher.enrich(&sample("audit_assigned")).await;

    assert_eq!(
        enrichment.outcome,
        LookupOutcome::Failed("HTTP 500 after 3 attempts".into())
    );
    assert_eq!(enrichment.audit, None);
    assert_eq!(api.received().len(), 3, "one attempt and two retries");
}

#[tokio::test]
async fn a_slow_answer_times_out_and_fails_after_bounded_retries() {
    let api = MonitorqaApi::start(KEY).await;
    api.with(|a| a.add_audit(AUDIT_ID, audit_body(AUDIT_ID)));
    api.script(vec![Answer::slow(Duration::from_secs(5)); 3]);
    let enricher = enricher_for(&api.base_url(), KEY, ", timeout: 200ms", quick());

    let enrichment = enricher.enrich(&sample("audit_assigned")).await;

    assert_eq!(
        enrichment.outcome,
        LookupOutcome::Failed("timed out after 3 attempts".into())
    );
    assert_eq!(enrichment.audit, None);
    assert_eq!(api.received().len(), 3);
}

#[tokio::test]
async fn an_answer_that_is_not_an_object_is_unexpected() {
    let (api, enricher) = api_with_audit().await;
    api.script([Answer::raw(Reply::json(
        200,
        &json!(["not", "an", "audit"]),
    ))]);

    let enrichment = enricher.enrich(&sample("audit_assigned")).await;

    assert_eq!(
        enrichment.outcome,
        LookupOutcome::Failed("unexpected answer".into())
    );
    assert_eq!(enrichment.audit, None);
}

#[tokio::test]
async fn a_second_lookup_of_the_same_audit_comes_from_the_cache() {
    let (api, enricher) = api_with_audit().await;
    let event = sample("audit_assigned");

    let first = enricher.enrich(&event).await;
    let second = enricher.clone().enrich(&audit_event("audit_expired")).await;

    assert_eq!(first.outcome, LookupOutcome::Found);
    assert_eq!(second.outcome, LookupOutcome::Cached);
    assert_eq!(second.audit, first.audit);
    assert_eq!(api.received().len(), 1, "the clone shares the cache");
}

#[tokio::test]
async fn a_failed_lookup_is_not_cached() {
    let (api, enricher) = api_with_audit().await;
    api.script([Answer::status(404)]);

    let first = enricher.enrich(&sample("audit_assigned")).await;
    let second = enricher.enrich(&sample("audit_assigned")).await;

    assert_eq!(first.outcome, LookupOutcome::NotFound);
    assert_eq!(second.outcome, LookupOutcome::Found);
    assert_eq!(api.received().len(), 2);
}

#[tokio::test]
async fn a_cached_audit_is_looked_up_again_after_its_ttl() {
    let api = MonitorqaApi::start(KEY).await;
    api.with(|a| a.add_audit(AUDIT_ID, audit_body(AUDIT_ID)));
    let opts = EnrichOptions {
        cache_ttl: Duration::from_millis(50),
        ..quick()
    };
    let enricher = enricher_for(&api.base_url(), KEY, "", opts);
    let event = sample("audit_assigned");
    assert_eq!(enricher.enrich(&event).await.outcome, LookupOutcome::Found);

    let deadline = Instant::now() + Duration::from_secs(10);
    let mut outcome = LookupOutcome::Cached;
    for _ in 0..1000 {
        outcome = enricher.enrich(&event).await.outcome;
        if outcome != LookupOutcome::Cached || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    assert_eq!(outcome, LookupOutcome::Found);
    assert_eq!(api.received().len(), 2);
}

#[tokio::test]
async fn an_action_event_without_its_action_is_looked_up_and_applied_under_action() {
    let api = MonitorqaApi::start(KEY).await;
    api.with(|a| a.add_action(ACTION_ID, action_body()));
    let enricher = enricher_for(&api.base_url(), KEY, "", quick());
    let mut event = sample("corrective_action_updated");
    event.data.insert("correctiveAction".into(), Value::Null);

    let enrichment = enricher.enrich(&event).await;

    assert_eq!(enrichment.outcome, LookupOutcome::Found);
    assert_eq!(enrichment.audit, None);
    let mut context = event.to_value();
    apply(&enrichment, &mut context);
    assert_eq!(context["action"]["number"], action_body()["number"]);
    assert_eq!(context["data"]["correctiveAction"], Value::Null);
    assert_eq!(
        api.received()[0].path,
        format!("/corrective-actions/{ACTION_ID}")
    );
}

#[tokio::test]
async fn events_that_need_nothing_make_no_request() {
    let (api, enricher) = api_with_audit().await;
    let names = [
        "audit_completed",
        "corrective_action_approved",
        "corrective_action_assigned",
        "corrective_action_created",
        "corrective_action_deleted",
        "corrective_action_expired",
        "corrective_action_rejected",
        "corrective_action_submitted",
        "corrective_action_updated",
        "template_created",
        "template_deleted",
    ];
    for name in names {
        let enrichment = enricher.enrich(&sample(name)).await;
        assert_eq!(enrichment.outcome, LookupOutcome::NotNeeded, "{name}");
        assert_eq!((enrichment.audit, enrichment.action), (None, None));
    }
    assert_eq!(api.received().len(), 0);
}

#[tokio::test]
async fn an_id_that_could_change_the_url_is_refused_without_a_request() {
    let (api, enricher) = api_with_audit().await;
    let mut event = sample("audit_assigned");
    event
        .data
        .insert("auditId".into(), "../corrective-actions/x".into());

    let enrichment = enricher.enrich(&event).await;

    assert_eq!(
        enrichment.outcome,
        LookupOutcome::Failed("invalid id".into())
    );
    assert_eq!(api.received().len(), 0);
}

#[tokio::test]
async fn the_api_key_appears_in_no_outcome_and_no_log_line() {
    const LOGGED_ID: &str = "0badc0de-1234-4abc-8def-00000000beef";
    let logs = crate::support::logs::logs();
    let api = MonitorqaApi::start(KEY).await;
    api.with(|a| a.add_audit(LOGGED_ID, audit_body(LOGGED_ID)));
    api.script(vec![Answer::status(500); 3]);
    api.script(vec![Answer::slow(Duration::from_secs(5)); 3]);
    let enricher = enricher_for(&api.base_url(), KEY, ", timeout: 200ms", quick());
    let unreachable = closed_port_url().await;
    let offline = enricher_for(&unreachable, KEY, "", quick());
    let bad_key = format!("{KEY}\n");
    let unusable = enricher_for(&api.base_url(), &bad_key, "", quick());
    let wrong_key = enricher_for(&api.base_url(), "wrong", "", quick());
    let mut event = sample("audit_assigned");
    event.data.insert("auditId".into(), LOGGED_ID.into());
    let mut invalid = sample("audit_expired");
    invalid.data.insert("auditId".into(), "zz/zz".into());

    let outcomes = vec![
        enricher.enrich(&event).await.outcome, // 500 three times
        enricher.enrich(&event).await.outcome, // three timeouts
        offline.enrich(&event).await.outcome,
        unusable.enrich(&event).await.outcome,
        wrong_key.enrich(&event).await.outcome,
        enricher.enrich(&invalid).await.outcome,
    ];

    let logs = logs.text();
    assert!(
        outcomes.iter().all(LookupOutcome::is_failure),
        "{outcomes:?}"
    );
    let failure_lines = logs
        .lines()
        .filter(|line| line.contains("MonitorQA lookup failed") && line.contains(LOGGED_ID))
        .count();
    assert_eq!(failure_lines, 5, "one line per failed lookup:\n{logs}");
    assert!(logs.contains("invalid id"));
    assert!(!logs.contains(KEY), "{logs}");
    for outcome in &outcomes {
        assert!(!format!("{outcome:?}").contains(KEY));
    }
    let shown = format!("{enricher:?} {unusable:?}");
    assert!(!shown.contains(KEY), "{shown}");
}

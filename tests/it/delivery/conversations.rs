//! Conversations (`threads: true`): one Slack parent per corrective action, kept up to date
//! by `chat.update`, with its history as replies in its thread; one email thread per action.
//! Against the mock Web API, which keeps its messages, threads and edits as Slack does and
//! answers `thread_not_found` / `message_not_found` for a deleted parent.

use std::time::Duration;

use mqa_relay::store::{AttemptRecord, DeliveryState, EventFilter};
use serde_json::Value;

use super::config;
use crate::support::mail_providers::{Mailgun, Postmark, Resend, SendGrid};
use crate::support::mock::{Answer, Mock, Provider, Recorded};
use crate::support::postgres::Schema;
use crate::support::process::RelayProcess;
use crate::support::providers::{SlackApi, SlackMessage};
use crate::support::relay::{ADMIN, Spec, TOKEN, TestRelay, spawn_relay, write_file};
use crate::support::wait::sample;

/// The samples' corrective action.
const ACTION: &str = "7b8c9d0e-8888-4bbb-9ccc-7d8e9fa0b1c2";
const WAIT: Duration = Duration::from_secs(20);

fn slack_target(slack: &Mock<SlackApi>, extra: &str) -> String {
    format!(
        "{{ kind: slack, token: {}, channel: {}, base_url: \"{}\", threads: true, \
         rate_limit: 100/s{extra} }}",
        SlackApi::TOKEN,
        SlackApi::CHANNEL,
        slack.base_url()
    )
}

async fn slack_relay(slack: &Mock<SlackApi>, extra: &str) -> TestRelay {
    let rules = config(&[("quality", slack_target(slack, extra))], "*");
    spawn_relay(Spec::new(&rules)).await
}

/// What the assignee wrote, by event number: two events of one type differ by it, so that the
/// dedup keeps both.
const SUBMITTED: [&str; 6] = [
    "",
    "Called the refrigeration contractor",
    "Replaced the door seal; -19 °C after an hour",
    "Moved stock only; freezer still at -12 °C",
    "Replaced the seal and the thermostat; -19 °C for 2 h, log attached",
    "Signed off by the store manager",
];

/// The sample event of `kind` (`corrective_action_submitted`…) for action `id`, with what the
/// assignee wrote as of event `n`.
fn action_event(kind: &str, id: &str, n: usize) -> Value {
    let mut event = sample(kind);
    event["data"]["correctiveActionId"] = Value::from(id);
    if event["data"]["correctiveAction"].is_object() {
        event["data"]["correctiveAction"]["id"] = Value::from(id);
        event["data"]["correctiveAction"]["information"]["text"] =
            Value::from(SUBMITTED[n % SUBMITTED.len()]);
    }
    event
}

/// Posts `events` one by one and waits until every delivery is finished.
async fn deliver_all(relay: &TestRelay, events: &[Value]) {
    for event in events {
        relay.ack(event).await;
    }
    let counts = relay.wait_settled().await;
    assert_eq!(counts.dead, 0, "{counts:?}");
}

/// The operator page of event `id`, as HTML.
async fn event_page(relay: &TestRelay, id: &str) -> String {
    let page = relay
        .call("GET", &format!("/ui/events/{id}"), Some(ADMIN))
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    page.text
}

/// A relay on a threaded Slack target (`extra`: more of its keys) after one action's first
/// event, whose parent a person has then deleted; with the deleted parent's `ts`.
async fn parent_deleted(extra: &str) -> (Mock<SlackApi>, TestRelay, String) {
    let slack = SlackApi::start().await;
    let relay = slack_relay(&slack, extra).await;
    deliver_all(
        &relay,
        &[action_event("corrective_action_assigned", ACTION, 1)],
    )
    .await;
    let first = slack.with(|s| s.parents())[0].ts.clone();
    slack.with(|s| s.delete(&first));
    (slack, relay, first)
}

/// What each attempt did in its conversation, and how it ended.
fn actions(attempts: &[AttemptRecord]) -> Vec<(Option<&str>, &str)> {
    attempts
        .iter()
        .map(|a| (a.action.as_deref(), a.outcome.as_str()))
        .collect()
}

/// What each request to the mock Web API was: `post`, `reply` (with `thread_ts`) or
/// `update`, in arrival order.
fn calls(received: &[Recorded]) -> Vec<&'static str> {
    received
        .iter()
        .map(
            |r| match (r.path.as_str(), r.json()["thread_ts"].is_string()) {
                ("/chat.update", _) => "update",
                (_, true) => "reply",
                _ => "post",
            },
        )
        .collect()
}

#[tokio::test]
async fn one_corrective_action_is_one_parent_that_tells_its_state_and_a_thread_of_its_history() {
    let slack = SlackApi::start().await;
    let relay = slack_relay(&slack, "").await;
    let life = [
        action_event("corrective_action_assigned", ACTION, 1),
        action_event("corrective_action_submitted", ACTION, 3),
        action_event("corrective_action_rejected", ACTION, 3),
        action_event("corrective_action_submitted", ACTION, 4),
        action_event("corrective_action_approved", ACTION, 5),
    ];
    deliver_all(&relay, &life).await;

    let received = slack.received();
    assert_eq!(
        calls(&received),
        [
            "post", "reply", "update", "reply", "update", "reply", "update", "reply", "update"
        ],
        "the parent first; each later event a reply, then the parent's edit"
    );
    let parents = slack.with(|s| s.parents());
    assert_eq!(parents.len(), 1, "one message in the channel: {parents:?}");
    let parent = &parents[0];
    assert_eq!(parent.edits, 4);
    let shown = parent.shown();
    assert!(
        shown.contains("Approved"),
        "the parent says where it stands: {shown}"
    );
    assert!(!shown.contains("Rejected"), "not where it stood: {shown}");
    let replies = slack.with(|s| s.replies(&parent.ts));
    assert_eq!(replies.len(), 4, "{replies:?}");
    let broadcast: Vec<bool> = replies.iter().map(|r| r.broadcast).collect();
    assert_eq!(
        broadcast,
        [false, true, false, false],
        "the rejection is also shown in the channel"
    );
    for update in received.iter().filter(|r| r.path == "/chat.update") {
        let body = update.json();
        assert_eq!(
            (body["channel"].as_str(), body["ts"].as_str()),
            (Some(SlackApi::CHANNEL), Some(parent.ts.as_str()))
        );
    }

    keep_for_docs(parent, &replies);

    let listed = relay
        .admin("GET", &format!("/api/conversations?object={ACTION}"))
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let all = listed.body["conversations"].as_array().expect("a list");
    assert_eq!(all.len(), 1, "{}", listed.text);
    let c = &all[0];
    assert_eq!(c["object"], format!("corrective-action:{ACTION}"));
    assert_eq!(
        (c["channel"].as_str(), c["thread_id"].as_str()),
        (Some(SlackApi::CHANNEL), Some(parent.ts.as_str()))
    );
    assert_eq!(c["messages"], 5);
    assert_eq!(c["last_event"], "CORRECTIVE_ACTION_APPROVED");
    assert!(
        c["state"].as_str().is_some_and(|s| s.contains("Approved")),
        "{c}"
    );
    assert!(c["closed_at"].is_string(), "approval closes it: {c}");

    // The operator page shows the conversation on the event, and what each attempt did in it.
    let newest = EventFilter {
        limit: 1,
        ..EventFilter::default()
    };
    let last = relay.store().list_events(&newest).await.expect("listed");
    let last = &last[0];
    let page = event_page(&relay, &last.id).await;
    assert!(
        page.contains(r#"<h2 id="conversation">Conversation</h2>"#),
        "{page}"
    );
    assert!(
        page.contains("Corrective action CA-2026-0147: Repair walk-in freezer"),
        "{page}"
    );
    assert!(page.contains("Approved ✓"), "{page}");
    assert!(
        page.contains(&format!("parent <code>{}</code>", parent.ts)),
        "{page}"
    );
    assert!(page.contains("reply in the thread") && page.contains("edit of the first message"));
}

/// With `MQA_RELAY_THREAD_PAYLOADS=<dir>`, writes the conversation as Slack holds it at the end
/// (`<dir>/corrective_action.slack-thread.json`: the parent as last edited and its replies),
/// which `docs/render/render.sh` draws for docs/.
fn keep_for_docs(parent: &SlackMessage, replies: &[SlackMessage]) {
    let Some(dir) = std::env::var_os("MQA_RELAY_THREAD_PAYLOADS") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).expect("the payload directory");
    let thread = serde_json::json!({
        "parent": parent.body,
        "replies": replies.iter().map(|r| &r.body).collect::<Vec<_>>(),
    });
    let text = serde_json::to_string_pretty(&thread).expect("JSON");
    std::fs::write(dir.join("corrective_action.slack-thread.json"), text).expect("written");
}

#[tokio::test]
async fn two_actions_are_two_threads_and_one_action_s_slow_send_holds_only_its_own() {
    let slack = SlackApi::start().await;
    let relay = slack_relay(&slack, ", max_in_flight: 4").await;
    let (a, b) = (ACTION, "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d");
    // A's first message is answered slowly: B's go on meanwhile; A's next waits for it.
    slack.script([Answer::slow(Duration::from_millis(1500))]);
    relay
        .ack(&action_event("corrective_action_assigned", a, 1))
        .await;
    slack.wait_for(1, WAIT).await;
    let rest = [
        action_event("corrective_action_assigned", b, 2),
        action_event("corrective_action_submitted", a, 3),
        action_event("corrective_action_submitted", b, 4),
        action_event("corrective_action_approved", a, 5),
    ];
    deliver_all(&relay, &rest).await;

    let parents = slack.with(|s| s.parents());
    assert_eq!(parents.len(), 2, "{parents:?}");
    // Each parent links to its action.
    let parent_of = |id: &str| {
        let found = parents.iter().find(|p| p.body.to_string().contains(id));
        found.map(|p| p.ts.clone()).expect("a parent per action")
    };
    let (a_ts, b_ts) = (parent_of(a), parent_of(b));
    assert_ne!(a_ts, b_ts);
    let replies = |ts: &str| slack.with(|s| s.replies(ts)).len();
    assert_eq!((replies(&a_ts), replies(&b_ts)), (2, 1));

    // In arrival order: B's reply came before A's, although A's event came first: A's reply
    // waited for its slow parent, B's did not wait for A.
    let received = slack.received();
    let thread = |r: &Recorded| r.json()["thread_ts"].as_str().map(str::to_owned);
    let first_reply = |ts: &str| {
        let at = received
            .iter()
            .position(|r| thread(r).as_deref() == Some(ts));
        at.expect("a reply")
    };
    assert!(
        first_reply(&b_ts) < first_reply(&a_ts),
        "B did not wait for A: {:?}",
        calls(&received)
    );
    assert_eq!(calls(&received)[0], "post", "A's parent came first");
}

#[tokio::test]
async fn with_threads_audit_the_actions_of_an_audit_reply_in_the_audit_s_conversation() {
    let slack = SlackApi::start().await;
    let rules = config(
        &[(
            "quality",
            slack_target(&slack, "").replace("threads: true", "threads: audit"),
        )],
        "*",
    );
    let relay = spawn_relay(Spec::new(&rules)).await;
    // The samples' action belongs to the audit of the AUDIT_COMPLETED sample.
    let audit = "b4d2f8e3-5c6a-4f9b-8d1e-2a3b4c5d6e7f";
    let mut assigned = sample("audit_assigned");
    assigned["data"]["auditId"] = Value::from(audit);
    let life = [
        assigned,
        action_event("corrective_action_assigned", ACTION, 1),
        action_event("corrective_action_rejected", ACTION, 3),
        sample("audit_completed"),
    ];
    deliver_all(&relay, &life).await;

    assert_eq!(
        calls(&slack.received()),
        ["post", "reply", "reply", "reply", "update"],
        "the actions reply without editing the audit's parent; the audit's own event edits it"
    );
    let parents = slack.with(|s| s.parents());
    assert_eq!(parents.len(), 1, "{parents:?}");
    let replies = slack.with(|s| s.replies(&parents[0].ts));
    let said = replies[1].shown();
    assert!(
        said.contains("Corrective action CA-2026-0147"),
        "the reply says which action: {said}"
    );
    assert!(replies[1].broadcast, "a rejection is shown in the channel");
    let head = parents[0].body["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap_or("");
    assert!(head.starts_with("Audit"), "the parent is the audit: {head}");

    let listed = relay
        .admin("GET", &format!("/api/conversations?object={audit}"))
        .await;
    let c = &listed.body["conversations"][0];
    assert_eq!(
        (c["object"].as_str(), c["messages"].as_u64()),
        (Some(format!("audit:{audit}").as_str()), Some(4))
    );
    assert_eq!(c["last_event"], "AUDIT_COMPLETED");
    let none = relay
        .admin("GET", &format!("/api/conversations?object={ACTION}"))
        .await;
    assert_eq!(
        none.body["conversations"],
        serde_json::json!([]),
        "no conversation of its own"
    );
}

#[tokio::test]
async fn a_restart_between_two_events_continues_the_same_thread() {
    let slack = SlackApi::start().await;
    let mut relay = slack_relay(&slack, "").await;
    deliver_all(
        &relay,
        &[action_event("corrective_action_assigned", ACTION, 1)],
    )
    .await;
    relay.restart().await;
    deliver_all(
        &relay,
        &[action_event("corrective_action_submitted", ACTION, 2)],
    )
    .await;
    let parents = slack.with(|s| s.parents());
    assert_eq!(parents.len(), 1, "{parents:?}");
    let replies = slack.with(|s| s.replies(&parents[0].ts));
    assert_eq!(replies.len(), 1);
    assert_eq!(parents[0].edits, 1);
}

#[tokio::test]
async fn a_reply_to_a_deleted_parent_that_slack_posts_in_the_channel_becomes_the_new_parent() {
    let (slack, relay, first) = parent_deleted("").await;

    // Slack answers `ok`, and the reply lands in the channel: it is edited into the new
    // parent, which says the conversation started again; nothing is posted twice.
    let id = relay
        .ack(&action_event("corrective_action_submitted", ACTION, 2))
        .await;
    let (_, attempts) = relay.wait_state(&id, DeliveryState::Delivered).await;
    assert_eq!(calls(&slack.received()), ["post", "reply", "update"]);
    let parents = slack.with(|s| s.parents());
    assert_eq!(parents.len(), 1, "one message in the channel: {parents:?}");
    let new = &parents[0];
    assert_ne!(new.ts, first);
    assert_eq!(new.edits, 1);
    let shown = new.shown();
    assert!(
        shown.contains("was deleted") && shown.contains("Submitted"),
        "{shown}"
    );
    let actions = actions(&attempts);
    assert_eq!(
        actions,
        [(Some("reply"), "delivered"), (Some("update"), "delivered")]
    );

    // The next event replies in the new thread.
    deliver_all(
        &relay,
        &[action_event("corrective_action_approved", ACTION, 3)],
    )
    .await;
    assert_eq!(slack.with(|s| s.replies(&new.ts)).len(), 1);
    let listed = relay.admin("GET", "/api/conversations").await;
    let c = &listed.body["conversations"][0];
    assert_eq!(
        (c["thread_id"].as_str(), c["restarts"].as_u64()),
        (Some(new.ts.as_str()), Some(1))
    );
}

#[tokio::test]
async fn a_parent_slack_says_is_gone_starts_a_new_conversation_that_says_so() {
    let (slack, relay, first) = parent_deleted("").await;
    slack.script([Answer::error(200, "thread_not_found")]);

    let id = relay
        .ack(&action_event("corrective_action_submitted", ACTION, 2))
        .await;
    let (delivery, attempts) = relay.wait_state(&id, DeliveryState::Delivered).await;
    let parents = slack.with(|s| s.parents());
    assert_eq!(parents.len(), 1, "a new parent: {parents:?}");
    let new = &parents[0];
    assert_ne!(new.ts, first);
    assert!(
        new.shown().contains("was deleted"),
        "the new parent says why it is new: {}",
        new.shown()
    );
    let actions = actions(&attempts);
    assert_eq!(
        actions,
        [(Some("reply"), "retry"), (Some("start"), "delivered")],
        "{attempts:?}"
    );
    let why = attempts[0].error.as_deref().unwrap_or_default();
    assert!(
        why.contains("thread_not_found") && why.contains("new conversation"),
        "{why}"
    );
    assert_eq!(delivery.attempts, 2);
}

#[tokio::test]
async fn a_rerouted_old_event_adds_to_the_thread_and_leaves_the_parent_as_it_stands() {
    let slack = SlackApi::start().await;
    let relay = slack_relay(&slack, "").await;
    let assigned = relay
        .ack(&action_event("corrective_action_assigned", ACTION, 1))
        .await;
    relay.wait_settled().await;
    deliver_all(
        &relay,
        &[action_event("corrective_action_approved", ACTION, 5)],
    )
    .await;
    let rerouted = relay
        .admin("POST", &format!("/api/events/{assigned}/reroute"))
        .await;
    assert!(rerouted.status < 300, "{}", rerouted.text);
    relay.wait_settled().await;
    assert_eq!(
        calls(&slack.received()),
        ["post", "reply", "update", "reply"]
    );
    let parent = &slack.with(|s| s.parents())[0];
    assert!(
        parent.shown().contains("Approved"),
        "not rolled back: {}",
        parent.shown()
    );
}

#[tokio::test]
async fn with_one_attempt_allowed_the_parent_s_edit_is_still_made() {
    let slack = SlackApi::start().await;
    let relay = slack_relay(&slack, ", retry: { max_attempts: 1 }").await;
    let life = [
        action_event("corrective_action_assigned", ACTION, 1),
        action_event("corrective_action_rejected", ACTION, 3),
    ];
    deliver_all(&relay, &life).await;
    assert_eq!(calls(&slack.received()), ["post", "reply", "update"]);
    assert_eq!(slack.with(|s| s.parents())[0].edits, 1);
}

#[tokio::test]
async fn an_edit_that_cannot_be_made_leaves_the_delivery_delivered_not_a_dead_letter() {
    let slack = SlackApi::start().await;
    let relay = slack_relay(&slack, "").await;
    deliver_all(
        &relay,
        &[action_event("corrective_action_assigned", ACTION, 1)],
    )
    .await;
    slack.script([Answer::ok(), Answer::error(200, "cant_update_message")]);
    let id = relay
        .ack(&action_event("corrective_action_rejected", ACTION, 3))
        .await;
    let (_, attempts) = relay.wait_state(&id, DeliveryState::Delivered).await;
    let rows = actions(&attempts);
    assert_eq!(
        rows,
        [(Some("reply"), "delivered"), (Some("update"), "dead")]
    );
    assert!(
        attempts[1]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("cant_update_message")
    );
    assert_eq!(
        relay.counts().await.dead,
        0,
        "no dead letter for a delivered reply"
    );
}

#[tokio::test]
async fn a_429_on_the_parent_s_edit_is_waited_out_and_the_edit_made() {
    let slack = SlackApi::start().await;
    let relay = slack_relay(&slack, ", retry: { initial: 100ms }").await;
    deliver_all(
        &relay,
        &[action_event("corrective_action_assigned", ACTION, 1)],
    )
    .await;
    // The reply goes through; the edit is rate limited once.
    slack.script([Answer::ok(), Answer::retry_after(429, 1)]);
    let id = relay
        .ack(&action_event("corrective_action_rejected", ACTION, 2))
        .await;
    let (_, attempts) = relay.wait_state(&id, DeliveryState::Delivered).await;
    let actions: Vec<(Option<&str>, &str, Option<u16>)> = attempts
        .iter()
        .map(|a| (a.action.as_deref(), a.outcome.as_str(), a.status))
        .collect();
    assert_eq!(
        actions,
        [
            (Some("reply"), "delivered", Some(200)),
            (Some("update"), "retry", Some(429)),
            (Some("update"), "delivered", Some(200)),
        ]
    );
    let parent = &slack.with(|s| s.parents())[0];
    assert_eq!(parent.edits, 1);
    assert!(parent.shown().contains("Rejected"), "{}", parent.shown());
    assert_eq!(
        slack.with(|s| s.replies(&parent.ts)).len(),
        1,
        "the reply was not sent twice"
    );
}

/// An email target of `provider` with `threads: true` at `mock`.
fn email_target<P: Provider>(provider: &str, key: &str, mock: &Mock<P>, extra: &str) -> String {
    format!(
        "{{ kind: email, provider: {provider}, api_key: \"{key}\", base_url: \"{}\", \
         from: \"Quality <alerts@northwind.example>\", to: [qa@northwind.example], \
         threads: true{extra} }}",
        mock.base_url()
    )
}

/// Two events of one action to an email target: the subjects and headers of both mails, as
/// `read` finds them in the requests.
async fn mail_thread<P: Provider>(
    mock: &Mock<P>,
    target: String,
    read: impl Fn(&Recorded) -> (String, Vec<(String, String)>),
) -> Vec<(String, Vec<(String, String)>)> {
    let rules = config(&[("mail", target)], "*");
    let relay = spawn_relay(Spec::new(&rules)).await;
    deliver_all(
        &relay,
        &[action_event("corrective_action_assigned", ACTION, 1)],
    )
    .await;
    deliver_all(
        &relay,
        &[action_event("corrective_action_rejected", ACTION, 2)],
    )
    .await;
    mock.received().iter().map(read).collect()
}

/// The first mail has its own id; the second names it as `In-Reply-To` and `References`, under
/// the first one's subject with `Re: `.
fn assert_threaded(mails: &[(String, Vec<(String, String)>)]) {
    assert_eq!(mails.len(), 2, "{mails:?}");
    let header = |i: usize, name: &str| {
        mails[i]
            .1
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let root = header(0, "Message-ID").expect("the first mail has a Message-ID");
    assert!(
        root.starts_with('<') && root.ends_with("@northwind.example>"),
        "{root}"
    );
    assert_eq!(header(0, "In-Reply-To"), None);
    let own = header(1, "Message-ID").expect("the second mail has its own id");
    assert_ne!(own, root);
    assert_eq!(header(1, "In-Reply-To").as_deref(), Some(root.as_str()));
    assert_eq!(header(1, "References").as_deref(), Some(root.as_str()));
    let (first, second) = (&mails[0].0, &mails[1].0);
    assert_eq!(
        second,
        &format!("Re: {first}"),
        "one subject for the thread"
    );
    assert!(
        !first.contains("Assigned"),
        "the subject names the action, not the event: {first}"
    );
}

/// The `subject` and the `headers` object of a JSON mail (SendGrid's, Resend's).
fn subject_and_headers_object(r: &Recorded) -> (String, Vec<(String, String)>) {
    let body = r.json();
    let headers = body["headers"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let subject = body["subject"].as_str().unwrap_or_default().to_owned();
    (subject, headers)
}

#[tokio::test]
async fn sendgrid_mails_of_one_action_are_one_thread_by_the_headers_object() {
    let mock = SendGrid::start().await;
    let target = email_target("sendgrid", SendGrid::API_KEY, &mock, "");
    let mails = mail_thread(&mock, target, subject_and_headers_object).await;
    assert_threaded(&mails);
}

#[tokio::test]
async fn mailgun_mails_of_one_action_are_one_thread_by_h_fields() {
    let mock = Mailgun::start().await;
    let extra = format!(", domain: {}", Mailgun::DOMAIN);
    let target = email_target("mailgun", Mailgun::API_KEY, &mock, &extra);
    let mails = mail_thread(&mock, target, |r| {
        let form = r.form();
        let subject = form
            .iter()
            .find(|(k, _)| k == "subject")
            .map(|(_, v)| v.clone());
        let headers = form
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("h:")
                    .map(|name| (name.to_owned(), v.clone()))
            })
            .collect();
        (subject.unwrap_or_default(), headers)
    })
    .await;
    assert_threaded(&mails);
}

#[tokio::test]
async fn postmark_mails_of_one_action_are_one_thread_by_the_headers_list() {
    let mock = Postmark::start().await;
    let target = email_target("postmark", Postmark::TOKEN, &mock, "");
    let mails = mail_thread(&mock, target, |r| {
        let body = r.json();
        let headers = body["Headers"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|h| {
                        let text = |k: &str| h[k].as_str().unwrap_or_default().to_owned();
                        (text("Name"), text("Value"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        (
            body["Subject"].as_str().unwrap_or_default().to_owned(),
            headers,
        )
    })
    .await;
    assert_threaded(&mails);
}

#[tokio::test]
async fn resend_mails_of_one_action_are_one_thread_by_the_headers_object() {
    let mock = Resend::start().await;
    let target = email_target("resend", Resend::API_KEY, &mock, "");
    let mails = mail_thread(&mock, target, subject_and_headers_object).await;
    assert_threaded(&mails);
}

#[tokio::test]
async fn two_relays_on_one_postgresql_continue_one_thread() {
    let schema = Schema::create().await;
    let slack = SlackApi::start().await;
    let rules = format!(
        "server:\n  token: {TOKEN}\n  store: \"{}\"\n{}",
        schema.url(),
        config(&[("quality", slack_target(&slack, ""))], "*")
    );
    let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    for dir in &dirs {
        write_file(&dir.path().join("rules.yaml"), &rules);
    }
    let one = RelayProcess::start(dirs[0].path(), 1, TOKEN).await;
    let two = RelayProcess::start(dirs[1].path(), 1, TOKEN).await;
    // Each event to another relay: the conversation is the database's, not a relay's.
    one.ack(&action_event("corrective_action_assigned", ACTION, 1))
        .await;
    slack.wait_for(1, WAIT).await;
    two.ack(&action_event("corrective_action_submitted", ACTION, 2))
        .await;
    slack.wait_for(3, WAIT).await;
    one.ack(&action_event("corrective_action_approved", ACTION, 3))
        .await;
    let received = slack.wait_for(5, WAIT).await;
    assert_eq!(
        calls(&received),
        ["post", "reply", "update", "reply", "update"]
    );
    let parents = slack.with(|s| s.parents());
    assert_eq!(parents.len(), 1, "{parents:?}");
    assert_eq!(slack.with(|s| s.replies(&parents[0].ts)).len(), 2);
    assert!(
        parents[0].shown().contains("Approved"),
        "{}",
        parents[0].shown()
    );
    drop((one, two));
    drop(schema);
}

#[tokio::test]
async fn with_one_attempt_allowed_a_gone_parent_still_gets_its_new_one() {
    let (slack, relay, first) = parent_deleted(", retry: { max_attempts: 1 }").await;
    slack.script([Answer::error(200, "thread_not_found")]);
    let id = relay
        .ack(&action_event("corrective_action_submitted", ACTION, 2))
        .await;
    let (_, attempts) = relay.wait_state(&id, DeliveryState::Delivered).await;
    let actions: Vec<_> = attempts.iter().map(|a| a.action.as_deref()).collect();
    assert_eq!(actions, [Some("reply"), Some("start")], "{attempts:?}");
    let parents = slack.with(|s| s.parents());
    assert_eq!(parents.len(), 1, "{parents:?}");
    assert_ne!(parents[0].ts, first, "a new parent");
}

#[tokio::test]
async fn mqa_relay_test_shows_a_threaded_target_s_first_message_and_its_conversation() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let slack = SlackApi::start().await;
    let rules_path = dir.path().join("rules.yaml");
    let rules = format!(
        "server:\n  token: {TOKEN}\n{}",
        config(&[("quality", slack_target(&slack, ""))], "*")
    );
    write_file(&rules_path, &rules);
    let event = dir.path().join("rejected.json");
    write_file(&event, &sample("corrective_action_rejected").to_string());
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_mqa-relay"))
            .arg("test")
            .arg("--rules")
            .arg(&rules_path)
            .arg(&event)
            .output()
            .expect("mqa-relay runs")
    })
    .await
    .expect("the command finishes");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "as the first message of the conversation of corrective-action:{ACTION}"
        )),
        "{stdout}"
    );
    // The parent's layout: the object as the header, where it stands in bold.
    assert!(
        stdout.contains("Corrective action CA-2026-0147: Repair walk-in freezer"),
        "{stdout}"
    );
    assert!(stdout.contains("*Rejected → waiting for"), "{stdout}");
    assert!(slack.received().is_empty(), "nothing is sent");
}

//! The operator page in headless Chromium: what an operator does with it (on both engines),
//! a draft previewed, hostile text while tailing, the keyboard alone, and every screen at two
//! widths.

use serde_json::{Value, json};

use super::{ADMIN, DEADLINE, action, admin_get, dead_letters, server, start};
use crate::support::browser::Browser;
use crate::support::mail_providers::SendGrid;
use crate::support::mock::{Answer, Mock};
use crate::support::postgres::Schema;
use crate::support::process::RelayProcess;
use crate::support::providers::{SlackWebhook, TeamsWorkflow, WebhookReceiver};
use crate::support::relay::webhook_target;
use crate::support::wait::{eventually_within, sample};

const DESKTOP: (u32, u32) = (1280, 1000);

/// A kitchen Slack channel for rejected actions and an ERP for audits.
fn rules(store: &str, slack: &str, erp: &str) -> String {
    format!(
        "{}targets:\n  kitchen: {{ kind: slack, url: \"{slack}\", retry: {{ initial: 100ms }} }}\n  erp: {erp}\n\
         rules:\n  - name: rejected actions to the kitchen\n    events: CORRECTIVE_ACTION_REJECTED\n    notify: [kitchen]\n\
         \x20 - name: audits to the ERP\n    events: \"AUDIT_*\"\n    notify: [erp]\n",
        server(store),
        erp = webhook_target(erp, ""),
    )
}

/// Fails with every rule axe-core finds broken on the page.
async fn assert_accessible(browser: &Browser, what: &str) {
    let problems = browser.accessibility_problems().await;
    assert!(problems.is_empty(), "{what}:\n{}", problems.join("\n"));
}

/// Signs in through the form: a wrong token first (refused, after the delay), then the right one.
async fn sign_in(browser: &Browser, relay: &RelayProcess) {
    browser.goto(&format!("http://{}/ui/", relay.addr)).await;
    assert!(
        browser.path().await.starts_with("/ui/login"),
        "{}",
        browser.path().await
    );
    browser.assert_clean().await;
    assert_accessible(browser, "the sign-in page").await;
    browser.fill("#token", "not-the-token").await;
    browser.click("button[type=submit]").await;
    browser.find("#login-error").await;
    browser.wait_text("not this relay's admin token").await;
    browser.fill("#token", ADMIN).await;
    browser.click("button[type=submit]").await;
    browser.wait_path("/ui/").await;
}

/// An operator signs in, sees both events with where they went, opens the rejected action's
/// story (the dead delivery, the provider's answer, every rule's verdict), replays the dead
/// letter from the dead-letter screen after the confirmation, and Slack gets it once more.
async fn dead_letter_story(store: &str) {
    let slack = SlackWebhook::start().await;
    slack.script([Answer::status(404)]);
    let erp = WebhookReceiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let relay = start(dir.path(), &rules(store, &slack.url(), &erp.url()), &[]).await;
    let rejected = relay.ack(&action("Clean the fryer hood")).await;
    let expired = relay.ack(&sample("audit_expired")).await;
    let dead = dead_letters(&relay, 1).await;
    erp.wait_for(1, DEADLINE).await;

    let browser = Browser::start(DESKTOP.0, DESKTOP.1).await;
    sign_in(&browser, &relay).await;
    browser.wait_text("✗ 1 dead").await;
    let text = browser.text_of("#events").await;
    assert!(
        text.contains("CORRECTIVE_ACTION_REJECTED") && text.contains("AUDIT_EXPIRED"),
        "{text}"
    );
    assert!(
        text.contains("✓ 1 delivered") && text.contains("kitchen"),
        "{text}"
    );
    browser.assert_clean().await;

    browser
        .click(&format!("a[href='/ui/events/{rejected}']"))
        .await;
    browser.wait_text("Every rule's verdict").await;
    let text = browser.text().await;
    for wanted in [
        "✗ dead",
        "no_service",
        "404",
        "✓ matches",
        "– skipped",
        "audits to the ERP",
    ] {
        assert!(
            text.contains(wanted),
            "{wanted:?} missing from the event page:\n{text}"
        );
    }
    browser.assert_clean().await;

    browser
        .goto(&format!("http://{}/ui/dead", relay.addr))
        .await;
    browser.wait_text("HTTP 404").await;
    browser.assert_clean().await;
    browser.fill("input[name=since]", "1h").await;
    browser.click("#replay-since button[type=submit]").await;
    browser.wait_text("Send 1 message?").await;
    browser.click("#confirm ~ a").await;
    browser.wait_path("/ui/dead").await;
    browser
        .click(&format!("button[name=one][value='{}']", dead[0]))
        .await;
    browser.wait_text("Send 1 message?").await;
    browser.assert_clean().await;
    assert_accessible(&browser, "the confirmation").await;
    browser.click("#confirm").await;
    browser.wait_path("/ui/dead?replayed=1").await;
    browser.find("#replayed").await;
    browser.assert_clean().await;

    let got = slack.wait_for(2, DEADLINE).await;
    assert!(
        got[1].text().contains("Clean the fryer hood"),
        "{}",
        got[1].text()
    );
    wait_states(&relay, &rejected, &["dead", "delivered"]).await;
    assert_eq!(slack.received().len(), 2, "the replay went out once");
    reroute(&browser, &relay, &rejected, &slack).await;

    browser
        .goto(&format!("http://{}/ui/events/{expired}", relay.addr))
        .await;
    browser.wait_text("✓ delivered").await;
    browser.assert_clean().await;
    reload_and_preview(&browser, &relay, &rejected).await;
}

/// Waits until the event's deliveries, in order, stand as `states` (as the admin API says).
async fn wait_states(relay: &RelayProcess, id: &str, states: &[&str]) {
    let what = format!("event {id}'s deliveries to be {states:?}");
    eventually_within(&what, DEADLINE, async || {
        let (_, body) = admin_get(relay, &format!("/api/events/{id}")).await;
        let event: Value = serde_json::from_str(&body).ok()?;
        let now: Vec<&str> = event["deliveries"]
            .as_array()?
            .iter()
            .filter_map(|d| d["state"].as_str())
            .collect();
        (now == states).then_some(())
    })
    .await;
}

/// Re-routing the event after the confirmation sends what its rule matches once more.
async fn reroute(browser: &Browser, relay: &RelayProcess, id: &str, slack: &Mock<SlackWebhook>) {
    browser
        .goto(&format!("http://{}/ui/events/{id}", relay.addr))
        .await;
    browser
        .click(&format!("form[action='/ui/events/{id}/reroute'] button"))
        .await;
    browser.wait_text("Send 1 message?").await;
    browser
        .wait_text("rejected actions to the kitchen → kitchen")
        .await;
    browser.assert_clean().await;
    browser.click("#confirm").await;
    browser.wait_path(&format!("/ui/events/{id}")).await;
    slack.wait_for(3, DEADLINE).await;
    wait_states(relay, id, &["dead", "delivered", "delivered"]).await;
    assert_eq!(slack.received().len(), 3, "the re-route went out once");
}

/// The rules screen reloads the file; the preview of a stored event draws its Slack message.
async fn reload_and_preview(browser: &Browser, relay: &RelayProcess, event_id: &str) {
    browser
        .goto(&format!("http://{}/ui/rules", relay.addr))
        .await;
    browser.wait_text("rejected actions to the kitchen").await;
    browser.assert_clean().await;
    browser.click("#reload").await;
    browser.find("#reload-result").await;
    browser.wait_text("Reloaded").await;
    browser.assert_clean().await;

    browser
        .goto(&format!(
            "http://{}/ui/preview?event={event_id}",
            relay.addr
        ))
        .await;
    let slack = browser.find(".slack-frame .slack-message").await;
    let text = slack.text().await.unwrap_or_default();
    assert!(text.contains("Clean the fryer hood"), "{text}");
    browser.assert_clean().await;

    browser.click(".signout button").await;
    browser.find("#token").await;
    browser
        .goto(&format!("http://{}/ui/dead", relay.addr))
        .await;
    assert!(browser.path().await.starts_with("/ui/login"), "signed out");
}

#[tokio::test]
async fn an_operator_finds_a_dead_letter_and_replays_it_once_on_the_embedded_store() {
    dead_letter_story("").await;
}

#[tokio::test]
async fn an_operator_finds_a_dead_letter_and_replays_it_once_on_postgresql() {
    let schema = Schema::create().await;
    dead_letter_story(&schema.url()).await;
}

/// A draft with a Slack, a Teams and an email target, and an event pasted in.
fn draft(slack: &str, teams: &str, mail: &str) -> String {
    format!(
        "targets:\n  floor: {{ kind: slack, url: \"{slack}\" }}\n  managers: {{ kind: teams, url: \"{teams}\" }}\n\
         \x20 quality-mail: {{ kind: email, provider: sendgrid, api_key: \"${{PREVIEW_MAIL_KEY}}\", base_url: \"{mail}\",\n\
         \x20   from: relay@example.com, to: [quality@example.com] }}\n\
         rules:\n  - name: rejected in the draft\n    events: CORRECTIVE_ACTION_REJECTED\n    notify: [floor, managers, quality-mail]\n\
         \x20 - name: \"never: ${{PREVIEW_LEAK}}\"\n    events: \"*\"\n\
         \x20   where: {{ company.name: {{ eq: \"${{PREVIEW_LEAK}}\" }} }}\n    notify: [floor]\n"
    )
}

/// What the relay's environment holds and a draft names outside a secret field: never shown.
const LEAK: &str = "postgres://relay:a-long-database-password-that-must-never-be-shown@db/x";

#[tokio::test]
async fn a_pasted_event_is_previewed_against_a_draft_rule_and_drawn_for_every_kind() {
    let dir = tempfile::tempdir().unwrap();
    let key = "SG.preview-key-that-must-not-show";
    let relay = start(
        dir.path(),
        &format!("{}targets: {{}}\nrules: []\n", server("")),
        &[("PREVIEW_MAIL_KEY", key), ("PREVIEW_LEAK", LEAK)],
    )
    .await;
    let slack = SlackWebhook::start().await;
    let teams = TeamsWorkflow::start().await;
    let mail = SendGrid::start().await;
    let mut event = action("Replace the door seal");
    event["company"]["name"] = json!("Acme Preview Kitchens");

    let browser = Browser::start(DESKTOP.0, DESKTOP.1).await;
    sign_in(&browser, &relay).await;
    browser
        .goto(&format!("http://{}/ui/preview", relay.addr))
        .await;
    browser.assert_clean().await;
    browser.fill("#event_json", &event.to_string()).await;
    browser
        .fill(
            "#draft",
            &draft(&slack.url(), &teams.url(), &mail.base_url()),
        )
        .await;
    browser.click("#run-preview").await;
    browser.find("#verdicts").await;
    let text = browser.text().await;
    assert!(
        text.contains("the pasted event against the pasted draft"),
        "{text}"
    );
    assert!(text.contains("✓ matches rejected in the draft"), "{text}");
    assert!(text.contains("– skipped never"), "{text}");

    let drawn = browser
        .find(".slack-frame .slack-message")
        .await
        .text()
        .await
        .unwrap_or_default();
    assert!(drawn.contains("Replace the door seal"), "{drawn}");
    let card = browser
        .find(".teams-frame[data-rendered='true'] .ac-adaptiveCard")
        .await;
    let card = card.text().await.unwrap_or_default();
    assert!(card.contains("Replace the door seal"), "{card}");
    let subject = browser
        .find(".email-head .subject")
        .await
        .text()
        .await
        .unwrap_or_default();
    assert!(!subject.is_empty());
    browser
        .client
        .enter_frame(0)
        .await
        .expect("the email frame");
    let email = browser.text().await;
    browser
        .client
        .enter_parent_frame()
        .await
        .expect("back to the page");
    assert!(email.contains("Replace the door seal"), "{email}");
    browser.assert_clean().await;

    let source = browser.client.source().await.expect("the page source");
    assert!(
        source.contains("${PREVIEW_LEAK}"),
        "a variable outside a secret field is itself"
    );
    for secret in [key, ADMIN, LEAK, "a-long-database-password"] {
        assert!(!source.contains(secret), "{secret} is on the page");
    }
    let sent = slack.received().len() + teams.received().len() + mail.received().len();
    assert_eq!(sent, 0, "nothing is sent from a preview");

    browser.fill("#draft", "targets: {}\nrules:\n  - name: broken\n    events: [NOT_AN_EVENT]\n    notify: [nowhere]\n").await;
    browser.click("#run-preview").await;
    browser.find("#config-errors").await;
    let text = browser.text().await;
    assert!(
        text.contains("rules.yaml:") && text.contains("nowhere"),
        "{text}"
    );
    browser.assert_clean().await;
}

#[tokio::test]
async fn a_hostile_event_shows_as_text_on_every_screen() {
    let erp = WebhookReceiver::start().await;
    let slack = SlackWebhook::start().await;
    let dir = tempfile::tempdir().unwrap();
    let relay = start(dir.path(), &rules("", &slack.url(), &erp.url()), &[]).await;
    let hostile =
        "</script><script>window.hacked=1</script>\"><img src=x onerror=\"window.hacked=2\">";
    let mut event = action(hostile);
    event["company"]["name"] = json!(hostile);
    let browser = Browser::start(DESKTOP.0, DESKTOP.1).await;
    sign_in(&browser, &relay).await;

    // Tailing, the list shows the event once it arrives, without anyone reloading the page.
    browser
        .goto(&format!("http://{}/ui/?tail=1", relay.addr))
        .await;
    browser.wait_text("No event has arrived yet").await;
    let id = relay.ack(&event).await;
    slack.wait_for(1, DEADLINE).await;
    browser
        .find(&format!("#events a[href='/ui/events/{id}']"))
        .await;
    assert_eq!(browser.path().await, "/ui/?tail=1");
    browser.click("#tail-toggle").await;
    browser.wait_path("/ui/").await;

    let screens = [
        ("/ui/".to_string(), "#events"),
        (format!("/ui/events/{id}"), "#main"),
        (format!("/ui/preview?event={id}"), "#result"),
    ];
    for (path, part) in screens {
        browser.goto(&format!("http://{}{path}", relay.addr)).await;
        let text = browser.text_of(part).await;
        assert!(
            text.contains("<script>window.hacked=1</script>"),
            "{path}: the text is shown as text:\n{text}"
        );
        assert_eq!(
            browser.run("return typeof window.hacked;").await,
            json!("undefined"),
            "{path}"
        );
        assert!(
            !browser.has("img[src=x]").await,
            "{path}: an image was injected"
        );
        browser.assert_clean().await;
    }
}

/// The screens' pictures: tall enough for a whole preview with its three messages.
const SHOT_DESKTOP: (u32, u32) = (1280, 2000);
const SHOT_PHONE: (u32, u32) = (360, 3200);

#[tokio::test]
async fn every_screen_is_drawn_at_desktop_and_phone_width_without_a_problem() {
    let slack = SlackWebhook::start().await;
    slack.script([Answer::status(404)]);
    let teams = TeamsWorkflow::start().await;
    let mail = SendGrid::start().await;
    let erp = WebhookReceiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "{}targets:\n  kitchen: {{ kind: slack, url: \"{}\" }}\n  managers: {{ kind: teams, url: \"{}\" }}\n\
         \x20 quality-mail: {{ kind: email, provider: sendgrid, api_key: \"{}\", base_url: \"{}\",\n\
         \x20   from: relay@example.com, to: [quality@example.com] }}\n  erp: {}\n\
         rules:\n  - name: rejected actions to the kitchen\n    events: CORRECTIVE_ACTION_REJECTED\n    notify: [kitchen, managers, quality-mail]\n\
         \x20 - name: audits to the ERP\n    events: \"AUDIT_*\"\n    notify: [erp]\n",
        server(""),
        slack.url(),
        teams.url(),
        SendGrid::API_KEY,
        mail.base_url(),
        webhook_target(&erp.url(), ""),
    );
    let relay = start(dir.path(), &body, &[]).await;
    let rejected = relay.ack(&action("Clean the fryer hood")).await;
    relay.ack(&sample("audit_expired")).await;
    dead_letters(&relay, 1).await;
    let out = std::env::var("MQA_RELAY_SCREENSHOTS").ok();
    let scratch = tempfile::tempdir().unwrap();
    let dir_out = out
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| scratch.path().to_path_buf());
    std::fs::create_dir_all(&dir_out).unwrap();
    let screens = [
        ("events", "/ui/".to_string()),
        ("event", format!("/ui/events/{rejected}")),
        ("dead-letters", "/ui/dead".to_string()),
        ("rules", "/ui/rules".to_string()),
        ("preview", format!("/ui/preview?event={rejected}")),
    ];
    for (width_name, (w, h)) in [("desktop", SHOT_DESKTOP), ("phone", SHOT_PHONE)] {
        let browser = Browser::start(w, h).await;
        sign_in(&browser, &relay).await;
        for (name, path) in &screens {
            browser.goto(&format!("http://{}{path}", relay.addr)).await;
            browser.find("#main h1").await;
            if *name == "preview" {
                browser.find(".slack-frame .slack-message").await;
                browser
                    .find(".teams-frame[data-rendered='true'] .ac-adaptiveCard")
                    .await;
            }
            browser.assert_clean().await;
            assert_accessible(&browser, &format!("{name} at {w} px")).await;
            let width = browser
                .run("return document.documentElement.scrollWidth;")
                .await;
            let fits = width.as_u64().is_some_and(|px| px <= u64::from(w));
            assert!(fits, "{name} at {w} px is {width} px wide");
            let png = browser.screenshot().await;
            assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{name}: a PNG");
            std::fs::write(dir_out.join(format!("ui-{name}.{width_name}.png")), png).unwrap();
        }
    }
}

#[tokio::test]
async fn the_page_is_worked_from_the_keyboard_alone() {
    let erp = WebhookReceiver::start().await;
    let slack = SlackWebhook::start().await;
    let dir = tempfile::tempdir().unwrap();
    let relay = start(dir.path(), &rules("", &slack.url(), &erp.url()), &[]).await;
    let id = relay.ack(&sample("audit_expired")).await;
    erp.wait_for(1, DEADLINE).await;

    let browser = Browser::start(DESKTOP.0, DESKTOP.1).await;
    browser.goto(&format!("http://{}/ui/", relay.addr)).await;
    browser.find("#token").await;
    // The token field has the focus: type the token and press Enter.
    let focused = browser
        .client
        .active_element()
        .await
        .expect("a focused element");
    assert_eq!(focused.attr("id").await.unwrap().as_deref(), Some("token"));
    focused
        .send_keys(&format!("{ADMIN}\u{e007}"))
        .await
        .unwrap();
    browser.wait_path("/ui/").await;

    // Tab from the top of the page reaches the event's link, and Enter opens it.
    let link = format!("/ui/events/{id}");
    let mut reached = false;
    for _ in 0..60 {
        let focused = browser
            .client
            .active_element()
            .await
            .expect("a focused element");
        if focused.attr("href").await.unwrap().as_deref() == Some(link.as_str()) {
            focused.send_keys("\u{e007}").await.unwrap();
            reached = true;
            break;
        }
        focused.send_keys("\u{e004}").await.unwrap();
    }
    assert!(reached, "no Tab stop on the event's link within 60");
    browser.wait_path(&link).await;
    browser.wait_text("Every rule's verdict").await;
    browser.assert_clean().await;
}

use serde_json::json;

use super::*;

const ACTION: &str = "corrective-action:6b7c0c1e";

fn sending<'a>(kind: &'a str, event_id: &'a str, status: &'a str, edits: bool) -> Sending<'a> {
    Sending {
        target: "quality-slack",
        object_key: ACTION,
        event_id,
        kind,
        received_at: 500,
        topic: "Corrective action CA-7: Replace the door seal",
        status,
        edits,
        own: true,
        now_ms: 1_000,
    }
}

fn claimed<'a>(step: u8, kind: &'a str, event_id: &'a str) -> Claimed<'a> {
    Claimed {
        step,
        kind,
        event_id,
        own: true,
        edits: true,
    }
}

fn posted(id: &str) -> Answer {
    Answer::Posted {
        id: Some(id.to_owned()),
    }
}

fn start() -> Post {
    Post::Start {
        restarted: false,
        topic: None,
    }
}

fn opened(id: &str) -> Conversation {
    let s = sending("CORRECTIVE_ACTION_ASSIGNED", "e1", "Assigned", true);
    after(&start(), None, &posted(id), &s)
        .conversation
        .expect("opened")
}

#[test]
fn the_key_is_the_corrective_action_or_the_audit() {
    let key = |kind: &str, data: serde_json::Value| {
        let data = data.as_object().cloned().unwrap_or_default();
        super::key(kind, &data)
    };
    let data = json!({"correctiveActionId": "a1", "auditId": "b2"});
    assert_eq!(
        key("CORRECTIVE_ACTION_REJECTED", data.clone()).as_deref(),
        Some("corrective-action:a1")
    );
    assert_eq!(key("AUDIT_EXPIRED", data).as_deref(), Some("audit:b2"));
    assert_eq!(key("TEMPLATE_CREATED", json!({"id": "t"})), None);
    assert_eq!(key("AUDIT_EXPIRED", json!({"auditId": ""})), None);
    assert_eq!(key("AUDIT_EXPIRED", json!({"auditId": 7})), None);
}

#[test]
fn a_corrective_action_s_life_is_one_parent_replies_and_edits() {
    let threads = Threads::default();
    let first = claimed(0, "CORRECTIVE_ACTION_ASSIGNED", "e1");
    assert_eq!(post(&first, None, &threads), start());
    let s = sending("CORRECTIVE_ACTION_ASSIGNED", "e1", "Assigned to Ana", true);
    let opened = after(&start(), None, &posted("C1/100.1"), &s);
    assert_eq!(opened.next_step, None);
    let c = opened.conversation.expect("opened");
    assert_eq!(
        (c.channel.as_deref(), c.thread_id.as_str()),
        (Some("C1"), "100.1")
    );
    assert_eq!((c.messages, c.state.as_str()), (1, "Assigned to Ana"));
    assert!(!c.provisional);

    // REJECTED: a reply in the thread, broadcast, then the parent's edit.
    let rejected = claimed(0, "CORRECTIVE_ACTION_REJECTED", "e2");
    let reply = post(&rejected, Some(&c), &threads);
    assert_eq!(
        reply,
        Post::Reply {
            channel: Some("C1".into()),
            thread_id: "100.1".into(),
            topic: c.topic.clone(),
            broadcast: true,
            own: true,
        }
    );
    let mut s = sending("CORRECTIVE_ACTION_REJECTED", "e2", "Rejected → Ana", true);
    s.received_at = 600;
    let replied = after(&reply, Some(&c), &posted("C1/100.2"), &s);
    assert_eq!(replied.next_step, Some(UPDATE_STEP));
    let c = replied.conversation.expect("replied");
    assert_eq!((c.messages, c.last_event_id.as_str()), (2, "e2"));
    assert_eq!(
        c.state, "Assigned to Ana",
        "the state changes with the edit"
    );

    let edit = claimed(UPDATE_STEP, "CORRECTIVE_ACTION_REJECTED", "e2");
    let update = post(&edit, Some(&c), &threads);
    assert_eq!(
        update,
        Post::Update {
            channel: "C1".into(),
            thread_id: "100.1".into(),
            topic: Some(c.topic.clone()),
            restarted: false,
        }
    );
    let edited = after(&update, Some(&c), &posted("C1/100.1"), &s);
    assert_eq!(edited.next_step, None);
    assert_eq!(edited.conversation.expect("edited").state, "Rejected → Ana");
}

#[test]
fn a_reply_of_a_type_not_broadcast_stays_in_the_thread() {
    let threads = Threads {
        broadcast: Vec::new(),
        by_audit: false,
    };
    let c = opened("C1/1.1");
    let rejected = claimed(0, "CORRECTIVE_ACTION_REJECTED", "e2");
    let Post::Reply { broadcast, .. } = post(&rejected, Some(&c), &threads) else {
        panic!("a reply")
    };
    assert!(!broadcast);
}

#[test]
fn an_older_event_only_adds_to_the_thread_and_has_no_edit() {
    // The conversation's latest event came at 500; a replay of one from 400 arrives now.
    let c = opened("C1/1.1");
    let old = claimed(0, "CORRECTIVE_ACTION_SUBMITTED", "e0");
    let reply = post(&old, Some(&c), &Threads::default());
    let mut s = sending(
        "CORRECTIVE_ACTION_SUBMITTED",
        "e0",
        "Submitted long ago",
        true,
    );
    s.received_at = 400;
    let done = after(&reply, Some(&c), &posted("C1/1.2"), &s);
    assert_eq!(done.next_step, None, "the parent is not rolled back");
    let c2 = done.conversation.expect("replied");
    assert_eq!(c2.messages, 2);
    assert_eq!(
        (c2.last_event_id.as_str(), c2.state.as_str()),
        ("e1", "Assigned")
    );
}

#[test]
fn an_edit_no_longer_wanted_is_skipped() {
    let threads = Threads::default();
    let c = opened("C1/1.1");
    let edit = |event_id| claimed(UPDATE_STEP, "CORRECTIVE_ACTION_SUBMITTED", event_id);
    let skipped = |p: Post| matches!(p, Post::Skip { .. });
    assert!(
        skipped(post(&edit("e9"), Some(&c), &threads)),
        "a later event is shown"
    );
    assert!(
        skipped(post(&edit("e1"), None, &threads)),
        "no conversation any more"
    );
    let mail = Claimed {
        edits: false,
        ..edit("e1")
    };
    assert!(
        skipped(post(&mail, Some(&c), &threads)),
        "a mail is not edited"
    );
    let mut gone = c.clone();
    gone.gone_at = Some(900);
    assert!(skipped(post(&edit("e1"), Some(&gone), &threads)));
    assert!(!skipped(post(&edit("e1"), Some(&c), &threads)));
}

#[test]
fn a_conversation_of_another_kind_of_target_is_not_continued() {
    // A Slack thread stored under a name that is now an email target.
    let slack = opened("C1/1.1");
    let mail = Claimed {
        edits: false,
        ..claimed(0, "CORRECTIVE_ACTION_SUBMITTED", "e2")
    };
    assert_eq!(post(&mail, Some(&slack), &Threads::default()), start());
}

#[test]
fn a_parent_gone_starts_a_new_conversation_that_says_so() {
    let threads = Threads::default();
    let c = opened("C1/1.1");
    for step in [0, UPDATE_STEP] {
        let submitted = claimed(step, "CORRECTIVE_ACTION_SUBMITTED", "e1");
        let p = post(&submitted, Some(&c), &threads);
        let s = sending("CORRECTIVE_ACTION_SUBMITTED", "e1", "Submitted", true);
        let gone = after(
            &p,
            Some(&c),
            &Answer::ParentGone("message_not_found".into()),
            &s,
        );
        assert_eq!(gone.next_step, Some(0), "step {step}");
        let g = gone.conversation.expect("gone");
        assert_eq!(g.gone_at, Some(1_000));
        let again = post(
            &claimed(0, "CORRECTIVE_ACTION_SUBMITTED", "e1"),
            Some(&g),
            &threads,
        );
        assert_eq!(
            again,
            Post::Start {
                restarted: true,
                topic: Some(g.topic.clone())
            }
        );
        let new = after(&again, Some(&g), &posted("C1/2.2"), &s)
            .conversation
            .expect("started again");
        assert_eq!((new.thread_id.as_str(), new.restarts), ("2.2", 1));
        assert_eq!((new.gone_at, new.messages), (None, 1));
    }
}

#[test]
fn a_reply_slack_put_in_the_channel_becomes_the_new_parent_and_is_edited_into_it() {
    let c = opened("C1/1.1");
    let p = post(
        &claimed(0, "CORRECTIVE_ACTION_SUBMITTED", "e2"),
        Some(&c),
        &Threads::default(),
    );
    let s = sending("CORRECTIVE_ACTION_SUBMITTED", "e2", "Submitted", true);
    let strayed = Answer::Strayed {
        id: "C1/3.3".into(),
    };
    let done = after(&p, Some(&c), &strayed, &s);
    assert_eq!(done.next_step, Some(UPDATE_STEP), "edited into the parent");
    let new = done.conversation.expect("a new parent");
    assert_eq!((new.thread_id.as_str(), new.restarts), ("3.3", 1));
    assert_eq!((new.messages, new.topic.as_str()), (1, c.topic.as_str()));
    let edit = post(
        &claimed(UPDATE_STEP, "CORRECTIVE_ACTION_SUBMITTED", "e2"),
        Some(&new),
        &Threads::default(),
    );
    let Post::Update {
        thread_id,
        restarted,
        ..
    } = edit
    else {
        panic!("an edit: {edit:?}")
    };
    assert_eq!((thread_id.as_str(), restarted), ("3.3", true));
}

#[test]
fn a_failed_post_changes_nothing() {
    let c = opened("C1/1.1");
    let p = post(
        &claimed(0, "CORRECTIVE_ACTION_SUBMITTED", "e2"),
        Some(&c),
        &Threads::default(),
    );
    let s = sending("CORRECTIVE_ACTION_SUBMITTED", "e2", "Submitted", true);
    assert_eq!(after(&p, Some(&c), &Answer::Other, &s), After::UNCHANGED);
    // A first message whose answer names no id cannot be threaded onto.
    let none = after(&start(), None, &Answer::Posted { id: None }, &s);
    assert_eq!(none.conversation, None);
}

#[test]
fn an_email_thread_keeps_its_first_message_id_and_takes_the_state_at_once() {
    let s = sending("CORRECTIVE_ACTION_ASSIGNED", "e1", "Assigned", false);
    let id = message_id("mqa-relay-e1-7", "Quality <alerts@Example.COM>");
    assert_eq!(id, "<mqa-relay-e1-7@example.com>");
    let c = after(&start(), None, &posted(&id), &s)
        .conversation
        .expect("opened");
    assert_eq!(
        (c.channel.as_deref(), c.thread_id.as_str()),
        (None, id.as_str())
    );
    let approved = Claimed {
        edits: false,
        ..claimed(0, "CORRECTIVE_ACTION_APPROVED", "e2")
    };
    let reply = post(&approved, Some(&c), &Threads::default());
    let s = sending("CORRECTIVE_ACTION_APPROVED", "e2", "Approved", false);
    let done = after(&reply, Some(&c), &posted("<other@example.com>"), &s);
    assert_eq!(done.next_step, None, "email has no edit");
    let c = done.conversation.expect("replied");
    assert_eq!((c.state.as_str(), c.closed_at), ("Approved", Some(1_000)));
    assert_eq!(c.thread_id, id, "the thread keeps its first message id");
}

#[test]
fn message_ids_and_subjects_are_well_formed() {
    assert_eq!(message_id("a b<c>", "x@y.example"), "<a-b-c-@y.example>");
    assert_eq!(message_id("k", "no address"), "<k@mqa-relay.invalid>");
    assert_eq!(message_id("k", "a@bad domain"), "<k@mqa-relay.invalid>");
    assert_eq!(reply_subject("Corrective action"), "Re: Corrective action");
    assert_eq!(reply_subject("RE: once"), "RE: once");
    assert_eq!(reply_subject("Ré"), "Re: Ré");
}

#[test]
fn with_threads_audit_a_corrective_action_goes_to_its_audit_s_conversation_when_known() {
    let by_audit = Threads {
        by_audit: true,
        ..Threads::default()
    };
    let event =
        |data: serde_json::Value| json!({"event": "CORRECTIVE_ACTION_REJECTED", "data": data});
    let named =
        event(json!({"correctiveActionId": "a1", "correctiveAction": {"audit": {"id": "b2"}}}));
    assert_eq!(key_for(&named, &by_audit).as_deref(), Some("audit:b2"));
    assert_eq!(
        key_for(&named, &Threads::default()).as_deref(),
        Some("corrective-action:a1"),
        "threads: true keeps the action's own"
    );
    let mut looked_up = event(json!({"correctiveActionId": "a1"}));
    looked_up["action"] = json!({"audit": {"id": "b3"}});
    assert_eq!(key_for(&looked_up, &by_audit).as_deref(), Some("audit:b3"));
    let unknown = event(json!({"correctiveActionId": "a1"}));
    assert_eq!(
        key_for(&unknown, &by_audit).as_deref(),
        Some("corrective-action:a1")
    );
    let audit = json!({"event": "AUDIT_EXPIRED", "data": {"auditId": "b2"}});
    assert_eq!(key_for(&audit, &by_audit).as_deref(), Some("audit:b2"));
}

#[test]
fn an_action_in_its_audit_s_conversation_replies_and_leaves_the_audit_s_state() {
    let c = opened("C1/1.1");
    let action = Claimed {
        own: false,
        ..claimed(0, "CORRECTIVE_ACTION_APPROVED", "e2")
    };
    let p = post(&action, Some(&c), &Threads::default());
    let Post::Reply { own, .. } = &p else {
        panic!("a reply: {p:?}")
    };
    assert!(!own, "the reply says which action");
    let mut s = sending("CORRECTIVE_ACTION_APPROVED", "e2", "Approved", true);
    s.own = false;
    let done = after(&p, Some(&c), &posted("C1/1.2"), &s);
    assert_eq!(done.next_step, None, "the audit's parent is not edited");
    let c2 = done.conversation.expect("replied");
    assert_eq!((c2.state.as_str(), c2.closed_at), ("Assigned", None));
    assert_eq!(c2.messages, 2);
}

#[test]
fn an_action_that_opens_its_audit_s_conversation_leaves_the_topic_to_the_audit() {
    let mut s = sending("CORRECTIVE_ACTION_ASSIGNED", "e1", "Assigned", true);
    s.own = false;
    let c = after(&start(), None, &posted("C1/1.1"), &s)
        .conversation
        .expect("opened");
    assert!(c.provisional, "the action's topic is not the audit's");
    // The audit's own event: a reply, then the edit, which gives the parent the audit's topic.
    let audit = claimed(UPDATE_STEP, "AUDIT_COMPLETED", "e1");
    let Post::Update { topic, .. } = post(&audit, Some(&c), &Threads::default()) else {
        panic!("an edit")
    };
    assert_eq!(topic, None, "this event's topic is used");
    let mut s = sending("AUDIT_COMPLETED", "e1", "Completed ✓", true);
    s.topic = "Audit AUD-7: Daily check";
    let update = Post::Update {
        channel: "C1".into(),
        thread_id: "1.1".into(),
        topic: None,
        restarted: false,
    };
    let done = after(&update, Some(&c), &posted("C1/1.1"), &s);
    let c2 = done.conversation.expect("edited");
    assert_eq!(
        (c2.topic.as_str(), c2.provisional),
        ("Audit AUD-7: Daily check", false)
    );
}

#[test]
fn an_older_reply_that_strays_leaves_the_state_and_has_no_edit() {
    let c = opened("C1/1.1");
    let p = post(
        &claimed(0, "CORRECTIVE_ACTION_SUBMITTED", "e0"),
        Some(&c),
        &Threads::default(),
    );
    let mut s = sending(
        "CORRECTIVE_ACTION_SUBMITTED",
        "e0",
        "Submitted long ago",
        true,
    );
    s.received_at = 400;
    let strayed = Answer::Strayed {
        id: "C1/3.3".into(),
    };
    let done = after(&p, Some(&c), &strayed, &s);
    assert_eq!(done.next_step, None);
    let new = done.conversation.expect("a new parent");
    assert_eq!(new.thread_id, "3.3");
    assert_eq!(
        (new.last_event_id.as_str(), new.state.as_str()),
        ("e1", "Assigned")
    );
    assert_eq!(new.last_received_at, 500);
}

#[test]
fn the_audit_s_own_event_fixes_a_provisional_parent_even_if_received_before_the_action() {
    let mut s = sending("CORRECTIVE_ACTION_ASSIGNED", "e1", "Assigned", true);
    s.own = false;
    s.received_at = 900;
    let c = after(&start(), None, &posted("C1/1.1"), &s)
        .conversation
        .expect("opened");
    let audit = claimed(0, "AUDIT_ASSIGNED", "e0");
    let p = post(&audit, Some(&c), &Threads::default());
    let mut s = sending("AUDIT_ASSIGNED", "e0", "Assigned to Ana", true);
    s.received_at = 800;
    let done = after(&p, Some(&c), &posted("C1/1.2"), &s);
    assert_eq!(
        done.next_step,
        Some(UPDATE_STEP),
        "the audit's card replaces the action's"
    );
}

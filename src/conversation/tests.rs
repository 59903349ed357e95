use serde_json::json;

use super::*;

const ACTION: &str = "corrective-action:6b7c0c1e";

fn sending<'a>(kind: &'a str, event_id: &'a str, status: &'a str, edits: bool) -> Sending<'a> {
    Sending {
        target: "quality-slack",
        object_key: ACTION,
        event_id,
        kind,
        topic: "Corrective action CA-7: Replace the door seal",
        status,
        edits,
        own: true,
        now_ms: 1_000,
    }
}

fn posted(id: &str) -> Answer {
    Answer::Posted {
        id: Some(id.to_owned()),
    }
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
    // ASSIGNED: no conversation yet, the parent is posted.
    let start = post(0, None, "CORRECTIVE_ACTION_ASSIGNED", &threads, true);
    assert_eq!(
        start,
        Post::Start {
            restarted: false,
            topic: None
        }
    );
    let s = sending("CORRECTIVE_ACTION_ASSIGNED", "e1", "Assigned to Ana", true);
    let opened = after(&start, None, &posted("C1/100.1"), &s);
    assert_eq!(opened.next_step, None);
    let c = opened.conversation.expect("opened");
    assert_eq!(
        (c.channel.as_deref(), c.thread_id.as_str()),
        (Some("C1"), "100.1")
    );
    assert_eq!((c.messages, c.state.as_str()), (1, "Assigned to Ana"));

    // REJECTED: a reply in the thread, broadcast, then the parent's edit.
    let reply = post(0, Some(&c), "CORRECTIVE_ACTION_REJECTED", &threads, true);
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
    let s = sending("CORRECTIVE_ACTION_REJECTED", "e2", "Rejected → Ana", true);
    let replied = after(&reply, Some(&c), &posted("C1/100.2"), &s);
    assert_eq!(replied.next_step, Some(UPDATE_STEP));
    let c = replied.conversation.expect("replied");
    assert_eq!((c.messages, c.last_event_id.as_str()), (2, "e2"));
    assert_eq!(
        c.state, "Assigned to Ana",
        "the state changes with the edit"
    );

    let update = post(
        UPDATE_STEP,
        Some(&c),
        "CORRECTIVE_ACTION_REJECTED",
        &threads,
        true,
    );
    assert_eq!(
        update,
        Post::Update {
            channel: "C1".into(),
            thread_id: "100.1".into(),
            topic: c.topic.clone(),
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
    let Post::Reply { broadcast, .. } =
        post(0, Some(&c), "CORRECTIVE_ACTION_REJECTED", &threads, true)
    else {
        panic!("a reply")
    };
    assert!(!broadcast);
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
fn a_parent_gone_starts_a_new_conversation_that_says_so() {
    let threads = Threads::default();
    let c = opened("C1/1.1");
    for step in [0, UPDATE_STEP] {
        let p = post(
            step,
            Some(&c),
            "CORRECTIVE_ACTION_SUBMITTED",
            &threads,
            true,
        );
        let s = sending("CORRECTIVE_ACTION_SUBMITTED", "e2", "Submitted", true);
        let gone = after(
            &p,
            Some(&c),
            &Answer::ParentGone("message_not_found".into()),
            &s,
        );
        assert_eq!(gone.next_step, Some(0), "step {step}");
        let g = gone.conversation.expect("gone");
        assert_eq!(g.gone_at, Some(1_000));
        let again = post(0, Some(&g), "CORRECTIVE_ACTION_SUBMITTED", &threads, true);
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
fn a_failed_post_changes_nothing() {
    let c = opened("C1/1.1");
    let p = post(
        0,
        Some(&c),
        "CORRECTIVE_ACTION_SUBMITTED",
        &Threads::default(),
        true,
    );
    let s = sending("CORRECTIVE_ACTION_SUBMITTED", "e2", "Submitted", true);
    assert_eq!(
        after(&p, Some(&c), &Answer::Other, &s),
        After {
            conversation: None,
            next_step: None
        }
    );
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
    let reply = post(
        0,
        Some(&c),
        "CORRECTIVE_ACTION_APPROVED",
        &Threads::default(),
        true,
    );
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
    let p = post(
        0,
        Some(&c),
        "CORRECTIVE_ACTION_APPROVED",
        &Threads::default(),
        false,
    );
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

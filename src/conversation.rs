//! Conversations: one thread per (target, object), so that a corrective action or an audit
//! reads as one message that says where it stands and a thread with its history.
//!
//! Pure. A target with `threads: true` gets its deliveries with the object they are about
//! ([`key`]); the store keeps one [`Conversation`] per (target, object) and hands it to the
//! claim of each delivery, in the object's order. This module decides what the delivery sends
//! in it ([`post`]: the first message, a reply, or the edit of the first message) and what the
//! answer does to it ([`after`]); the target lays the message out, the store writes the new
//! row with the delivery's outcome, fenced by the same lease.
//!
//! - **Slack** (a bot token): the first event of an object posts the *parent*, a card of the
//!   object's current state; each later event posts a *reply* in its thread (`thread_ts`,
//!   broadcast to the channel for the event types `broadcast` names) and then, as a second
//!   step of the same delivery, edits the parent (`chat.update`) to show the state after it.
//!   A parent found deleted (`message_not_found`, `thread_not_found`, `channel_not_found`)
//!   marks the conversation gone; the delivery then starts a new one, which says so.
//! - **Email**: every message carries its own `Message-ID`; the first one's is kept, and the
//!   others carry it as `In-Reply-To` and `References`, under the first one's subject with
//!   `Re: `, so that mail clients thread them.

use serde_json::{Map, Value};

/// The event types after which the object needs nobody any more: the conversation is closed
/// (kept while retention keeps closed ones; a later event of the object reopens it).
pub const CLOSING: [&str; 4] = [
    "CORRECTIVE_ACTION_APPROVED",
    "CORRECTIVE_ACTION_DELETED",
    "AUDIT_COMPLETED",
    "AUDIT_DELETED",
];

/// The event types whose replies are also posted to the channel unless `broadcast` says
/// otherwise: the object needs attention again.
pub const DEFAULT_BROADCAST: [&str; 3] = [
    "CORRECTIVE_ACTION_REJECTED",
    "CORRECTIVE_ACTION_EXPIRED",
    "AUDIT_EXPIRED",
];

/// The Slack Web API errors that say a conversation's parent message (or its channel) is gone.
pub const PARENT_GONE: [&str; 3] = ["message_not_found", "thread_not_found", "channel_not_found"];

/// A target's `threads: true` (or `threads: audit`), with what it broadcasts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Threads {
    /// Event types whose replies Slack also shows in the channel (`reply_broadcast`).
    pub broadcast: Vec<String>,
    /// `threads: audit`: a corrective action whose audit is known replies in the audit's
    /// conversation (and leaves its parent, the audit's, as it is), so that whoever follows an
    /// audit sees its actions too.
    pub by_audit: bool,
}

impl Default for Threads {
    fn default() -> Threads {
        Threads {
            broadcast: DEFAULT_BROADCAST.iter().map(|s| (*s).to_owned()).collect(),
            by_audit: false,
        }
    }
}

/// The object an event's conversation is about: `corrective-action:<id>` for corrective
/// action events, `audit:<id>` for audit events (as [`crate::event::Event::object_key`]
/// writes them); `None` for other events, which are sent as messages of their own.
pub fn key(kind: &str, data: &Map<String, Value>) -> Option<String> {
    let (object, field) = if kind.starts_with("CORRECTIVE_ACTION_") {
        ("corrective-action", "correctiveActionId")
    } else if kind.starts_with("AUDIT_") {
        ("audit", "auditId")
    } else {
        return None;
    };
    let id = data.get(field).and_then(Value::as_str)?;
    (!id.is_empty()).then(|| format!("{object}:{id}"))
}

/// The conversation an event (its context: the envelope and what the lookup added) goes to on
/// a target with `threads`: its own object's ([`key`]), or with `threads: audit` a corrective
/// action's audit's, when the event (`data.correctiveAction.audit.id`) or the lookup
/// (`action.audit.id`) names it.
pub fn key_for(ctx: &Value, threads: &Threads) -> Option<String> {
    let kind = ctx.get("event").and_then(Value::as_str).unwrap_or("");
    let own = key(kind, ctx.get("data")?.as_object()?);
    if !threads.by_audit || !kind.starts_with("CORRECTIVE_ACTION_") {
        return own;
    }
    let named = ["/data/correctiveAction/audit/id", "/action/audit/id"]
        .into_iter()
        .filter_map(|path| ctx.pointer(path).and_then(Value::as_str))
        .find(|id| !id.is_empty());
    named.map(|id| format!("audit:{id}")).or(own)
}

/// One conversation as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Conversation {
    pub target: String,
    /// What it is about ([`key`], [`key_for`]).
    pub object_key: String,
    /// Slack: the channel id of the parent; `None` for email.
    pub channel: Option<String>,
    /// Slack: the parent's `ts`; email: the first message's `Message-ID`.
    pub thread_id: String,
    /// The thread's subject (email), the parent's title (Slack), as first sent.
    pub topic: String,
    /// Where the object stands, as the parent last showed it (plain text).
    pub state: String,
    pub first_event_id: String,
    /// The latest event in it (by when the relay received it) and its type.
    pub last_event_id: String,
    pub last_kind: String,
    /// When the relay received that event (ms): an older event (a replay, a re-route) only
    /// adds to the thread; it does not change where the object stands.
    pub last_received_at: i64,
    /// Messages posted in it, the first one included.
    pub messages: u32,
    /// Times its first message was found deleted and a new one started.
    pub restarts: u32,
    pub opened_at: i64,
    pub updated_at: i64,
    /// When an event of [`CLOSING`] came.
    pub closed_at: Option<i64>,
    /// When its parent was found deleted: the next message starts a new conversation.
    pub gone_at: Option<i64>,
    /// Started by an event about another object (`threads: audit`: an action before its
    /// audit): the first event of its own object gives the parent its topic.
    pub provisional: bool,
}

/// What a delivery sends in its conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Post {
    /// The first message: Slack's parent, the first mail. `restarted`: an earlier one is gone,
    /// and the new one says so, under the earlier one's topic (`topic`).
    Start {
        restarted: bool,
        topic: Option<String>,
    },
    /// A message in the thread: `thread_id` is the parent's `ts` (Slack) or the first mail's
    /// `Message-ID`, `topic` the thread's subject. `own`: the event is about the conversation's
    /// object (else it is a corrective action in its audit's conversation, and the reply says
    /// which).
    Reply {
        channel: Option<String>,
        thread_id: String,
        topic: String,
        broadcast: bool,
        own: bool,
    },
    /// The parent edited to show the state after this event (Slack, the step after a reply),
    /// under the topic it was posted with (`None`: a provisional one, replaced by this
    /// event's); `restarted`: the conversation started again once, and the parent says so.
    Update {
        channel: String,
        thread_id: String,
        topic: Option<String>,
        restarted: bool,
    },
    /// Nothing to send: an edit that is no longer wanted (why, for the attempt row).
    Skip { why: &'static str },
}

impl Post {
    /// The word the attempt row keeps: `start`, `reply`, `update` or `skipped`.
    pub fn action(&self) -> &'static str {
        match self {
            Post::Start { .. } => "start",
            Post::Reply { .. } => "reply",
            Post::Update { .. } => "update",
            Post::Skip { .. } => "skipped",
        }
    }
}

/// The step of a delivery whose next attempt edits the parent.
pub const UPDATE_STEP: u8 = 1;

/// What the claim of a delivery says about it, for [`post`].
#[derive(Debug, Clone, Copy)]
pub struct Claimed<'a> {
    pub step: u8,
    pub kind: &'a str,
    pub event_id: &'a str,
    /// The event is about the conversation's own object.
    pub own: bool,
    /// The target edits its first message (Slack) rather than only replying (email).
    pub edits: bool,
}

/// What a delivery sends in its conversation, as stored (`None`: there is none yet).
pub fn post(claimed: &Claimed<'_>, conversation: Option<&Conversation>, threads: &Threads) -> Post {
    if claimed.step == UPDATE_STEP {
        return edit(claimed, conversation);
    }
    // A conversation another kind of target left under this name (a Slack thread for a
    // mail target, or the other way round) cannot be continued: a new one starts.
    let fits = |c: &&Conversation| c.channel.is_some() == claimed.edits;
    let Some(c) = conversation.filter(fits) else {
        return Post::Start {
            restarted: false,
            topic: None,
        };
    };
    if c.gone_at.is_some() {
        return Post::Start {
            restarted: true,
            topic: (!c.provisional).then(|| c.topic.clone()),
        };
    }
    Post::Reply {
        channel: c.channel.clone(),
        thread_id: c.thread_id.clone(),
        topic: c.topic.clone(),
        broadcast: threads.broadcast.iter().any(|k| k == claimed.kind),
        own: claimed.own,
    }
}

/// The parent's edit after a reply, unless it is no longer wanted.
fn edit(claimed: &Claimed<'_>, conversation: Option<&Conversation>) -> Post {
    let Some(c) = conversation else {
        return Post::Skip {
            why: "the conversation is no longer stored",
        };
    };
    let Some(channel) = c.channel.clone().filter(|_| claimed.edits) else {
        return Post::Skip {
            why: "the target no longer edits its messages",
        };
    };
    if c.gone_at.is_some() {
        return Post::Skip {
            why: "the first message is gone",
        };
    }
    if c.last_event_id != claimed.event_id {
        return Post::Skip {
            why: "a later event is shown, or is to be",
        };
    }
    Post::Update {
        channel,
        thread_id: c.thread_id.clone(),
        topic: (!c.provisional).then(|| c.topic.clone()),
        restarted: c.restarts > 0,
    }
}

/// How the target answered a post, as far as the conversation is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Posted: Slack's `channel/ts` for it, or the mail's own `Message-ID`.
    Posted { id: Option<String> },
    /// The parent (or its channel) is gone: Slack's error string.
    ParentGone(String),
    /// Posted, but not in the thread: Slack put a reply to a deleted parent in the channel
    /// (its `channel/ts`).
    Strayed { id: String },
    /// Anything else (a retry, a permanent failure): the conversation stays as it is.
    Other,
}

/// The message being sent, as the conversation records it.
#[derive(Debug, Clone, Copy)]
pub struct Sending<'a> {
    pub target: &'a str,
    pub object_key: &'a str,
    pub event_id: &'a str,
    pub kind: &'a str,
    /// When the relay received the event (ms).
    pub received_at: i64,
    /// The object, the same for each of its events (the template's `topic`), plain text.
    pub topic: &'a str,
    /// Where the object stands after this event (the template's `status`), plain text.
    pub status: &'a str,
    /// Whether the target edits its first message (Slack) rather than only replying (email).
    pub edits: bool,
    /// Whether the event is about the conversation's own object (not a corrective action in
    /// its audit's conversation): only then does it change where the conversation stands.
    pub own: bool,
    pub now_ms: i64,
}

/// What an answer does: the conversation row to write with the outcome (`None`: unchanged),
/// and the step the delivery goes on with (`None`: it is done, or failed as the verdict says).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct After {
    pub conversation: Option<Conversation>,
    pub next_step: Option<u8>,
}

impl After {
    const UNCHANGED: After = After {
        conversation: None,
        next_step: None,
    };
}

/// The conversation after `post` was answered so, from the one the claim saw.
pub fn after(
    post: &Post,
    prior: Option<&Conversation>,
    answer: &Answer,
    sending: &Sending<'_>,
) -> After {
    match (post, answer, prior) {
        (Post::Start { topic, .. }, Answer::Posted { id }, _) => {
            let Some((channel, thread_id)) = id.as_deref().map(split_id) else {
                // Nothing to thread onto (a provider that gave no id): the next event starts
                // again rather than replying to nothing.
                return After::UNCHANGED;
            };
            let mut c = started(prior, channel, thread_id, sending);
            if let Some(topic) = topic {
                c.topic.clone_from(topic);
            }
            After {
                conversation: Some(c),
                next_step: None,
            }
        }
        (Post::Reply { .. }, Answer::Posted { .. }, Some(prior)) => replied(prior, sending),
        (Post::Reply { .. }, Answer::Strayed { id }, Some(prior)) => strayed(prior, id, sending),
        (Post::Update { .. }, Answer::Posted { .. }, Some(prior)) => {
            let mut c = prior.clone();
            c.state = sending.status.to_owned();
            c.updated_at = sending.now_ms;
            if c.provisional && sending.own {
                c.topic = sending.topic.to_owned();
                c.provisional = false;
            }
            After {
                conversation: Some(c),
                next_step: None,
            }
        }
        (Post::Reply { .. } | Post::Update { .. }, Answer::ParentGone(_), Some(prior)) => {
            let mut c = prior.clone();
            c.gone_at = Some(sending.now_ms);
            c.updated_at = sending.now_ms;
            After {
                conversation: Some(c),
                next_step: Some(0),
            }
        }
        _ => After::UNCHANGED,
    }
}

/// A reply in the thread. Only an event newer than the latest one in it moves the
/// conversation on (and has the parent edited); an older one (a replay, a re-route, or one
/// routed late) only adds to the history.
fn replied(prior: &Conversation, sending: &Sending<'_>) -> After {
    let mut c = prior.clone();
    c.messages = c.messages.saturating_add(1);
    c.updated_at = sending.now_ms;
    // A conversation opened by another object's event (an action before its audit) takes its
    // own object's first event, whenever that was received.
    let newer = sending.received_at >= prior.last_received_at || (prior.provisional && sending.own);
    if newer {
        c.last_event_id = sending.event_id.to_owned();
        c.last_kind = sending.kind.to_owned();
        c.last_received_at = sending.received_at;
        if sending.own {
            c.closed_at = closed_at(sending);
            if !sending.edits {
                c.state = sending.status.to_owned();
            }
        }
    }
    After {
        conversation: Some(c),
        next_step: (newer && sending.edits && sending.own).then_some(UPDATE_STEP),
    }
}

/// A reply Slack posted in the channel instead (its parent was deleted): that message becomes
/// the new parent, edited next into the object's card, which says the conversation started
/// again; nothing is posted twice.
fn strayed(prior: &Conversation, id: &str, sending: &Sending<'_>) -> After {
    let (channel, thread_id) = split_id(id);
    let mut c = started(
        Some(prior),
        channel.or(prior.channel.clone()),
        thread_id,
        sending,
    );
    c.restarts = prior.restarts.saturating_add(1);
    c.topic.clone_from(&prior.topic);
    c.provisional = prior.provisional;
    // An older event, or another object's, does not say where the object stands now: the
    // stray stays as it is (a message in the channel) and the next event edits it.
    let moves_on = sending.own && sending.received_at >= prior.last_received_at;
    if !moves_on {
        c.last_event_id.clone_from(&prior.last_event_id);
        c.last_kind.clone_from(&prior.last_kind);
        c.last_received_at = prior.last_received_at;
        c.state.clone_from(&prior.state);
        c.closed_at = prior.closed_at;
    }
    After {
        conversation: Some(c),
        next_step: (sending.edits && moves_on).then_some(UPDATE_STEP),
    }
}

/// Why a delivery that found its parent gone is tried again at once.
pub fn gone_reason(error: &str) -> String {
    format!(
        "Slack answered {error}: the conversation's first message is gone; this message \
         starts a new conversation"
    )
}

/// A new conversation whose first message was just posted.
fn started(
    prior: Option<&Conversation>,
    channel: Option<String>,
    thread_id: String,
    s: &Sending<'_>,
) -> Conversation {
    let restarts = prior.map_or(0, |p| {
        p.restarts.saturating_add(u32::from(p.gone_at.is_some()))
    });
    Conversation {
        target: s.target.to_owned(),
        object_key: s.object_key.to_owned(),
        channel,
        thread_id,
        topic: s.topic.to_owned(),
        state: s.status.to_owned(),
        first_event_id: s.event_id.to_owned(),
        last_event_id: s.event_id.to_owned(),
        last_kind: s.kind.to_owned(),
        last_received_at: s.received_at,
        messages: 1,
        restarts,
        opened_at: s.now_ms,
        updated_at: s.now_ms,
        closed_at: closed_at(s).filter(|_| s.own),
        gone_at: None,
        provisional: !s.own,
    }
}

fn closed_at(s: &Sending<'_>) -> Option<i64> {
    CLOSING.contains(&s.kind).then_some(s.now_ms)
}

/// Slack's `channel/ts`, or a mail's `Message-ID` (no channel).
fn split_id(id: &str) -> (Option<String>, String) {
    match id.split_once('/') {
        Some((channel, ts)) if !id.starts_with('<') => (Some(channel.to_owned()), ts.to_owned()),
        _ => (None, id.to_owned()),
    }
}

/// The `Message-ID` of one mail: the delivery's stable key at the sender's domain, the same on
/// every attempt.
pub fn message_id(delivery_key: &str, from: &str) -> String {
    let local: String = delivery_key
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '-' | '_' => c,
            _ => '-',
        })
        .collect();
    format!("<{local}@{}>", domain_of(from))
}

/// The domain of a `from` address (`Name <a@b.example>` or `a@b.example`), for message ids.
fn domain_of(from: &str) -> String {
    let address = match (from.rfind('<'), from.rfind('>')) {
        (Some(start), Some(end)) if start < end => &from[start + 1..end],
        _ => from,
    };
    let domain = address.rsplit_once('@').map_or("", |(_, d)| d.trim());
    let valid = !domain.is_empty()
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if valid {
        domain.to_ascii_lowercase()
    } else {
        "mqa-relay.invalid".to_owned()
    }
}

/// A reply's subject: the thread's, with one `Re: `.
pub fn reply_subject(topic: &str) -> String {
    let bare = topic.trim();
    if bare
        .get(..3)
        .is_some_and(|start| start.eq_ignore_ascii_case("re:"))
    {
        bare.to_owned()
    } else {
        format!("Re: {bare}")
    }
}

#[cfg(test)]
mod tests;

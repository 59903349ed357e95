//! The Slack layout of a message: a header, the text in mrkdwn sections, the fields two by two,
//! a button to the link, and a short plain `text` for notifications and screen readers.
//!
//! Every Block Kit limit is enforced here by cutting with a visible "…", so Slack never
//! rejects the message for its size; every length is counted in UTF-16 code units (an emoji
//! outside the Basic Multilingual Plane is two), so a text is within its limit whether Slack
//! counts code units or code points: ≤50 blocks, header ≤150, section ≤3,000, ≤10 fields per
//! section of ≤2,000 each, and the whole well under Slack's undocumented ~12k aggregate cap.
//! A message that was cut ends with a note saying so, above the button to the link.
//!
//! Every mrkdwn text object is `verbatim: true`: Slack then keeps the markup the layout and the
//! template wrote (`*Label*`, `<url|label>`), but turns no bare URL, `#channel` or `@name` of
//! an event value into a link or a mention (the values' own formatting characters are
//! neutralised when they are escaped, see `template::escape::slack`).

use serde_json::{Value, json};

use crate::targets::limits::{
    Cuts, shortened_note, split_utf16, truncate_markup_utf16, truncate_utf16, utf16_len,
};
use crate::template::Message;

/// Most blocks Slack accepts in one message.
pub const MAX_BLOCKS: usize = 50;
/// Longest header text.
pub const MAX_HEADER: usize = 150;
/// Longest section text Slack accepts.
pub const MAX_SECTION: usize = 3000;
/// The size long text is split at (a margin under [`MAX_SECTION`]).
pub const SECTION_SPLIT: usize = 2900;
/// Longest field text.
pub const MAX_FIELD: usize = 2000;
/// Fields per section.
pub const FIELDS_PER_SECTION: usize = 10;
/// Fields shown; more are counted in a context line.
pub const MAX_FIELDS: usize = 20;
/// All field texts together.
pub const FIELDS_BUDGET: usize = 4000;
/// All block text together: under the ~12–13k where Slack answers `msg_blocks_too_long`.
pub const BLOCK_TEXT_BUDGET: usize = 11_000;
/// The top-level notification text.
pub const MAX_FALLBACK: usize = 3000;
/// Button label and URL limits.
pub const MAX_BUTTON_TEXT: usize = 75;
pub const MAX_URL: usize = 3000;
/// Block text kept free for the note that says the message was shortened.
const NOTE_RESERVE: usize = 200;

/// The body for a message: `plain` gives the header and the link; `mrkdwn` gives the
/// sections, the fields and the top-level `text` (Slack parses that text as mrkdwn too, so an
/// event value in it must be escaped, or `<!channel>` would notify everyone).
pub fn message_body(plain: &Message, mrkdwn: &Message) -> Value {
    let mut cuts = Cuts::default();
    let mut blocks = Vec::new();
    let header = header_block(&plain.title, &mut cuts);
    let header_len = header.as_ref().map_or(0, |(_, n)| *n);
    blocks.extend(header.map(|(b, _)| b));
    let (field_blocks, fields_len) = field_blocks(&mrkdwn.fields, &mut cuts);
    let text_budget = BLOCK_TEXT_BUDGET.saturating_sub(header_len + fields_len + NOTE_RESERVE);
    // Blocks left beside the header, the note and the button.
    let room = MAX_BLOCKS - 3 - field_blocks.len();
    blocks.extend(text_sections(&mrkdwn.text, text_budget, room, &mut cuts));
    blocks.extend(field_blocks);
    let link = link_block(plain);
    if cuts.shortened() {
        blocks.push(note_block(link.is_some()));
    }
    blocks.extend(link);
    json!({
        "text": fallback_text(mrkdwn),
        "blocks": blocks,
        "unfurl_links": false,
        "unfurl_media": false,
    })
}

/// The parent of a conversation: the object (`topic` as first posted, else the template's) as
/// the header, where it stands (`status`) in bold, the fields and the link, as of the latest
/// event; `restarted` adds a line saying the earlier parent was deleted.
pub fn parent_body(
    plain: &Message,
    mrkdwn: &Message,
    topic: Option<&str>,
    restarted: bool,
) -> Value {
    let mut text = format!("*{}*", mrkdwn.status_or_preview());
    if restarted {
        text.push_str("\n_The first message of this conversation was deleted; it continues here._");
    }
    let parent = |m: &Message, text: String| Message {
        title: topic.unwrap_or(m.topic_or_title()).to_owned(),
        preview: m.status_or_preview().to_owned(),
        text,
        fields: m.fields.clone(),
        ..m.clone()
    };
    message_body(
        &parent(plain, plain.status_or_preview().to_owned()),
        &parent(mrkdwn, text),
    )
}

/// A reply in a conversation: what this event adds (the template's `reply`); the parent above
/// it already shows the object, its fields and the button to it. A corrective action in its
/// audit's conversation (`own` false) says first which action, in bold, and keeps its button.
pub fn reply_body(plain: &Message, mrkdwn: &Message, own: bool) -> Value {
    let reply = |m: &Message, bold: bool| {
        let text = match (own, bold) {
            (true, _) => m.reply_or_text(),
            (false, true) => format!("*{}*\n{}", m.topic_or_title(), m.reply_or_text()),
            (false, false) => format!("{}\n{}", m.topic_or_title(), m.reply_or_text()),
        };
        Message {
            title: String::new(),
            text,
            fields: Vec::new(),
            link: if own { None } else { m.link.clone() },
            ..m.clone()
        }
    };
    message_body(&reply(plain, false), &reply(mrkdwn, true))
}

/// The notification text: the preview, else the title, else the start of the text; never
/// empty (Slack answers `no_text` to a message without one).
fn fallback_text(mrkdwn: &Message) -> String {
    let source = [&mrkdwn.preview, &mrkdwn.title, &mrkdwn.text]
        .into_iter()
        .map(|s| s.trim())
        .find(|s| !s.is_empty())
        .unwrap_or("");
    if source.is_empty() {
        return "Notification".to_string();
    }
    truncate_markup_utf16(source, MAX_FALLBACK)
}

/// A header block and its length, unless the title is blank.
fn header_block(title: &str, cuts: &mut Cuts) -> Option<(Value, usize)> {
    let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
    if title.is_empty() {
        return None;
    }
    let text = cuts.utf16(&title, MAX_HEADER);
    let len = utf16_len(&text);
    let block =
        json!({"type": "header", "text": {"type": "plain_text", "text": text, "emoji": true}});
    Some((block, len))
}

/// The text as sections of ≤[`SECTION_SPLIT`] characters, cut to `budget` characters and
/// `max_blocks` sections, with "…" where it was cut.
fn text_sections(text: &str, budget: usize, max_blocks: usize, cuts: &mut Cuts) -> Vec<Value> {
    if text.trim().is_empty() || max_blocks == 0 {
        return Vec::new();
    }
    let cap = budget.min(max_blocks * SECTION_SPLIT);
    let text = cuts.markup_utf16(text.trim_end(), cap);
    split_utf16(&text, SECTION_SPLIT)
        .into_iter()
        .filter(|piece| !piece.trim().is_empty())
        .map(|piece| json!({"type": "section", "text": mrkdwn(&piece)}))
        .collect()
}

/// Sections of `*Label*\nvalue` fields, ten per section, and the characters they use. Beyond
/// [`MAX_FIELDS`], a context line says how many were left out.
fn field_blocks(fields: &[(String, String)], cuts: &mut Cuts) -> (Vec<Value>, usize) {
    if fields.is_empty() {
        return (Vec::new(), 0);
    }
    let shown = &fields[..fields.len().min(MAX_FIELDS)];
    let each = (FIELDS_BUDGET / shown.len()).min(MAX_FIELD);
    let mut used = 0;
    let mut blocks: Vec<Value> = shown
        .chunks(FIELDS_PER_SECTION)
        .map(|chunk| {
            let items: Vec<Value> = chunk
                .iter()
                .map(|(label, value)| {
                    let text = cuts.markup_utf16(&format!("*{label}*\n{value}"), each);
                    used += utf16_len(&text);
                    mrkdwn(&text)
                })
                .collect();
            json!({"type": "section", "fields": items})
        })
        .collect();
    let hidden = fields.len() - shown.len();
    if hidden > 0 {
        cuts.mark();
        let note = format!("…and {hidden} more fields");
        used += utf16_len(&note);
        blocks.push(json!({"type": "context", "elements": [mrkdwn(&note)]}));
    }
    (blocks, used)
}

/// The context line that says the message was cut (its text fits [`NOTE_RESERVE`]).
fn note_block(has_link: bool) -> Value {
    let note = format!("_{}_", shortened_note("Slack's size limits", has_link));
    json!({"type": "context", "elements": [mrkdwn(&note)]})
}

/// A mrkdwn text object that links nothing by itself (see the module documentation).
fn mrkdwn(text: &str) -> Value {
    json!({"type": "mrkdwn", "text": text, "verbatim": true})
}

/// A button to the link, when there is a web link short enough for Slack.
fn link_block(plain: &Message) -> Option<Value> {
    let link = plain.link.as_ref()?;
    let url = link.url.trim();
    if !crate::targets::is_web_url(url) || utf16_len(url) > MAX_URL {
        return None;
    }
    let label = match link.label.trim() {
        "" => "Open",
        label => label,
    };
    Some(json!({
        "type": "actions",
        "elements": [{
            "type": "button",
            "text": {"type": "plain_text", "text": truncate_utf16(label, MAX_BUTTON_TEXT), "emoji": true},
            "url": url,
        }],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Link;

    fn msg(text: &str, fields: usize) -> Message {
        Message {
            preview: String::new(),
            title: "Audit expired".to_string(),
            text: text.to_string(),
            fields: (0..fields)
                .map(|i| (format!("F{i}"), format!("v{i}")))
                .collect(),
            link: Some(Link {
                url: "https://app.monitorqa.com/x".to_string(),
                label: String::new(),
            }),
            color: None,
            ..Message::default()
        }
    }

    fn block_text_total(body: &Value) -> usize {
        let blocks = body["blocks"].as_array().unwrap();
        let count = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
        blocks
            .iter()
            .map(|b| {
                count(&b["text"]["text"])
                    + b["fields"]
                        .as_array()
                        .map_or(0, |f| f.iter().map(|x| count(&x["text"])).sum())
            })
            .sum()
    }

    #[test]
    fn eleven_fields_make_two_field_sections() {
        let m = msg("", 11);
        let body = message_body(&m, &m);
        let blocks = body["blocks"].as_array().unwrap();
        let sections: Vec<_> = blocks.iter().filter(|b| b["fields"].is_array()).collect();
        assert_eq!(sections.len(), 2);
        assert_eq!(sections[0]["fields"].as_array().unwrap().len(), 10);
        assert_eq!(sections[1]["fields"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn long_text_is_split_into_sections_within_the_limits() {
        let m = msg(&"word ".repeat(4000), 0);
        let body = message_body(&m, &m);
        let sections: Vec<&str> = body["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["type"] == "section")
            .map(|b| b["text"]["text"].as_str().unwrap())
            .collect();
        assert!(sections.len() >= 3);
        assert!(sections.iter().all(|s| s.chars().count() <= MAX_SECTION));
        assert!(sections.last().unwrap().ends_with('…'));
        assert!(block_text_total(&body) <= BLOCK_TEXT_BUDGET);
    }

    /// A message whose text and one field each hold 10 MB, as an event value under
    /// `server.max_body` can.
    fn ten_megabytes() -> Message {
        let mut m = msg(&"Fridge 3 &amp; freezer 2 were warm. ".repeat(300_000), 3);
        m.fields[1].1 = "x".repeat(10_000_000);
        m
    }

    #[test]
    fn a_ten_megabyte_field_gives_a_message_within_slacks_limits_that_says_it_was_shortened() {
        let m = ten_megabytes();
        let body = message_body(&m, &m);
        let wire = serde_json::to_string(&body).unwrap();
        assert!(wire.len() < 64 * 1024, "{} bytes", wire.len());
        let body: Value = serde_json::from_str(&wire).unwrap();
        let blocks = body["blocks"].as_array().unwrap();
        assert!(blocks.len() <= MAX_BLOCKS);
        assert!(block_text_total(&body) <= BLOCK_TEXT_BUDGET);
        assert!(body["text"].as_str().unwrap().chars().count() <= 40_000);
        for b in blocks.iter().filter(|b| b["type"] == "section") {
            let text = b["text"]["text"].as_str().unwrap_or("");
            assert!(text.chars().count() <= MAX_SECTION);
            // A cut never leaves half an entity.
            assert!(!text.contains("&amp…") && !text.contains("&am…") && !text.contains("&a…"));
        }
        let note = &blocks[blocks.len() - 2];
        assert_eq!(note["type"], "context");
        let note = note["elements"][0]["text"].as_str().unwrap();
        assert!(note.contains("shortened"), "{note}");
        let button = blocks.last().unwrap();
        assert_eq!(button["elements"][0]["url"], "https://app.monitorqa.com/x");
    }

    #[test]
    fn a_message_that_fits_says_nothing_about_shortening() {
        let m = msg("Kitchen audit was not done.", 3);
        let body = message_body(&m, &m);
        assert!(!body.to_string().contains("shortened"));
    }

    #[test]
    fn a_button_without_a_label_says_open() {
        let m = msg("x", 0);
        let body = message_body(&m, &m);
        let actions = body["blocks"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(actions["elements"][0]["text"]["text"], "Open");
    }

    #[test]
    fn a_link_that_is_not_a_web_url_gets_no_button() {
        let mut m = msg("x", 0);
        m.link = Some(Link {
            url: "javascript:alert(1)".to_string(),
            label: "x".to_string(),
        });
        let body = message_body(&m, &m);
        assert!(!body.to_string().contains("actions"));
    }

    #[test]
    fn a_parent_shows_the_topic_the_state_and_the_fields_and_a_reply_only_what_happened() {
        let mut m = msg("The long text of the event.", 2);
        m.topic = "Corrective action CA-7: Replace the seal".to_string();
        m.status = "Rejected → waiting for Ana".to_string();
        m.reply = "Rejected. Ana must act again.".to_string();
        let parent = parent_body(&m, &m, None, false);
        let blocks = parent["blocks"].as_array().expect("blocks");
        assert_eq!(blocks[0]["text"]["text"], m.topic);
        assert_eq!(blocks[1]["text"]["text"], "*Rejected → waiting for Ana*");
        assert!(blocks[2]["fields"].is_array(), "{parent}");
        assert_eq!(parent["text"], m.status, "the notification says the state");
        assert!(!parent.to_string().contains("long text"), "{parent}");

        let kept = parent_body(&m, &m, Some("Corrective action CA-7"), true);
        assert_eq!(kept["blocks"][0]["text"]["text"], "Corrective action CA-7");
        let state = kept["blocks"][1]["text"]["text"].as_str().unwrap_or("");
        assert!(state.contains("was deleted; it continues here"), "{state}");

        let about = reply_body(&m, &m, false);
        let text = about["blocks"][0]["text"]["text"].as_str().unwrap_or("");
        assert!(text.starts_with(&format!("*{}*\n", m.topic)), "{text}");
        assert!(
            about.to_string().contains("actions"),
            "its own button: {about}"
        );

        let reply = reply_body(&m, &m, true);
        let blocks = reply["blocks"].as_array().expect("blocks");
        assert_eq!(blocks[0]["type"], "section", "no header: {reply}");
        assert_eq!(blocks[0]["text"]["text"], m.reply);
        let shown = reply.to_string();
        assert!(
            !shown.contains("fields") && !shown.contains("actions"),
            "the parent shows its fields and its button: {reply}"
        );
    }
}

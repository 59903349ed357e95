//! Block Kit `rich_text`: sections, lists, quotes and preformatted text, with styled text,
//! links, mentions, emoji and dates inside. Its text is literal (no mrkdwn, no entities).

use super::{SafeUrl, div, escape, link, list, plain_html, span, string};
use serde_json::Value;

/// The list classes by indent (Slack allows 0 to 8).
const LIST_CLASSES: [&str; 9] = [
    "slack-rich-list",
    "slack-rich-list slack-rich-indent-1",
    "slack-rich-list slack-rich-indent-2",
    "slack-rich-list slack-rich-indent-3",
    "slack-rich-list slack-rich-indent-4",
    "slack-rich-list slack-rich-indent-5",
    "slack-rich-list slack-rich-indent-6",
    "slack-rich-list slack-rich-indent-7",
    "slack-rich-list slack-rich-indent-8",
];

/// The elements of a `rich_text` block.
pub(super) fn to_html(elements: &[Value]) -> String {
    elements.iter().map(element_html).collect()
}

/// One top-level element of a `rich_text` block.
fn element_html(e: &Value) -> String {
    let inner = || inline_html(list(e, "elements"));
    match string(e, "type").unwrap_or("") {
        "rich_text_section" => div("slack-rich-section", &inner()),
        "rich_text_list" => list_html(e),
        "rich_text_quote" => {
            format!("<blockquote class=\"slack-quote\">{}</blockquote>", inner())
        }
        "rich_text_preformatted" => format!("<pre class=\"slack-pre\">{}</pre>", inner()),
        other => div(
            "slack-unsupported",
            &escape(&format!("[{other} element not previewed]")),
        ),
    }
}

/// A bullet or numbered list; each item is a section.
fn list_html(e: &Value) -> String {
    let tag = if string(e, "style") == Some("ordered") {
        "ol"
    } else {
        "ul"
    };
    let indent = e.get("indent").and_then(Value::as_u64).unwrap_or(0);
    let class = LIST_CLASSES[usize::try_from(indent).map_or(8, |i| i.min(8))];
    let items: String = list(e, "elements")
        .iter()
        .map(|item| format!("<li>{}</li>", inline_html(list(item, "elements"))))
        .collect();
    format!("<{tag} class=\"{class}\">{items}</{tag}>")
}

/// Inline elements, each with its style.
fn inline_html(elements: &[Value]) -> String {
    elements
        .iter()
        .map(|e| styled(e.get("style"), inline_element_html(e)))
        .collect()
}

/// One inline element, unstyled.
fn inline_element_html(e: &Value) -> String {
    let text = |key: &str| string(e, key).unwrap_or("");
    match text("type") {
        "text" => plain_html(text("text")),
        "link" => {
            let shown = plain_html(
                string(e, "text")
                    .filter(|t| !t.is_empty())
                    .unwrap_or(text("url")),
            );
            match SafeUrl::mrkdwn(text("url")) {
                Some(url) => link(&url, &shown),
                None => span("slack-link-inert", &shown),
            }
        }
        "user" => span("slack-mention", &format!("@{}", escape(text("user_id")))),
        "usergroup" => span(
            "slack-mention",
            &format!("@{}", escape(text("usergroup_id"))),
        ),
        "channel" => span(
            "slack-mention slack-channel",
            &format!("#{}", escape(text("channel_id"))),
        ),
        "broadcast" => span(
            "slack-mention slack-broadcast",
            &format!("@{}", escape(text("range"))),
        ),
        "emoji" => escape(&emoji(e)),
        "date" => plain_html(string(e, "fallback").unwrap_or(text("timestamp"))),
        other => span(
            "slack-unsupported",
            &escape(&format!("[{other} element not previewed]")),
        ),
    }
}

/// The emoji's character from its `unicode` code points (`1f1fa-1f1f8`), else `:name:`.
fn emoji(e: &Value) -> String {
    let from_code_points = string(e, "unicode").and_then(|hex| {
        hex.split('-')
            .map(|h| u32::from_str_radix(h, 16).ok().and_then(char::from_u32))
            .collect::<Option<String>>()
    });
    from_code_points.unwrap_or_else(|| format!(":{}:", string(e, "name").unwrap_or("")))
}

/// The HTML inside the tags its `style` asks for (bold, italic, strike, code).
fn styled(style: Option<&Value>, html: String) -> String {
    let on = |key: &str| style.and_then(|s| s.get(key)) == Some(&Value::Bool(true));
    let mut html = html;
    if on("code") {
        html = format!("<code class=\"slack-code\">{html}</code>");
    }
    for (key, tag) in [("strike", "s"), ("italic", "i"), ("bold", "b")] {
        if on(key) {
            html = format!("<{tag}>{html}</{tag}>");
        }
    }
    html
}

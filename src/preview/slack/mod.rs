//! The operator page's preview of a Slack message: [`render`] turns the JSON body the relay
//! posts to Slack (`text`, `blocks`, `attachments`) into an HTML fragment that looks like the
//! message in Slack's own view, styled by `src/server/ui/assets/slack.css`.
//!
//! This module owns reading Block Kit and Slack mrkdwn for display, and the safety of what it
//! writes. Every text taken from the body is HTML-escaped (`& < > " '`), attribute values
//! included; every class name is a literal of this file (the functions that write tags take
//! only `&'static str` classes); no `style` or event-handler attribute is ever written; links
//! are written only for `http:`, `https:` (and, in mrkdwn, `mailto:`) URLs; and no remote image
//! is ever referenced: images show as a box with their alt text, so a preview contacts no host.
//! The attachment colour becomes a class (`slack-color-*`), never a style.
//!
//! It does not check Slack's limits (block count, text lengths): that belongs to the Slack
//! target; a preview shows what it is given. The relay's own layout
//! (`targets::slack::blocks`) sends a header, mrkdwn sections, fields, context notes and a link
//! button, and no colour; attachments and the other blocks come from Slack payload templates
//! and hand-made bodies.
//!
//! What is approximated, knowingly:
//! - mrkdwn is read as Slack documents it, not as its parser does in every corner. The control
//!   sequences (`<url|label>`, `<!here>`, `<@U…>`, `<#C…>`) are recognised only where a literal
//!   `<` stands, before `&amp;`, `&lt;`, `&gt;` are decoded, so an escaped `&lt;!channel&gt;`
//!   stays text, as it does in Slack. Likewise only a literal `>` at the start of a line (or
//!   `>>>`) starts a quote; `&gt;` there is text, as the relay's escaping of values assumes.
//! - `*bold*`, `_italic_`, `~strike~` and `` `code` `` open only after the start of the line,
//!   white space or punctuation, and before a character that is not white space; they close
//!   only after a character that is not white space, and before the end of the line, white
//!   space or punctuation. A letter, a digit or U+2060 (the word joiner the relay's escaping
//!   puts around these characters in event values) is not a boundary. None of them spans lines;
//!   the same mark does not nest in itself. Code spans and code blocks show their content as
//!   text, control sequences included.
//! - `plain_text` is shown as it is (no entity is decoded); `:emoji:` short codes are shown
//!   as the code, not the picture (a rich text emoji with `unicode` shows its character); bare
//!   URLs and `#channel` names are not turned into links (the relay sends every mrkdwn text
//!   with `verbatim: true`); mentions show the label or the id, since a preview cannot look
//!   names up; `<!date^…|fallback>` shows its fallback.
//! - A link to another scheme (`javascript:`, `data:`, `slack:`) shows its label as inert text;
//!   a `<…>` whose target has no scheme at all is shown as it was written.
//! - An attachment colour shows as Slack's own for `good`, `warning` and `danger` and exactly
//!   for the default templates' `#439fe0` and `#9e9e9e`; another valid `#rrggbb` gets a neutral bar
//!   (`slack-color-custom`), since a colour can only be a class here.
//! - Interactive elements other than buttons (menus, date pickers, inputs) are named, not drawn;
//!   legacy attachments show pretext, author, title, text, fields, footer and, when nothing
//!   else is there, their fallback; their `mrkdwn_in` is not read (all their text is mrkdwn).

use serde_json::Value;

/// The preview of a Slack message body, as one `<div class="slack-message">`: the blocks (or,
/// without blocks, the top-level text, as Slack shows it), each attachment behind its colour
/// bar, then the notification text in a labelled line. Never fails: a body it cannot show
/// is said so in the fragment.
pub fn render(body: &Value) -> String {
    let mut out = String::from("<div class=\"slack-message\">");
    if body.is_object() {
        out.push_str(&message_html(body));
    } else {
        out.push_str(&unsupported_block(
            "not a Slack message body: not a JSON object",
        ));
    }
    out.push_str("</div>");
    out
}

/// The inside of the message: blocks or text, attachments, notification line.
fn message_html(body: &Value) -> String {
    let blocks = list(body, "blocks");
    let attachments = list(body, "attachments");
    let text = string(body, "text").filter(|t| !t.trim().is_empty());
    // `"mrkdwn": false` asks Slack to show the top-level text unformatted.
    let text_html = |t: &str| match body.get("mrkdwn") {
        Some(Value::Bool(false)) => plain_html(t),
        _ => mrkdwn::to_html(t),
    };
    let mut out = String::new();
    if !blocks.is_empty() {
        out.push_str(&blocks_html(blocks));
    } else if let Some(text) = text {
        out.push_str(&div("slack-text", &text_html(text)));
    }
    for attachment in attachments {
        out.push_str(&attachment_html(attachment));
    }
    if blocks.is_empty() && attachments.is_empty() && text.is_none() {
        out.push_str(&unsupported_block(
            "empty message: no text, blocks or attachments",
        ));
    }
    if let Some(text) = text {
        out.push_str(&notification_html(&text_html(text)));
    }
    out
}

/// The labelled line with the top-level `text`: what notifications and screen readers show.
fn notification_html(text_html: &str) -> String {
    format!(
        "<div class=\"slack-notification\"><span class=\"slack-notification-label\">\
         Notification text:</span> <span class=\"slack-notification-text\">{text_html}</span></div>"
    )
}

// ---------------------------------------------------------------------------------------------
// Blocks

/// A list of blocks in a `slack-blocks` box.
fn blocks_html(blocks: &[Value]) -> String {
    let inner: String = blocks.iter().map(block_html).collect();
    div("slack-blocks", &inner)
}

/// One block, by its `type`; an unknown type is named in a placeholder.
fn block_html(block: &Value) -> String {
    match string(block, "type").unwrap_or("") {
        "header" => div(
            "slack-block slack-header",
            &text_object_html(block.get("text")),
        ),
        "section" => section_html(block),
        "context" => div(
            "slack-block slack-context",
            &elements_html(list(block, "elements")),
        ),
        "divider" => "<hr class=\"slack-block slack-divider\">".to_string(),
        "image" => image_block_html(block),
        "actions" => div(
            "slack-block slack-actions",
            &elements_html(list(block, "elements")),
        ),
        "rich_text" => div(
            "slack-block slack-rich-text",
            &rich_text::to_html(list(block, "elements")),
        ),
        "" => unsupported_block("untyped block not previewed"),
        other => unsupported_block(&format!("{other} block not previewed")),
    }
}

/// A section: its text, its fields in two columns, and its accessory at the right.
fn section_html(block: &Value) -> String {
    let mut main = String::new();
    if let Some(text) = block.get("text") {
        main.push_str(&div("slack-section-text", &text_object_html(Some(text))));
    }
    let fields = list(block, "fields");
    if !fields.is_empty() {
        let cells: String = fields
            .iter()
            .map(|f| div("slack-field", &text_object_html(Some(f))))
            .collect();
        main.push_str(&div("slack-fields", &cells));
    }
    let mut inner = div("slack-section-main", &main);
    if let Some(accessory) = block.get("accessory") {
        inner.push_str(&div("slack-accessory", &element_html(accessory)));
    }
    div("slack-block slack-section", &inner)
}

/// An image block: its title and a placeholder box with its alt text. The image URL is never
/// written: the page's policy forbids remote images, and a preview must not contact the host.
fn image_block_html(block: &Value) -> String {
    let mut inner = String::new();
    if let Some(title) = block.get("title") {
        inner.push_str(&div("slack-image-title", &text_object_html(Some(title))));
    }
    inner.push_str(&div(
        "slack-image-placeholder",
        &plain_html(alt_text(block)),
    ));
    div("slack-block slack-image", &inner)
}

/// The alt text of an image block or element, or "Image" when it has none.
fn alt_text(image: &Value) -> &str {
    string(image, "alt_text")
        .filter(|t| !t.trim().is_empty())
        .unwrap_or("Image")
}

/// The elements of a context or actions block, side by side.
fn elements_html(elements: &[Value]) -> String {
    elements.iter().map(element_html).collect()
}

/// One element of a context or actions block, or a section accessory.
fn element_html(element: &Value) -> String {
    match string(element, "type").unwrap_or("") {
        "button" => button_html(element),
        "image" => span("slack-image-element", &plain_html(alt_text(element))),
        "mrkdwn" | "plain_text" => span("slack-context-text", &text_object_html(Some(element))),
        "" => span("slack-unsupported", "[untyped element not previewed]"),
        other => span(
            "slack-unsupported",
            &escape(&format!("[{other} element not previewed]")),
        ),
    }
}

/// A button, inert: its label in a `<span>`, as a link only when its `url` is http(s).
fn button_html(button: &Value) -> String {
    let label = text_object_html(button.get("text"));
    let class = match string(button, "style") {
        Some("primary") => "slack-button slack-button-primary",
        Some("danger") => "slack-button slack-button-danger",
        _ => "slack-button",
    };
    let inner = match string(button, "url").and_then(SafeUrl::web) {
        Some(url) => link(&url, &label),
        None => label,
    };
    span(class, &inner)
}

/// A text object: `mrkdwn` formatted, anything else (`plain_text`) as it is. A bare string
/// (not valid Block Kit) is shown as plain text rather than dropped.
fn text_object_html(text: Option<&Value>) -> String {
    match text {
        Some(Value::String(s)) => plain_html(s),
        Some(object) => {
            let s = string(object, "text").unwrap_or("");
            match string(object, "type") {
                Some("mrkdwn") => mrkdwn::to_html(s),
                _ => plain_html(s),
            }
        }
        None => String::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Attachments

/// An attachment: its pretext above, then its blocks (or its legacy parts) behind the colour
/// bar that its `color` class draws.
fn attachment_html(attachment: &Value) -> String {
    let mut out = String::new();
    if let Some(pretext) = string(attachment, "pretext").filter(|t| !t.trim().is_empty()) {
        out.push_str(&div("slack-attachment-pretext", &mrkdwn::to_html(pretext)));
    }
    let blocks = list(attachment, "blocks");
    let body = if blocks.is_empty() {
        legacy_html(attachment)
    } else {
        blocks_html(blocks)
    };
    out.push_str(&div(attachment_class(attachment.get("color")), &body));
    out
}

/// The classes of an attachment for its `color`: Slack's three names, the two hex colours the
/// relay's templates use, another valid `#rrggbb` (`slack-color-custom`), or nothing valid
/// (`slack-color-none`). The colour itself never reaches the HTML.
fn attachment_class(color: Option<&Value>) -> &'static str {
    let color = color
        .and_then(Value::as_str)
        .map(|c| c.trim().to_ascii_lowercase());
    match color.as_deref() {
        Some("good") => "slack-attachment slack-color-good",
        Some("warning") => "slack-attachment slack-color-warning",
        Some("danger") => "slack-attachment slack-color-danger",
        Some("#439fe0") => "slack-attachment slack-color-439fe0",
        Some("#9e9e9e") => "slack-attachment slack-color-9e9e9e",
        Some(c) if is_hex_color(c) => "slack-attachment slack-color-custom",
        _ => "slack-attachment slack-color-none",
    }
}

/// `#rrggbb`, nothing more.
fn is_hex_color(c: &str) -> bool {
    c.len() == 7 && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// A legacy attachment (no `blocks`): author, title, text, fields, image placeholder and
/// footer; its fallback only when it has none of those, as Slack shows it.
fn legacy_html(a: &Value) -> String {
    let nonblank = |key: &str| string(a, key).filter(|t| !t.trim().is_empty());
    let mut out = String::new();
    if let Some(author) = nonblank("author_name") {
        out.push_str(&div("slack-attachment-author", &plain_html(author)));
    }
    if let Some(title) = nonblank("title") {
        let title_html = plain_html(title);
        let inner = match string(a, "title_link").and_then(SafeUrl::web) {
            Some(url) => link(&url, &title_html),
            None => title_html,
        };
        out.push_str(&div("slack-attachment-title", &inner));
    }
    if let Some(text) = nonblank("text") {
        out.push_str(&div("slack-attachment-text", &mrkdwn::to_html(text)));
    }
    out.push_str(&legacy_fields_html(list(a, "fields")));
    if nonblank("image_url").is_some() || nonblank("thumb_url").is_some() {
        out.push_str(&div("slack-image-placeholder", "Image"));
    }
    if let Some(footer) = nonblank("footer") {
        out.push_str(&div("slack-attachment-footer", &mrkdwn::to_html(footer)));
    }
    if out.is_empty()
        && let Some(fallback) = nonblank("fallback")
    {
        out.push_str(&div("slack-attachment-fallback", &plain_html(fallback)));
    }
    out
}

/// Legacy `fields`: a title and a mrkdwn value each; `short` ones two to a row.
fn legacy_fields_html(fields: &[Value]) -> String {
    if fields.is_empty() {
        return String::new();
    }
    let cells: String = fields
        .iter()
        .map(|f| {
            let class = if f.get("short") == Some(&Value::Bool(true)) {
                "slack-attachment-field slack-attachment-field-short"
            } else {
                "slack-attachment-field"
            };
            let title = div(
                "slack-attachment-field-title",
                &plain_html(string(f, "title").unwrap_or("")),
            );
            let value = div(
                "slack-attachment-field-value",
                &mrkdwn::to_html(&scalar_text(f.get("value"))),
            );
            div(class, &(title + &value))
        })
        .collect();
    div("slack-attachment-fields", &cells)
}

/// A string as it is, a number or boolean as JSON writes it, anything else as nothing.
fn scalar_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
        _ => String::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// HTML writing: the only places markup is made

/// `<div class="…">inner</div>`; the class is a literal of this file, `inner` is HTML this
/// file made.
fn div(class: &'static str, inner: &str) -> String {
    format!("<div class=\"{class}\">{inner}</div>")
}

/// `<span class="…">inner</span>`, as [`div`].
fn span(class: &'static str, inner: &str) -> String {
    format!("<span class=\"{class}\">{inner}</span>")
}

/// A placeholder block that says what is not shown.
fn unsupported_block(what: &str) -> String {
    div(
        "slack-block slack-unsupported",
        &escape(&format!("[{what}]")),
    )
}

/// A link that opens in a new tab and tells the target nothing about the page.
fn link(url: &SafeUrl, inner_html: &str) -> String {
    format!(
        "<a href=\"{}\" rel=\"noopener noreferrer\" target=\"_blank\">{inner_html}</a>",
        escape(&url.0)
    )
}

/// A URL whose scheme was checked; [`link`] takes no other.
struct SafeUrl(String);

impl SafeUrl {
    /// An `http:` or `https:` URL (buttons, titles).
    fn web(url: &str) -> Option<SafeUrl> {
        Self::with_scheme(url, &["http", "https"])
    }

    /// An `http:`, `https:` or `mailto:` URL (mrkdwn and rich text links).
    fn mrkdwn(url: &str) -> Option<SafeUrl> {
        Self::with_scheme(url, &["http", "https", "mailto"])
    }

    /// The URL if it starts with one of `schemes` and a colon, and has neither white space
    /// nor control characters (which browsers strip, and which could hide another scheme).
    fn with_scheme(url: &str, schemes: &[&str]) -> Option<SafeUrl> {
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return None;
        }
        let (scheme, rest) = url.split_once(':')?;
        let known = schemes.iter().any(|s| scheme.eq_ignore_ascii_case(s));
        let web = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
        let shaped = if web {
            rest.len() > 2 && rest.starts_with("//")
        } else {
            !rest.is_empty()
        };
        (known && shaped).then(|| SafeUrl(url.to_string()))
    }
}

/// Text as HTML: `& < > " '` escaped, newlines as `<br>`.
fn plain_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '\n' {
            out.push_str("<br>");
        } else {
            push_escaped(&mut out, c);
        }
    }
    out
}

/// Text as HTML text or attribute value: `& < > " '` escaped, newlines kept.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    out
}

/// One character, escaped for HTML text and quoted attribute values (as the email layout
/// escapes).
fn push_escaped(out: &mut String, c: char) {
    crate::template::escape::push_html(out, c);
}

// ---------------------------------------------------------------------------------------------
// JSON reading

/// The array at `key`, or none.
fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The string at `key`, if it is one.
fn string<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

// mrkdwn, and Block Kit's rich text: each in a file of its own.
mod mrkdwn;
mod rich_text;

#[cfg(test)]
mod tests;

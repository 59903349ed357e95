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

/// One character, escaped for HTML text and quoted attribute values.
fn push_escaped(out: &mut String, c: char) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '"' => out.push_str("&quot;"),
        '\'' => out.push_str("&#39;"),
        c => out.push(c),
    }
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

// ---------------------------------------------------------------------------------------------
// mrkdwn

/// Slack mrkdwn to HTML (see the module documentation for the rules and what they leave out).
///
/// The text is read in passes: code blocks are split off; each other line is read into
/// `Piece`s (characters with `&amp; &lt; &gt;` decoded, and the control sequences already
/// made into markup); code spans are made into markup; then bold, italic and strike are found
/// among the characters left. Characters are escaped only when written, so formatting never
/// sees, splits or forms an entity.
mod mrkdwn {
    use super::{SafeUrl, escape, link, push_escaped, span};

    /// U+2060 WORD JOINER: not a boundary for formatting.
    const WORD_JOINER: char = '\u{2060}';

    /// The marks that format text, with the tags they become.
    const MARKS: [(char, &str, &str); 3] = [
        ('*', "<b>", "</b>"),
        ('_', "<i>", "</i>"),
        ('~', "<s>", "</s>"),
    ];

    /// A unit of one line of mrkdwn.
    #[derive(Clone, Debug)]
    enum Piece {
        /// A character of text, entities decoded, not yet escaped.
        Char(char),
        /// Markup already made (a link, a mention, a code span): `html` is written as it is;
        /// `source` is the text it was made from, shown when it stands inside code.
        Markup { html: String, source: String },
    }

    /// A part of a mrkdwn text: text lines, or a ```` ``` ```` code block.
    enum Segment<'a> {
        Text(&'a [char]),
        Code(&'a [char]),
    }

    /// The HTML for a mrkdwn text.
    pub(super) fn to_html(raw: &str) -> String {
        let chars: Vec<char> = raw.chars().collect();
        let mut out = String::new();
        for segment in segments(&chars) {
            match segment {
                Segment::Text(text) => out.push_str(&lines_html(text)),
                Segment::Code(code) => {
                    out.push_str("<pre class=\"slack-pre\">");
                    out.push_str(&escape(&decode(code)));
                    out.push_str("</pre>");
                }
            }
        }
        out
    }

    /// The text cut around its code blocks: from a ```` ``` ```` to the next one. The newline
    /// just outside and just inside each fence is dropped (the block is a box of its own).
    fn segments(chars: &[char]) -> Vec<Segment<'_>> {
        let mut out = Vec::new();
        let mut start = 0;
        let mut i = 0;
        while let Some(open) = find_fence(chars, i) {
            let Some(close) = find_fence(chars, open + 3) else {
                break;
            };
            let text = strip_last_newline(&chars[start..open]);
            if !text.is_empty() {
                out.push(Segment::Text(text));
            }
            let code = strip_last_newline(strip_first_newline(&chars[open + 3..close]));
            out.push(Segment::Code(code));
            i = close + 3;
            if chars.get(i) == Some(&'\n') {
                i += 1;
            }
            start = i;
        }
        if start < chars.len() {
            out.push(Segment::Text(&chars[start..]));
        }
        out
    }

    /// Where the next ```` ``` ```` at or after `from` starts.
    fn find_fence(chars: &[char], from: usize) -> Option<usize> {
        let rest = chars.get(from..)?;
        rest.windows(3)
            .position(|w| w == ['`', '`', '`'])
            .map(|p| from + p)
    }

    fn strip_first_newline(chars: &[char]) -> &[char] {
        chars.strip_prefix(&['\n']).unwrap_or(chars)
    }

    fn strip_last_newline(chars: &[char]) -> &[char] {
        chars.strip_suffix(&['\n']).unwrap_or(chars)
    }

    /// Lines of text: quoted lines (a literal `>` first, or everything after `>>>`) grouped in
    /// blockquotes, the others joined by `<br>`.
    fn lines_html(text: &[char]) -> String {
        let mut lines: Vec<(bool, String)> = Vec::new();
        let mut quote_rest = false;
        for line in text.split(|c| *c == '\n') {
            let (quoted, body) = if quote_rest {
                (true, line)
            } else if let Some(rest) = line.strip_prefix(&['>', '>', '>']) {
                quote_rest = true;
                (true, strip_one_space(rest))
            } else if let Some(rest) = line.strip_prefix(&['>']) {
                (true, strip_one_space(rest))
            } else {
                (false, line)
            };
            lines.push((quoted, inline_html(body)));
        }
        let mut out = String::new();
        for run in lines.chunk_by(|a, b| a.0 == b.0) {
            let joined = run
                .iter()
                .map(|(_, html)| html.as_str())
                .collect::<Vec<_>>()
                .join("<br>");
            if run[0].0 {
                out.push_str("<blockquote class=\"slack-quote\">");
                out.push_str(&joined);
                out.push_str("</blockquote>");
            } else {
                out.push_str(&joined);
            }
        }
        out
    }

    fn strip_one_space(chars: &[char]) -> &[char] {
        chars.strip_prefix(&[' ']).unwrap_or(chars)
    }

    /// One line (or a link label) to HTML.
    fn inline_html(line: &[char]) -> String {
        let pieces = code_spans(&tokens(line));
        emphasis_html(&pieces)
    }

    /// The line as pieces: `<…>` control sequences as markup, the three entities decoded.
    fn tokens(line: &[char]) -> Vec<Piece> {
        let mut out = Vec::with_capacity(line.len());
        let mut i = 0;
        while i < line.len() {
            if line[i] == '<'
                && let Some(len) = control_len(&line[i + 1..])
            {
                let inner: String = line[i + 1..i + 1 + len].iter().collect();
                out.push(control(&inner));
                i += len + 2;
                continue;
            }
            if line[i] == '&'
                && let Some((c, len)) = entity(&line[i..])
            {
                out.push(Piece::Char(c));
                i += len;
                continue;
            }
            out.push(Piece::Char(line[i]));
            i += 1;
        }
        out
    }

    /// The length of the inside of a control sequence, if `rest` (after a `<`) has a `>` with
    /// something before it and no other `<`. The scan stops at the next `<`, so a line of many
    /// `<` is still read in linear time.
    fn control_len(rest: &[char]) -> Option<usize> {
        let end = rest.iter().position(|c| *c == '>' || *c == '<')?;
        (rest[end] == '>' && end > 0).then_some(end)
    }

    /// `&amp;`, `&lt;` or `&gt;` at the start of `s`: the character and the entity's length.
    fn entity(s: &[char]) -> Option<(char, usize)> {
        const ENTITIES: [(&str, char); 3] = [("&amp;", '&'), ("&lt;", '<'), ("&gt;", '>')];
        ENTITIES.iter().find_map(|(name, c)| {
            let n = name.chars().count();
            let here = s.get(..n)?;
            here.iter().copied().eq(name.chars()).then_some((*c, n))
        })
    }

    /// The text with `&amp;`, `&lt;`, `&gt;` decoded (and nothing else).
    fn decode(chars: &[char]) -> String {
        let mut out = String::with_capacity(chars.len());
        let mut i = 0;
        while i < chars.len() {
            match entity(&chars[i..]) {
                Some((c, len)) => {
                    out.push(c);
                    i += len;
                }
                None => {
                    out.push(chars[i]);
                    i += 1;
                }
            }
        }
        out
    }

    /// [`decode`] for a `&str`.
    fn decode_str(s: &str) -> String {
        decode(&s.chars().collect::<Vec<_>>())
    }

    /// The markup for a control sequence's inside: a special mention (`!…`), a user (`@…`), a
    /// channel (`#…`), or a URL with an optional label.
    fn control(inner: &str) -> Piece {
        let source = format!("<{}>", decode_str(inner));
        let (target, label) = match inner.split_once('|') {
            Some((target, label)) => (target, Some(label).filter(|l| !l.is_empty())),
            None => (inner, None),
        };
        let html = if let Some(command) = target.strip_prefix('!') {
            special(command, label, &source)
        } else if let Some(id) = target.strip_prefix('@') {
            mention("slack-mention", '@', label.unwrap_or(id))
        } else if let Some(id) = target.strip_prefix('#') {
            mention("slack-mention slack-channel", '#', label.unwrap_or(id))
        } else {
            url_html(target, label, &source)
        };
        Piece::Markup { html, source }
    }

    /// `<!here>`, `<!channel>`, `<!everyone>` as broadcast badges; `<!subteam^…>` as a group
    /// mention; `<!date^…|fallback>` and any other command with a label as that label.
    fn special(command: &str, label: Option<&str>, source: &str) -> String {
        let (name, argument) = command.split_once('^').unwrap_or((command, ""));
        match (name, label) {
            ("here" | "channel" | "everyone", _) => span(
                "slack-mention slack-broadcast",
                &format!("@{}", escape(name)),
            ),
            ("subteam", label) => mention(
                "slack-mention",
                '@',
                label.map_or(argument, |l| l.trim_start_matches('@')),
            ),
            (_, Some(label)) => escape(&decode_str(label)),
            (_, None) => escape(source),
        }
    }

    /// An inert mention badge: the sigil and the (escaped) name or id.
    fn mention(class: &'static str, sigil: char, name: &str) -> String {
        span(class, &format!("{sigil}{}", escape(&decode_str(name))))
    }

    /// A link for an http(s) or mailto target; the label as inert text for another scheme;
    /// the whole sequence as text when the target has no scheme.
    fn url_html(target: &str, label: Option<&str>, source: &str) -> String {
        let url = decode_str(target);
        let shown = match label {
            Some(label) => inline_html(&label.chars().collect::<Vec<_>>()),
            None => escape(url.strip_prefix("mailto:").unwrap_or(&url)),
        };
        match SafeUrl::mrkdwn(&url) {
            Some(url) => link(&url, &shown),
            None if has_scheme(&url) => span("slack-link-inert", &shown),
            None => escape(source),
        }
    }

    /// Whether the text starts with a URL scheme (`letters:`).
    fn has_scheme(url: &str) -> bool {
        url.split_once(':').is_some_and(|(scheme, _)| {
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        })
    }

    /// The pieces with `` `code` `` spans made into markup (their inside shown as text).
    fn code_spans(pieces: &[Piece]) -> Vec<Piece> {
        let closers = next_closers(pieces, '`');
        let mut out = Vec::with_capacity(pieces.len());
        let mut i = 0;
        while i < pieces.len() {
            if let Some(j) = span_end(pieces, i, '`', &closers, pieces.len()) {
                let source: String = pieces[i..=j].iter().map(source_text).collect();
                let inner: String = pieces[i + 1..j].iter().map(source_text).collect();
                let html = format!("<code class=\"slack-code\">{}</code>", escape(&inner));
                out.push(Piece::Markup { html, source });
                i = j + 1;
            } else {
                out.push(pieces[i].clone());
                i += 1;
            }
        }
        out
    }

    /// The text a piece shows inside code.
    fn source_text(piece: &Piece) -> String {
        match piece {
            Piece::Char(c) => c.to_string(),
            Piece::Markup { source, .. } => source.clone(),
        }
    }

    /// Bold, italic and strike over the pieces, as HTML.
    fn emphasis_html(pieces: &[Piece]) -> String {
        let closers: Vec<Vec<Option<usize>>> = MARKS
            .iter()
            .map(|(mark, ..)| next_closers(pieces, *mark))
            .collect();
        let mut out = String::new();
        emphasize(pieces, 0, pieces.len(), &closers, &mut out);
        out
    }

    /// Writes `pieces[start..end]`, formatting each span that opens and closes inside it.
    /// Depth is bounded: a mark never nests in itself (its first closer ends the outer span).
    fn emphasize(
        pieces: &[Piece],
        start: usize,
        end: usize,
        closers: &[Vec<Option<usize>>],
        out: &mut String,
    ) {
        let mut i = start;
        while i < end {
            let found = MARKS
                .iter()
                .enumerate()
                .find_map(|(k, (mark, open, close))| {
                    span_end(pieces, i, *mark, &closers[k], end).map(|j| (j, *open, *close))
                });
            if let Some((j, open, close)) = found {
                out.push_str(open);
                emphasize(pieces, i + 1, j, closers, out);
                out.push_str(close);
                i = j + 1;
                continue;
            }
            match &pieces[i] {
                Piece::Char(c) => push_escaped(out, *c),
                Piece::Markup { html, .. } => out.push_str(html),
            }
            i += 1;
        }
    }

    /// If `mark` opens a span at `i`, the index of the mark that closes it (before `end`).
    fn span_end(
        pieces: &[Piece],
        i: usize,
        mark: char,
        closers: &[Option<usize>],
        end: usize,
    ) -> Option<usize> {
        if !opens(pieces, i, mark) {
            return None;
        }
        let j = closers.get(i + 2).copied().flatten()?;
        (j < end).then_some(j)
    }

    /// For each index, the first index at or after it where `mark` can close a span (the
    /// vector has one more entry than `pieces`, `None`, so `i + 2` past the end is in range
    /// or simply absent).
    fn next_closers(pieces: &[Piece], mark: char) -> Vec<Option<usize>> {
        let mut next = vec![None; pieces.len() + 1];
        for j in (0..pieces.len()).rev() {
            next[j] = if closes(pieces, j, mark) {
                Some(j)
            } else {
                next[j + 1]
            };
        }
        next
    }

    /// `mark` at `i` after a boundary and before a character that is not white space or the
    /// same mark.
    fn opens(pieces: &[Piece], i: usize, mark: char) -> bool {
        let after = pieces.get(i + 1);
        is_char(pieces.get(i), mark)
            && is_boundary(i.checked_sub(1).and_then(|k| pieces.get(k)))
            && after.is_some()
            && !is_space(after)
            && !is_char(after, mark)
    }

    /// `mark` at `j` after a character that is not white space and before a boundary.
    fn closes(pieces: &[Piece], j: usize, mark: char) -> bool {
        let before = j.checked_sub(1).and_then(|k| pieces.get(k));
        is_char(pieces.get(j), mark)
            && before.is_some()
            && !is_space(before)
            && is_boundary(pieces.get(j + 1))
    }

    fn is_char(piece: Option<&Piece>, c: char) -> bool {
        matches!(piece, Some(Piece::Char(x)) if *x == c)
    }

    fn is_space(piece: Option<&Piece>) -> bool {
        matches!(piece, Some(Piece::Char(c)) if c.is_whitespace())
    }

    /// The line's edge, white space, punctuation or markup: not a letter, a digit or U+2060.
    fn is_boundary(piece: Option<&Piece>) -> bool {
        match piece {
            None | Some(Piece::Markup { .. }) => true,
            Some(Piece::Char(c)) => !(c.is_alphanumeric() || *c == WORD_JOINER),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// rich_text

/// Block Kit `rich_text`: sections, lists, quotes and preformatted text, with styled text,
/// links, mentions, emoji and dates inside. Its text is literal (no mrkdwn, no entities).
mod rich_text {
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
}

#[cfg(test)]
mod tests;

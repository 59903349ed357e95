//! Escaping of event values, one function per output format.
//!
//! Each Handlebars registry applies one of these to every `{{value}}` it writes (and to the
//! output of every value helper), so event content arrives as literal text whatever it holds.
//! The template's own text is never passed through them.
//!
//! Every one of them first removes the bidirectional controls ([`without_bidi`]), so a value
//! cannot reorder the text around it in any target.
//!
//! Newlines inside values: kept as `\n` for plain text and Slack, doubled for Teams (a single
//! newline in an Adaptive Card TextBlock is a soft break that renders as a space), and turned
//! into `<br>` for HTML, so a multi-line answer reads as several lines everywhere.

/// The value without bidirectional controls: the embeddings and overrides (U+202A–U+202E),
/// the isolates (U+2066–U+2069) and the marks (U+200E, U+200F, U+061C). A file name written
/// `Store 12 \u{202E}gnp.exe` would otherwise display as `Store 12 exe.png`; without them it
/// reads in the order it is stored, `Store 12 gnp.exe`. Right-to-left text itself (Arabic,
/// Hebrew) keeps its direction: that comes from its letters, not from these controls.
pub fn without_bidi(s: &str) -> std::borrow::Cow<'_, str> {
    let is_bidi = |c: char| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}');
    if s.contains(is_bidi) {
        std::borrow::Cow::Owned(s.chars().filter(|c| !is_bidi(*c)).collect())
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// Plain text: nothing to escape beyond the bidirectional controls.
pub fn plain(s: &str) -> String {
    without_bidi(s).into_owned()
}

/// Slack mrkdwn: `&`, `<` and `>` as entities (Slack's control characters: mentions such as
/// `<!channel>` and links `<url|label>` need `<`), and the formatting characters `*`, `_`,
/// `~` and `` ` `` neutralised. Slack documents no escape for those (its formatting page
/// names only the three entities), and it styles `*x*` only when the `*` touches a word
/// boundary; so a formatting character at a boundary gets a word joiner (U+2060: invisible,
/// no width, not a space) on each side, and `*bold*` arrives as the text `*bold*`. Inside a
/// word (`fridge_3_log`, `jo_doe@x.example`) nothing can format, and the value is kept as it
/// is, so identifiers and addresses copy unchanged. The layout also sets `verbatim: true`, so
/// a bare URL or `#channel` in a value is not turned into a link.
pub fn slack(s: &str) -> String {
    let chars: Vec<char> = without_bidi(s).chars().collect();
    let mut out = String::with_capacity(s.len());
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '*' | '_' | '~' | '`' => {
                let word = |c: Option<&char>| c.is_some_and(|c| c.is_alphanumeric());
                let inside_word = i > 0 && word(chars.get(i - 1)) && word(chars.get(i + 1));
                if inside_word {
                    out.push(c);
                } else {
                    out.push(WORD_JOINER);
                    out.push(c);
                    out.push(WORD_JOINER);
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// U+2060, which Slack neither shows nor reads as a word boundary.
const WORD_JOINER: char = '\u{2060}';

/// Microsoft Teams Adaptive Card TextBlock (a CommonMark subset: bold, italic, lists, links;
/// Teams renders no HTML in cards). CommonMark backslash escapes neutralise:
/// emphasis and code (`\ * _ ~ `` ` ``), links and images (`[ ]`), tag-like or autolink `<`,
/// entity references (`&name;`), line-leading block syntax (`# - + = > |` and `1.` / `1)`),
/// table pipes, and `{{` (the card's own DATE()/TIME() substitution). Everything else is kept.
pub fn teams(s: &str) -> String {
    let normalized = without_bidi(s).replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<String> = normalized.split('\n').map(teams_line).collect();
    lines.join("\n\n")
}

fn teams_line(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len() + 8);
    let start = chars
        .iter()
        .take_while(|c| **c == ' ' || **c == '\t')
        .count();
    let list_dot = ordered_list_marker(&chars[start..]).map(|i| start + i);
    for (i, &c) in chars.iter().enumerate() {
        let at_line_start = i == start;
        let escape = match c {
            '\\' | '*' | '_' | '`' | '~' | '[' | ']' | '|' => true,
            '#' | '-' | '+' | '=' | '>' => at_line_start,
            '.' | ')' => list_dot == Some(i),
            '<' => chars
                .get(i + 1)
                .is_some_and(|n| n.is_ascii_alphabetic() || matches!(n, '/' | '!' | '?')),
            '&' => is_entity_reference(&chars[i + 1..]),
            '{' => chars.get(i + 1) == Some(&'{'),
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// For `12. text` or `3) text`: the index of the `.`/`)` that makes a line an ordered list.
fn ordered_list_marker(chars: &[char]) -> Option<usize> {
    let digits = chars.iter().take_while(|c| c.is_ascii_digit()).count();
    let marker = chars.get(digits)?;
    let followed_by_space = chars.get(digits + 1).is_none_or(|c| c.is_whitespace());
    (digits > 0 && matches!(marker, '.' | ')') && followed_by_space).then_some(digits)
}

/// `amp;`, `#38;`, `#x26;` after an `&`: what a Markdown renderer would decode.
fn is_entity_reference(rest: &[char]) -> bool {
    let body = rest
        .iter()
        .take(32)
        .take_while(|c| c.is_ascii_alphanumeric() || **c == '#')
        .count();
    body > 0 && rest.get(body) == Some(&';')
}

/// HTML text and attribute values: `& < > " '`, and newlines as `<br>`.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let normalized = without_bidi(s).replace("\r\n", "\n");
    for c in normalized.chars() {
        match c {
            '\n' => out.push_str("<br>"),
            c => push_html(&mut out, c),
        }
    }
    out
}

/// One character as HTML text or a quoted attribute value: `& < > " '` as entities, any
/// other as itself.
pub fn push_html(out: &mut String, c: char) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '"' => out.push_str("&quot;"),
        '\'' => out.push_str("&#39;"),
        c => out.push(c),
    }
}

/// The inside of a JSON string literal (no surrounding quotes), for raw payload templates.
pub fn json_string(s: &str) -> String {
    let quoted = serde_json::Value::String(without_bidi(s).into_owned()).to_string();
    // A serialised JSON string always starts and ends with `"`.
    quoted[1..quoted.len() - 1].to_owned()
}

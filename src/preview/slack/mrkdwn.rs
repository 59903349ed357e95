//! Slack mrkdwn to HTML (see the module documentation for the rules and what they leave out).
//!
//! The text is read in passes: code blocks are split off; each other line is read into
//! `Piece`s (characters with `&amp; &lt; &gt;` decoded, and the control sequences already
//! made into markup); code spans are made into markup; then bold, italic and strike are found
//! among the characters left. Characters are escaped only when written, so formatting never
//! sees, splits or forms an entity.

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

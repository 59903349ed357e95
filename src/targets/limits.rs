//! Size limits: truncating with a visible "…" and splitting long text, on character
//! boundaries, so no target ever builds a request its provider would reject for length; and
//! [`Cuts`], which remembers whether a layout cut anything, so the message can say it was
//! shortened.

/// The mark left where text was cut.
pub const ELLIPSIS: char = '…';

/// The longest entity (`&quot;`, `&#x1F600;`) a markup-aware cut backs off from.
const MAX_ENTITY: usize = 32;
/// The longest tag or Slack link (`<url|label>`) a markup-aware cut backs off from; an
/// unclosed `<` further back is text, not markup.
const MAX_TAG: usize = 4096;

/// `text` cut to at most `max` characters, ending in "…" when it was cut.
pub fn truncate_chars(text: &str, max: usize) -> String {
    cut_chars(text, max, false).unwrap_or_else(|| text.to_string())
}

/// `text` cut to at most `max` UTF-8 bytes, ending in "…" when it was cut.
pub fn truncate_bytes(text: &str, max: usize) -> String {
    cut_bytes(text, max, false).unwrap_or_else(|| text.to_string())
}

/// Markup (Slack mrkdwn, HTML) cut to at most `max` characters, ending in "…" when it was
/// cut, never inside an entity (`&amp;`) or a tag or link (`<…>`).
pub fn truncate_markup_chars(text: &str, max: usize) -> String {
    cut_chars(text, max, true).unwrap_or_else(|| text.to_string())
}

/// `text` cut to at most `max` UTF-16 code units (Slack's count, which an emoji outside the
/// Basic Multilingual Plane fills twice), ending in "…" when it was cut. Within `max` units
/// it is also within `max` characters.
pub fn truncate_utf16(text: &str, max: usize) -> String {
    cut_units(text, max, false, byte_index_of_utf16).unwrap_or_else(|| text.to_string())
}

/// [`truncate_utf16`] for markup: never inside an entity or a tag.
pub fn truncate_markup_utf16(text: &str, max: usize) -> String {
    cut_units(text, max, true, byte_index_of_utf16).unwrap_or_else(|| text.to_string())
}

/// The length of `text` in UTF-16 code units.
pub fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// `text` cut to at most `max` characters; `None` when it fits. With `markup`, the cut never
/// ends inside an entity (`&amp;`) or a tag or link (`<…>`).
fn cut_chars(text: &str, max: usize, markup: bool) -> Option<String> {
    cut_units(text, max, markup, byte_index_of_char)
}

/// [`cut_chars`] counting with `index` (the byte index just after the first `n` units).
fn cut_units(
    text: &str,
    max: usize,
    markup: bool,
    index: fn(&str, usize) -> usize,
) -> Option<String> {
    let end = index(text, max);
    if end == text.len() {
        return None;
    }
    // Room for the ellipsis (one unit in either count): the cut keeps `max - 1` units.
    let keep = index(text, max.saturating_sub(1));
    Some(cut_at(text, keep, max > 0, markup))
}

/// `text` cut to at most `max` UTF-8 bytes; `None` when it fits. `markup` as in [`cut_chars`].
fn cut_bytes(text: &str, max: usize, markup: bool) -> Option<String> {
    if text.len() <= max {
        return None;
    }
    let mut keep = max.saturating_sub(ELLIPSIS.len_utf8());
    while keep > 0 && !text.is_char_boundary(keep) {
        keep -= 1;
    }
    Some(cut_at(text, keep, max >= ELLIPSIS.len_utf8(), markup))
}

/// The first `keep` bytes of `text` (a character boundary) and "…", if there is room for it.
fn cut_at(text: &str, keep: usize, room_for_ellipsis: bool, markup: bool) -> String {
    if !room_for_ellipsis {
        return String::new();
    }
    let head = &text[..keep];
    let head = if markup {
        &head[..markup_safe_end(head, &text[keep..])]
    } else {
        head
    };
    let mut out = String::with_capacity(head.len() + ELLIPSIS.len_utf8());
    out.push_str(head);
    out.push(ELLIPSIS);
    out
}

/// Where a cut `head` of markup may end: before a `<` or `&` that `head` leaves unclosed, so
/// no half entity or half tag is left for the reader or the parser; and not just after a
/// Slack formatting character that stood inside a word (`a*b*c` cut after its first `*`
/// would leave that `*` before the "…", at a word boundary, where Slack reads formatting).
/// `rest` is the text the cut leaves out.
fn markup_safe_end(head: &str, rest: &str) -> usize {
    let mut end = head.len();
    let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let formatting = |c: Option<char>| matches!(c, Some('*' | '_' | '~' | '`'));
    let mut next = rest.chars().next();
    // Formatting characters are ASCII: one byte each.
    while formatting(head[..end].chars().next_back())
        && word(head[..end - 1].chars().next_back())
        && word(next)
    {
        end -= 1;
        next = head[end..].chars().next();
    }
    if let Some(lt) = head.rfind('<')
        && end - lt <= MAX_TAG
        && !head[lt..].contains('>')
    {
        end = lt;
    }
    if let Some(amp) = head[..end].rfind('&')
        && end - amp <= MAX_ENTITY
        && !head[amp..end].contains(';')
    {
        end = amp;
    }
    end
}

/// Records whether a layout cut anything while it fitted one message to its limits.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Cuts {
    shortened: bool,
}

impl Cuts {
    /// [`truncate_chars`], remembering a cut.
    pub fn chars(&mut self, text: &str, max: usize) -> String {
        self.keep(text, cut_chars(text, max, false))
    }

    /// [`truncate_bytes`], remembering a cut.
    pub fn bytes(&mut self, text: &str, max: usize) -> String {
        self.keep(text, cut_bytes(text, max, false))
    }

    /// [`truncate_utf16`], remembering a cut.
    pub fn utf16(&mut self, text: &str, max: usize) -> String {
        self.keep(text, cut_units(text, max, false, byte_index_of_utf16))
    }

    /// Markup cut to `max` UTF-16 code units, never inside an entity or a tag.
    pub fn markup_utf16(&mut self, text: &str, max: usize) -> String {
        self.keep(text, cut_units(text, max, true, byte_index_of_utf16))
    }

    /// Markup (Slack mrkdwn, HTML) cut to `max` characters, never inside an entity or a tag.
    pub fn markup_chars(&mut self, text: &str, max: usize) -> String {
        self.keep(text, cut_chars(text, max, true))
    }

    /// Markup cut to `max` UTF-8 bytes, never inside an entity or a tag.
    pub fn markup_bytes(&mut self, text: &str, max: usize) -> String {
        self.keep(text, cut_bytes(text, max, true))
    }

    /// Records a cut made some other way (fields left out, say).
    pub fn mark(&mut self) {
        self.shortened = true;
    }

    /// Whether anything was cut.
    pub fn shortened(self) -> bool {
        self.shortened
    }

    fn keep(&mut self, text: &str, cut: Option<String>) -> String {
        match cut {
            Some(cut) => {
                self.shortened = true;
                cut
            }
            None => text.to_string(),
        }
    }
}

/// The sentence a shortened message ends with. `limit` names what it was fitted to ("Slack's
/// size limits"); with a link, the reader is sent there for the rest.
pub fn shortened_note(limit: &str, has_link: bool) -> String {
    let rest = if has_link {
        "; the link below has the full details."
    } else {
        "."
    };
    format!("This message was shortened to fit {limit}{rest}")
}

/// `text` split into pieces of at most `max` characters (`max` ≥ 2), preferring to cut after
/// a line break, then after a space, and never inside an entity or a tag when it must cut
/// elsewhere. Joined, the pieces are `text` again.
pub fn split_chars(text: &str, max: usize) -> Vec<String> {
    split_units(text, max, byte_index_of_char)
}

/// [`split_chars`] with pieces of at most `max` UTF-16 code units.
pub fn split_utf16(text: &str, max: usize) -> Vec<String> {
    split_units(text, max, byte_index_of_utf16)
}

fn split_units(text: &str, max: usize, index: fn(&str, usize) -> usize) -> Vec<String> {
    let max = max.max(2);
    let mut pieces = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let end = index(rest, max);
        if end == rest.len() {
            pieces.push(rest.to_string());
            break;
        }
        let head = &rest[..end];
        // Cut after the last newline in the second half, else the last space, else hard.
        let mut half = head.len() / 2;
        while !head.is_char_boundary(half) {
            half -= 1;
        }
        let cut = head[half..]
            .rfind('\n')
            .or_else(|| head[half..].rfind(' '))
            .map(|i| half + i + 1)
            .unwrap_or_else(|| match markup_safe_end(head, &rest[end..]) {
                0 => end,
                safe => safe,
            });
        pieces.push(rest[..cut].to_string());
        rest = &rest[cut..];
    }
    pieces
}

/// The byte index just after the first `n` characters of `text` (or its length).
fn byte_index_of_char(text: &str, n: usize) -> usize {
    text.char_indices().nth(n).map_or(text.len(), |(i, _)| i)
}

/// The byte index just after the longest start of `text` of at most `n` UTF-16 code units
/// (or its length); never inside a character.
fn byte_index_of_utf16(text: &str, n: usize) -> usize {
    let mut units = 0;
    for (i, c) in text.char_indices() {
        units += c.len_utf16();
        if units > n {
            return i;
        }
    }
    text.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_whole() {
        assert_eq!(truncate_chars("Kitchen", 7), "Kitchen");
        assert_eq!(truncate_bytes("Kitchen", 7), "Kitchen");
    }

    #[test]
    fn long_text_ends_in_an_ellipsis_within_the_limit() {
        let t = truncate_chars("Cold chain broken", 10);
        assert_eq!(t, "Cold chai…");
        assert_eq!(t.chars().count(), 10);
    }

    #[test]
    fn utf16_truncation_counts_an_emoji_as_two_units() {
        let title = "🧊".repeat(150);
        let cut = truncate_utf16(&title, 150);
        assert_eq!(utf16_len(&cut), 149);
        assert!(cut.ends_with('…'));
        assert_eq!(truncate_utf16(&"a".repeat(150), 150), "a".repeat(150));
        let pieces = split_utf16(&"🍕".repeat(10), 5);
        assert!(pieces.iter().all(|p| utf16_len(p) <= 5));
        assert_eq!(pieces.concat(), "🍕".repeat(10));
        // The middle of a piece may fall inside a character.
        let text = "🍕 ".repeat(50);
        for max in [7, 9, 11] {
            assert_eq!(split_utf16(&text, max).concat(), text);
            assert_eq!(split_chars(&text, max).concat(), text);
        }
    }

    #[test]
    fn a_markup_cut_leaves_no_formatting_character_at_the_end_of_a_word() {
        // Found by the escaping property: `a*a*a…` cut after a `*` left `a*…`.
        assert_eq!(truncate_markup_chars("a*a*a*a", 5), "a*a…");
        assert_eq!(truncate_markup_chars("x_y_zz", 5), "x_y…");
        // A mark that does not follow a letter is kept, as is plain text's.
        assert_eq!(truncate_markup_chars("*Due* today", 6), "*Due*…");
        assert_eq!(truncate_chars("a*a*a*a", 5), "a*a*…");
    }

    #[test]
    fn byte_truncation_never_splits_a_character() {
        let t = truncate_bytes("ééééé", 6);
        assert!(t.len() <= 6);
        assert_eq!(t, "é…");
    }

    #[test]
    fn a_markup_cut_never_ends_inside_an_entity_or_a_tag() {
        assert_eq!(truncate_markup_chars("Fish &amp; chips", 9), "Fish …");
        assert_eq!(
            truncate_markup_chars("see <https://x.example|the log> now", 12),
            "see …"
        );
        // An unclosed `<` far back is text, not a tag.
        let text = format!("a < {}", "b".repeat(5000));
        assert_eq!(truncate_markup_chars(&text, 4500).chars().count(), 4500);
        assert_eq!(
            truncate_markup_chars("Fish &amp; chips", 16),
            "Fish &amp; chips"
        );
    }

    #[test]
    fn cuts_remember_whether_anything_was_cut() {
        let mut cuts = Cuts::default();
        assert_eq!(cuts.chars("Kitchen", 7), "Kitchen");
        assert_eq!(cuts.markup_bytes("Kitchen", 7), "Kitchen");
        assert!(!cuts.shortened());
        assert_eq!(cuts.bytes("Kitchens", 7), "Kitc…");
        assert!(cuts.shortened());
    }

    #[test]
    fn the_note_sends_the_reader_to_the_link_when_there_is_one() {
        assert_eq!(
            shortened_note("Slack's size limits", true),
            "This message was shortened to fit Slack's size limits; the link below has the \
             full details."
        );
        assert_eq!(
            shortened_note("Slack's size limits", false),
            "This message was shortened to fit Slack's size limits."
        );
    }

    #[test]
    fn hard_splits_keep_entities_whole() {
        let text = "&amp;".repeat(10);
        let pieces = split_chars(&text, 12);
        assert!(
            pieces
                .iter()
                .all(|p| p.starts_with("&amp;") && p.ends_with(';'))
        );
        assert_eq!(pieces.concat(), text);
    }

    #[test]
    fn splitting_prefers_line_breaks_and_loses_nothing() {
        let text = "first line\nsecond line\nthird line";
        let pieces = split_chars(text, 15);
        assert!(pieces.iter().all(|p| p.chars().count() <= 15));
        assert_eq!(pieces.concat(), text);
        assert_eq!(pieces[0], "first line\n");
    }

    #[test]
    fn splitting_text_without_spaces_cuts_hard() {
        let text = "x".repeat(25);
        let pieces = split_chars(&text, 10);
        assert_eq!(pieces.len(), 3);
        assert_eq!(pieces.concat(), text);
    }
}

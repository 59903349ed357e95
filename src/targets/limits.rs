//! Size limits: truncating with a visible "…" and splitting long text, on character
//! boundaries, so no target ever builds a request its provider would reject for length.

/// The mark left where text was cut.
pub const ELLIPSIS: char = '…';

/// `text` cut to at most `max` characters, ending in "…" when it was cut.
pub fn truncate_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push(ELLIPSIS);
    out
}

/// `text` cut to at most `max` UTF-8 bytes, ending in "…" when it was cut.
pub fn truncate_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let room = max.saturating_sub(ELLIPSIS.len_utf8());
    let mut end = room;
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    if max < ELLIPSIS.len_utf8() {
        return String::new();
    }
    let mut out = text[..end].to_string();
    out.push(ELLIPSIS);
    out
}

/// `text` split into pieces of at most `max` characters (`max` ≥ 2), preferring to cut after
/// a line break, then after a space. Joined, the pieces are `text` again.
pub fn split_chars(text: &str, max: usize) -> Vec<String> {
    let max = max.max(2);
    let mut pieces = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let end = byte_index_of_char(rest, max);
        if end == rest.len() {
            pieces.push(rest.to_string());
            break;
        }
        let head = &rest[..end];
        // Cut after the last newline in the second half, else the last space, else hard.
        let half = head.len() / 2;
        let cut = head[half..]
            .rfind('\n')
            .or_else(|| head[half..].rfind(' '))
            .map(|i| half + i + 1)
            .unwrap_or(end);
        pieces.push(rest[..cut].to_string());
        rest = &rest[cut..];
    }
    pieces
}

/// The byte index just after the first `n` characters of `text` (or its length).
fn byte_index_of_char(text: &str, n: usize) -> usize {
    text.char_indices().nth(n).map_or(text.len(), |(i, _)| i)
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
    fn byte_truncation_never_splits_a_character() {
        let t = truncate_bytes("ééééé", 6);
        assert!(t.len() <= 6);
        assert_eq!(t, "é…");
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

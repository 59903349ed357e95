//! The email layout: a small inline-styled HTML page (coloured top bar, title, text, a table
//! of fields, a button) and a plain-text part with the same content.
//!
//! The HTML rendering's values are already escaped by the template; the link URL is taken from
//! the plain rendering and escaped here for the attribute, and only http(s) links are shown.
//!
//! Each part has a byte budget per piece (title, text, fields, link), so the HTML part stays
//! under [`MAX_HTML`] and the text part under [`MAX_TEXT`] whatever the event holds. A cut
//! piece ends in "…" and the message then says it was shortened, above the link.

use crate::targets::is_web_url;
use crate::targets::limits::{Cuts, shortened_note};
use crate::template::Message;

const FONT: &str = "-apple-system,BlinkMacSystemFont,'Segoe UI',Helvetica,Arial,sans-serif";

/// Most bytes of the HTML part: well under the ~102 KB beyond which Gmail clips a message
/// (providers refuse only at 10 MB and more).
pub const MAX_HTML: usize = 64 * 1024;
/// Most bytes of the text part.
pub const MAX_TEXT: usize = 64 * 1024;
/// Budgets of the pieces, in bytes. With the markup around them (under 10 KB for the page,
/// the rows and the note) they add up to less than [`MAX_HTML`] and [`MAX_TEXT`].
const MAX_TITLE: usize = 1024;
const MAX_PAGE_TITLE: usize = 200;
const MAX_BODY: usize = 32 * 1024;
const FIELDS_BUDGET: usize = 12 * 1024;
const MAX_FIELD_VALUE: usize = 2000;
const MAX_FIELD_LABEL: usize = 100;
/// Fields shown; more are counted in a last row.
const MAX_FIELDS: usize = 30;
/// A longer link (after escaping) gets no button: it is not a link to MonitorQA.
const MAX_URL: usize = 2048;
const MAX_LINK_LABEL: usize = 200;
/// What a shortened mail says it was fitted to.
const LIMIT: &str = "email size limits";

/// The HTML part: `html` gives title, text, fields and link label; `plain` the link URL.
pub fn html(html: &Message, plain: &Message) -> String {
    let accent = accent_color(html.color.as_deref());
    let mut cuts = Cuts::default();
    let mut inner = String::new();
    if !html.title.trim().is_empty() {
        inner.push_str(&format!(
            "<h1 style=\"margin:0 0 12px;font-size:20px;line-height:1.3;font-weight:600;\">{}</h1>",
            cuts.markup_bytes(&html.title, MAX_TITLE)
        ));
    }
    if !html.text.trim().is_empty() {
        inner.push_str(&format!(
            "<div style=\"margin:0 0 16px;font-size:15px;line-height:1.5;white-space:pre-line;\">{}</div>",
            cuts.markup_bytes(html.text.trim(), MAX_BODY)
        ));
    }
    inner.push_str(&fields_table(&html.fields, &mut cuts));
    let button = button(html, plain, accent);
    if cuts.shortened() {
        inner.push_str(&format!(
            "<p style=\"margin:0 0 16px;font-size:13px;line-height:1.4;color:#57606a;\">{}</p>",
            shortened_note(LIMIT, !button.is_empty())
        ));
    }
    inner.push_str(&button);
    let title = page_title(plain);
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title}</title></head>\
         <body style=\"margin:0;padding:0;background:#f4f5f7;\">\
         <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" \
         style=\"background:#f4f5f7;padding:16px 8px;\"><tr><td align=\"center\">\
         <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" \
         style=\"max-width:600px;background:#ffffff;border-top:4px solid {accent};\
         border-radius:6px;font-family:{FONT};color:#1f2328;\">\
         <tr><td style=\"padding:20px 24px 24px;\">{inner}</td></tr></table>\
         </td></tr></table></body></html>"
    )
}

/// The text part: title, text, `Label: value` lines, then `label: url`.
pub fn text(plain: &Message) -> String {
    let mut cuts = Cuts::default();
    let mut parts = Vec::new();
    if !plain.title.trim().is_empty() {
        parts.push(cuts.bytes(plain.title.trim(), MAX_TITLE));
    }
    if !plain.text.trim().is_empty() {
        parts.push(cuts.bytes(plain.text.trim(), MAX_BODY));
    }
    let lines: Vec<String> = shown_fields(&plain.fields, &mut cuts, |label, value| {
        format!("{label}: {value}")
    });
    if !lines.is_empty() {
        parts.push(lines.join("\n"));
    }
    let link = text_link(plain);
    if cuts.shortened() {
        parts.push(shortened_note(LIMIT, link.is_some()));
    }
    parts.extend(link);
    let mut out = parts.join("\n\n");
    out.push('\n');
    out
}

/// `label: url` for the text part, when the link is short enough to be a real one.
fn text_link(plain: &Message) -> Option<String> {
    let link = plain.link.as_ref().filter(|l| !l.url.trim().is_empty())?;
    let url = link.url.trim();
    if url.len() > MAX_URL {
        return None;
    }
    let label = match link.label.trim() {
        "" => "Open".to_string(),
        label => Cuts::default().bytes(label, MAX_LINK_LABEL),
    };
    Some(format!("{label}: {url}"))
}

fn fields_table(fields: &[(String, String)], cuts: &mut Cuts) -> String {
    let rows: Vec<String> = shown_fields(fields, cuts, |label, value| {
        format!(
            "<tr><td style=\"padding:6px 16px 6px 0;color:#57606a;vertical-align:top;\
             white-space:nowrap;\">{label}</td>\
             <td style=\"padding:6px 0;vertical-align:top;\">{value}</td></tr>"
        )
    });
    if rows.is_empty() {
        return String::new();
    }
    format!(
        "<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" \
         style=\"margin:0 0 20px;font-size:14px;line-height:1.4;border-collapse:collapse;\">{}</table>",
        rows.concat()
    )
}

/// One `row(label, value)` per field, each cut to its share of [`FIELDS_BUDGET`], at most
/// [`MAX_FIELDS`] of them and a last row counting the rest.
fn shown_fields(
    fields: &[(String, String)],
    cuts: &mut Cuts,
    row: impl Fn(&str, &str) -> String,
) -> Vec<String> {
    let shown = &fields[..fields.len().min(MAX_FIELDS)];
    if shown.is_empty() {
        return Vec::new();
    }
    let each = (FIELDS_BUDGET / shown.len()).min(MAX_FIELD_VALUE);
    let mut rows: Vec<String> = shown
        .iter()
        .map(|(label, value)| {
            let label = cuts.markup_bytes(label, MAX_FIELD_LABEL);
            row(&label, &cuts.markup_bytes(value, each))
        })
        .collect();
    let hidden = fields.len() - shown.len();
    if hidden > 0 {
        cuts.mark();
        rows.push(row("…", &format!("{hidden} more fields")));
    }
    rows
}

fn button(html: &Message, plain: &Message, accent: &str) -> String {
    let Some(link) = plain.link.as_ref().filter(|l| is_web_url(&l.url)) else {
        return String::new();
    };
    let url = escape_attr(link.url.trim());
    if url.len() > MAX_URL {
        return String::new();
    }
    let label = html
        .link
        .as_ref()
        .map(|l| l.label.trim())
        .filter(|l| !l.is_empty())
        .unwrap_or("Open");
    let label = Cuts::default().markup_bytes(label, MAX_LINK_LABEL);
    format!(
        "<a href=\"{url}\" style=\"display:inline-block;padding:10px 18px;background:{accent};\
         color:#ffffff;border-radius:4px;text-decoration:none;font-weight:600;font-size:14px;\">{label}</a>"
    )
}

/// The bar and button colour: named colours, or a valid `#rrggbb`; a neutral blue otherwise.
fn accent_color(color: Option<&str>) -> &str {
    match color.map(str::trim) {
        Some("danger") => "#cf222e",
        Some("warning") => "#bf8700",
        Some("good") => "#1a7f37",
        Some(c) if is_hex_color(c) => c,
        _ => "#0969da",
    }
}

fn is_hex_color(c: &str) -> bool {
    c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|ch| ch.is_ascii_hexdigit())
}

/// The page's `<title>` (what a screen reader announces first, and a browser tab shows): the
/// plain title on one line, cut to [`MAX_PAGE_TITLE`] bytes, escaped. The messages' own words
/// are English, hence `lang="en"` on the page.
fn page_title(plain: &Message) -> String {
    let one_line = plain.title.split_whitespace().collect::<Vec<_>>().join(" ");
    escape_attr(&Cuts::default().bytes(&one_line, MAX_PAGE_TITLE))
}

/// Escapes a value for a double-quoted HTML attribute.
fn escape_attr(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Link;

    fn message() -> Message {
        Message {
            preview: String::new(),
            title: "Audit expired".to_string(),
            text: "Kitchen audit was not done.".to_string(),
            fields: vec![("Where".to_string(), "Main kitchen".to_string())],
            link: Some(Link {
                url: "https://app.monitorqa.com/a?x=1&y=2".to_string(),
                label: "Open in MonitorQA".to_string(),
            }),
            color: Some("danger".to_string()),
            ..Message::default()
        }
    }

    #[test]
    fn the_text_part_has_title_text_fields_and_link() {
        let t = text(&message());
        assert_eq!(
            t,
            "Audit expired\n\nKitchen audit was not done.\n\nWhere: Main kitchen\n\n\
             Open in MonitorQA: https://app.monitorqa.com/a?x=1&y=2\n"
        );
    }

    #[test]
    fn the_html_page_has_a_language_and_a_one_line_escaped_title() {
        let mut plain = message();
        plain.title = "Audit <expired>\n& \"late\"".to_string();
        let h = html(&message(), &plain);
        assert!(
            h.starts_with("<!DOCTYPE html><html lang=\"en\"><head>"),
            "{h}"
        );
        assert!(
            h.contains("<title>Audit &lt;expired&gt; &amp; &quot;late&quot;</title>"),
            "{h}"
        );
        plain.title = "x".repeat(5000);
        let h = html(&message(), &plain);
        let title = h
            .split("<title>")
            .nth(1)
            .unwrap()
            .split("</title>")
            .next()
            .unwrap();
        assert!(title.len() <= MAX_PAGE_TITLE + 4, "{}", title.len());
    }

    #[test]
    fn the_html_part_escapes_the_link_and_colours_the_bar() {
        let h = html(&message(), &message());
        assert!(h.contains("href=\"https://app.monitorqa.com/a?x=1&amp;y=2\""));
        assert!(h.contains("border-top:4px solid #cf222e"));
        assert!(h.contains(">Main kitchen</td>"));
    }

    /// Every piece over its budget: a 10 MB text, a 10 MB field among 40 long ones.
    fn ten_megabytes() -> Message {
        let mut m = message();
        m.title = "Audit &amp; more ".repeat(10_000);
        m.text = "Fridge 3 &amp; freezer 2 were warm.<br>".repeat(250_000);
        m.fields = (0..40)
            .map(|i| {
                let size = if i == 1 { 1_700_000 } else { 2_000 };
                ("Label ".repeat(100) + &i.to_string(), "&quot;".repeat(size))
            })
            .collect();
        m
    }

    #[test]
    fn ten_megabyte_fields_give_an_html_part_gmail_does_not_clip_that_says_it_was_shortened() {
        let m = ten_megabytes();
        let h = html(&m, &m);
        assert!(h.len() <= MAX_HTML, "{} bytes", h.len());
        assert!(h.contains("This message was shortened"));
        assert!(h.contains("href=\"https://app.monitorqa.com/a?x=1&amp;y=2\""));
        assert!(h.ends_with("</td></tr></table></td></tr></table></body></html>"));
        // Cuts end before an entity or a tag, never inside one.
        assert!(!h.contains("&quo…") && !h.contains("&amp…"));
        assert!(!h.contains("<b…") && !h.contains("<br…"));
        assert!(h.contains("10 more fields"));
    }

    #[test]
    fn ten_megabyte_fields_give_a_short_text_part_that_says_it_was_shortened() {
        let m = ten_megabytes();
        let t = text(&m);
        assert!(t.len() <= MAX_TEXT, "{} bytes", t.len());
        assert!(t.contains("This message was shortened"));
        assert!(t.ends_with("Open in MonitorQA: https://app.monitorqa.com/a?x=1&y=2\n"));
    }

    #[test]
    fn a_mail_that_fits_says_nothing_about_shortening() {
        assert!(!html(&message(), &message()).contains("shortened"));
        assert!(!text(&message()).contains("shortened"));
    }

    #[test]
    fn a_non_web_link_gets_no_button() {
        let mut m = message();
        m.link = Some(Link {
            url: "javascript:alert(1)".to_string(),
            label: "x".to_string(),
        });
        assert!(!html(&m, &m).contains("<a "));
    }

    #[test]
    fn a_colour_that_is_not_hex_is_not_put_in_css() {
        assert_eq!(accent_color(Some("#fff;background:url(x)")), "#0969da");
        assert_eq!(accent_color(Some("#A1b2C3")), "#A1b2C3");
    }
}

//! The email layout: a small inline-styled HTML page (coloured top bar, title, text, a table
//! of fields, a button) and a plain-text part with the same content.
//!
//! The HTML rendering's values are already escaped by the template; the link URL is taken from
//! the plain rendering and escaped here for the attribute, and only http(s) links are shown.

use crate::targets::is_web_url;
use crate::template::Message;

const FONT: &str = "-apple-system,BlinkMacSystemFont,'Segoe UI',Helvetica,Arial,sans-serif";

/// The HTML part: `html` gives title, text, fields and link label; `plain` the link URL.
pub fn html(html: &Message, plain: &Message) -> String {
    let accent = accent_color(html.color.as_deref());
    let mut inner = String::new();
    if !html.title.trim().is_empty() {
        inner.push_str(&format!(
            "<h1 style=\"margin:0 0 12px;font-size:20px;line-height:1.3;font-weight:600;\">{}</h1>",
            html.title
        ));
    }
    if !html.text.trim().is_empty() {
        inner.push_str(&format!(
            "<div style=\"margin:0 0 16px;font-size:15px;line-height:1.5;white-space:pre-line;\">{}</div>",
            html.text.trim()
        ));
    }
    inner.push_str(&fields_table(&html.fields));
    inner.push_str(&button(html, plain, accent));
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"></head>\
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
    let mut parts = Vec::new();
    if !plain.title.trim().is_empty() {
        parts.push(plain.title.trim().to_string());
    }
    if !plain.text.trim().is_empty() {
        parts.push(plain.text.trim().to_string());
    }
    if !plain.fields.is_empty() {
        let lines: Vec<String> = plain
            .fields
            .iter()
            .map(|(label, value)| format!("{label}: {value}"))
            .collect();
        parts.push(lines.join("\n"));
    }
    if let Some(link) = plain.link.as_ref().filter(|l| !l.url.trim().is_empty()) {
        let label = if link.label.trim().is_empty() {
            "Open"
        } else {
            link.label.trim()
        };
        parts.push(format!("{label}: {}", link.url.trim()));
    }
    let mut out = parts.join("\n\n");
    out.push('\n');
    out
}

fn fields_table(fields: &[(String, String)]) -> String {
    if fields.is_empty() {
        return String::new();
    }
    let rows: String = fields
        .iter()
        .map(|(label, value)| {
            format!(
                "<tr><td style=\"padding:6px 16px 6px 0;color:#57606a;vertical-align:top;\
                 white-space:nowrap;\">{label}</td>\
                 <td style=\"padding:6px 0;vertical-align:top;\">{value}</td></tr>"
            )
        })
        .collect();
    format!(
        "<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" \
         style=\"margin:0 0 20px;font-size:14px;line-height:1.4;border-collapse:collapse;\">{rows}</table>"
    )
}

fn button(html: &Message, plain: &Message, accent: &str) -> String {
    let Some(link) = plain.link.as_ref().filter(|l| is_web_url(&l.url)) else {
        return String::new();
    };
    let label = html
        .link
        .as_ref()
        .map(|l| l.label.trim())
        .filter(|l| !l.is_empty())
        .unwrap_or("Open");
    format!(
        "<a href=\"{}\" style=\"display:inline-block;padding:10px 18px;background:{accent};\
         color:#ffffff;border-radius:4px;text-decoration:none;font-weight:600;font-size:14px;\">{label}</a>",
        escape_attr(link.url.trim())
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
            title: "Audit expired".to_string(),
            text: "Kitchen audit was not done.".to_string(),
            fields: vec![("Where".to_string(), "Main kitchen".to_string())],
            link: Some(Link {
                url: "https://app.monitorqa.com/a?x=1&y=2".to_string(),
                label: "Open in MonitorQA".to_string(),
            }),
            color: Some("danger".to_string()),
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
    fn the_html_part_escapes_the_link_and_colours_the_bar() {
        let h = html(&message(), &message());
        assert!(h.contains("href=\"https://app.monitorqa.com/a?x=1&amp;y=2\""));
        assert!(h.contains("border-top:4px solid #cf222e"));
        assert!(h.contains(">Main kitchen</td>"));
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

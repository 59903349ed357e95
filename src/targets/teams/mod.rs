//! Microsoft Teams: an Adaptive Card (1.2, full width) posted to a Workflows webhook.
//!
//! The card declares [`CARD_VERSION`], the lowest version that has everything it uses (a
//! Container `style` of `good`, `warning` or `attention` and `bleed` are 1.2; the rest is 1.0):
//! Teams renders 1.0 to 1.5, and a client older than a card's version shows only its fallback
//! text. The tests check every default card with Microsoft's own parser at that version.
//!
//! The URL carries its own `sig` credential, so no `Authorization` header is ever sent (Power
//! Automate rejects a request with two). The serialized card is kept under [`CARD_BUDGET`] by
//! cutting the text, then the facts, then the title, with a visible "…" and a last line that
//! says the message was shortened. A retired Office 365 connector URL (`*.webhook.office.com`)
//! never gets this far: the configuration refuses it with a migration hint.

pub(crate) mod config;

use std::time::SystemTime;

use serde_json::{Value, json};

use super::limits::{Cuts, shortened_note, truncate_bytes, truncate_chars};
use super::scrub::url_secret_parts;
use super::verdict::{by_status, excerpt};
use super::{BuildError, Content, HttpRequest, HttpResponse, RequestBody, Verdict};
use crate::secret::Secret;
use crate::template::{Markup, Message};

/// Teams Markdown for the card, Plain for the link URL and the notification fallback.
pub const MARKUPS: &[Markup] = &[Markup::Teams, Markup::Plain];

/// The Adaptive Card schema version the cards declare (see the module documentation).
pub const CARD_VERSION: &str = "1.2";

/// The largest serialized request body built (Teams' own limit is about 28 KB).
pub const CARD_BUDGET: usize = 24 * 1024;
/// Teams' own limit on a posted message. Workflows still answers 202 to a larger one and then
/// drops it in the flow run, so a raw payload over it is refused here instead.
pub const MAX_MESSAGE: usize = 28 * 1024;
/// Facts shown; more are counted in a last "…" fact.
pub const MAX_FACTS: usize = 30;
/// Longest fact value and title before any budget cut.
pub const MAX_FACT_VALUE: usize = 2000;
pub const MAX_TITLE: usize = 500;

/// A Teams Workflows target.
#[derive(Debug, Clone)]
pub struct Teams {
    url: Secret,
}

impl Teams {
    pub fn new(url: Secret) -> Teams {
        Teams { url }
    }

    pub(super) fn build(&self, content: &Content) -> Result<HttpRequest, BuildError> {
        let body = match content {
            Content::Message(rendered) => message_body(
                rendered.require(Markup::Teams)?,
                rendered.require(Markup::Plain)?,
            ),
            Content::Payload(payload) => within_limit(payload)?.clone(),
            Content::Event(_) => return Err(super::unsupported("teams", content)),
        };
        Ok(HttpRequest {
            url: self.url.clone(),
            headers: Vec::new(),
            body: RequestBody::Json(body),
        })
    }

    /// 2xx (202 from Workflows) is delivered; 429 pauses the target; 408/5xx are retried;
    /// other 4xx are permanent, explained from `{"error":{"code","message"}}`.
    pub(super) fn classify(&self, resp: &HttpResponse, now: SystemTime) -> Verdict {
        if (200..300).contains(&resp.status) {
            return Verdict::delivered(None);
        }
        by_status(
            "Teams",
            resp.status,
            &error_detail(&resp.body),
            &resp.headers,
            now,
        )
    }

    pub(super) fn secrets(&self) -> Vec<String> {
        url_secret_parts(self.url.expose())
    }

    /// The host of the Workflows URL.
    pub(super) fn host(&self) -> Option<String> {
        self.url.host()
    }
}

/// A raw payload Teams would accept by size; a larger one is an error that says why.
fn within_limit(payload: &Value) -> Result<&Value, BuildError> {
    let size = serde_json::to_vec(payload).map_or(0, |v| v.len());
    if size <= MAX_MESSAGE {
        return Ok(payload);
    }
    Err(BuildError::Config(format!(
        "the raw payload is {size} bytes; Teams drops a message over {MAX_MESSAGE} bytes \
         (Workflows still answers 202), so it is not sent: shorten the payload template"
    )))
}

/// `code: message` from a Power Automate error body, with a hint for known codes.
fn error_detail(body: &str) -> String {
    let Ok(json) = serde_json::from_str::<Value>(body) else {
        return excerpt(body);
    };
    let code = json["error"]["code"].as_str().unwrap_or("");
    let message = json["error"]["message"].as_str().unwrap_or("");
    let hint = match code {
        "DirectApiAuthorizationRequired" => {
            " (the URL lacks its sig parameter, or the flow only accepts signed-in users: set \
             \"Who can trigger the flow\" to Anyone)"
        }
        "DirectApiRequestHasMoreThanOneAuthorization" => {
            " (the request carried a second credential besides the URL's sig)"
        }
        "WorkflowTriggerIsNotEnabled" | "WorkflowNotEnabled" => " (the flow is turned off)",
        "WorkflowNotFound" | "TriggerNotFound" => " (the flow was deleted or its URL regenerated)",
        _ => "",
    };
    let text = match (code, message) {
        ("", "") => excerpt(body),
        ("", m) => m.to_string(),
        (c, "") => c.to_string(),
        (c, m) => format!("{c}: {m}"),
    };
    format!("{}{hint}", excerpt(&text))
}

/// The Workflows request for a message.
pub fn message_body(teams: &Message, plain: &Message) -> Value {
    let card = Card::new(teams, plain).fit(CARD_BUDGET);
    card.envelope()
}

/// The parts of a card, kept separately so they can be cut to fit.
struct Card {
    title: String,
    text: String,
    facts: Vec<(String, String)>,
    /// Facts left out, shown as a last "…" fact.
    hidden_facts: usize,
    /// The Container style of the title band: `attention`, `warning` or `good`.
    color: Option<&'static str>,
    link: Option<(String, String)>,
    fallback: String,
    /// Whether anything was cut: the card then says so.
    cuts: Cuts,
}

impl Card {
    fn new(teams: &Message, plain: &Message) -> Card {
        let mut cuts = Cuts::default();
        let facts = teams
            .fields
            .iter()
            .take(MAX_FACTS)
            .map(|(l, v)| (cuts.chars(l, MAX_TITLE), cuts.chars(v, MAX_FACT_VALUE)))
            .collect();
        let hidden_facts = teams.fields.len().saturating_sub(MAX_FACTS);
        if hidden_facts > 0 {
            cuts.mark();
        }
        let link = plain
            .link
            .as_ref()
            .filter(|l| super::is_web_url(&l.url))
            .map(|l| {
                let label = if l.label.trim().is_empty() {
                    "Open"
                } else {
                    l.label.trim()
                };
                (label.to_string(), l.url.trim().to_string())
            });
        Card {
            title: cuts.chars(teams.title.trim(), MAX_TITLE),
            text: markdown_breaks(&teams.text),
            facts,
            hidden_facts,
            color: teams.color.as_deref().and_then(card_color),
            link,
            fallback: truncate_chars(plain.title.trim(), 200),
            cuts,
        }
    }

    /// Cuts the text, then facts, then the title until the request is at most `budget` bytes.
    fn fit(mut self, budget: usize) -> Card {
        for _ in 0..64 {
            let size = serde_json::to_vec(&self.envelope()).map_or(0, |v| v.len());
            if size <= budget {
                break;
            }
            let over = size - budget + 16;
            self.cuts.mark();
            if self.text.chars().count() > 1 {
                self.text = cut_bytes(&self.text, over);
            } else if !self.facts.is_empty() {
                self.facts.pop();
                self.hidden_facts += 1;
            } else if self.title.chars().count() > 1 {
                self.title = cut_bytes(&self.title, over);
                self.fallback = truncate_bytes(&self.fallback, 64);
            } else {
                // Only the link can be this large.
                self.link = None;
            }
        }
        self
    }

    fn envelope(&self) -> Value {
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": self.card(),
            }],
        })
    }

    fn card(&self) -> Value {
        let mut card = json!({
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": CARD_VERSION,
            "msteams": {"width": "Full"},
            "body": self.body(),
        });
        if !self.fallback.is_empty() {
            card["fallbackText"] = json!(self.fallback);
        }
        if let Some((label, url)) = &self.link {
            card["actions"] = json!([{"type": "Action.OpenUrl", "title": label, "url": url}]);
        }
        card
    }

    fn body(&self) -> Vec<Value> {
        let mut body = Vec::new();
        if !self.title.is_empty() {
            let title = json!({
                "type": "TextBlock", "text": self.title, "size": "Large",
                "weight": "Bolder", "wrap": true,
            });
            // The colour is a band behind the title, never the colour of its text: Teams'
            // own `Warning` (#f8d22a) and `Good` (#92c353) text colours are 1.47:1 and 2.07:1
            // on its light theme's white, and `Attention` is 3.24:1 on its dark theme
            // (#d74654 on #2d2c2c; Microsoft's Teams host configs). A styled Container keeps the
            // text in the default colour of the container style (#252424 on #ffe2b2, #ccffcc
            // or #ffc5b2 in both themes, 11:1 or more), so the title reads in light and dark
            // themes alike and the band still says danger, warning or good at a glance.
            body.push(match self.color {
                Some(style) => json!({
                    "type": "Container", "style": style, "bleed": true, "items": [title],
                }),
                None => title,
            });
        }
        if !self.text.trim().is_empty() {
            body.push(json!({"type": "TextBlock", "text": self.text, "wrap": true}));
        }
        let mut facts: Vec<Value> = self
            .facts
            .iter()
            .map(|(title, value)| json!({"title": title, "value": value}))
            .collect();
        if self.hidden_facts > 0 {
            facts.push(json!({"title": "…", "value": format!("{} more", self.hidden_facts)}));
        }
        if !facts.is_empty() {
            body.push(json!({"type": "FactSet", "facts": facts}));
        }
        if self.cuts.shortened() {
            let note = shortened_note("Teams' size limit", self.link.is_some());
            body.push(json!({
                "type": "TextBlock", "text": note, "wrap": true, "isSubtle": true, "size": "Small",
            }));
        }
        body
    }
}

/// Adaptive Card text is Markdown, where a single newline does not break the line: every line
/// break of the message becomes a paragraph break, so lines read as the template wrote them.
fn markdown_breaks(text: &str) -> String {
    let lines: Vec<&str> = text.split('\n').filter(|l| !l.trim().is_empty()).collect();
    lines.join("\n\n")
}

/// `text` shortened by at least `over` bytes, ending in "…".
fn cut_bytes(text: &str, over: usize) -> String {
    let keep = text.len().saturating_sub(over);
    if keep <= '…'.len_utf8() {
        return "…".to_string();
    }
    truncate_bytes(text, keep)
}

/// The Container style of the title band for a message colour: danger, warning and good
/// have one; other colours (`#rrggbb`) leave the title unbanded.
fn card_color(color: &str) -> Option<&'static str> {
    match color.trim().to_ascii_lowercase().as_str() {
        "danger" | "attention" | "red" => Some("attention"),
        "warning" | "orange" | "yellow" => Some("warning"),
        "good" | "success" | "green" => Some("good"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_line_of_the_text_becomes_its_own_paragraph() {
        assert_eq!(markdown_breaks("a\nb"), "a\n\nb");
        assert_eq!(markdown_breaks("a\n\n\nb\n"), "a\n\nb");
        assert_eq!(markdown_breaks("one line"), "one line");
    }

    fn message(text: String, facts: usize) -> Message {
        Message {
            preview: String::new(),
            title: "Audit expired".to_string(),
            text,
            fields: (0..facts)
                .map(|i| (format!("Fact {i}"), "\"quoted\" ".repeat(200)))
                .collect(),
            link: None,
            color: Some("warning".to_string()),
            ..Message::default()
        }
    }

    #[test]
    fn the_card_fits_the_budget_even_when_escaping_inflates_it() {
        let m = message("\u{1}\"".repeat(20_000), 40);
        let body = message_body(&m, &m);
        assert!(serde_json::to_vec(&body).unwrap().len() <= CARD_BUDGET);
        let card = &body["attachments"][0]["content"];
        assert_eq!(card["body"][0]["style"], "warning");
    }

    /// WCAG 2 contrast ratio of two `#rrggbb` colours.
    fn contrast(a: &str, b: &str) -> f64 {
        let luminance = |hex: &str| {
            let channel = |i: usize| {
                let c = f64::from(u8::from_str_radix(&hex[1 + 2 * i..3 + 2 * i], 16).unwrap());
                let c = c / 255.0;
                if c <= 0.03928 {
                    c / 12.92
                } else {
                    ((c + 0.055) / 1.055).powf(2.4)
                }
            };
            0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2)
        };
        let (x, y) = (luminance(a) + 0.05, luminance(b) + 0.05);
        x.max(y) / x.min(y)
    }

    /// A Teams theme as Microsoft's host configs (Adaptive Cards designer) define it: the
    /// default text and background, and `(style, background, default text)` of the
    /// container styles the title band uses.
    struct Theme {
        name: &'static str,
        text: &'static str,
        background: &'static str,
        bands: [(&'static str, &'static str, &'static str); 3],
    }

    const THEMES: [Theme; 2] = [
        Theme {
            name: "light",
            text: "#252424",
            background: "#ffffff",
            bands: [
                ("attention", "#ffc5b2", "#252424"),
                ("warning", "#ffe2b2", "#252424"),
                ("good", "#ccffcc", "#252424"),
            ],
        },
        Theme {
            name: "dark",
            text: "#ffffff",
            background: "#2d2c2c",
            bands: [
                ("attention", "#ffc5b2", "#201f1f"),
                ("warning", "#ffe2b2", "#201f1f"),
                ("good", "#ccffcc", "#201f1f"),
            ],
        },
    ];

    #[test]
    fn every_title_reads_at_4_5_to_1_or_more_in_teams_light_and_dark_themes() {
        for color in ["danger", "warning", "good", "#439fe0", ""] {
            let mut m = message("x".to_string(), 1);
            m.color = Some(color.to_string());
            let body = message_body(&m, &m);
            let first = &body["attachments"][0]["content"]["body"][0];
            let (title, style) = match first["type"].as_str() {
                Some("Container") => (&first["items"][0], first["style"].as_str()),
                _ => (first, None),
            };
            assert_eq!(title["text"], "Audit expired", "{color}");
            // The text keeps the default colour of where it stands.
            assert!(title.get("color").is_none(), "{color}: {title}");
            for theme in &THEMES {
                let (background, text) = match style {
                    Some(s) => {
                        let band = theme.bands.iter().find(|(n, _, _)| *n == s).unwrap();
                        (band.1, band.2)
                    }
                    None => (theme.background, theme.text),
                };
                let ratio = contrast(text, background);
                assert!(ratio >= 4.5, "{color} in {}: {ratio:.2}:1", theme.name);
            }
        }
        // What the band replaces: Teams' own Warning and Good text on its light theme.
        assert!(contrast("#f8d22a", "#ffffff") < 3.0);
        assert!(contrast("#92c353", "#ffffff") < 3.0);
    }

    #[test]
    fn facts_beyond_the_budget_are_counted_in_a_last_fact() {
        let m = message(String::new(), 30);
        let body = message_body(&m, &m);
        assert!(serde_json::to_vec(&body).unwrap().len() <= CARD_BUDGET);
        let facts = body["attachments"][0]["content"]["body"][1]["facts"]
            .as_array()
            .unwrap()
            .clone();
        let last = facts.last().unwrap();
        assert_eq!(last["title"], "…");
        assert!(last["value"].as_str().unwrap().ends_with(" more"));
    }

    #[test]
    fn a_ten_megabyte_field_gives_a_card_within_the_budget_that_says_it_was_shortened() {
        let mut m = message("Fridge 3 was warm. ".repeat(500_000), 3);
        m.fields[1].1 = "x".repeat(10_000_000);
        m.link = Some(crate::template::Link {
            url: "https://app.monitorqa.com/x".to_string(),
            label: "Open in MonitorQA".to_string(),
        });
        let wire = serde_json::to_vec(&message_body(&m, &m)).unwrap();
        assert!(wire.len() <= CARD_BUDGET, "{} bytes", wire.len());
        let body: Value = serde_json::from_slice(&wire).unwrap();
        let card = &body["attachments"][0]["content"];
        let blocks = card["body"].as_array().unwrap();
        let note = blocks.last().unwrap()["text"].as_str().unwrap();
        assert!(note.contains("shortened"), "{note}");
        assert_eq!(card["actions"][0]["url"], "https://app.monitorqa.com/x");
    }

    #[test]
    fn a_small_card_is_left_whole() {
        let m = message("All good.".to_string(), 2);
        let body = message_body(&m, &m);
        assert_eq!(
            body["attachments"][0]["content"]["body"][1]["text"],
            "All good."
        );
        assert_eq!(
            body["attachments"][0]["content"]["body"][2]["facts"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn a_card_that_fits_says_nothing_about_shortening() {
        let m = message("All good.".to_string(), 2);
        assert!(!message_body(&m, &m).to_string().contains("shortened"));
    }

    #[test]
    fn a_raw_payload_over_teams_limit_is_refused_with_its_size() {
        let teams = Teams::new(Secret::new("https://x.environment.api.powerplatform.com/p"));
        let small = Content::Payload(json!({"type": "message", "text": "x".repeat(1000)}));
        assert!(teams.build(&small).is_ok());
        let large = Content::Payload(json!({"type": "message", "text": "x".repeat(40_000)}));
        let Err(BuildError::Config(reason)) = teams.build(&large) else {
            panic!("a 40 KB payload was built");
        };
        assert!(reason.starts_with("the raw payload is 40"), "{reason}");
    }
}

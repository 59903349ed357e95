//! The Slack preview's tests: every block, every mrkdwn construct, hostile input, the relay's
//! own bodies, and properties over generated text.

use super::*;
use proptest::prelude::*;
use serde_json::json;

/// The tags the renderer writes; any other `<` in its output would be a defect.
const TAGS: [&str; 15] = [
    "div",
    "span",
    "b",
    "i",
    "s",
    "code",
    "pre",
    "blockquote",
    "a",
    "br",
    "hr",
    "ul",
    "ol",
    "li",
    "/",
];

/// The attributes the renderer writes.
const ATTRIBUTES: [&str; 4] = ["class", "href", "rel", "target"];

/// The HTML for one section whose text is this mrkdwn.
fn section(text: &str) -> String {
    render(&json!({"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}))
}

/// The HTML for one block.
fn one_block(block: Value) -> String {
    render(&json!({ "blocks": [block] }))
}

/// Every tag in `html`: its name (with `/` for a closing tag) and attributes. Panics if
/// a `<` does not start a well-formed tag of [`TAGS`], or if a `>` stands outside a tag.
fn tags(html: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find(['<', '>']) {
        assert_eq!(&rest[start..=start], "<", "a bare `>` in {html}");
        let end = rest[start..].find('>').map(|e| start + e);
        let end = end.unwrap_or_else(|| panic!("an unclosed `<` in {html}"));
        let inside = &rest[start + 1..end];
        assert!(!inside.contains('<'), "`<` inside a tag in {html}");
        out.push(parse_tag(inside, html));
        rest = &rest[end + 1..];
    }
    out
}

/// One tag's name and `name="value"` attributes (values without `"`).
fn parse_tag(inside: &str, html: &str) -> (String, Vec<(String, String)>) {
    assert!(
        !inside.to_ascii_lowercase().contains(" on"),
        "an event attribute in <{inside}> in {html}"
    );
    let (name, mut attrs) = inside.split_once(' ').unwrap_or((inside, ""));
    let bare = name.trim_start_matches('/');
    assert!(
        TAGS.contains(&bare) && (bare == name || !name[1..].contains('/')),
        "unexpected tag <{inside}> in {html}"
    );
    let mut out = Vec::new();
    while !attrs.is_empty() {
        let (key, after) = attrs
            .split_once("=\"")
            .unwrap_or_else(|| panic!("attribute in <{inside}>"));
        let (value, after) = after
            .split_once('"')
            .unwrap_or_else(|| panic!("value in <{inside}>"));
        out.push((key.to_string(), value.to_string()));
        attrs = after.strip_prefix(' ').unwrap_or(after);
    }
    (name.to_string(), out)
}

/// Panics unless `html` is made only of the renderer's own tags and attributes: classes
/// of this file, and links to http(s) or mailto only.
fn assert_safe(html: &str) {
    assert!(!html.to_ascii_lowercase().contains("<script"), "{html}");
    assert!(!html.contains("style="), "{html}");
    for (_, attrs) in tags(html) {
        for (key, value) in attrs {
            assert!(
                ATTRIBUTES.contains(&key.as_str()),
                "attribute {key} in {html}"
            );
            match key.as_str() {
                "class" => assert!(
                    value.split(' ').all(|c| c.starts_with("slack-")
                        && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')),
                    "class {value} in {html}"
                ),
                "href" => {
                    let v = value.to_ascii_lowercase();
                    assert!(
                        v.starts_with("https://")
                            || v.starts_with("http://")
                            || v.starts_with("mailto:"),
                        "href {value} in {html}"
                    );
                }
                "rel" => assert_eq!(value, "noopener noreferrer"),
                _ => assert_eq!(value, "_blank"),
            }
        }
    }
}

fn fixture(text: &str) -> Value {
    // The fixtures are files of this repository, checked to be JSON by this very test.
    serde_json::from_str(text).expect("fixture is JSON")
}

#[test]
#[should_panic(expected = "unexpected tag")]
fn the_safety_check_catches_a_foreign_tag() {
    assert_safe("<div class=\"slack-x\"><img src=x></div>");
}

#[test]
#[should_panic(expected = "an event attribute")]
fn the_safety_check_catches_an_event_attribute() {
    assert_safe("<span onclick=\"x\">y</span>");
}

#[test]
#[should_panic(expected = "attribute title")]
fn the_safety_check_catches_a_foreign_attribute() {
    assert_safe("<span class=\"slack-x\" title=\"x\">y</span>");
}

#[test]
#[should_panic(expected = "href javascript")]
fn the_safety_check_catches_a_script_link() {
    assert_safe("<a href=\"javascript:x\">y</a>");
}

#[test]
#[should_panic(expected = "a bare `>`")]
fn the_safety_check_catches_an_unescaped_text_character() {
    assert_safe("<b>1 > 0</b>");
}

// --- Blocks -----------------------------------------------------------------------------

#[test]
fn a_header_is_plain_text_escaped() {
    let html = one_block(
        json!({"type": "header", "text": {"type": "plain_text", "text": "Fridge <3> & \"co\" 'x' &amp;"}}),
    );
    assert!(html.contains(
        "<div class=\"slack-block slack-header\">Fridge &lt;3&gt; &amp; &quot;co&quot; &#39;x&#39; &amp;amp;</div>"
    ), "{html}");
}

#[test]
fn a_section_has_its_text_its_fields_and_an_inert_accessory() {
    let html = one_block(json!({
        "type": "section",
        "text": {"type": "mrkdwn", "text": "Score *62 %*"},
        "fields": [
            {"type": "mrkdwn", "text": "*Where*\nKitchen"},
            {"type": "plain_text", "text": "*Not bold*"}
        ],
        "accessory": {"type": "button", "text": {"type": "plain_text", "text": "Details"}, "value": "x"}
    }));
    assert!(
        html.contains("<div class=\"slack-section-text\">Score <b>62 %</b></div>"),
        "{html}"
    );
    assert!(
        html.contains(
            "<div class=\"slack-fields\"><div class=\"slack-field\"><b>Where</b><br>Kitchen</div>\
         <div class=\"slack-field\">*Not bold*</div></div>"
        ),
        "{html}"
    );
    assert!(
        html.contains(
            "<div class=\"slack-accessory\"><span class=\"slack-button\">Details</span></div>"
        ),
        "{html}"
    );
}

#[test]
fn an_image_accessory_is_its_alt_text_never_the_image() {
    let html = one_block(json!({
        "type": "section",
        "text": {"type": "plain_text", "text": "t"},
        "accessory": {"type": "image", "image_url": "https://tracker.example/p.png", "alt_text": "Store front"}
    }));
    assert!(
        html.contains("<span class=\"slack-image-element\">Store front</span>"),
        "{html}"
    );
    assert!(
        !html.contains("tracker.example") && !html.contains("<img"),
        "{html}"
    );
}

#[test]
fn a_context_shows_its_texts_and_image_alts() {
    let html = one_block(json!({"type": "context", "elements": [
        {"type": "mrkdwn", "text": "_by_ Jo"},
        {"type": "plain_text", "text": "v1 & v2"},
        {"type": "image", "image_url": "https://x.example/i.png", "alt_text": "logo"}
    ]}));
    assert_eq!(
        html,
        "<div class=\"slack-message\"><div class=\"slack-blocks\"><div class=\"slack-block slack-context\">\
         <span class=\"slack-context-text\"><i>by</i> Jo</span>\
         <span class=\"slack-context-text\">v1 &amp; v2</span>\
         <span class=\"slack-image-element\">logo</span></div></div></div>"
    );
}

#[test]
fn a_divider_is_a_rule() {
    assert!(
        one_block(json!({"type": "divider"})).contains("<hr class=\"slack-block slack-divider\">")
    );
}

#[test]
fn an_image_block_is_a_placeholder_with_title_and_alt_text() {
    let html = one_block(json!({
        "type": "image",
        "image_url": "https://tracker.example/pixel.png",
        "alt_text": "Freezer display at -12 °C",
        "title": {"type": "plain_text", "text": "Photo 1"}
    }));
    assert!(
        html.contains(
            "<div class=\"slack-block slack-image\"><div class=\"slack-image-title\">Photo 1</div>\
         <div class=\"slack-image-placeholder\">Freezer display at -12 °C</div></div>"
        ),
        "{html}"
    );
    assert!(
        !html.contains("tracker.example") && !html.contains("<img"),
        "{html}"
    );
    let untitled = one_block(json!({"type": "image", "image_url": "https://x.example/p.png"}));
    assert!(
        untitled.contains("<div class=\"slack-image-placeholder\">Image</div>"),
        "{untitled}"
    );
}

#[test]
fn buttons_are_spans_and_link_only_to_web_urls() {
    let html = one_block(json!({"type": "actions", "elements": [
        {"type": "button", "text": {"type": "plain_text", "text": "Open"}, "url": "https://x.example/a?b=1&c=2", "style": "primary"},
        {"type": "button", "text": {"type": "plain_text", "text": "Run"}, "url": "javascript:alert(1)", "style": "danger"},
        {"type": "button", "text": {"type": "plain_text", "text": "Ack"}, "style": "fancy"},
        {"type": "static_select", "placeholder": {"type": "plain_text", "text": "Pick"}}
    ]}));
    assert!(html.contains(
        "<span class=\"slack-button slack-button-primary\"><a href=\"https://x.example/a?b=1&amp;c=2\" \
         rel=\"noopener noreferrer\" target=\"_blank\">Open</a></span>"
    ), "{html}");
    assert!(
        html.contains("<span class=\"slack-button slack-button-danger\">Run</span>"),
        "{html}"
    );
    assert!(
        html.contains("<span class=\"slack-button\">Ack</span>"),
        "{html}"
    );
    assert!(
        html.contains(
            "<span class=\"slack-unsupported\">[static_select element not previewed]</span>"
        ),
        "{html}"
    );
    assert!(!html.contains("javascript"), "{html}");
}

#[test]
fn rich_text_shows_sections_lists_quotes_and_code_with_their_styles() {
    let html = one_block(json!({"type": "rich_text", "elements": [
        {"type": "rich_text_section", "elements": [
            {"type": "text", "text": "Hi "},
            {"type": "text", "text": "all", "style": {"bold": true, "italic": true}},
            {"type": "user", "user_id": "U1"},
            {"type": "broadcast", "range": "here"},
            {"type": "emoji", "name": "snowflake", "unicode": "2744-fe0f"},
            {"type": "emoji", "name": "custom"},
            {"type": "link", "url": "https://x.example", "text": "site"},
            {"type": "link", "url": "javascript:alert(1)", "text": "bad"}
        ]},
        {"type": "rich_text_list", "style": "ordered", "indent": 1, "elements": [
            {"type": "rich_text_section", "elements": [{"type": "text", "text": "one"}]}
        ]},
        {"type": "rich_text_quote", "elements": [{"type": "text", "text": "q <x>"}]},
        {"type": "rich_text_preformatted", "elements": [{"type": "text", "text": "a\nb", "style": {"code": true}}]}
    ]}));
    assert!(html.contains(
        "<div class=\"slack-rich-section\">Hi <b><i>all</i></b><span class=\"slack-mention\">@U1</span>\
         <span class=\"slack-mention slack-broadcast\">@here</span>\u{2744}\u{fe0f}:custom:\
         <a href=\"https://x.example\" rel=\"noopener noreferrer\" target=\"_blank\">site</a>\
         <span class=\"slack-link-inert\">bad</span></div>"
    ), "{html}");
    assert!(
        html.contains("<ol class=\"slack-rich-list slack-rich-indent-1\"><li>one</li></ol>"),
        "{html}"
    );
    assert!(
        html.contains("<blockquote class=\"slack-quote\">q &lt;x&gt;</blockquote>"),
        "{html}"
    );
    assert!(
        html.contains("<pre class=\"slack-pre\"><code class=\"slack-code\">a<br>b</code></pre>"),
        "{html}"
    );
    assert_safe(&html);
}

#[test]
fn an_unknown_block_is_named_not_drawn() {
    let html = one_block(json!({"type": "video", "video_url": "https://x.example/v"}));
    assert!(
        html.contains(
            "<div class=\"slack-block slack-unsupported\">[video block not previewed]</div>"
        ),
        "{html}"
    );
    let untyped = one_block(json!({"text": "x"}));
    assert!(
        untyped.contains("[untyped block not previewed]"),
        "{untyped}"
    );
}

// --- The message around the blocks ------------------------------------------------------

#[test]
fn the_top_level_text_is_the_notification_line() {
    let html = render(&json!({"text": "Audit &amp; *more*", "blocks": [{"type": "divider"}]}));
    assert!(html.ends_with(
        "<div class=\"slack-notification\"><span class=\"slack-notification-label\">Notification text:</span> \
         <span class=\"slack-notification-text\">Audit &amp; <b>more</b></span></div></div>"
    ), "{html}");
    // With blocks, the text is not shown as the message too.
    assert!(!html.contains("slack-text"), "{html}");
}

#[test]
fn without_blocks_the_text_is_the_message() {
    let html = render(&json!({"text": "Hello _there_"}));
    assert!(
        html.starts_with(
            "<div class=\"slack-message\"><div class=\"slack-text\">Hello <i>there</i></div>"
        ),
        "{html}"
    );
    let plain = render(&json!({"text": "Hello _there_", "mrkdwn": false}));
    assert!(
        plain.contains("<div class=\"slack-text\">Hello _there_</div>"),
        "{plain}"
    );
}

#[test]
fn an_empty_body_or_one_that_is_not_an_object_says_so() {
    assert!(render(&json!({})).contains("[empty message: no text, blocks or attachments]"));
    assert!(render(&json!([1])).contains("[not a Slack message body: not a JSON object]"));
}

#[test]
fn attachment_colours_are_classes() {
    let cases = [
        ("good", "slack-color-good"),
        ("WARNING", "slack-color-warning"),
        ("danger", "slack-color-danger"),
        ("#439fe0", "slack-color-439fe0"),
        ("#439FE0", "slack-color-439fe0"),
        ("#9e9e9e", "slack-color-9e9e9e"),
        ("#dc3545", "slack-color-custom"),
        ("red", "slack-color-none"),
        ("#12345", "slack-color-none"),
        ("red;background:url(x)", "slack-color-none"),
        ("#fff;background:url(x)", "slack-color-none"),
    ];
    for (color, class) in cases {
        let html = render(&json!({"attachments": [{"color": color, "text": "x"}]}));
        assert!(
            html.contains(&format!("<div class=\"slack-attachment {class}\">")),
            "{color}: {html}"
        );
        assert!(
            !html.contains("background") && !html.contains("style"),
            "{color}: {html}"
        );
    }
    let no_color = render(&json!({"attachments": [{"color": 3, "text": "x"}]}));
    assert!(no_color.contains("slack-color-none"), "{no_color}");
}

#[test]
fn a_legacy_attachment_shows_its_parts_and_its_fallback_only_when_alone() {
    let html = render(&json!({"attachments": [{
        "pretext": "Heads *up*",
        "author_name": "MonitorQA",
        "title": "Audit <1>",
        "title_link": "https://x.example/a",
        "text": "Score &lt; 50",
        "fields": [{"title": "Where", "value": "Kitchen", "short": true}, {"title": "N", "value": 3}],
        "image_url": "https://tracker.example/p.png",
        "footer": "Northwind",
        "fallback": "not shown"
    }, {"fallback": "Only the fallback"}]}));
    assert!(
        html.contains("<div class=\"slack-attachment-pretext\">Heads <b>up</b></div>"),
        "{html}"
    );
    assert!(
        html.contains("<div class=\"slack-attachment-author\">MonitorQA</div>"),
        "{html}"
    );
    assert!(html.contains(
        "<div class=\"slack-attachment-title\"><a href=\"https://x.example/a\" rel=\"noopener noreferrer\" \
         target=\"_blank\">Audit &lt;1&gt;</a></div>"
    ), "{html}");
    assert!(
        html.contains("<div class=\"slack-attachment-text\">Score &lt; 50</div>"),
        "{html}"
    );
    assert!(
        html.contains(
            "<div class=\"slack-attachment-field slack-attachment-field-short\">\
         <div class=\"slack-attachment-field-title\">Where</div>\
         <div class=\"slack-attachment-field-value\">Kitchen</div></div>"
        ),
        "{html}"
    );
    assert!(
        html.contains("<div class=\"slack-attachment-field-value\">3</div>"),
        "{html}"
    );
    assert!(
        html.contains("<div class=\"slack-image-placeholder\">Image</div>"),
        "{html}"
    );
    assert!(
        html.contains("<div class=\"slack-attachment-footer\">Northwind</div>"),
        "{html}"
    );
    assert!(
        !html.contains("not shown") && !html.contains("tracker.example"),
        "{html}"
    );
    assert!(html.contains(
        "<div class=\"slack-attachment slack-color-none\"><div class=\"slack-attachment-fallback\">Only the fallback</div></div>"
    ), "{html}");
}

// --- mrkdwn -----------------------------------------------------------------------------

#[test]
fn mrkdwn_bold_italic_strike_and_code() {
    assert_eq!(
        mrkdwn::to_html("*b* _i_ ~s~ `c`"),
        "<b>b</b> <i>i</i> <s>s</s> <code class=\"slack-code\">c</code>"
    );
    assert_eq!(mrkdwn::to_html("*_both_*"), "<b><i>both</i></b>");
    assert_eq!(
        mrkdwn::to_html("(*x*), \"_y_\"."),
        "(<b>x</b>), &quot;<i>y</i>&quot;."
    );
    assert_eq!(
        mrkdwn::to_html("`*not* _formatted_`"),
        "<code class=\"slack-code\">*not* _formatted_</code>"
    );
    assert_eq!(mrkdwn::to_html("*a* and *b*"), "<b>a</b> and <b>b</b>");
}

#[test]
fn mrkdwn_marks_need_word_boundaries() {
    for literal in [
        "a*b*c",
        "fridge_3_log",
        "jo_doe@x.example",
        "* not bold*",
        "*not bold *",
        "2*3*4",
        "**",
        "*",
        "*spans\nlines*",
    ] {
        assert_eq!(
            mrkdwn::to_html(literal),
            escape(literal).replace('\n', "<br>"),
            "{literal:?}"
        );
    }
    // The word joiners the relay's escaping puts around marks in event values.
    let escaped = "\u{2060}*\u{2060}bold\u{2060}*\u{2060} \u{2060}`\u{2060}x\u{2060}`\u{2060}";
    assert_eq!(mrkdwn::to_html(escaped), escaped);
    // A mark does not nest in itself; the first closer ends the span.
    assert_eq!(mrkdwn::to_html("*a *b* c*"), "<b>a *b</b> c*");
}

#[test]
fn mrkdwn_code_blocks_keep_their_text() {
    assert_eq!(
        mrkdwn::to_html("Log:\n```\nline *1*\n&lt;b&gt; &amp; <@U1>\n```\nafter"),
        "Log:<pre class=\"slack-pre\">line *1*\n&lt;b&gt; &amp; &lt;@U1&gt;</pre>after"
    );
    assert_eq!(
        mrkdwn::to_html("a ```x``` b"),
        "a <pre class=\"slack-pre\">x</pre> b"
    );
    assert_eq!(mrkdwn::to_html("```open only"), "```open only");
}

#[test]
fn mrkdwn_links_to_web_and_mail_only() {
    assert_eq!(
        mrkdwn::to_html("<https://x.example/a?b=1&amp;c=2|Open *now*>"),
        "<a href=\"https://x.example/a?b=1&amp;c=2\" rel=\"noopener noreferrer\" target=\"_blank\">Open <b>now</b></a>"
    );
    assert_eq!(
        mrkdwn::to_html("<http://x.example>"),
        "<a href=\"http://x.example\" rel=\"noopener noreferrer\" target=\"_blank\">http://x.example</a>"
    );
    assert_eq!(
        mrkdwn::to_html("<mailto:qa@x.example|mail> <mailto:qa@x.example>"),
        "<a href=\"mailto:qa@x.example\" rel=\"noopener noreferrer\" target=\"_blank\">mail</a> \
         <a href=\"mailto:qa@x.example\" rel=\"noopener noreferrer\" target=\"_blank\">qa@x.example</a>"
    );
    assert_eq!(
        mrkdwn::to_html("<ftp://x.example/f|file>"),
        "<span class=\"slack-link-inert\">file</span>"
    );
    assert_eq!(mrkdwn::to_html("<not a link>"), "&lt;not a link&gt;");
    assert_eq!(mrkdwn::to_html("a < b > c"), "a &lt; b &gt; c");
    assert_eq!(
        mrkdwn::to_html("*see <https://x.example|this>*"),
        "<b>see <a href=\"https://x.example\" rel=\"noopener noreferrer\" target=\"_blank\">this</a></b>"
    );
}

#[test]
fn mrkdwn_mentions_are_inert_badges() {
    assert_eq!(
        mrkdwn::to_html("<!here> <!channel> <!everyone>"),
        "<span class=\"slack-mention slack-broadcast\">@here</span> \
         <span class=\"slack-mention slack-broadcast\">@channel</span> \
         <span class=\"slack-mention slack-broadcast\">@everyone</span>"
    );
    assert_eq!(
        mrkdwn::to_html("<@U123> <@U123|jo> <#C123> <#C123|general> <!subteam^S1|@qa>"),
        "<span class=\"slack-mention\">@U123</span> <span class=\"slack-mention\">@jo</span> \
         <span class=\"slack-mention slack-channel\">#C123</span> \
         <span class=\"slack-mention slack-channel\">#general</span> <span class=\"slack-mention\">@qa</span>"
    );
    assert_eq!(
        mrkdwn::to_html("<!date^1392734382^{date}|Feb 18, 2014>"),
        "Feb 18, 2014"
    );
    assert_eq!(mrkdwn::to_html("<!nope>"), "&lt;!nope&gt;");
}

#[test]
fn mrkdwn_escaped_control_characters_stay_text() {
    // What the relay sends for an event value `<!channel> & <https://evil.example|x>`.
    let html = mrkdwn::to_html("&lt;!channel&gt; &amp; &lt;https://evil.example|x&gt;");
    assert_eq!(
        html,
        "&lt;!channel&gt; &amp; &lt;https://evil.example|x&gt;"
    );
    // Decoded once only: `&amp;lt;` is the text `&lt;`.
    assert_eq!(
        mrkdwn::to_html("Fish &amp;lt; meat &copy;"),
        "Fish &amp;lt; meat &amp;copy;"
    );
    assert_eq!(mrkdwn::to_html("it's \"x\""), "it&#39;s &quot;x&quot;");
}

#[test]
fn mrkdwn_quotes_and_newlines() {
    assert_eq!(
        mrkdwn::to_html("> quoted\n>two\nplain\nnext"),
        "<blockquote class=\"slack-quote\">quoted<br>two</blockquote>plain<br>next"
    );
    assert_eq!(
        mrkdwn::to_html("intro\n>>> all\nof this"),
        "intro<blockquote class=\"slack-quote\">all<br>of this</blockquote>"
    );
    // An escaped `>` is text, as in Slack.
    assert_eq!(mrkdwn::to_html("&gt; not quoted"), "&gt; not quoted");
}

// --- Hostile input ----------------------------------------------------------------------

#[test]
fn script_tags_come_out_as_text() {
    // As the relay escapes a value, and as a raw template could write it.
    for text in [
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "<script>alert(1)</script>",
    ] {
        let html = section(text);
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert_safe(&html);
    }
    let plain = one_block(
        json!({"type": "header", "text": {"type": "plain_text", "text": "<script>alert(1)</script>"}}),
    );
    assert!(
        plain.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{plain}"
    );
    assert_safe(&plain);
}

#[test]
fn attribute_breaking_input_comes_out_as_text() {
    let payload = "\"><img src=x onerror=alert(1)>";
    let html = section(payload);
    assert!(
        html.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"),
        "{html}"
    );
    assert_safe(&html);
    let header =
        one_block(json!({"type": "header", "text": {"type": "plain_text", "text": payload}}));
    assert!(
        header.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"),
        "{header}"
    );
    assert_safe(&header);
    let alt = one_block(json!({"type": "image", "image_url": "x", "alt_text": payload}));
    assert_safe(&alt);
    // A quote in a URL stays inside the href.
    let quoted = section("<https://x.example/\"onmouseover=\"alert(1)|x>");
    assert!(
        quoted.contains("href=\"https://x.example/&quot;onmouseover=&quot;alert(1)\""),
        "{quoted}"
    );
    assert_safe(&quoted);
    let button = one_block(json!({"type": "actions", "elements": [{"type": "button",
        "text": {"type": "plain_text", "text": payload}, "url": "https://x.example/\"><img src=x onerror=alert(1)>"}]}));
    assert!(
        !button.contains("<a "),
        "a URL with spaces is no link: {button}"
    );
    assert_safe(&button);
}

#[test]
fn javascript_links_are_never_links() {
    for text in [
        "<javascript:alert(1)|click>",
        "<JavaScript:alert(1)|click>",
        "<javascript:alert(1)>",
        "<java\tscript:alert(1)|click>",
        "<data:text/html,x|click>",
        "< javascript:alert(1)|click>",
    ] {
        let html = section(text);
        assert!(!html.contains("<a "), "{text:?}: {html}");
        assert_safe(&html);
    }
    assert!(
        section("<javascript:alert(1)|click>")
            .contains("<span class=\"slack-link-inert\">click</span>")
    );
    for url in [
        "javascript:alert(1)",
        " https://x.example",
        "JAVASCRIPT:x",
        "vbscript:x",
        "https:x",
    ] {
        let html = one_block(json!({"type": "actions", "elements": [{"type": "button",
            "text": {"type": "plain_text", "text": "Go"}, "url": url}]}));
        assert!(
            html.contains("<span class=\"slack-button\">Go</span>"),
            "{url}: {html}"
        );
    }
}

#[test]
fn hostile_type_names_and_colours_are_escaped_or_dropped() {
    let html = one_block(json!({"type": "<script>x</script>"}));
    assert!(
        html.contains("[&lt;script&gt;x&lt;/script&gt; block not previewed]"),
        "{html}"
    );
    assert_safe(&html);
    let html = render(
        &json!({"attachments": [{"color": "red;background:url(x)", "blocks": [
            {"type": "context", "elements": [{"type": "\" onclick=\"x"}]}
        ]}]}),
    );
    assert!(
        html.contains("slack-color-none") && !html.contains("url(x)"),
        "{html}"
    );
    assert_safe(&html);
}

// --- The relay's own bodies -------------------------------------------------------------

#[test]
fn the_audit_completed_body_shows_its_header_fields_and_button() {
    let body = fixture(include_str!(
        "../../../tests/fixtures/slack/audit_completed.slack.json"
    ));
    let html = render(&body);
    assert!(html.contains(
        "<div class=\"slack-block slack-header\">Audit failed: Food Safety Daily Check — Northwind Foods</div>"
    ), "{html}");
    assert!(
        html.contains("<div class=\"slack-field\"><b>Score</b><br>62 (Needs improvement)</div>"),
        "{html}"
    );
    assert!(
        html.contains(
            "<div class=\"slack-field\"><b>Where</b><br>Kitchen — Store #12 Riverside</div>"
        ),
        "{html}"
    );
    assert!(html.contains(
        "<span class=\"slack-button\"><a href=\"https://app.monitorqa.com/audits/archive/b4d2f8e3-5c6a-4f9b-8d1e-2a3b4c5d6e7f\" \
         rel=\"noopener noreferrer\" target=\"_blank\">Open report</a></span>"
    ), "{html}");
    assert!(html.contains(
        "<span class=\"slack-notification-text\">Audit failed (62 %): Food Safety Daily Check at Kitchen — Store #12 Riverside</span>"
    ), "{html}");
    assert_eq!(html.matches("<div class=\"slack-field\">").count(), 6);
    assert_safe(&html);
}

#[test]
fn the_corrective_action_rejected_body_shows_its_text_fields_and_button() {
    let body = fixture(include_str!(
        "../../../tests/fixtures/slack/corrective_action_rejected.slack.json"
    ));
    let html = render(&body);
    assert!(html.contains("<div class=\"slack-block slack-header\">Corrective action rejected: Repair walk-in freezer</div>"), "{html}");
    assert!(html.contains(
        "<div class=\"slack-section-text\">The submitted fix was rejected. Tomás Ortega must act again by \
         Sun 22 Nov 2026, 23:59 WET.<br>Submitted: Moved stock only; freezer still at -12 °C</div>"
    ), "{html}");
    assert!(html.contains("<div class=\"slack-field\"><b>Failed answer</b><br>Walk-in freezer at -9 °C, limit is -18 °C</div>"), "{html}");
    assert!(html.contains(
        "<a href=\"https://app.monitorqa.com/actions/pending/7b8c9d0e-8888-4bbb-9ccc-7d8e9fa0b1c2\" \
         rel=\"noopener noreferrer\" target=\"_blank\">Open corrective action</a>"
    ), "{html}");
    assert_safe(&html);
}

#[test]
fn the_template_deleted_body_has_no_button() {
    let body = fixture(include_str!(
        "../../../tests/fixtures/slack/template_deleted.slack.json"
    ));
    let html = render(&body);
    assert!(html.contains("<div class=\"slack-block slack-header\">Audit template deleted: Food Safety Daily Check</div>"), "{html}");
    assert!(html.contains("<div class=\"slack-field\"><b>Template ID</b><br>2c3d4e5f-3333-4ccc-8ddd-2e3f4a5b6c7d</div>"), "{html}");
    assert!(
        !html.contains("slack-actions") && !html.contains("<a "),
        "{html}"
    );
    assert_safe(&html);
}

#[test]
fn the_attachment_example_shows_its_bar_entities_code_and_context_link() {
    let body = fixture(include_str!(
        "../../../tests/fixtures/slack/attachments_example.slack.json"
    ));
    let html = render(&body);
    assert!(
        html.contains(
            "<div class=\"slack-attachment slack-color-danger\"><div class=\"slack-blocks\">"
        ),
        "{html}"
    );
    assert!(html.contains(
        "freezer still at <code class=\"slack-code\">-12 °C</code> &gt; limit <code class=\"slack-code\">-18 °C</code>.<br>\
         <b>Question 4:</b> <i>Is the walk-in freezer at or below -18 °C?</i>"
    ), "{html}");
    assert!(
        html.contains("<div class=\"slack-field\"><b>Tags</b><br>Cold chain &amp; storage</div>"),
        "{html}"
    );
    assert!(html.contains(
        "<span class=\"slack-context-text\">Northwind Foods · <a href=\"https://app.monitorqa.com/corrective-actions/7b8c9d0e-8888-4bbb-9ccc-7d8e9fa0b1c2\" \
         rel=\"noopener noreferrer\" target=\"_blank\">CA-2026-0147</a> · CORRECTIVE_ACTION_REJECTED</span>"
    ), "{html}");
    assert!(
        html.contains("<span class=\"slack-button slack-button-danger\">"),
        "{html}"
    );
    assert_safe(&html);
}

// --- Properties -------------------------------------------------------------------------

/// Strings rich in mrkdwn's and HTML's special characters.
fn markup_soup() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("<".to_string()),
            Just(">".to_string()),
            Just("&".to_string()),
            Just("&amp;".to_string()),
            Just("&lt;".to_string()),
            Just("&gt;".to_string()),
            Just("|".to_string()),
            Just("*".to_string()),
            Just("_".to_string()),
            Just("~".to_string()),
            Just("`".to_string()),
            Just("```".to_string()),
            Just("\n".to_string()),
            Just(" ".to_string()),
            Just("\"".to_string()),
            Just("'".to_string()),
            Just("!here".to_string()),
            Just("@U1".to_string()),
            Just("#C1".to_string()),
            Just("https://x.example".to_string()),
            Just("javascript:".to_string()),
            Just("mailto:".to_string()),
            Just(" onerror=".to_string()),
            Just("script".to_string()),
            Just("\u{2060}".to_string()),
            "[a-z0-9]{1,3}",
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn any_section_text_renders_only_the_renderers_own_tags(text in any::<String>()) {
        assert_safe(&section(&text));
    }

    #[test]
    fn any_markup_soup_renders_only_the_renderers_own_tags(text in markup_soup()) {
        assert_safe(&section(&text));
    }

    #[test]
    fn any_link_button_colour_or_type_stays_inert(
        url in markup_soup(), color in markup_soup(), kind in markup_soup(), label in markup_soup()
    ) {
        let html = render(&json!({
            "text": label,
            "blocks": [
                {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": label}, "url": url}]},
                {"type": kind, "text": {"type": "mrkdwn", "text": label}},
                {"type": "image", "image_url": url, "alt_text": label},
            ],
            "attachments": [{"color": color, "title": label, "title_link": url, "fields": [{"title": label, "value": label}]}]
        }));
        assert_safe(&html);
    }
}

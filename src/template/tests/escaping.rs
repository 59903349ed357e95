use super::*;
use crate::template::escape;

const HOSTILE: [&str; 10] = [
    "Say \"hi\"",
    "<!channel> look",
    "<script>alert(1)</script>",
    "Foods &amp; Co",
    "[x](http://evil)",
    "line one\nline two",
    "Cold chain ❄️ 🍕",
    "*bold* _it_ ~gone~ `code`",
    "{{data.secret}} and {{{raw}}}",
    "# Heading\n- item\n1. first\n> quote",
];

fn unescape_slack(s: &str) -> String {
    s.replace('\u{2060}', "")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn unescape_html(s: &str) -> String {
    s.replace("<br>", "\n")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// What a CommonMark renderer shows for our Teams output: backslash escapes removed, a
/// paragraph break read back as one newline.
fn unescape_teams(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s
        .replace("\n\n", "\n")
        .chars()
        .collect::<Vec<_>>()
        .into_iter()
        .peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek().is_some_and(|n| n.is_ascii_punctuation()) {
            out.extend(chars.next());
        } else {
            out.push(c);
        }
    }
    out
}

fn render_company(markup: Markup, name: &str) -> String {
    render_title("{{company.name}}", markup, &hostile_company(name)).unwrap()
}

#[test]
fn plain_text_keeps_every_value_exactly() {
    for value in HOSTILE {
        assert_eq!(render_company(Markup::Plain, value), value.trim());
    }
}

#[test]
fn slack_escapes_exactly_ampersand_and_angle_brackets() {
    assert_eq!(
        render_company(Markup::Slack, "<!channel> & <@U123>"),
        "&lt;!channel&gt; &amp; &lt;@U123&gt;"
    );
    for value in HOSTILE {
        let out = render_company(Markup::Slack, value);
        assert!(!out.contains('<') && !out.contains('>'), "{out}");
        assert_eq!(unescape_slack(&out), value, "{out}");
    }
    assert_eq!(
        render_company(Markup::Slack, "Foods &amp; Co"),
        "Foods &amp;amp; Co"
    );
}

#[test]
fn slack_values_cannot_bold_italicise_strike_or_quote_code() {
    // A word joiner (U+2060, invisible, not a space) on each side of a formatting character
    // at a word boundary: Slack formats `*x*` only when the `*` touches a boundary.
    let wj = '\u{2060}';
    assert_eq!(
        render_company(Markup::Slack, "*bold* _it_ ~gone~ `code`"),
        format!(
            "{wj}*{wj}bold{wj}*{wj} {wj}_{wj}it{wj}_{wj} {wj}~{wj}gone{wj}~{wj} {wj}`{wj}code{wj}`{wj}"
        )
    );
    // Inside a word nothing can format: identifiers and addresses stay as they are.
    assert_eq!(
        render_company(Markup::Slack, "fridge_3_log a*b jo_doe@x.example"),
        "fridge_3_log a*b jo_doe@x.example"
    );
    assert_eq!(render_company(Markup::Slack, "\"q\""), "\"q\"");
}

#[test]
fn teams_neutralises_markdown_links_and_tags() {
    assert_eq!(
        render_company(Markup::Teams, "[x](http://evil)"),
        r"\[x\](http://evil)"
    );
    assert_eq!(
        render_company(Markup::Teams, "<script>alert(1)</script>"),
        r"\<script>alert(1)\</script>"
    );
    assert_eq!(
        render_company(Markup::Teams, "*bold* _it_"),
        r"\*bold\* \_it\_"
    );
    assert_eq!(
        render_company(Markup::Teams, "Foods &amp; Co"),
        r"Foods \&amp; Co"
    );
    assert_eq!(
        render_company(Markup::Teams, "Fish & chips, 5 < 7"),
        "Fish & chips, 5 < 7"
    );
    assert_eq!(
        render_company(Markup::Teams, "Store #12 -9 °C"),
        "Store #12 -9 °C"
    );
    assert_eq!(
        render_company(Markup::Teams, "# H\n- item\n12. first\n> q"),
        "\\# H\n\n\\- item\n\n12\\. first\n\n\\> q"
    );
    assert_eq!(
        render_company(Markup::Teams, "{{DATE(x)}}"),
        r"\{{DATE(x)}}"
    );
    for value in HOSTILE {
        let out = render_company(Markup::Teams, value);
        assert_eq!(unescape_teams(&out), value, "{out}");
    }
}

#[test]
fn html_escapes_markup_and_quotes_and_breaks_lines() {
    assert_eq!(
        render_company(Markup::Html, "<script>alert(1)</script>"),
        "&lt;script&gt;alert(1)&lt;/script&gt;"
    );
    assert_eq!(
        render_company(Markup::Html, "Say \"hi\" 'x' &amp;"),
        "Say &quot;hi&quot; &#39;x&#39; &amp;amp;"
    );
    for value in HOSTILE {
        let out = render_company(Markup::Html, value);
        assert!(
            !out.contains('<') || out.replace("<br>", "").find('<').is_none(),
            "{out}"
        );
        assert_eq!(unescape_html(&out), value, "{out}");
    }
}

#[test]
fn newlines_in_values_read_as_line_breaks_in_every_markup() {
    let value = "line one\nline two";
    assert_eq!(render_company(Markup::Plain, value), "line one\nline two");
    assert_eq!(render_company(Markup::Slack, value), "line one\nline two");
    assert_eq!(render_company(Markup::Teams, value), "line one\n\nline two");
    assert_eq!(render_company(Markup::Html, value), "line one<br>line two");
}

#[test]
fn handlebars_syntax_in_a_value_is_not_evaluated() {
    let ctx =
        json!({"event": "X", "data": {"secret": "s3"}, "company": {"name": "{{data.secret}}"}});
    let out = render_title("{{company.name}}", Markup::Plain, &ctx).unwrap();
    assert_eq!(out, "{{data.secret}}");
}

#[test]
fn the_templates_own_markup_is_kept_while_values_are_escaped() {
    let ctx = hostile_company("<!channel>");
    let out = render_title("*Alert* <!here> for {{company.name}}", Markup::Slack, &ctx).unwrap();
    assert_eq!(out, "*Alert* <!here> for &lt;!channel&gt;");
    let out = render_title("**Alert** for {{company.name}}", Markup::Teams, &ctx).unwrap();
    assert_eq!(out, r"**Alert** for \<!channel>");
}

#[test]
fn helper_output_is_escaped_like_a_value() {
    let name = "<script>x</script> [a](b) *c*";
    let ctx = json!({
        "event": "X",
        "company": {"name": name},
        "data": {"users": [{"name": name}], "obj": {"k": name}},
    });
    let expressions = [
        "{{upper company.name}}",
        "{{lower company.name}}",
        "{{default data.missing company.name}}",
        "{{truncate company.name 100}}",
        "{{join data.users \"name\"}}",
        "{{compact data.obj 200}}",
        "{{#each data.obj}}{{@key}}={{this}}{{/each}}",
        "{{#with data.obj}}{{k}}{{/with}}",
        "{{lookup data.obj \"k\"}}",
    ];
    for expr in expressions {
        let slack = render_title(expr, Markup::Slack, &ctx).unwrap();
        assert!(!slack.contains('<'), "{expr}: {slack}");
        let html = render_title(expr, Markup::Html, &ctx).unwrap();
        assert!(!html.contains('<'), "{expr}: {html}");
        let teams = render_title(expr, Markup::Teams, &ctx).unwrap();
        let bare_tag = teams.replace(r"\<", "").contains('<');
        assert!(teams.contains(r"\[") && !bare_tag, "{expr}: {teams}");
    }
}

#[test]
fn a_hostile_company_name_arrives_as_text_in_every_default_and_markup() {
    let name = "<!channel> [x](http://evil) <script>alert(1)</script> \"Q\" &amp; 🍕";
    for (stem, mut event) in sample_events() {
        event["company"]["name"] = json!(name);
        let template = Templates::default_name(event["event"].as_str().unwrap());
        let t = Templates::builtin();
        let slack = all_text(&t.render(&template, Markup::Slack, &event).unwrap());
        assert!(
            slack.contains("&lt;!channel&gt;") && !slack.contains("<!channel>"),
            "{stem}"
        );
        let html = all_text(&t.render(&template, Markup::Html, &event).unwrap());
        assert!(
            html.contains("&lt;script&gt;") && !html.contains("<script"),
            "{stem}"
        );
        let teams = all_text(&t.render(&template, Markup::Teams, &event).unwrap());
        assert!(teams.contains(r"\[x\](http://evil)"), "{stem}: {teams}");
        let plain = all_text(&t.render(&template, Markup::Plain, &event).unwrap());
        assert!(plain.contains(name), "{stem}");
    }
}

#[test]
fn json_string_escape_leaves_out_the_quotes() {
    assert_eq!(escape::json_string("a\"b\\c\nd</"), "a\\\"b\\\\c\\nd</");
    assert_eq!(escape::json_string("❄️"), "❄️");
}

/// Every bidirectional control: embeddings and overrides, isolates, marks.
const BIDI: [char; 12] = [
    '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}',
    '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}',
];

#[test]
fn bidi_controls_in_values_are_removed_in_every_markup() {
    let value: String = format!(
        "Store 12 \u{202E}gnp.exe {}",
        BIDI.iter().collect::<String>()
    );
    for markup in Markup::ALL {
        let out = render_company(markup, &value);
        assert!(!out.contains(BIDI), "{markup:?}: {out:?}");
        assert!(out.starts_with("Store 12 gnp"), "{markup:?}: {out:?}");
    }
    assert_eq!(escape::json_string(&value), "Store 12 gnp.exe ");
    // The same through a helper, whose result is escaped too.
    let out = render_title(
        "{{upper company.name}}",
        Markup::Html,
        &hostile_company(&value),
    );
    assert_eq!(out.unwrap(), "STORE 12 GNP.EXE");
}

//! Finding a target's secrets in text that came back from outside (a provider's answer, a
//! transport error) and replacing them with `<redacted>`, in every encoding a provider may
//! echo them in.
//!
//! For each secret (and each `user:secret` form a target sends as HTTP Basic credentials):
//!
//! - as is, and with any ASCII letter in either case;
//! - with any of its characters percent-encoded (upper- or lower-case hex, `+` for a space),
//!   JSON-escaped (`\/`, `\"`, `\\`, `\u00XX`) or, for `&`, HTML-escaped (`&amp;`);
//! - base64 of it, standard or URL-safe, with or without padding, whole (`Basic <b64>`);
//! - base64 of a longer text it is part of: it starts at one of three byte offsets modulo 3,
//!   and for each the characters that depend only on the secret are matched.
//!
//! Not covered: the one base64 character at each end of an embedded copy that mixes the
//! secret's bits with its neighbours' (at most 4 bits of the secret each), double encodings
//! (`%252F`), JSON's surrogate-pair escapes of characters beyond the BMP, other encodings
//! (hex, quoted-printable, an HTML entity for any other character), and secrets shorter than
//! [`MIN_SECRET`] bytes, which would redact common words.

use std::fmt;

use regex::{NoExpand, Regex, RegexBuilder};

use crate::targets::http::base64;

/// The shortest secret scrubbed.
pub const MIN_SECRET: usize = 4;
/// The shortest base64 run that counts as a copy of a secret.
const MIN_BASE64: usize = 8;
/// The parts of a URL (a path segment, a query value) shorter than this are not secrets on
/// their own (`messages`, `1`, `invoke` are not; a Teams `sig` or a Slack hook secret is).
const MIN_URL_PART: usize = 8;

const REDACTED: &str = "<redacted>";

/// Replaces a fixed set of secrets in text, in every encoding listed in the module doc.
#[derive(Clone)]
pub struct Scrubber {
    pattern: Option<Regex>,
    /// Used only if the pattern cannot be built (a secret of many kilobytes): exact copies.
    fallback: Vec<String>,
}

impl Scrubber {
    pub fn new<S: AsRef<str>>(secrets: impl IntoIterator<Item = S>) -> Scrubber {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .map(|s| s.as_ref().to_string())
            .filter(|s| s.len() >= MIN_SECRET)
            .collect();
        // Longest first: where two copies start at the same place, the longer one is removed.
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        let alternatives: Vec<String> = secrets.iter().flat_map(|s| patterns_of(s)).collect();
        let pattern = (!alternatives.is_empty())
            .then(|| {
                RegexBuilder::new(&alternatives.join("|"))
                    .size_limit(1 << 26)
                    .build()
                    .ok()
            })
            .flatten();
        Scrubber {
            pattern,
            fallback: secrets,
        }
    }

    /// `text` with every copy of a secret replaced by `<redacted>`.
    pub fn scrub(&self, text: &str) -> String {
        match &self.pattern {
            Some(pattern) => pattern.replace_all(text, NoExpand(REDACTED)).into_owned(),
            None => self
                .fallback
                .iter()
                .fold(text.to_string(), |out, s| out.replace(s.as_str(), REDACTED)),
        }
    }
}

impl fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scrubber({} secrets)", self.fallback.len())
    }
}

/// The regex alternatives that find `secret`: spelled out, then its base64 forms.
fn patterns_of(secret: &str) -> Vec<String> {
    let mut out = vec![secret.chars().map(spelled).collect::<String>()];
    out.extend(base64_forms(secret.as_bytes()));
    out
}

/// One character of a secret in any of the spellings the module doc lists.
fn spelled(c: char) -> String {
    let mut utf8 = [0u8; 4];
    let mut alternatives = vec![
        any_case(c),
        c.encode_utf8(&mut utf8).bytes().map(percent).collect(),
    ];
    match c {
        ' ' => alternatives.push(r"\+".to_string()),
        '/' => alternatives.push(r"\\/".to_string()),
        '"' => alternatives.push(r#"\\""#.to_string()),
        '\\' => alternatives.push(r"\\\\".to_string()),
        '&' => alternatives.push("&amp;".to_string()),
        _ => {}
    }
    if let Ok(unit) = u16::try_from(u32::from(c)) {
        let hex: String = format!("{unit:04x}").chars().map(any_case).collect();
        alternatives.push(format!(r"\\u{hex}"));
    }
    format!("(?:{})", alternatives.join("|"))
}

/// A character matched in either ASCII case.
fn any_case(c: char) -> String {
    if c.is_ascii_alphabetic() {
        format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())
    } else {
        regex::escape(c.encode_utf8(&mut [0u8; 4]))
    }
}

/// `%XX` for a byte, either hex case.
fn percent(byte: u8) -> String {
    let hex: String = format!("{byte:02x}").chars().map(any_case).collect();
    format!("%{hex}")
}

/// The base64 copies of `bytes`: whole (padding optional), then the characters that depend
/// only on `bytes` when it sits inside a longer encoded text, at each of the 3 alignments.
fn base64_forms(bytes: &[u8]) -> Vec<String> {
    let whole = base64(bytes);
    let unpadded = whole.trim_end_matches('=');
    let padding = whole.len() - unpadded.len();
    let mut out = vec![format!(
        "{}(?:=|%3[dD]){{0,{padding}}}",
        base64_pattern(unpadded)
    )];
    for offset in 0..3 {
        let core = embedded_core(bytes, offset);
        if core.len() >= MIN_BASE64 {
            out.push(base64_pattern(&core));
        }
    }
    out
}

/// The base64 characters determined by `bytes` alone when they start `offset` bytes into a
/// 3-byte group of a longer text: character `i` covers bits `6i..6i+6` of the stream.
fn embedded_core(bytes: &[u8], offset: usize) -> String {
    let mut shifted = vec![0u8; offset];
    shifted.extend_from_slice(bytes);
    let encoded = base64(&shifted);
    let (first_bit, end_bit) = (8 * offset, 8 * (offset + bytes.len()));
    let first = first_bit.div_ceil(6);
    let end = end_bit / 6;
    encoded.get(first..end).unwrap_or("").to_string()
}

/// A base64 text in either alphabet (`+/` or `-_`), its `/` possibly JSON-escaped, and its
/// symbols possibly percent-encoded.
fn base64_pattern(encoded: &str) -> String {
    encoded
        .chars()
        .map(|c| match c {
            '+' => r"(?:\+|-|%2[bB])".to_string(),
            '/' => r"(?:/|_|\\/|%2[fF])".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// The parts of a secret URL that are secret on their own, besides the whole URL, read with
/// the HTTP client's parser: the `user:password` that reqwest sends as HTTP Basic credentials
/// and the password alone, the last path segment, and every query value (each as written and
/// percent-decoded). A provider that echoes only one of them stays scrubbed.
pub fn url_secret_parts(text: &str) -> Vec<String> {
    let mut parts = vec![text.to_string()];
    let Ok(url) = url::Url::parse(text) else {
        return parts;
    };
    parts.extend(credentials(&url));
    let mut pieces = Vec::new();
    if let Some(last) = url
        .path_segments()
        .and_then(|mut s| s.rfind(|s| !s.is_empty()))
    {
        pieces.push(last.to_string());
        pieces.push(percent_decode(last));
    }
    for (_, value) in url.query_pairs() {
        pieces.push(value.into_owned());
    }
    if let Some(query) = url.query() {
        pieces.extend(
            query
                .split('&')
                .filter_map(|p| p.split_once('='))
                .map(|(_, v)| v.to_string()),
        );
    }
    parts.extend(pieces.into_iter().filter(|p| p.len() >= MIN_URL_PART));
    parts
}

/// `user:password` and the password, decoded as reqwest decodes them for the Basic header.
fn credentials(url: &url::Url) -> Vec<String> {
    let Some(password) = url.password() else {
        return Vec::new();
    };
    let (user, password) = (percent_decode(url.username()), percent_decode(password));
    vec![format!("{user}:{password}"), password]
}

/// Percent-decoding, lossily as UTF-8 (a secret is text).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(byte) if bytes[i] == b'%' => {
                out.push(byte);
                i += 3;
            }
            _ => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// For an `Authorization`-style value (`Bearer <token>`, `Basic <b64>`): the credential alone,
/// and for Basic its decoded `user:password` and password, in case a provider echoes those.
pub fn credential_parts(value: &str) -> Vec<String> {
    let Some((scheme, credential)) = value.trim().split_once(' ') else {
        return Vec::new();
    };
    let credential = credential.trim();
    let mut out = vec![credential.to_string()];
    if scheme.eq_ignore_ascii_case("basic")
        && let Some(pair) = base64_decode(credential)
    {
        if let Some((_, password)) = pair.split_once(':') {
            out.push(password.to_string());
        }
        out.push(pair);
    }
    out
}

/// Standard or URL-safe base64, padded or not, as UTF-8 text; `None` if it is neither.
fn base64_decode(text: &str) -> Option<String> {
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.trim_end_matches('=').bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(value);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "key-Secret/Value+42 ok";

    fn scrubbed(secrets: &[&str], text: &str) -> String {
        Scrubber::new(secrets.iter().copied()).scrub(text)
    }

    fn assert_scrubbed(secrets: &[&str], text: &str) {
        let out = scrubbed(secrets, text);
        assert_eq!(out, "seen: <redacted>.", "in {text:?}");
    }

    #[test]
    fn an_exact_copy_is_scrubbed_everywhere() {
        let out = scrubbed(&["SG.abc", ""], "bad key SG.abc for SG.abc");
        assert_eq!(out, "bad key <redacted> for <redacted>");
    }

    #[test]
    fn a_copy_in_another_case_is_scrubbed() {
        assert_scrubbed(&[KEY], &format!("seen: {}.", KEY.to_ascii_lowercase()));
        assert_scrubbed(&[KEY], &format!("seen: {}.", KEY.to_ascii_uppercase()));
    }

    #[test]
    fn a_percent_encoded_copy_is_scrubbed_in_either_hex_case_and_with_plus_for_space() {
        let upper = "key-Secret%2FValue%2B42%20ok";
        for copy in [
            upper.to_string(),
            upper.to_ascii_lowercase(),
            "key-Secret%2fValue%2b42+ok".to_string(),
            // Every character encoded, as some encoders do.
            KEY.bytes().map(|b| format!("%{b:02X}")).collect(),
        ] {
            assert_scrubbed(&[KEY], &format!("seen: {copy}."));
        }
    }

    #[test]
    fn a_json_escaped_copy_is_scrubbed() {
        let url = "https://hooks.slack.com/services/T0/B0/hookSecret";
        assert_scrubbed(&[url], &format!("seen: {}.", url.replace('/', "\\/")));
        assert_scrubbed(&["a\"quoted\\secret"], "seen: a\\\"quoted\\\\secret.");
        assert_scrubbed(&["unicode-secret"], "seen: unicode\\u002dsecret.");
    }

    #[test]
    fn a_base64_copy_is_scrubbed_in_both_alphabets_with_or_without_padding() {
        // base64("key-Secret/Value+42 ok") has `+` and `/`, and one `=` of padding.
        let standard = base64(KEY.as_bytes());
        assert!(standard.ends_with('='), "{standard}");
        let url_safe = standard.replace('+', "-").replace('/', "_");
        for copy in [
            standard.clone(),
            standard.trim_end_matches('=').to_string(),
            url_safe.clone(),
            url_safe.trim_end_matches('=').to_string(),
        ] {
            assert_scrubbed(&[KEY], &format!("seen: {copy}."));
        }
    }

    #[test]
    fn basic_credentials_of_user_and_secret_are_scrubbed_whole() {
        let basic = base64(format!("api:{KEY}").as_bytes());
        let out = scrubbed(
            &[KEY, &format!("api:{KEY}")],
            &format!("Authorization: Basic {basic}"),
        );
        assert_eq!(out, "Authorization: Basic <redacted>");
    }

    #[test]
    fn a_secret_inside_a_longer_base64_text_is_scrubbed_at_every_alignment() {
        for prefix in ["", "x", "xy", "Authorization: Bearer "] {
            let encoded = base64(format!("{prefix}{KEY} and more after it").as_bytes());
            let out = scrubbed(&[KEY], &encoded);
            assert!(out.contains(REDACTED), "{prefix:?}: {out}");
            // What is left around the redaction cannot be decoded back to the secret.
            for offset in 0..3 {
                let core = embedded_core(KEY.as_bytes(), offset);
                assert!(!out.contains(&core), "{prefix:?}: {out}");
            }
        }
    }

    #[test]
    fn a_long_secret_url_is_scrubbed_in_every_encoding_too() {
        let url = format!(
            "https://h.example/{}?sig=sigSecret99",
            "segment/".repeat(200)
        );
        let echo = format!("seen: {}.", url.to_ascii_uppercase().replace('/', "%2f"));
        assert_scrubbed(&[&url], &echo);
    }

    #[test]
    fn short_secrets_and_ordinary_text_are_left_alone() {
        assert_eq!(scrubbed(&["abc"], "abc abc"), "abc abc");
        assert_eq!(scrubbed(&[KEY], "an ordinary answer"), "an ordinary answer");
        assert_eq!(scrubbed(&[], "nothing to hide"), "nothing to hide");
    }

    #[test]
    fn debug_shows_no_secret() {
        let shown = format!("{:?}", Scrubber::new([KEY]));
        assert!(!shown.contains("Secret"), "{shown}");
    }

    #[test]
    fn the_secret_parts_of_a_url_are_its_credentials_last_segment_and_query_values() {
        let parts = url_secret_parts(
            "https://user:pass%2Bword@h.example/a/services/B1/hookSecret99?api-version=1&sig=sig%2FSecret99",
        );
        for expected in [
            "user:pass+word",
            "pass+word",
            "hookSecret99",
            "sig%2FSecret99",
            "sig/Secret99",
        ] {
            assert!(
                parts.iter().any(|p| p == expected),
                "{expected} in {parts:?}"
            );
        }
        assert!(!parts.iter().any(|p| p == "1"), "{parts:?}");
    }

    #[test]
    fn the_credentials_of_an_authorization_value_are_secret_parts() {
        assert_eq!(credential_parts("Bearer tok-123456"), ["tok-123456"]);
        let basic = format!("Basic {}", base64(b"erp:hunter22"));
        let parts = credential_parts(&basic);
        assert!(parts.contains(&"erp:hunter22".to_string()), "{parts:?}");
        assert!(parts.contains(&"hunter22".to_string()), "{parts:?}");
        assert!(credential_parts("no-scheme-token").is_empty());
    }
}

/// The scrubber on generated secrets, each in every encoding the module doc promises, inside
/// generated text (see [`crate::properties`]).
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    /// The ways a provider may echo a secret back, each as the text it would contain.
    fn encodings(secret: &str, user: &str) -> Vec<(&'static str, String)> {
        let percent_all: String = secret.bytes().map(|b| format!("%{b:02X}")).collect();
        let percent_lower: String = secret.bytes().map(|b| format!("%{b:02x}")).collect();
        let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        let json = serde_json::to_string(secret).unwrap();
        let json = json[1..json.len() - 1].replace('/', "\\/");
        let b64 = base64(secret.as_bytes());
        let url_safe = b64.replace('+', "-").replace('/', "_");
        let basic = base64(format!("{user}:{secret}").as_bytes());
        vec![
            ("plain", secret.to_string()),
            ("lower case", secret.to_ascii_lowercase()),
            ("upper case", secret.to_ascii_uppercase()),
            ("percent-encoded", percent_all),
            ("percent-encoded, lower-case hex", percent_lower),
            ("form-encoded", form),
            ("JSON-escaped", json),
            ("base64", b64.clone()),
            (
                "base64 without padding",
                b64.trim_end_matches('=').to_string(),
            ),
            ("URL-safe base64", url_safe),
            ("base64 of user:secret", basic),
        ]
    }

    /// The characters of base64(`lead` + secret + "!!") that depend on the secret's bits alone:
    /// what a copy of the secret inside a longer base64 text always contains.
    fn embedded_base64(secret: &str, lead: &str) -> String {
        let whole = base64(format!("{lead}{secret}!!").as_bytes());
        let (from_bit, to_bit) = (8 * lead.len(), 8 * (lead.len() + secret.len()));
        whole
            .chars()
            .enumerate()
            .filter(|(i, _)| 6 * i >= from_bit && 6 * i + 6 <= to_bit)
            .map(|(_, c)| c)
            .collect()
    }

    proptest! {
        #![proptest_config(crate::properties::config(300))]

        #[test]
        fn no_encoding_of_a_secret_survives_the_scrubber(
            secret in "[!-~][ -~]{6,38}[!-~]",
            user in "[a-z]{0,8}",
            before in "[ -~\\n]{0,30}",
            after in "[ -~\\n]{0,30}",
        ) {
            // A secret the marker itself spells, or one the surrounding text already holds,
            // cannot be told apart from its copy.
            prop_assume!(!REDACTED.to_ascii_lowercase().contains(&secret.to_ascii_lowercase()));
            prop_assume!(!before.contains(&secret) && !after.contains(&secret));
            let scrubber = Scrubber::new([secret.clone(), format!("{user}:{secret}")]);
            for (how, encoded) in encodings(&secret, &user) {
                let text = format!("{before}{encoded}{after}");
                let scrubbed = scrubber.scrub(&text);
                prop_assert!(
                    !scrubbed.contains(&encoded),
                    "{how} copy of {secret:?} kept in {scrubbed:?}"
                );
                prop_assert!(!scrubbed.contains(&secret), "{secret:?} kept in {scrubbed:?}");
            }
            // Inside a longer base64 text (say `Basic` of a longer credential), at each of the
            // three byte offsets: the part that depends on the secret alone goes.
            for lead in ["", "a", "ab"] {
                let core = embedded_base64(&secret, lead);
                let text = format!("{before}{}{after}", base64(format!("{lead}{secret}!!").as_bytes()));
                let scrubbed = scrubber.scrub(&text);
                prop_assert!(
                    !scrubbed.contains(&core),
                    "base64 at offset {} of {secret:?} kept in {scrubbed:?}",
                    lead.len()
                );
            }
        }
    }
}

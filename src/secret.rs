//! Secrets (tokens, API keys, webhook URLs) as a type that cannot leak by accident.
//!
//! `Secret` has no `Display`, and its `Debug` prints a redacted form, so a secret that reaches a
//! log line or an error message shows as `<redacted>` (for URLs: scheme and host only). The
//! value is read with [`Secret::expose`], which makes every use easy to find.

use std::fmt;

/// A secret string. Compare with [`Secret::ct_eq`] (constant time).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value itself. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Constant-time comparison, for tokens presented by a client.
    pub fn ct_eq(&self, presented: &[u8]) -> bool {
        use subtle::ConstantTimeEq;
        let ours = self.0.as_bytes();
        // Length is not secret enough to matter, but compare over the same length anyway.
        ours.len() == presented.len() && bool::from(ours.ct_eq(presented))
    }

    /// A form safe to show: `https://hooks.slack.com/…` for a URL, `<redacted>` otherwise.
    pub fn redacted(&self) -> String {
        redact(&self.0)
    }

    /// The host (and port) of a URL, as [`host`] reads it.
    pub fn host(&self) -> Option<String> {
        host(&self.0)
    }
}

/// Redacts a secret for display: keeps a URL's scheme, host and port, drops everything else.
/// The URL is read by the HTTP client's parser (`url`), so the host shown is the one requests
/// go to; anything that is not a URL with a host shows nothing.
pub fn redact(value: &str) -> String {
    match url::Url::parse(value) {
        Ok(url) => match host_of(&url) {
            Some(host) => format!("{}://{host}/<redacted>", url.scheme()),
            None => "<redacted>".to_string(),
        },
        Err(_) => "<redacted>".to_string(),
    }
}

/// The host of a URL, with its port when the URL names one (`hooks.slack.com`,
/// `127.0.0.1:8080`): where its requests go, read as [`redact`] reads it, and nothing else of
/// it. `None` for anything that is not a URL with a host.
pub fn host(value: &str) -> Option<String> {
    host_of(&url::Url::parse(value).ok()?)
}

fn host_of(url: &url::Url) -> Option<String> {
    // Credentials in the authority (`user:pass@host`) are not part of the host.
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) if !host.is_empty() => Some(format!("{host}:{port}")),
        (Some(host), None) if !host.is_empty() => Some(host.to_string()),
        _ => None,
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_a_url_keeps_only_scheme_and_host() {
        let s = Secret::new("https://hooks.slack.com/services/T000/B000/XXXXSECRET");
        let shown = format!("{s:?}");
        assert_eq!(shown, "https://hooks.slack.com/<redacted>");
        assert!(!shown.contains("XXXXSECRET"));
    }

    #[test]
    fn debug_of_a_url_with_credentials_drops_them() {
        let s = Secret::new("https://api:key-123@api.mailgun.net/v3");
        assert_eq!(format!("{s:?}"), "https://api.mailgun.net/<redacted>");
    }

    #[test]
    fn debug_of_a_url_shows_the_host_the_client_sends_to() {
        let s = Secret::new("http://127.0.0.1:9\\@evil.example/SECRET");
        assert_eq!(format!("{s:?}"), "http://127.0.0.1:9/<redacted>");
        let s = Secret::new("https://user:SECRET@[::1]:8443/x?sig=SECRET");
        assert_eq!(format!("{s:?}"), "https://[::1]:8443/<redacted>");
    }

    #[test]
    fn debug_of_something_that_only_looks_like_a_url_shows_nothing() {
        for value in [
            "key:SECRET",
            "not a url://SECRET",
            "mailto:SECRET@example.com",
        ] {
            assert_eq!(format!("{:?}", Secret::new(value)), "<redacted>", "{value}");
        }
    }

    #[test]
    fn the_host_of_a_url_is_where_it_sends_and_nothing_else() {
        let s = Secret::new("https://user:SECRET@hooks.slack.com/services/T000/B000/XXXX?x=1");
        assert_eq!(s.host().as_deref(), Some("hooks.slack.com"));
        assert_eq!(
            host("http://127.0.0.1:9\\@evil.example/SECRET").as_deref(),
            Some("127.0.0.1:9")
        );
        assert_eq!(host("https://[::1]:8443/x").as_deref(), Some("[::1]:8443"));
        assert_eq!(host("key:SECRET"), None);
        assert_eq!(Secret::new("tok-abcdef").host(), None);
    }

    #[test]
    fn debug_of_a_token_shows_nothing_of_it() {
        let s = Secret::new("tok-abcdef");
        assert_eq!(format!("{s:?}"), "<redacted>");
    }

    #[test]
    fn ct_eq_compares_exactly() {
        let s = Secret::new("abc");
        assert!(s.ct_eq(b"abc"));
        assert!(!s.ct_eq(b"abd"));
        assert!(!s.ct_eq(b"ab"));
        assert!(!s.ct_eq(b""));
    }
}

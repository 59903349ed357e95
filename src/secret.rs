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
}

/// Redacts a secret for display: keeps a URL's scheme and host, drops everything else.
pub fn redact(value: &str) -> String {
    if let Some((scheme, rest)) = value.split_once("://") {
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        // Credentials in the authority (`user:pass@host`) are secret too.
        let host = host.rsplit('@').next().unwrap_or(host);
        return format!("{scheme}://{host}/<redacted>");
    }
    "<redacted>".to_string()
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

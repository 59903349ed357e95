//! Tokens presented by clients: where they are read from (path segment, `?token=`,
//! `Authorization: Bearer`) and the constant-time check against the configured secret.

use warp::http::{HeaderMap, header};

use super::reply::ApiError;
use crate::secret::Secret;

/// A token a client presented, percent-decoded. Never logged.
pub(super) struct Credential(Vec<u8>);

impl Credential {
    /// The webhook's credential: the path segment if there is one, else `?token=`, else the
    /// Bearer token. The first one present is the one checked.
    pub(super) fn from_request(
        path: Option<&str>,
        query: &str,
        headers: &HeaderMap,
    ) -> Option<Credential> {
        path.map(|segment| Credential(percent_decode(segment.as_bytes(), false)))
            .or_else(|| query_param(query, "token").map(Credential))
            .or_else(|| Credential::bearer(headers))
    }

    /// `Authorization: Bearer <token>` (the scheme is case-insensitive).
    pub(super) fn bearer(headers: &HeaderMap) -> Option<Credential> {
        let value = headers.get(header::AUTHORIZATION)?.as_bytes();
        let (scheme, rest) = value.split_at_checked(7)?;
        if !scheme.eq_ignore_ascii_case(b"bearer ") {
            return None;
        }
        let token = rest.trim_ascii();
        (!token.is_empty()).then(|| Credential(token.to_vec()))
    }
}

/// What a failed check says, per route.
pub(super) struct Messages {
    pub not_configured: &'static str,
    pub missing: &'static str,
    pub wrong: &'static str,
}

/// 401 unless `presented` equals the configured token (constant-time).
pub(super) fn check(
    expected: Option<&Secret>,
    presented: Option<&Credential>,
    messages: Messages,
) -> Result<(), ApiError> {
    let Some(expected) = expected.filter(|s| !s.is_empty()) else {
        return Err(ApiError::unauthorized(messages.not_configured));
    };
    let Some(presented) = presented else {
        return Err(ApiError::unauthorized(messages.missing));
    };
    if expected.ct_eq(&presented.0) {
        Ok(())
    } else {
        Err(ApiError::unauthorized(messages.wrong))
    }
}

/// The first value of `name` in a raw query string, percent-decoded (`+` is a space).
pub(super) fn query_param(query: &str, name: &str) -> Option<Vec<u8>> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(key.as_bytes(), true) == name.as_bytes())
            .then(|| percent_decode(value.as_bytes(), true))
    })
}

/// Decodes `%XX` escapes; a malformed escape is kept as it is.
pub(super) fn percent_decode(input: &[u8], plus_is_space: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let byte = input[i];
        let escaped = (byte == b'%')
            .then(|| input.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (escaped, byte) {
            (Some(decoded), _) => {
                out.push(decoded);
                i += 3;
            }
            (None, b'+') if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            (None, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use warp::http::HeaderValue;

    const MESSAGES: Messages = Messages {
        not_configured: "none",
        missing: "missing",
        wrong: "wrong",
    };

    fn bearer_headers(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn the_path_segment_wins_over_query_and_header() {
        let headers = bearer_headers("Bearer c");
        let cred = Credential::from_request(Some("a"), "token=b", &headers);
        assert_eq!(cred.map(|c| c.0), Some(b"a".to_vec()));
    }

    #[test]
    fn the_query_token_is_decoded() {
        assert_eq!(
            query_param("x=1&token=a%2Fb+c", "token"),
            Some(b"a/b c".to_vec())
        );
        assert_eq!(query_param("tokens=1", "token"), None);
    }

    #[test]
    fn a_bearer_scheme_is_case_insensitive_and_other_schemes_are_ignored() {
        assert!(Credential::bearer(&bearer_headers("bearer tok")).is_some());
        assert!(Credential::bearer(&bearer_headers("Basic dG9rOg==")).is_none());
        assert!(Credential::bearer(&bearer_headers("Bearer ")).is_none());
    }

    #[test]
    fn a_malformed_escape_is_kept_verbatim() {
        assert_eq!(percent_decode(b"a%zz%4", false), b"a%zz%4".to_vec());
        assert_eq!(percent_decode(b"%41+", false), b"A+".to_vec());
    }

    #[test]
    fn check_distinguishes_unconfigured_missing_and_wrong() {
        let secret = Secret::new("s3cret");
        let good = Credential(b"s3cret".to_vec());
        let bad = Credential(b"nope".to_vec());
        let msg = |r: Result<(), ApiError>| r.err().map(|e| e.message);
        assert_eq!(msg(check(None, Some(&good), MESSAGES)), Some("none".into()));
        assert_eq!(
            msg(check(Some(&secret), None, MESSAGES)),
            Some("missing".into())
        );
        assert_eq!(
            msg(check(Some(&secret), Some(&bad), MESSAGES)),
            Some("wrong".into())
        );
        assert_eq!(msg(check(Some(&secret), Some(&good), MESSAGES)), None);
    }
}

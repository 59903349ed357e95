//! Tokens presented by clients: where they are read from (path segment, `?token=`,
//! `Authorization: Bearer`), the constant-time check against the configured secret, and the
//! limit on guessing the admin token ([`Guard`]), shared by the admin API, `/-/reload` and
//! the operator page.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use warp::http::{HeaderMap, StatusCode, header};

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

/// The admin token the serving configuration sets, if it sets a non-empty one: without it
/// the admin API, `/-/reload` and the operator page are off.
pub(super) fn admin_token(relay: &crate::app::Relay) -> Option<Secret> {
    relay
        .app()
        .config
        .server
        .admin_token
        .clone()
        .filter(|t| !t.is_empty())
}

/// [`check`] for the admin token, behind `guard`: an address that has used up its wrong tokens
/// is refused before the comparison, and a wrong token (not a missing one) counts.
pub(super) fn check_admin(
    guard: &Guard,
    peer: Option<Peer>,
    expected: &Secret,
    presented: Option<&Credential>,
    messages: Messages,
    route: &str,
) -> Result<(), ApiError> {
    guard.admit(peer)?;
    let checked = check(Some(expected), presented, messages);
    if checked.is_err() && presented.is_some() {
        guard.wrong(peer, route);
    }
    checked
}

/// The address a request's connection comes from, put on each request by the accept loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Peer(pub SocketAddr);

/// Wrong admin tokens allowed from one address within [`GUARD_WINDOW`].
const GUARD_LIMIT: u32 = 10;
const GUARD_WINDOW: Duration = Duration::from_secs(60);
/// Addresses remembered at most; past this, windows that have ended are forgotten first.
const GUARD_ADDRESSES: usize = 10_000;

/// Counts wrong admin tokens per client address: past [`GUARD_LIMIT`] in a minute, the address
/// is refused before its token is even compared, until the minute ends, so guessing runs at
/// ten tries a minute and holds no connection open. Requests without a known address (the
/// in-process tests' `warp::test`) share one count.
#[derive(Default)]
pub(crate) struct Guard {
    windows: Mutex<HashMap<Option<IpAddr>, (Instant, u32)>>,
}

impl Guard {
    /// `Err` (429 with `Retry-After`) while `peer` has used up its wrong tokens.
    pub fn admit(&self, peer: Option<Peer>) -> Result<(), ApiError> {
        let key = peer.map(|p| p.0.ip());
        let windows = self.lock();
        match windows.get(&key) {
            Some((started, count)) if *count >= GUARD_LIMIT && started.elapsed() < GUARD_WINDOW => {
                let wait = GUARD_WINDOW
                    .saturating_sub(started.elapsed())
                    .as_secs()
                    .max(1);
                Err(ApiError {
                    retry_after: Some(u32::try_from(wait).unwrap_or(60)),
                    ..ApiError::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        "too_many_wrong_tokens",
                        "too many wrong admin tokens from this address; wait a minute",
                    )
                })
            }
            _ => Ok(()),
        }
    }

    /// Counts a wrong token from `peer`, and logs it with the address.
    pub fn wrong(&self, peer: Option<Peer>, route: &str) {
        let key = peer.map(|p| p.0.ip());
        let mut windows = self.lock();
        if windows.len() >= GUARD_ADDRESSES {
            windows.retain(|_, (started, _)| started.elapsed() < GUARD_WINDOW);
        }
        let window = windows.entry(key).or_insert((Instant::now(), 0));
        if window.0.elapsed() >= GUARD_WINDOW {
            *window = (Instant::now(), 0);
        }
        window.1 += 1;
        let remote = key.map_or_else(|| "unknown".to_string(), |ip| ip.to_string());
        tracing::warn!(remote = %remote, tries = window.1, "{route}: a wrong admin token");
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Option<IpAddr>, (Instant, u32)>> {
        // Plain counters: valid whatever a panicking holder did.
        self.windows.lock().unwrap_or_else(|e| e.into_inner())
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
    fn an_address_is_refused_after_ten_wrong_tokens_and_others_are_not() {
        let guard = Guard::default();
        let one = Some(Peer("127.0.0.2:1000".parse().unwrap()));
        let other = Some(Peer("127.0.0.3:1000".parse().unwrap()));
        for _ in 0..GUARD_LIMIT {
            assert!(guard.admit(one).is_ok());
            guard.wrong(one, "test");
        }
        let refused = guard.admit(one).unwrap_err();
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(refused.retry_after.is_some_and(|s| (1..=60).contains(&s)));
        assert!(guard.admit(other).is_ok(), "another address is not refused");
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

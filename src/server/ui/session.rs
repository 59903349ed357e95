//! Who may use the operator page: the admin token as a login (a form that sets a session
//! cookie) or as `Authorization: Bearer` for scripts, and the CSRF token and same-origin check
//! every state-changing request from a browser needs. Wrong tokens are counted by the guard
//! all admin routes share (`server::auth::Guard`).
//!
//! Sessions live in this relay's memory (a restart logs everyone out; behind a load balancer
//! with several relays, each relay has its own). A session is bound to the admin token it was
//! opened with: changing `server.admin_token` and reloading ends every session.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use warp::http::{HeaderMap, HeaderValue, header};

use crate::secret::Secret;

/// The session cookie's name.
pub(super) const COOKIE: &str = "mqa_ui";
/// A session ends after this long without a request.
const IDLE: Duration = Duration::from_secs(30 * 60);
/// And after this long in any case.
const ABSOLUTE: Duration = Duration::from_secs(12 * 3600);
/// The most sessions kept; opening one more ends the least recently used.
const MAX_SESSIONS: usize = 1000;
/// How a request proved it may use the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Access {
    /// A browser with a session cookie; its forms carry this CSRF token.
    Session { id: String, csrf: String },
    /// A script with `Authorization: Bearer <admin_token>` (no cookie, so no CSRF to fear).
    Bearer,
}

struct Session {
    csrf: String,
    token_digest: [u8; 32],
    opened: Instant,
    last_seen: Instant,
}

/// The open sessions.
#[derive(Default)]
pub(super) struct Sessions {
    open: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// Opens a session for whoever presented `token`; returns its id and CSRF token.
    pub fn open(&self, token: &Secret) -> (String, String) {
        let id = random_hex();
        let csrf = random_hex();
        let now = Instant::now();
        let session = Session {
            csrf: csrf.clone(),
            token_digest: digest(token),
            opened: now,
            last_seen: now,
        };
        let mut open = self.lock();
        open.retain(|_, s| alive(s, now));
        if open.len() >= MAX_SESSIONS
            && let Some(oldest) = open
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(id, _)| id.clone())
        {
            open.remove(&oldest);
        }
        open.insert(id.clone(), session);
        (id, csrf)
    }

    /// The session `id`, if it is open and was opened with the admin token now configured.
    pub fn find(&self, id: &str, token: &Secret) -> Option<Access> {
        let now = Instant::now();
        let mut open = self.lock();
        let session = open.get_mut(id)?;
        let same_token = bool::from(session.token_digest.ct_eq(&digest(token)));
        if !alive(session, now) || !same_token {
            open.remove(id);
            return None;
        }
        session.last_seen = now;
        Some(Access::Session {
            id: id.to_string(),
            csrf: session.csrf.clone(),
        })
    }

    pub fn close(&self, id: &str) {
        self.lock().remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // A panic while holding the lock leaves a map that is still consistent.
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn alive(s: &Session, now: Instant) -> bool {
    now.duration_since(s.last_seen) < IDLE && now.duration_since(s.opened) < ABSOLUTE
}

fn digest(token: &Secret) -> [u8; 32] {
    Sha256::digest(token.expose().as_bytes()).into()
}

/// 128 random bits from the operating system, as hex: session ids, form tokens, frame ids.
pub(super) fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    if let Err(e) = getrandom::fill(&mut bytes) {
        // Without the system's generator no session id can be safe: refuse to make one.
        panic!("the operating system's random generator failed: {e}");
    }
    hex::encode(bytes)
}

/// The session id the request's `Cookie` header carries, if any.
pub(super) fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE && value.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| value.to_string())
        })
}

/// `Set-Cookie` for a new session: only for the page's paths, never readable by scripts,
/// never sent with a request another site starts; `Secure` when the request came over HTTPS
/// (a proxy in front says so with `X-Forwarded-Proto`).
pub(super) fn set_cookie(id: &str, headers: &HeaderMap) -> HeaderValue {
    let secure = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    let value = format!(
        "{COOKIE}={id}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}{}",
        ABSOLUTE.as_secs(),
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `Set-Cookie` that ends the session cookie.
pub(super) fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("mqa_ui=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Whether a browser's request comes from the page itself. A browser that sends
/// `Sec-Fetch-Site` (every current one) says so there, and no page can make it lie; else the
/// `Origin` must name this very host. A request with neither is refused (every browser that
/// runs the page sends one of them with a form POST).
pub(super) fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        return site == "same-origin";
    }
    let (Some(origin), Some(host)) = (text("origin"), text("host")) else {
        return false;
    };
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    authority.is_some_and(|a| a.eq_ignore_ascii_case(host))
}

/// Whether the CSRF token a form sent is the session's (constant-time).
pub(super) fn csrf_matches(expected: &str, presented: Option<&str>) -> bool {
    presented.is_some_and(|p| {
        p.len() == expected.len() && bool::from(p.as_bytes().ct_eq(expected.as_bytes()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn a_session_is_found_with_its_token_and_lost_with_another() {
        let sessions = Sessions::default();
        let token = Secret::new("admin-token-1");
        let (id, csrf) = sessions.open(&token);
        assert_eq!(
            sessions.find(&id, &token),
            Some(Access::Session {
                id: id.clone(),
                csrf
            })
        );
        assert_eq!(sessions.find(&id, &Secret::new("admin-token-2")), None);
        assert_eq!(sessions.find(&id, &token), None, "ended for good");
    }

    #[test]
    fn ids_are_random_and_long() {
        let sessions = Sessions::default();
        let token = Secret::new("t");
        let (a, csrf_a) = sessions.open(&token);
        let (b, _) = sessions.open(&token);
        assert_ne!(a, b);
        assert_ne!(a, csrf_a);
        assert_eq!(a.len(), 32);
    }

    #[test]
    fn the_cookie_is_read_among_others_and_must_be_hex() {
        let h = headers(&[("cookie", "a=1; mqa_ui=00ff; b=2")]);
        assert_eq!(cookie(&h).as_deref(), Some("00ff"));
        assert_eq!(cookie(&headers(&[("cookie", "mqa_ui=<x>")])), None);
        assert_eq!(cookie(&headers(&[])), None);
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_behind_https() {
        let plain = set_cookie("ab", &headers(&[]));
        let plain = plain.to_str().unwrap();
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Strict"));
        assert!(plain.contains("Path=/ui") && !plain.contains("Secure"));
        let proxied = set_cookie("ab", &headers(&[("x-forwarded-proto", "https")]));
        assert!(proxied.to_str().unwrap().ends_with("; Secure"));
    }

    #[test]
    fn only_the_page_itself_is_same_origin() {
        let ok = [
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
        ];
        assert!(same_origin(&headers(&ok)));
        let fetch = [
            ("host", "127.0.0.1:8080"),
            ("origin", "null"),
            ("sec-fetch-site", "same-origin"),
        ];
        assert!(same_origin(&headers(&fetch)));
        let cross = [
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
            ("sec-fetch-site", "cross-site"),
        ];
        assert!(!same_origin(&headers(&cross)));
        let other = [
            ("host", "127.0.0.1:8080"),
            ("origin", "https://evil.example"),
        ];
        assert!(!same_origin(&headers(&other)));
        assert!(!same_origin(&headers(&[("host", "127.0.0.1:8080")])));
        let null = [("host", "127.0.0.1:8080"), ("origin", "null")];
        assert!(!same_origin(&headers(&null)));
    }

    #[test]
    fn csrf_needs_the_exact_token() {
        assert!(csrf_matches("abc", Some("abc")));
        assert!(!csrf_matches("abc", Some("abd")));
        assert!(!csrf_matches("abc", Some("ab")));
        assert!(!csrf_matches("abc", None));
    }
}

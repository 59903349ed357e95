//! Who is asking: the session cookie or the Bearer token checked behind the guard all admin
//! routes share, the check every browser POST passes (same origin, the session's CSRF
//! token), and signing in and out.

use serde_json::json;
use warp::http::{HeaderMap, Method, StatusCode, header};
use warp::reply::Response;

use super::session::{self, Access};
use super::{Request, State, Ui, first, html, message};
use crate::secret::Secret;
use crate::server::reply::ApiError;

/// The session cookie or the Bearer token; without either, a browser is sent to sign in.
pub(super) fn authenticate(
    state: &State<'_>,
    token: &Secret,
    req: &Request,
) -> Result<Access, Box<Response>> {
    if let Some(presented) = bearer(&req.headers) {
        let presented = presented.as_bytes();
        return match admit(state, token, presented) {
            Ok(()) => Ok(Access::Bearer),
            Err(e) => {
                let page = message(e.status, "Refused", &e.message);
                Err(Box::new(with_retry_after(page, &e)))
            }
        };
    }
    if let Some(access) =
        session::cookie(&req.headers).and_then(|id| state.ui.sessions.find(&id, token))
    {
        return Ok(access);
    }
    if req.method == Method::GET {
        let wanted = match req.query.as_str() {
            "" => req.path.clone(),
            query => format!("{}?{query}", req.path),
        };
        let next = url::form_urlencoded::byte_serialize(wanted.as_bytes()).collect::<String>();
        return Err(Box::new(html::redirect(&format!("/ui/login?next={next}"))));
    }
    Err(Box::new(message(
        StatusCode::UNAUTHORIZED,
        "Signed out",
        "Sign in again: the session has ended.",
    )))
}

/// `response` with the `Retry-After` that `e` asks for, if any.
fn with_retry_after(mut response: Response, e: &ApiError) -> Response {
    if let Some(secs) = e.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
    }
    response
}

/// The admin token check behind the guard every admin route shares (see [`crate::server::auth::Guard`]).
fn admit(state: &State<'_>, token: &Secret, presented: &[u8]) -> Result<(), ApiError> {
    state.guard.admit(state.peer)?;
    if token.ct_eq(presented) {
        return Ok(());
    }
    state.guard.wrong(state.peer, "operator page");
    Err(ApiError::unauthorized(
        "That is not this relay's admin token.",
    ))
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// Why a browser's POST is refused, if it is: it must come from the page itself and carry
/// the session's CSRF token.
pub(super) fn refusal(req: &Request, csrf: &str) -> Option<Response> {
    let why = if !session::same_origin(&req.headers) {
        "it did not come from this page"
    } else if !session::csrf_matches(csrf, first(&req.form(), "csrf").as_deref()) {
        "its form token is missing or stale"
    } else {
        return None;
    };
    tracing::warn!("operator page: a form was refused: {why}");
    Some(message(
        StatusCode::FORBIDDEN,
        "Refused",
        &format!("This request was refused: {why}. Reload the page and try again."),
    ))
}

pub(super) fn login(state: &State<'_>, token: &Secret, req: &Request) -> Response {
    let next = safe_next(req.query("next").or_else(|| first(&req.form(), "next")));
    let form = |status, error: Option<&str>| {
        html::page(
            status,
            "login",
            &json!({"title": "Sign in", "next": next, "error": error}),
        )
    };
    if req.method != Method::POST {
        return form(StatusCode::OK, None);
    }
    if !session::same_origin(&req.headers) {
        return form(
            StatusCode::FORBIDDEN,
            Some("This sign-in did not come from this page."),
        );
    }
    let presented = first(&req.form(), "token").unwrap_or_default();
    if let Err(e) = admit(state, token, presented.as_bytes()) {
        return with_retry_after(form(e.status, Some(&e.message)), &e);
    }
    let (id, _csrf) = state.ui.sessions.open(token);
    tracing::info!("operator page: signed in");
    let mut response = html::redirect(&next);
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session::set_cookie(&id, &req.headers));
    response
}

pub(super) fn logout(ui: &Ui, access: &Access) -> Response {
    if let Access::Session { id, .. } = access {
        ui.sessions.close(id);
    }
    let mut response = html::redirect("/ui/login");
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session::clear_cookie());
    response
}

/// Where to go after signing in: a path of the page, never another site.
fn safe_next(next: Option<String>) -> String {
    next.filter(|n| {
        n.starts_with("/ui/")
            && !n.starts_with("//")
            && !n.contains("://")
            && !n.contains('\\')
            && n.bytes().all(|b| b.is_ascii_graphic())
    })
    .unwrap_or_else(|| "/ui/".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_sign_in_only_the_page_itself_is_a_destination() {
        assert_eq!(safe_next(Some("/ui/events/1".into())), "/ui/events/1");
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/ui/\\evil",
            "/api/x",
            "/ui/ x",
        ] {
            assert_eq!(safe_next(Some(bad.into())), "/ui/", "{bad}");
        }
        assert_eq!(safe_next(None), "/ui/");
    }

    #[test]
    fn a_bearer_token_is_read_in_any_case() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "bearer abc".parse().unwrap());
        assert_eq!(bearer(&headers).as_deref(), Some("abc"));
        headers.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer(&headers), None);
    }
}

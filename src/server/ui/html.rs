//! Pages as HTML: the page templates (embedded in the binary, in a Handlebars registry of
//! their own that escapes HTML, in strict mode so a missing field is an error, never an empty
//! string), and the headers every page answer carries (a strict Content-Security-Policy: no
//! inline script or style, nothing from another origin).

use std::sync::OnceLock;

use handlebars::Handlebars;
use serde_json::Value;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;

/// What a page may load: its own scripts, styles and frames; no inline script, no eval, no
/// other origin; nobody may frame it.
pub(super) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// The page templates, by name (`pages/<name>.hbs`); `layout` is the frame every page fills.
const TEMPLATES: &[(&str, &str)] = &[
    ("layout", include_str!("pages/layout.hbs")),
    ("login", include_str!("pages/login.hbs")),
    ("off", include_str!("pages/off.hbs")),
    ("events", include_str!("pages/events.hbs")),
    ("event", include_str!("pages/event.hbs")),
    ("dead", include_str!("pages/dead.hbs")),
    ("confirm", include_str!("pages/confirm.hbs")),
    ("rules", include_str!("pages/rules.hbs")),
    ("preview", include_str!("pages/preview.hbs")),
    ("delivery", include_str!("pages/delivery.hbs")),
    ("message", include_str!("pages/message.hbs")),
];

fn registry() -> &'static Handlebars<'static> {
    static REGISTRY: OnceLock<Handlebars<'static>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        for (name, text) in TEMPLATES {
            // The templates are part of the binary and a unit test renders every one: a
            // broken one fails that test, never a running relay.
            if let Err(e) = hb.register_template_string(name, *text) {
                panic!("page template {name} does not compile: {e}");
            }
        }
        hb
    })
}

/// Renders page `name` with `data` and answers it with `status`.
pub(super) fn page(status: StatusCode, name: &str, data: &Value) -> Response {
    match registry().render(name, data) {
        Ok(body) => html_response(status, body),
        Err(e) => {
            tracing::error!(page = name, "operator page: the page template failed: {e}");
            let body = "<!doctype html><title>Error</title><p>This page could not be drawn; \
                        the relay's log says why.</p>"
                .to_string();
            html_response(StatusCode::INTERNAL_SERVER_ERROR, body)
        }
    }
}

/// An HTML answer with the page's security headers.
pub(super) fn html_response(status: StatusCode, body: String) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure(headers, CSP);
    response
}

/// The headers every answer of the page carries, with its own `csp`.
pub(super) fn secure(headers: &mut warp::http::HeaderMap, csp: &'static str) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Not `no-referrer`: with it a browser sends `Origin: null` with the page's own forms.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// 303 See Other to `location` (a path of the page).
pub(super) fn redirect(location: &str) -> Response {
    let mut response = Response::new(Vec::new().into());
    *response.status_mut() = StatusCode::SEE_OTHER;
    let value =
        HeaderValue::from_str(location).unwrap_or_else(|_| HeaderValue::from_static("/ui/"));
    response.headers_mut().insert(header::LOCATION, value);
    secure(response.headers_mut(), CSP);
    response
}

/// JSON for a `<script type="application/json">` island: `<`, `>` and `&` escaped, so no
/// text in it can close the element or open a comment.
pub(super) fn json_island(value: &Value) -> String {
    serde_json::to_string(value)
        .unwrap_or_default()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        let names: Vec<&str> = registry()
            .get_templates()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(names.len(), TEMPLATES.len(), "{names:?}");
    }

    #[test]
    fn an_island_cannot_close_its_script() {
        let island = json_island(&serde_json::json!({"t": "</script><!-- & -->"}));
        assert!(!island.contains('<') && !island.contains('>') && !island.contains('&'));
        let back: Value = serde_json::from_str(&island).unwrap();
        assert_eq!(back["t"], "</script><!-- & -->");
    }
}

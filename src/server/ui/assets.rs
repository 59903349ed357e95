//! The page's static files, all inside the binary: its own stylesheets and script, the Teams
//! host config, and the browser code build.rs fetched and checked (Microsoft's Adaptive Cards
//! renderer, markdown-it) with the licences that travel with it. They hold no secret, so the
//! login page may load them before anyone has signed in.

use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;

use super::html;

/// `(name under /ui/assets/, content type, bytes)`.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "ui.css",
        "text/css; charset=utf-8",
        include_bytes!("assets/ui.css"),
    ),
    (
        "slack.css",
        "text/css; charset=utf-8",
        include_bytes!("assets/slack.css"),
    ),
    (
        "ui.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/ui.js"),
    ),
    (
        "adaptivecards.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!(concat!(env!("OUT_DIR"), "/adaptivecards.min.js")),
    ),
    (
        "markdown-it.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!(concat!(env!("OUT_DIR"), "/markdown-it.min.js")),
    ),
    (
        // Microsoft's Teams light host config, as the docs pictures use it.
        "teams-host-config.json",
        "application/json",
        include_bytes!("../../../docs/render/pages/teams-host-config.json"),
    ),
    (
        "licenses.txt",
        "text/plain; charset=utf-8",
        include_bytes!(concat!(env!("OUT_DIR"), "/THIRD_PARTY_LICENSES.txt")),
    ),
];

/// What the page's own files may do: nothing but be what they are.
const ASSET_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// The asset `name`, or 404.
pub(super) fn serve(name: &str) -> Response {
    let Some((_, kind, bytes)) = ASSETS.iter().find(|(n, _, _)| *n == name) else {
        return html::page(
            StatusCode::NOT_FOUND,
            "off",
            &serde_json::json!({"title": "Not found", "message": "There is no such file."}),
        );
    };
    let mut response = Response::new(bytes.to_vec().into());
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    html::secure(headers, ASSET_CSP);
    // The bytes change only with the binary; an hour keeps a phone from fetching them again.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    response
}

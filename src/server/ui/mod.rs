//! The operator page under `/ui/`: what happened to every event, dead letters with replay,
//! the rules and targets, and a preview of a rule's messages. Off until `server.admin_token`
//! is set; the same token signs in (a login form and a session cookie, or `Authorization:
//! Bearer` for scripts).
//!
//! | route | what |
//! |---|---|
//! | `GET /ui/` | events, newest first, with filters and a tail toggle ([`events`]) |
//! | `GET /ui/events/<id>` | one event: as received, every rule's verdict, deliveries and attempts |
//! | `POST /ui/events/<id>/reroute` | matches it against the rules now and sends what matches (after a confirmation) |
//! | `GET /ui/deliveries/<id>` | one delivery with the body a replay would send |
//! | `GET /ui/dead`, `POST /ui/dead/replay` | dead letters by target and reason; replay one, a selection or all since a time ([`dead`]) |
//! | `GET /ui/rules`, `POST /ui/rules/reload` | the loaded file (secrets hidden), its reloads, per-target health ([`rules`]) |
//! | `GET`/`POST /ui/preview` | an event against the loaded rules or a draft, each message drawn ([`preview`]) |
//! | `GET /ui/frames/<id>` | a previewed email's HTML, for a sandboxed frame ([`frames`]) |
//! | `GET /ui/assets/<file>` | stylesheets, scripts, licences ([`assets`]) |
//! | `GET`/`POST /ui/login`, `POST /ui/logout` | signing in and out ([`access`], with the sessions of [`session`]) |
//!
//! Every page reads the store through the calls the admin API uses (`crate::store::Store`),
//! so it shows the same on both engines. Every state-changing request from a browser needs
//! the session's CSRF token and a same-origin `Origin`; pages carry a strict
//! Content-Security-Policy ([`html`]). The page works without JavaScript except for drawing
//! Teams cards, which needs Microsoft's renderer.

mod access;
mod assets;
mod dead;
mod events;
mod frames;
mod html;
mod preview;
mod rules;
mod session;
mod view;

use std::sync::Arc;
use std::time::Duration;

use bytes::Buf;
use futures_util::Stream;
use serde_json::{Value, json};
use warp::Filter;
use warp::http::{HeaderMap, Method, StatusCode};
use warp::reject::Rejection;
use warp::reply::Response;

use self::session::Access;
use super::auth::{Guard, Peer};
use super::reply::ApiError;
use super::webhook::read_body;
use crate::app::Relay;

/// The largest form the page takes once signed in (a pasted event and a pasted rules file).
const MAX_FORM_BYTES: u64 = 4 * 1024 * 1024;
/// The largest sign-in form.
const MAX_LOGIN_BYTES: u64 = 16 * 1024;

/// What lives as long as the server: the sessions, the previewed emails, the re-routes
/// under way.
#[derive(Default)]
struct Ui {
    sessions: session::Sessions,
    frames: frames::Frames,
    rerouting: events::Rerouting,
}

/// One request to the page, read whole.
struct Request {
    method: Method,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Request {
    /// The first value of `name` in the query string (empty values count as absent).
    fn query(&self, name: &str) -> Option<String> {
        first(&pairs(self.query.as_bytes()), name)
    }

    /// The form fields of a POST body (`application/x-www-form-urlencoded`).
    fn form(&self) -> Vec<(String, String)> {
        pairs(&self.body)
    }
}

fn pairs(bytes: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(bytes).into_owned().collect()
}

fn first(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.clone())
}

/// Everything under `/ui`; a form's body must arrive within `body_timeout`.
pub(super) fn routes(
    relay: Arc<Relay>,
    guard: Arc<Guard>,
    body_timeout: Duration,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let ui = Arc::new(Ui::default());
    super::under("/ui")
        .and(warp::method())
        .and(warp::header::headers_cloned())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::ext::optional::<Peer>())
        .and(warp::body::stream())
        .then(
            move |path: String, method: Method, headers: HeaderMap, query: String, peer, body| {
                let relay = relay.clone();
                let ui = ui.clone();
                let guard = guard.clone();
                async move {
                    let mut request = Request {
                        method,
                        path,
                        query,
                        headers,
                        body: Vec::new(),
                    };
                    let state = State {
                        relay: &relay,
                        ui: &ui,
                        guard: &guard,
                        peer,
                    };
                    handle(&state, &mut request, body, body_timeout).await
                }
            },
        )
}

/// What one request is handled with.
struct State<'a> {
    relay: &'a Arc<Relay>,
    ui: &'a Ui,
    guard: &'a Guard,
    peer: Option<Peer>,
}

/// Checks what needs no body first (the page on, who is asking), and reads a POST's body only
/// then, within its size and time limits.
async fn handle<S, B>(state: &State<'_>, req: &mut Request, body: S, timeout: Duration) -> Response
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let Some(token) = super::auth::admin_token(state.relay) else {
        return html::page(
            StatusCode::NOT_FOUND,
            "off",
            &json!({"title": "The operator page is off",
                    "message": "Set server.admin_token in the rules file and reload to turn it on."}),
        );
    };
    if req.path == "/ui" {
        return html::redirect("/ui/");
    }
    if let Some(name) = req.path.strip_prefix("/ui/assets/") {
        return assets::serve(name);
    }
    let signing_in = req.path == "/ui/login";
    let access = match signing_in {
        true => None,
        false => match access::authenticate(state, &token, req) {
            Ok(access) => Some(access),
            Err(response) => return *response,
        },
    };
    if req.method == Method::POST {
        let limit = if signing_in {
            MAX_LOGIN_BYTES
        } else {
            MAX_FORM_BYTES
        };
        match read_form(body, limit, timeout).await {
            Ok(bytes) => req.body = bytes,
            Err(response) => return response,
        }
    }
    let Some(access) = access else {
        return access::login(state, &token, req);
    };
    if req.method == Method::POST
        && let Access::Session { csrf, .. } = &access
        && let Some(response) = access::refusal(req, csrf)
    {
        return response;
    }
    route(state.relay, state.ui, &access, req).await
}

/// A form's body, refused when larger than `limit` or slower than `timeout`.
async fn read_form<S, B>(body: S, limit: u64, timeout: Duration) -> Result<Vec<u8>, Response>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let refused = |e: ApiError| message(e.status, "The request was refused", &e.message);
    match tokio::time::timeout(timeout, read_body(body, limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => Err(refused(e)),
        Err(_) => Err(refused(ApiError::request_timeout(timeout))),
    }
}

async fn route(relay: &Arc<Relay>, ui: &Ui, access: &Access, req: &Request) -> Response {
    let parts: Vec<&str> = req.path.trim_start_matches("/ui/").split('/').collect();
    let page = Page { relay, ui, access };
    match (&req.method, parts.as_slice()) {
        (&Method::GET, [""]) => events::list(&page, req).await,
        (&Method::GET, ["events", id]) => events::show(&page, id).await,
        (&Method::POST, ["events", id, "reroute"]) => events::reroute(&page, id, req).await,
        (&Method::GET, ["deliveries", id]) => events::delivery(&page, id).await,
        (&Method::POST, ["deliveries", id, "replay"]) => events::replay(&page, id).await,
        (&Method::GET, ["dead"]) => dead::list(&page, req).await,
        (&Method::POST, ["dead", "replay"]) => dead::replay(&page, req).await,
        (&Method::GET, ["rules"]) => rules::show(&page, req).await,
        (&Method::POST, ["rules", "reload"]) => rules::reload(&page).await,
        (&Method::GET, ["preview"]) => preview::form(&page, req).await,
        (&Method::POST, ["preview"]) => preview::run(&page, req).await,
        (&Method::GET, ["frames", id]) => ui.frames.serve(id),
        (&Method::POST, ["logout"]) => access::logout(ui, access),
        _ => message(
            StatusCode::NOT_FOUND,
            "Not found",
            "The operator page has no such screen.",
        ),
    }
}

/// What a screen's handler needs: the relay, the page's state, and who is asking.
struct Page<'a> {
    relay: &'a Arc<Relay>,
    ui: &'a Ui,
    access: &'a Access,
}

impl Page<'_> {
    /// The CSRF token the page's forms carry (none for a Bearer script).
    fn csrf(&self) -> &str {
        match self.access {
            Access::Session { csrf, .. } => csrf,
            Access::Bearer => "",
        }
    }

    /// Renders `template` inside the layout: `data` plus the layout's own fields.
    fn render(
        &self,
        status: StatusCode,
        template: &str,
        nav: &str,
        title: &str,
        mut data: Value,
    ) -> Response {
        if let Value::Object(map) = &mut data {
            map.insert("title".into(), json!(title));
            map.insert("nav".into(), json!(nav));
            map.insert("csrf".into(), json!(self.csrf()));
            map.insert(
                "signed_in".into(),
                json!(matches!(self.access, Access::Session { .. })),
            );
            let refresh = map.get("tail").and_then(Value::as_bool).unwrap_or(false);
            map.insert("refresh".into(), json!(refresh));
        }
        html::page(status, template, &data)
    }

    /// A page that only says something (an error, a result).
    fn message(&self, status: StatusCode, title: &str, text: &str) -> Response {
        self.render(status, "message", "", title, json!({"message": text}))
    }

    /// The page for a store that cannot answer now.
    fn store_down(&self, e: &crate::store::StoreError) -> Response {
        tracing::warn!("operator page: {e}");
        self.message(
            StatusCode::SERVICE_UNAVAILABLE,
            "The store cannot answer now",
            "The relay cannot read its store at the moment; its log says why. Try again shortly.",
        )
    }
}

/// A page outside the layout (before sign-in, or when the request itself was refused).
fn message(status: StatusCode, title: &str, text: &str) -> Response {
    html::page(status, "off", &json!({"title": title, "message": text}))
}

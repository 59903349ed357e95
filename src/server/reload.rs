//! `POST /-/reload`: reload `rules.yaml`, guarded by `server.admin_token`; answered within
//! [`crate::app::RELOAD_WAIT`] whatever the file system does.

use std::sync::Arc;

use serde_json::json;
use warp::Filter;
use warp::http::{HeaderMap, StatusCode};
use warp::reject::Rejection;
use warp::reply::Response;

use super::at;
use super::auth::{self, Credential};
use super::reply::{ApiError, json_response, respond};
use crate::app::{Overlap, Relay, ReloadError};
use crate::config::ConfigErrors;

/// `POST /-/reload` with `Authorization: Bearer <admin_token>`.
pub(super) fn reload(
    relay: Arc<Relay>,
    guard: Arc<auth::Guard>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    at("/-/reload")
        .and(warp::post())
        .and(warp::header::headers_cloned())
        .and(warp::ext::optional::<auth::Peer>())
        .then(move |headers: HeaderMap, peer| {
            let relay = relay.clone();
            let guard = guard.clone();
            async move { respond(handle_reload(relay, &guard, peer, &headers).await) }
        })
}

const ADMIN_AUTH: auth::Messages = auth::Messages {
    // Not reached: an unset admin token answers 403 before the check.
    not_configured: "server.admin_token is not set",
    missing: "missing admin token: send Authorization: Bearer <admin_token>",
    wrong: "wrong admin token",
};

async fn handle_reload(
    relay: Arc<Relay>,
    guard: &auth::Guard,
    peer: Option<auth::Peer>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let Some(admin_token) = auth::admin_token(&relay) else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "reload_disabled",
            "reload over HTTP is off until server.admin_token is set; reload with SIGHUP",
        ));
    };
    let presented = Credential::bearer(headers);
    auth::check_admin(
        guard,
        peer,
        &admin_token,
        presented.as_ref(),
        ADMIN_AUTH,
        "reload",
    )?;
    match relay.reload_within(Overlap::Refuse).await {
        Ok(app) => {
            tracing::info!(
                config_hash = %app.config.hash,
                file = %relay.rules_path().display(),
                "configuration reloaded over HTTP"
            );
            let restart_needed = relay.restart_needed(&app);
            crate::app::start_only::warn(&restart_needed);
            Ok(json_response(
                StatusCode::OK,
                &json!({
                    "status": "reloaded",
                    "config_hash": app.config.hash,
                    "restart_needed": restart_needed,
                }),
            ))
        }
        Err(e) => Err(reload_error(e)),
    }
}

/// The running configuration stays in every case; all but an invalid file may be tried again.
fn reload_error(e: ReloadError) -> ApiError {
    let code = match &e {
        ReloadError::Invalid(errors) => return invalid_config(errors),
        ReloadError::Failed(_) => {
            tracing::error!("{e}");
            return ApiError::internal("the reload did not complete");
        }
        ReloadError::TimedOut => "reload_timeout",
        ReloadError::InProgress(_) | ReloadError::Queued => "reload_in_progress",
    };
    tracing::warn!("reload over HTTP: {e}");
    ApiError::unavailable(code, e.to_string())
}

fn invalid_config(errors: &ConfigErrors) -> ApiError {
    let problems: Vec<String> = errors.errors.iter().map(ToString::to_string).collect();
    tracing::warn!(
        problems = problems.len(),
        "reload rejected; the old configuration stays"
    );
    let message = match problems.len() {
        1 => "1 problem".to_string(),
        n => format!("{n} problems"),
    };
    ApiError::bad_request("invalid_config", message).with_problems(problems)
}

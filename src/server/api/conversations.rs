//! `GET /api/conversations?object=&target=&limit=`: the conversations (`threads: true`) the
//! store keeps, most recently updated first; `object` is `corrective-action:<id>`,
//! `audit:<id>` or the bare id.

use warp::http::StatusCode;
use warp::reply::Response;

use super::{limit, param, store_error};
use crate::app::Relay;
use crate::server::reply::{ApiError, json_response};
use crate::store::ConversationFilter;

pub(super) async fn list(relay: &Relay, query: &str) -> Result<Response, ApiError> {
    let filter = ConversationFilter {
        limit: limit(query)?,
        object: param(query, "object"),
        target: param(query, "target"),
    };
    let found = relay
        .store
        .conversations(&filter)
        .await
        .map_err(store_error)?;
    let shown: Vec<_> = found.iter().map(super::views::conversation_json).collect();
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({ "conversations": shown }),
    ))
}

//! A local stand-in for the MonitorQA API, a [`Provider`] of the `mock` stack:
//! `GET /audit/{id}` and `GET /corrective-actions/{id}`, answering as the real one is
//! documented to (error shape `{"error":{"message","code","details"}}`, 401 without the right
//! `X-API-KEY`, 404 for unknown ids).
//!
//! Start it with `MonitorqaApi::start(key)`, tell it what it knows with
//! `api.with(|a| a.add_audit(id, body))`, script 429s, 5xx, slow or odd answers with
//! `api.script([...])`, and count what arrived with `api.received()`.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::mock::{Mock, Provider, Recorded, Reply};

/// The MonitorQA API with one valid key and the audits and actions it knows.
pub struct MonitorqaApi {
    api_key: String,
    audits: HashMap<String, Value>,
    actions: HashMap<String, Value>,
}

impl MonitorqaApi {
    /// Starts the API on 127.0.0.1, accepting `api_key`.
    pub async fn start(api_key: &str) -> Mock<MonitorqaApi> {
        Mock::start_with(MonitorqaApi {
            api_key: api_key.to_string(),
            audits: HashMap::new(),
            actions: HashMap::new(),
        })
        .await
    }

    /// `GET /audit/{id}` answers `body`.
    pub fn add_audit(&mut self, id: &str, body: Value) {
        self.audits.insert(id.to_string(), body);
    }

    /// `GET /corrective-actions/{id}` answers `body`.
    pub fn add_action(&mut self, id: &str, body: Value) {
        self.actions.insert(id.to_string(), body);
    }

    fn error_body(status: u16, message: &str) -> Reply {
        let body = json!({"error": {"message": message, "code": status, "details": null}});
        Reply::json(status, &body)
    }
}

impl Provider for MonitorqaApi {
    fn answer(&mut self, req: &Recorded) -> Reply {
        if req.header("x-api-key") != Some(self.api_key.as_str()) {
            return Self::error_body(401, "Invalid API key");
        }
        let path = req.path.as_str();
        let table = if path.starts_with("/audit/") && !path.starts_with("/audit/complete/") {
            &self.audits
        } else if path.starts_with("/corrective-actions/") {
            &self.actions
        } else {
            return Self::error_body(404, "Not found");
        };
        let id = path.rsplit('/').next().unwrap_or_default();
        match table.get(id) {
            Some(body) => Reply::json(200, body),
            None => Self::error_body(404, "Entity not found"),
        }
    }

    fn error(&mut self, status: u16, code: &str) -> Reply {
        let message = match (status, code) {
            (_, c) if !c.is_empty() => c,
            (401, _) => "Invalid API key",
            (404, _) => "Entity not found",
            (429, _) => "Too many requests",
            _ => "Scripted failure",
        };
        Self::error_body(status, message)
    }
}

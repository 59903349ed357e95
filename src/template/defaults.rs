//! The built-in message templates, one per MonitorQA event type plus `unknown_event`, embedded
//! in the binary. A file of the same name in `templates/` replaces one.

/// The 15 MonitorQA event types.
pub use crate::event::EVENT_TYPES as EVENT_KINDS;

/// The template for event types the relay has never seen.
pub const UNKNOWN_EVENT: &str = "unknown_event";

macro_rules! builtin {
    ($($name:literal),* $(,)?) => {
        [$(($name, include_str!(concat!("defaults/", $name, ".yaml")))),*]
    };
}

/// `(name, YAML source)` of every built-in template.
pub const BUILTIN: [(&str, &str); 16] = builtin![
    "audit_assigned",
    "audit_completed",
    "audit_deleted",
    "audit_expired",
    "audit_rescheduled",
    "corrective_action_created",
    "corrective_action_assigned",
    "corrective_action_submitted",
    "corrective_action_approved",
    "corrective_action_rejected",
    "corrective_action_deleted",
    "corrective_action_expired",
    "corrective_action_updated",
    "template_created",
    "template_deleted",
    "unknown_event",
];

/// The default template name for an event type: `AUDIT_EXPIRED` → `audit_expired`; a type
/// not in [`EVENT_KINDS`] → `unknown_event`.
pub fn default_name(event_kind: &str) -> String {
    if EVENT_KINDS.contains(&event_kind) {
        event_kind.to_ascii_lowercase()
    } else {
        UNKNOWN_EVENT.to_owned()
    }
}

//! A Slack target's keys in `rules.yaml`: an incoming webhook `url`, or a bot `token` and its
//! `channel` (with `base_url` to point the Web API elsewhere, as tests do).

use super::Slack;
use crate::targets::config::secret_url;
use crate::yaml::fields::{Fields, http_url};
use crate::yaml::report::Report;

/// A Slack target's own keys: `url` (an incoming webhook), or `token` and `channel`
/// (`chat.postMessage`, with an optional `base_url`).
pub(crate) fn parse(f: &Fields, report: &mut Report) -> Option<Slack> {
    let url = secret_url(f, "url", false, report).map(|(url, _)| url);
    let token = f.secret("token", false, report);
    let channel = f.text("channel", report).map(|(channel, _)| channel);
    let base_url = http_url(f, "base_url", report);
    let problem = match (f.has("url"), f.has("token"), f.has("channel")) {
        (false, false, false) => Some(
            "slack target needs either `url` (an incoming webhook) or `token` and `channel` \
             (chat.postMessage)",
        ),
        (true, true, _) | (true, _, true) => {
            Some("slack target takes either `url` or `token` + `channel`, not both")
        }
        (false, true, false) => Some("slack target with `token` also needs `channel`"),
        (false, false, true) => Some(
            "slack target with `channel` also needs `token` (or use `url` for an incoming webhook)",
        ),
        _ => None,
    };
    if let Some(message) = problem {
        report.error(f.at(), f.context(), message);
    }
    Some(Slack::new(url, token, channel, base_url))
}

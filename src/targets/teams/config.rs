//! A Teams target's key in `rules.yaml`: the Workflows webhook `url`.

use super::Teams;
use crate::targets::config::secret_url;
use crate::yaml::fields::Fields;
use crate::yaml::report::Report;
use crate::yaml::values::host_within;

/// A Teams target's own key: the Workflows webhook `url`. Retired Office 365 connector and old
/// Logic Apps trigger URLs are refused with what to use instead.
pub(crate) fn parse(f: &Fields, report: &mut Report) -> Option<Teams> {
    let (url, host) = secret_url(f, "url", true, report)?;
    let retired = if host_within(&host, "webhook.office.com")
        || host_within(&host, "outlook.office.com")
    {
        Some(format!(
            "`url` is an Office 365 connector webhook (host `{host}`); those connectors were retired \
             in May 2026. Create a Teams Workflows webhook with the \"Send webhook alerts to a \
             channel\" template and use its URL"
        ))
    } else if host_within(&host, "logic.azure.com") {
        Some(format!(
            "`url` is an old Workflows trigger URL (host `{host}`) that stopped working on 30 Nov \
             2025; copy the new trigger URL from the flow (on *.environment.api.powerplatform.com)"
        ))
    } else {
        None
    };
    if let (Some(message), Some(node)) = (retired, f.get("url")) {
        f.problem(node, message, report);
        return None;
    }
    Some(Teams::new(url))
}

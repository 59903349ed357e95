//! Mailgun: `POST /v3/{domain}/messages` on the domain's region host, HTTP Basic `api:<key>`,
//! `multipart/form-data` fields.
//!
//! | answer | verdict |
//! |---|---|
//! | 2xx | delivered, `id` from the body |
//! | 429 | pause the target until `Retry-After`, or the "try again after `<date>`" in the message |
//! | 408, 5xx | retry |
//! | 401 (`Forbidden`) | dead: wrong key, or the domain lives in the other region |
//! | 404 (`Domain not found`) | dead: wrong domain or region |
//! | 400, 402, 403, 413, other 4xx | dead, with `message` |

use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::MailgunRegion;
use super::{Mail, base};
use crate::secret::Secret;
use crate::targets::http::base64;
use crate::targets::verdict::{by_status, excerpt, retry_after};
use crate::targets::{BuildError, HeaderText, HttpRequest, HttpResponse, RequestBody, Verdict};

pub const US_BASE: &str = "https://api.mailgun.net";
pub const EU_BASE: &str = "https://api.eu.mailgun.net";

/// The messages request; `to` is repeated once per recipient.
pub fn request(
    base_url: Option<&str>,
    region: MailgunRegion,
    domain: Option<&str>,
    api_key: &Secret,
    mail: &Mail,
    key: &str,
) -> Result<HttpRequest, BuildError> {
    let domain = domain
        .map(str::trim)
        .filter(|d| is_domain(d))
        .ok_or_else(|| {
            BuildError::Config(
                "a mailgun target needs its sending `domain` (e.g. mg.example.com)".to_string(),
            )
        })?;
    let default = default_base(region);
    let credentials = base64(basic_credentials(api_key.expose()).as_bytes());
    let mut fields = vec![("from".to_string(), mail.from.clone())];
    fields.extend(mail.to.iter().map(|to| ("to".to_string(), to.clone())));
    fields.extend([
        ("subject".to_string(), mail.subject.clone()),
        ("text".to_string(), mail.text.clone()),
        ("html".to_string(), mail.html.clone()),
        ("v:mqa-delivery".to_string(), key.to_string()),
    ]);
    // Custom headers are `h:<Name>` fields.
    fields.extend(
        mail.headers
            .iter()
            .map(|(name, value)| (format!("h:{name}"), value.clone())),
    );
    Ok(HttpRequest {
        url: Secret::new(format!("{}/v3/{domain}/messages", base(base_url, default))),
        headers: vec![(
            "authorization".to_string(),
            HeaderText::Secret(Secret::new(format!("Basic {credentials}"))),
        )],
        body: RequestBody::Multipart(fields),
    })
}

/// The API base of the domain's region, unless `base_url` says.
pub fn default_base(region: MailgunRegion) -> &'static str {
    match region {
        MailgunRegion::Us => US_BASE,
        MailgunRegion::Eu => EU_BASE,
    }
}

/// The `user:password` of the HTTP Basic credentials: Mailgun's user is always `api`.
pub fn basic_credentials(api_key: &str) -> String {
    format!("api:{api_key}")
}

fn is_domain(d: &str) -> bool {
    !d.is_empty()
        && d.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
}

pub fn classify(resp: &HttpResponse, now: SystemTime) -> Verdict {
    let json: Option<Value> = serde_json::from_str(&resp.body).ok();
    if (200..300).contains(&resp.status) {
        let id = json
            .as_ref()
            .and_then(|j| j["id"].as_str())
            .map(str::to_string);
        return Verdict::delivered(id);
    }
    let message = json
        .as_ref()
        .and_then(|j| j["message"].as_str())
        .map(excerpt)
        .unwrap_or_else(|| excerpt(&resp.body));
    match resp.status {
        429 => {
            let wait = retry_after(&resp.headers, now).or_else(|| try_again_after(&message, now));
            Verdict::pause_target(wait, format!("Mailgun answered 429 {message}"))
        }
        401 => Verdict::dead(format!(
            "Mailgun answered 401 {message}: the API key is wrong, or the domain is in the \
             other region (set `region: eu` for EU domains)"
        )),
        404 => Verdict::dead(format!(
            "Mailgun answered 404 {message}: check the target's `domain` and `region`"
        )),
        status => by_status("Mailgun", status, &message, &resp.headers, now),
    }
}

/// The wait until the date in "… try again after Mon, 20 Dec 2021 20:33:21 UTC".
fn try_again_after(message: &str, now: SystemTime) -> Option<Duration> {
    let (_, date) = message.rsplit_once("try again after ")?;
    let date = date.trim().trim_end_matches('.');
    let date = date
        .strip_suffix("UTC")
        .map_or(date.to_string(), |d| format!("{d}GMT"));
    let at = httpdate::parse_http_date(&date).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_date_in_a_429_message_is_a_wait() {
        // 1_640_032_371 is Mon, 20 Dec 2021 20:32:51 UTC.
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_640_032_371);
        let msg = "Domain mg.example.com is not allowed to send: request limit exceeded, \
                   try again after Mon, 20 Dec 2021 20:33:21 UTC";
        assert_eq!(try_again_after(msg, now), Some(Duration::from_secs(30)));
    }
}

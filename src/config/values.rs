//! Parsers for the small value languages of `rules.yaml`: durations, sizes, rate limits and
//! http(s) URLs. Pure functions; their messages quote a value only where it is never a secret
//! (a URL is never quoted).

use std::time::Duration;

use super::RateLimit;

/// `"2s"`, `"10m"`, `"24h"`, `"1h 30m"` (humantime).
pub(crate) fn duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|_| format!("`{text}` is not a duration; write e.g. \"10s\", \"5m\" or \"24h\""))
}

/// `1048576`, `"512KiB"`, `"1MiB"`, `"1MB"`, `"64 KB"`: a number of bytes.
pub(crate) fn size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return Err(size_error(text)),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .ok_or_else(|| size_error(text))
}

fn size_error(text: &str) -> String {
    format!("`{text}` is not a size; write a number of bytes or e.g. \"512KiB\", \"1MiB\"")
}

/// `"1/s"`, `"30/min"`, `"100/h"`, `"5/10s"`: at most `count` requests per period.
pub(crate) fn rate_limit(text: &str) -> Result<RateLimit, String> {
    let problem = || {
        format!(
            "`{text}` is not a rate limit; write COUNT/PERIOD, e.g. \"1/s\", \"30/min\", \"100/h\""
        )
    };
    let (count, period) = text.trim().split_once('/').ok_or_else(problem)?;
    let count: u32 = count.trim().parse().map_err(|_| problem())?;
    let period = period.trim();
    let per = match period {
        "s" | "sec" | "second" => Duration::from_secs(1),
        "m" | "min" | "minute" => Duration::from_secs(60),
        "h" | "hour" => Duration::from_secs(3600),
        "d" | "day" => Duration::from_secs(86_400),
        other => humantime::parse_duration(other).map_err(|_| problem())?,
    };
    if count == 0 || per.is_zero() {
        return Err(format!(
            "rate limit `{text}` must allow at least 1 request in a non-zero period"
        ));
    }
    Ok(RateLimit { count, per })
}

/// Why a string is not an http(s) URL; the messages never quote the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UrlProblem {
    NotHttp,
    NoHost,
}

impl UrlProblem {
    pub fn message(self, key: &str) -> String {
        match self {
            UrlProblem::NotHttp => format!("`{key}` must be an http:// or https:// URL"),
            UrlProblem::NoHost => format!("`{key}` has no valid host"),
        }
    }
}

/// The host (lower case) of an `http://` or `https://` URL.
pub(crate) fn http_host(url: &str) -> Result<String, UrlProblem> {
    let (scheme, rest) = url.split_once("://").ok_or(UrlProblem::NotHttp)?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(UrlProblem::NotHttp);
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        let (inside, after) = v6.split_once(']').ok_or(UrlProblem::NoHost)?;
        (inside, after.strip_prefix(':'))
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.parse::<u16>().is_ok());
    if !host_ok || !port_ok {
        return Err(UrlProblem::NoHost);
    }
    Ok(host.to_ascii_lowercase())
}

/// True for a host equal to `domain` or below it (`x.domain`).
pub(crate) fn host_within(host: &str, domain: &str) -> bool {
    host == domain
        || host
            .strip_suffix(domain)
            .is_some_and(|prefix| prefix.ends_with('.'))
}

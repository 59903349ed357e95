//! Parsers for the small value languages of `rules.yaml`: durations, sizes, rate limits and
//! http(s) URLs. Pure functions; their messages quote a value only where it is never a secret
//! (a URL is never quoted).

use std::time::Duration;

/// At most `count` requests per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub count: u32,
    pub per: Duration,
}

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

/// The host of an `http://` or `https://` URL, read by the same parser (WHATWG, the `url`
/// crate) as the HTTP client that sends to it, so what is checked is where requests go:
/// `http://127.0.0.1\@evil.example/` is `127.0.0.1`, as reqwest sends it. The host comes
/// back normalised for comparison: lower case, international names in their ASCII (punycode)
/// form, without a trailing dot, IPv6 in brackets.
pub(crate) fn http_host(text: &str) -> Result<String, UrlProblem> {
    let url = url::Url::parse(text).map_err(|e| match e {
        url::ParseError::RelativeUrlWithoutBase => UrlProblem::NotHttp,
        _ => UrlProblem::NoHost,
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UrlProblem::NotHttp);
    }
    match url.host_str() {
        Some(host) if !host.is_empty() => Ok(normalise_host(host)),
        _ => Err(UrlProblem::NoHost),
    }
}

/// A host as compared: lower case, without the trailing dot of a fully qualified name
/// (`x.webhook.office.com.` is the same host as `x.webhook.office.com`).
fn normalise_host(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// True for a host equal to `domain` or below it (`x.domain`), compared normalised.
pub(crate) fn host_within(host: &str, domain: &str) -> bool {
    let (host, domain) = (normalise_host(host), normalise_host(domain));
    host == domain
        || host
            .strip_suffix(&domain)
            .is_some_and(|prefix| prefix.ends_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backslash_before_userinfo_is_read_as_the_client_reads_it() {
        // WHATWG (and so reqwest) reads `\` as `/` in http(s) URLs: the host is 127.0.0.1.
        assert_eq!(
            http_host("http://127.0.0.1\\@evil.example/").as_deref(),
            Ok("127.0.0.1")
        );
        assert_eq!(
            http_host("https://x.webhook.office.com\\@relay.example/").as_deref(),
            Ok("x.webhook.office.com")
        );
    }

    #[test]
    fn userinfo_is_not_the_host() {
        assert_eq!(
            http_host("https://relay.example:pw@hooks.example/x").as_deref(),
            Ok("hooks.example")
        );
        assert_eq!(
            http_host("https://a@b@hooks.example/x").as_deref(),
            Ok("hooks.example")
        );
    }

    #[test]
    fn a_trailing_dot_and_upper_case_are_the_same_host() {
        assert_eq!(
            http_host("HTTPS://X.Webhook.Office.COM./webhookb2/x").as_deref(),
            Ok("x.webhook.office.com")
        );
        assert!(host_within("x.webhook.office.com.", "webhook.office.com"));
        assert!(host_within("X.WEBHOOK.OFFICE.COM", "webhook.office.com."));
        assert!(!host_within("xwebhook.office.com", "webhook.office.com"));
    }

    #[test]
    fn international_hosts_are_compared_in_their_ascii_form() {
        assert_eq!(
            http_host("https://bücher.example/x").as_deref(),
            Ok("xn--bcher-kva.example")
        );
        assert_eq!(
            http_host("https://xn--bcher-kva.example/x").as_deref(),
            Ok("xn--bcher-kva.example")
        );
        // Full-width letters map to ASCII ones: this is the retired connector host.
        let full_width = http_host("https://x.ｗｅｂｈｏｏｋ.office.com/x").unwrap();
        assert!(
            host_within(&full_width, "webhook.office.com"),
            "{full_width}"
        );
    }

    #[test]
    fn ipv6_hosts_keep_their_brackets_and_ports_are_not_part_of_the_host() {
        assert_eq!(http_host("http://[::1]:8080/x").as_deref(), Ok("[::1]"));
        assert_eq!(http_host("http://[0:0::1]/x").as_deref(), Ok("[::1]"));
        assert_eq!(
            http_host("http://127.0.0.1:9/x").as_deref(),
            Ok("127.0.0.1")
        );
    }

    #[test]
    fn what_is_not_an_http_url_says_so() {
        assert_eq!(http_host("ftp://erp.example/x"), Err(UrlProblem::NotHttp));
        assert_eq!(http_host("erp.example/x"), Err(UrlProblem::NotHttp));
        assert_eq!(http_host("javascript:alert(1)"), Err(UrlProblem::NotHttp));
        assert_eq!(http_host("https://"), Err(UrlProblem::NoHost));
        assert_eq!(http_host("https://:8080/x"), Err(UrlProblem::NoHost));
        assert_eq!(http_host("http://exa mple.com/"), Err(UrlProblem::NoHost));
        assert_eq!(
            http_host("http://h.example:99999/"),
            Err(UrlProblem::NoHost)
        );
    }
}

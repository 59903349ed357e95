//! Readable local times and durations for messages: pure functions behind the `local_time` and
//! `duration` helpers.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

/// `Sun 22 Nov 2026, 23:59 WET`: weekday, day, month, year, 24-hour time, zone abbreviation.
pub const DEFAULT_FORMAT: &str = "%a %-d %b %Y, %H:%M %Z";

/// Formats a UTC ISO-8601 time in an IANA zone (jiff's bundled database).
///
/// - No zone (absent, null or empty): UTC, and the default format says `UTC`.
/// - An unknown zone: UTC, followed by `(unknown time zone <zone>)`.
/// - A time that does not parse: returned as given; a person can still read it.
/// - A time without an offset (`2026-11-20T05:00:00`) is taken as UTC, as MonitorQA means it.
///
/// Errors only for a bad `format` (a template mistake, found by `check`).
pub fn local_time(utc: &str, zone: Option<&str>, format: Option<&str>) -> Result<String, String> {
    let Some(timestamp) = parse_utc(utc) else {
        return Ok(utc.to_owned());
    };
    let zone = zone.map(str::trim).filter(|z| !z.is_empty());
    let (tz, note) = match zone {
        None => (TimeZone::UTC, String::new()),
        Some(name) => match TimeZone::get(name) {
            Ok(tz) => (tz, String::new()),
            Err(_) => (TimeZone::UTC, format!(" (unknown time zone {name})")),
        },
    };
    let zoned: Zoned = timestamp.to_zoned(tz);
    let format = format.unwrap_or(DEFAULT_FORMAT);
    let text = jiff::fmt::strtime::format(format, &zoned)
        .map_err(|e| format!("bad format {format:?}: {e}"))?;
    Ok(text + &note)
}

fn parse_utc(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Some(ts);
    }
    let civil: DateTime = s.parse().ok()?;
    civil.to_zoned(TimeZone::UTC).ok().map(|z| z.timestamp())
}

/// `2201` seconds → `36 min`; `5400` → `1 h 30 min`; `45` → `45 s`; days as `2 d 3 h`.
pub fn duration(seconds: u64) -> String {
    let (days, hours, minutes) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60);
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{minutes} min"),
        3600..86_400 if minutes == 0 => format!("{hours} h"),
        3600..86_400 => format!("{hours} h {minutes} min"),
        _ if hours == 0 => format!("{days} d"),
        _ => format!("{days} d {hours} h"),
    }
}

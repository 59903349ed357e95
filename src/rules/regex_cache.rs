//! Compiled regexes by pattern: a rule set names few distinct patterns many times (and a reload
//! names the same ones again), so each distinct pattern is compiled once.
//!
//! A [`Regex`] is cheap to clone (its program is shared), so a clone from the cache matches
//! exactly as a fresh compilation would. Only valid patterns are kept; an invalid one is compiled
//! again each time, so its error message is always the regex crate's own. The cache is bounded:
//! when full it starts over, so patterns from old configurations cannot pile up.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use regex::Regex;

/// More distinct patterns than a large rule file holds; each costs a few KiB to some MiB.
const CAPACITY: usize = 1024;

static CACHE: LazyLock<Mutex<HashMap<String, Regex>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// `Regex::new(pattern)`, compiled at most once per distinct pattern while it stays cached.
pub(crate) fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    if let Some(re) = lock().get(pattern) {
        return Ok(re.clone());
    }
    // Compiled outside the lock: another thread compiling the same pattern at the same time
    // only costs a duplicate compilation.
    let re = Regex::new(pattern)?;
    let mut cache = lock();
    if cache.len() >= CAPACITY {
        cache.clear();
    }
    cache.insert(pattern.to_owned(), re.clone());
    Ok(re)
}

fn lock() -> std::sync::MutexGuard<'static, HashMap<String, Regex>> {
    // A panic while holding the lock cannot leave the map half-updated in a way that matters:
    // every entry is a complete (pattern, regex) pair.
    CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_pattern_matches_like_a_fresh_one() {
        let first = compile("(?i)kitchen [0-9]+").unwrap();
        let second = compile("(?i)kitchen [0-9]+").unwrap();
        assert_eq!(first.as_str(), second.as_str());
        assert!(second.is_match("Main KITCHEN 12"));
        assert!(!second.is_match("kitchen"));
    }

    #[test]
    fn an_invalid_pattern_is_an_error_every_time() {
        assert!(compile("(unclosed").is_err());
        assert!(compile("(unclosed").is_err());
    }
}

//! Compiled regexes by pattern, each within a fixed memory budget: a rule set names few
//! distinct patterns many times (and a reload names the same ones again), so each distinct
//! pattern is compiled once, and a file of 15 000 distinct patterns costs kilobytes each, not
//! tens of kilobytes and half a millisecond each.
//!
//! The regexes are `regex-automata`'s meta engine (the one inside the `regex` crate, same
//! syntax and matching) configured for what a `where` condition does: say yes or no for one
//! short event value. So no engine is built that only pays off on long texts or for finding
//! where a match is: no full DFA (other dependencies switch its feature on, and `regex` then
//! builds up to 40 KiB of one for every small pattern) and no literal prefilter (for a
//! case-insensitive pattern, hundreds of literal variants and a table searcher, the bulk of
//! the time). What stays is bounded: the compiled program by [`NFA_SIZE_LIMIT`], and the lazy
//! DFA's cache, the memory a regex grows while matching, by [`LAZY_DFA_CAPACITY`] per thread.
//!
//! A [`Regex`] is cheap to clone (its program is shared), so a clone from the cache matches
//! exactly as a fresh compilation would. Only valid patterns are kept; an invalid one is
//! compiled again each time, so its error message is always the regex engine's own. The cache
//! is bounded: when full it starts over, so patterns from old configurations cannot pile up.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use regex_automata::meta;
use regex_automata::nfa::thompson::WhichCaptures;

/// A compiled `regex:` pattern.
pub(crate) type Regex = meta::Regex;

/// The largest compiled program of one pattern (`\w{30}` needs 1.7 MiB: Unicode classes are
/// large; `(?i)kitchen [0-9]+` about 3 KiB). The `regex` crate's default is 10 MiB.
pub(crate) const NFA_SIZE_LIMIT: usize = 2 * 1024 * 1024;
/// The most memory one regex's lazy DFA keeps per matching thread; past it the cache starts
/// over, or the search goes on with a slower engine that needs none. The `regex` crate's
/// default is 2 MiB, for each of 15 000 regexes.
pub(crate) const LAZY_DFA_CAPACITY: usize = 64 * 1024;

/// More distinct patterns than a large rule file holds; each costs a few KiB to some MiB.
const CAPACITY: usize = 1024;

static CACHE: LazyLock<Mutex<HashMap<String, Regex>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// `pattern` compiled, at most once per distinct pattern while it stays cached. The error is
/// the regex engine's message (for a syntax error, the pattern with a caret under the problem).
pub(crate) fn compile(pattern: &str) -> Result<Regex, String> {
    if let Some(re) = lock().get(pattern) {
        return Ok(re.clone());
    }
    // Compiled outside the lock: another thread compiling the same pattern at the same time
    // only costs a duplicate compilation.
    let re = builder().build(pattern).map_err(|e| message(&e))?;
    let mut cache = lock();
    if cache.len() >= CAPACITY {
        cache.clear();
    }
    cache.insert(pattern.to_owned(), re.clone());
    Ok(re)
}

/// The engine configuration of every `regex:` condition.
fn builder() -> meta::Builder {
    let config = meta::Config::new()
        .nfa_size_limit(Some(NFA_SIZE_LIMIT))
        .hybrid_cache_capacity(LAZY_DFA_CAPACITY)
        .dfa(false)
        .auto_prefilter(false)
        .which_captures(WhichCaptures::Implicit);
    let mut builder = meta::Builder::new();
    builder.configure(config);
    builder
}

/// The error as the `regex` crate words it.
fn message(error: &meta::BuildError) -> String {
    if let Some(limit) = error.size_limit() {
        return format!("Compiled regex exceeds size limit of {limit} bytes.");
    }
    match error.syntax_error() {
        Some(syntax) => syntax.to_string(),
        None => error.to_string(),
    }
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
        assert!(first.is_match("kitchen 3"));
        assert!(second.is_match("Main KITCHEN 12"));
        assert!(!second.is_match("kitchen"));
    }

    #[test]
    fn an_invalid_pattern_is_an_error_every_time() {
        assert!(compile("(unclosed").is_err());
        assert!(compile("(unclosed").is_err());
    }

    #[test]
    fn a_syntax_error_reads_as_the_regex_crates() {
        let e = compile("(unclosed").unwrap_err();
        assert!(e.contains("(unclosed\n"), "{e}");
        assert!(e.ends_with("error: unclosed group"), "{e}");
    }

    #[test]
    fn a_pattern_whose_program_is_too_large_is_refused_with_the_limit() {
        let e = compile(r"\w{300}").unwrap_err();
        assert_eq!(
            e,
            format!("Compiled regex exceeds size limit of {NFA_SIZE_LIMIT} bytes.")
        );
    }

    #[test]
    fn fifteen_thousand_case_insensitive_patterns_take_a_few_kilobytes_each() {
        let total: usize = (0..15_000)
            .map(|i| compile(&format!("(?i)kitchen {i}")).unwrap().memory_usage())
            .sum();
        // With a full DFA and a literal prefilter each (the `regex` crate's build here), one
        // takes about 25 KiB.
        assert!(total / 15_000 < 6 * 1024, "{} bytes each", total / 15_000);
    }

    #[test]
    fn a_hostile_value_cannot_grow_the_lazy_dfa_past_its_capacity() {
        // Every position may start a match, and the last 12 characters decide: thousands of
        // DFA states, which a lazy DFA builds as the text asks for them.
        let re = compile("[01]*1[01]{12}x").unwrap();
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let text: String = (0..200_000)
            .map(|_| {
                // xorshift: a fixed, evenly mixed run of 0s and 1s.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                if state & 1 == 1 { '1' } else { '0' }
            })
            .collect();
        let mut cache = re.create_cache();
        let input = regex_automata::Input::new(&text);
        assert!(re.search_with(&mut cache, &input).is_none());
        // With the `regex` crate's 2 MiB capacity this search grows the cache to about 700 KiB.
        assert!(
            cache.memory_usage() < 2 * LAZY_DFA_CAPACITY,
            "{} bytes",
            cache.memory_usage()
        );
    }
}

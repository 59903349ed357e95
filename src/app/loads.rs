//! The running relay's configuration loads: when the file now serving was loaded, and the
//! outcome of the last reloads with the problems of those that failed (for `GET /api/config`).

use std::collections::VecDeque;

/// How many loads are kept, the newest first.
pub const KEPT: usize = 20;

/// One load of the rules file: at start, or a reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Load {
    pub at_ms: i64,
    /// The loaded file's hash; `None` when it was refused.
    pub hash: Option<String>,
    /// Why it was refused, one line per problem (`file:line:col: message`); empty when loaded.
    pub problems: Vec<String>,
}

impl Load {
    pub fn loaded(at_ms: i64, hash: &str) -> Load {
        Load {
            at_ms,
            hash: Some(hash.to_owned()),
            problems: Vec::new(),
        }
    }

    pub fn refused(at_ms: i64, problems: Vec<String>) -> Load {
        Load {
            at_ms,
            hash: None,
            problems,
        }
    }

    pub fn ok(&self) -> bool {
        self.hash.is_some()
    }
}

/// The kept loads, newest first (at most [`KEPT`]; the oldest leave first).
#[derive(Debug, Clone)]
pub struct Loads {
    recent: VecDeque<Load>,
    /// When the configuration now serving was loaded.
    serving_since_ms: i64,
}

impl Loads {
    /// The history of a relay that started on a file of `hash` at `at_ms`.
    pub fn started(at_ms: i64, hash: &str) -> Loads {
        Loads {
            recent: VecDeque::from([Load::loaded(at_ms, hash)]),
            serving_since_ms: at_ms,
        }
    }

    pub fn record(&mut self, load: Load) {
        if load.ok() {
            self.serving_since_ms = load.at_ms;
        }
        self.recent.push_front(load);
        self.recent.truncate(KEPT);
    }

    pub fn serving_since_ms(&self) -> i64 {
        self.serving_since_ms
    }

    /// The kept loads, the newest first.
    pub fn recent(&self) -> impl Iterator<Item = &Load> {
        self.recent.iter()
    }

    /// The newest reload that failed, if it came after the configuration now serving: the
    /// problem an operator still has to fix.
    pub fn unresolved_failure(&self) -> Option<&Load> {
        self.recent.front().filter(|load| !load.ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_reload_is_unresolved_until_a_later_one_succeeds() {
        let mut loads = Loads::started(1_000, "aaa");
        assert!(loads.unresolved_failure().is_none());
        loads.record(Load::refused(2_000, vec!["rules.yaml:3:1: bad".into()]));
        assert_eq!(loads.unresolved_failure().unwrap().at_ms, 2_000);
        assert_eq!(
            loads.serving_since_ms(),
            1_000,
            "the old file keeps serving"
        );
        loads.record(Load::loaded(3_000, "bbb"));
        assert!(loads.unresolved_failure().is_none());
        assert_eq!(loads.serving_since_ms(), 3_000);
        let hashes: Vec<_> = loads.recent().map(|l| l.hash.as_deref()).collect();
        assert_eq!(hashes, [Some("bbb"), None, Some("aaa")]);
    }

    #[test]
    fn only_the_newest_loads_are_kept() {
        let mut loads = Loads::started(0, "start");
        for n in 1..=(KEPT as i64 + 5) {
            loads.record(Load::loaded(n, "h"));
        }
        assert_eq!(loads.recent().count(), KEPT);
        assert_eq!(loads.recent().next().unwrap().at_ms, KEPT as i64 + 5);
    }
}

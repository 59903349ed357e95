//! The index by event type: which rules can match an event, in file order, without looking at
//! the others. Exact names go in a map; rules with a glob or `*` are candidates for every event.

use std::collections::HashMap;

use super::Rule;

#[derive(Debug, Clone, Default)]
pub(crate) struct Index {
    /// Event type → indices of the rules that name it exactly, ascending.
    by_type: HashMap<String, Vec<usize>>,
    /// Indices of the rules with a glob or `*`, ascending.
    every_event: Vec<usize>,
}

impl Index {
    pub(crate) fn build(rules: &[Rule]) -> Index {
        let mut index = Index::default();
        for (i, rule) in rules.iter().enumerate() {
            for name in rule.events.exact() {
                let slot = index.by_type.entry(name.clone()).or_default();
                if slot.last() != Some(&i) {
                    slot.push(i);
                }
            }
            if rule.events.has_globs() {
                index.every_event.push(i);
            }
        }
        index
    }

    /// The indices of the rules that may match `event_type`, ascending, each once.
    pub(crate) fn candidates(&self, event_type: Option<&str>) -> Candidates<'_> {
        let Some(event_type) = event_type else {
            return Candidates { a: &[], b: &[] };
        };
        let exact = self.by_type.get(event_type).map_or(&[][..], Vec::as_slice);
        Candidates {
            a: exact,
            b: &self.every_event,
        }
    }
}

/// Two ascending index lists merged into one ascending list without duplicates.
pub(crate) struct Candidates<'a> {
    a: &'a [usize],
    b: &'a [usize],
}

impl Iterator for Candidates<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        let next = match (self.a.first(), self.b.first()) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => return None,
        };
        if self.a.first() == Some(&next) {
            self.a = &self.a[1..];
        }
        if self.b.first() == Some(&next) {
            self.b = &self.b[1..];
        }
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_merge_in_order_without_duplicates() {
        let merged: Vec<usize> = Candidates {
            a: &[0, 3, 4, 9],
            b: &[1, 3, 10],
        }
        .collect();
        assert_eq!(merged, vec![0, 1, 3, 4, 9, 10]);
    }
}

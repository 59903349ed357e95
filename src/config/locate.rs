//! From a path inside a rule (as the rules engine reports it) to a place in the file.

use crate::yaml::tree::{Node, Pos, Value};

/// Where `path` points inside `rule`: the value when the path ends at a scalar, else the key
/// that leads to it (a list element has no key: the element). A path that leaves the tree
/// falls back to the nearest place that exists.
///
/// `["where", "data.x", "gte"]` → the value of `gte:`; `["events", "1"]` → the second event;
/// `["where", "any", "0", "data.x"]` → the value of `data.x` in the first `any:` entry.
pub(crate) fn locate(rule: &Node, path: &[String]) -> Pos {
    let mut node = rule;
    let mut at = rule.pos;
    for segment in path {
        let next = match &node.value {
            Value::Map(entries) => entries
                .iter()
                .find(|e| e.key == *segment)
                .map(|e| (e.key_pos, &e.value)),
            Value::Seq(items) => segment
                .parse::<usize>()
                .ok()
                .and_then(|i| items.get(i))
                .map(|item| (item.pos, item)),
            _ => None,
        };
        match next {
            Some((pos, child)) => {
                at = pos;
                node = child;
            }
            None => break,
        }
    }
    if node.is_scalar() && node.pos.line > 0 {
        node.pos
    } else {
        at
    }
}

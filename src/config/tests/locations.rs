//! From a path inside a rule, as the rules engine reports it, to `line:column`.

use crate::config::locate::locate;
use crate::config::yaml::{self, Node, Pos};

const RULE: &str = "\
- name: rejected actions
  events: [CORRECTIVE_ACTION_REJECTED, \"CORRECTIVE_*\"]
  where:
    data.correctiveAction.priority: { gte: two }
    data.correctiveAction.auditObject.name:
      regex: \"(?i\"
    any:
      - data.x: 1
      - data.y: { in: [1, 2] }
    not:
      data.z: { exists: true }
  notify: [kitchen-slack]
";

fn rule() -> Node {
    let root = yaml::parse(RULE).expect("valid YAML").expect("not empty");
    let yaml::Value::Seq(mut items) = root.value else {
        panic!("a list");
    };
    items.remove(0)
}

fn at(path: &[&str]) -> (usize, usize) {
    let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
    let Pos { line, column } = locate(&rule(), &path);
    (line, column)
}

#[test]
fn a_path_ending_at_a_scalar_points_at_the_value() {
    assert_eq!(
        at(&["where", "data.correctiveAction.priority", "gte"]),
        (4, 44)
    );
    assert_eq!(
        at(&["where", "data.correctiveAction.auditObject.name", "regex"]),
        (6, 14)
    );
    assert_eq!(at(&["events", "1"]), (2, 40));
}

#[test]
fn a_path_ending_at_a_mapping_points_at_its_key() {
    assert_eq!(at(&["where", "data.correctiveAction.priority"]), (4, 5));
    assert_eq!(at(&["where"]), (3, 3));
}

#[test]
fn paths_through_any_and_not_are_followed() {
    assert_eq!(at(&["where", "any", "0", "data.x"]), (8, 17));
    assert_eq!(at(&["where", "any", "1", "data.y", "in", "1"]), (9, 27));
    assert_eq!(at(&["where", "not", "data.z", "exists"]), (11, 25));
}

#[test]
fn a_path_that_leaves_the_tree_falls_back_to_the_nearest_ancestor() {
    assert_eq!(at(&["where", "data.missing", "gte"]), (3, 3));
    assert_eq!(at(&["where", "any", "7"]), (7, 5));
    assert_eq!(at(&[]), (1, 3));
}

#[test]
fn an_index_into_a_single_scalar_points_at_that_scalar() {
    let root = yaml::parse("name: r\nevents: AUDIT_EXPIRED\n")
        .expect("valid")
        .expect("not empty");
    let path = vec!["events".to_string(), "0".to_string()];
    assert_eq!(locate(&root, &path), Pos { line: 2, column: 9 });
}

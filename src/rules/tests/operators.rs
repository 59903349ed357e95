//! Each operator on present, missing, null, mistyped and multi-valued paths.

use serde_json::json;

use super::{event, holds, sample};

#[test]
fn a_scalar_value_means_equals() {
    let e = event(json!({"s": "Kitchen", "n": 2, "b": true}));
    assert!(holds(
        json!({"data.s": "Kitchen", "data.n": 2, "data.b": true}),
        &e
    ));
    assert!(!holds(json!({"data.s": "kitchen"}), &e));
    assert!(!holds(json!({"data.b": false}), &e));
}

#[test]
fn eq_compares_numbers_numerically_whether_int_or_float() {
    let e = event(json!({"int": 2, "float": 2.0, "half": 2.5, "neg": -3}));
    assert!(holds(json!({"data.int": {"eq": 2.0}}), &e));
    assert!(holds(json!({"data.float": {"eq": 2}}), &e));
    assert!(!holds(json!({"data.half": {"eq": 2}}), &e));
    assert!(holds(json!({"data.neg": {"eq": -3.0}}), &e));
}

#[test]
fn eq_never_coerces_between_strings_and_numbers() {
    let e = event(json!({"text": "2", "num": 2}));
    assert!(!holds(json!({"data.text": {"eq": 2}}), &e));
    assert!(!holds(json!({"data.num": {"eq": "2"}}), &e));
}

#[test]
fn null_equals_only_null() {
    let e = event(json!({"x": null, "f": false, "s": ""}));
    assert!(holds(json!({"data.x": null}), &e));
    assert!(!holds(json!({"data.f": null}), &e));
    assert!(!holds(json!({"data.s": null}), &e));
    assert!(!holds(json!({"data.x": {"eq": false}}), &e));
    assert!(
        !holds(json!({"data.missing": null}), &e),
        "missing is not null"
    );
}

#[test]
fn eq_fails_on_a_missing_path_an_array_or_an_object() {
    let e = event(json!({"a": [1], "o": {"k": 1}}));
    assert!(!holds(json!({"data.nope": 1}), &e));
    assert!(!holds(json!({"data.a": 1}), &e));
    assert!(!holds(json!({"data.o": 1}), &e));
}

#[test]
fn eq_on_a_wildcard_path_holds_if_some_element_is_equal() {
    let e = event(json!({"tags": [{"name": "Hygiene"}, {"name": "Cold chain"}], "empty": []}));
    assert!(holds(json!({"data.tags[*].name": "Cold chain"}), &e));
    assert!(!holds(json!({"data.tags[*].name": "Fire safety"}), &e));
    assert!(!holds(json!({"data.empty[*]": 1}), &e));
    assert!(
        !holds(json!({"data.tags[*].name[*]": "Hygiene"}), &e),
        "[*] on a string"
    );
}

#[test]
fn an_index_picks_one_element_and_out_of_range_is_missing() {
    let e = event(json!({"tags": [{"name": "Hygiene"}, {"name": "Cold chain"}]}));
    assert!(holds(json!({"data.tags[1].name": "Cold chain"}), &e));
    assert!(!holds(json!({"data.tags[0].name": "Cold chain"}), &e));
    assert!(!holds(json!({"data.tags[2].name": "Cold chain"}), &e));
    assert!(holds(json!({"data.tags[2].name": {"exists": false}}), &e));
}

#[test]
fn quoted_keys_reach_keys_with_dots() {
    let e = event(json!({"weird.key": {"x": 1}, "weird": {"key": {"x": 2}}}));
    assert!(holds(json!({r#"data."weird.key".x"#: 1}), &e));
    assert!(holds(json!({"data.weird.key.x": 2}), &e));
}

#[test]
fn ne_is_the_negation_of_eq_including_on_missing_paths() {
    let e = event(json!({"n": 2, "text": "2", "tags": ["a", "b"], "empty": []}));
    assert!(!holds(json!({"data.n": {"ne": 2.0}}), &e));
    assert!(holds(json!({"data.n": {"ne": 3}}), &e));
    assert!(holds(json!({"data.text": {"ne": 2}}), &e), "no coercion");
    assert!(holds(json!({"data.missing": {"ne": 2}}), &e));
    assert!(
        !holds(json!({"data.tags[*]": {"ne": "b"}}), &e),
        "some element is b"
    );
    assert!(holds(json!({"data.tags[*]": {"ne": "c"}}), &e));
    assert!(holds(json!({"data.empty[*]": {"ne": "c"}}), &e));
}

#[test]
fn in_holds_if_the_value_is_one_of_the_list() {
    let e = event(json!({"priority": 2, "status": "open", "tags": ["a", "b"]}));
    assert!(holds(json!({"data.priority": {"in": [1, 2.0, 3]}}), &e));
    assert!(holds(
        json!({"data.status": {"in": ["open", "closed"]}}),
        &e
    ));
    assert!(!holds(json!({"data.status": {"in": ["closed"]}}), &e));
    assert!(!holds(json!({"data.priority": {"in": ["2"]}}), &e));
    assert!(!holds(json!({"data.missing": {"in": [1]}}), &e));
    assert!(
        !holds(json!({"data.tags": {"in": ["a"]}}), &e),
        "an array is not a member"
    );
    assert!(holds(json!({"data.tags[*]": {"in": ["a"]}}), &e));
}

#[test]
fn not_in_holds_if_no_value_is_in_the_list() {
    let e = event(json!({"status": "open", "tags": ["a", "b"], "empty": []}));
    assert!(holds(
        json!({"data.status": {"not_in": ["closed", "deleted"]}}),
        &e
    ));
    assert!(!holds(json!({"data.status": {"not_in": ["open"]}}), &e));
    assert!(holds(json!({"data.missing": {"not_in": ["open"]}}), &e));
    assert!(!holds(json!({"data.tags[*]": {"not_in": ["b", "z"]}}), &e));
    assert!(holds(json!({"data.tags[*]": {"not_in": ["y", "z"]}}), &e));
    assert!(holds(json!({"data.empty[*]": {"not_in": ["y"]}}), &e));
}

#[test]
fn any_of_holds_if_some_element_is_one_of_the_list() {
    let e = sample("corrective_action_rejected");
    let names = "data.correctiveAction.tags[*].name";
    assert!(holds(
        json!({names: {"any_of": ["Cold chain", "Fire safety"]}}),
        &e
    ));
    assert!(!holds(json!({names: {"any_of": ["Fire safety"]}}), &e));
    let plain = event(json!({"tags": ["a", "b"], "one": "a", "empty": [], "nums": [1, 2]}));
    assert!(
        holds(json!({"data.tags": {"any_of": ["b", "c"]}}), &plain),
        "array value"
    );
    assert!(
        holds(json!({"data.one": {"any_of": ["a"]}}), &plain),
        "scalar value"
    );
    assert!(holds(json!({"data.nums": {"any_of": [2.0]}}), &plain));
    assert!(!holds(json!({"data.empty": {"any_of": ["a"]}}), &plain));
    assert!(!holds(json!({"data.missing": {"any_of": ["a"]}}), &plain));
}

#[test]
fn regex_matches_strings_only() {
    let e = sample("corrective_action_rejected");
    let place = "data.correctiveAction.auditObject.name";
    assert!(holds(json!({place: {"regex": "(?i)kitchen"}}), &e));
    assert!(
        holds(json!({place: {"regex": "Store #1\\d"}}), &e),
        "matches anywhere"
    );
    assert!(!holds(json!({place: {"regex": "^Store"}}), &e));
    assert!(
        !holds(json!({place: {"regex": "kitchen"}}), &e),
        "case-sensitive by default"
    );
    assert!(
        !holds(
            json!({"data.correctiveAction.priority": {"regex": "2"}}),
            &e
        ),
        "a number"
    );
    assert!(
        !holds(
            json!({"data.correctiveAction.approvedBy": {"regex": ".*"}}),
            &e
        ),
        "null"
    );
    assert!(!holds(json!({"data.nope": {"regex": ".*"}}), &e));
    let names = "data.correctiveAction.assignedUsers[*].name";
    assert!(holds(json!({names: {"regex": "^Tom"}}), &e));
}

#[test]
fn exists_counts_null_as_present() {
    let e = event(json!({"x": null, "n": 0, "list": [], "items": [{"k": 1}, {}]}));
    assert!(holds(json!({"data.x": {"exists": true}}), &e));
    assert!(!holds(json!({"data.x": {"exists": false}}), &e));
    assert!(holds(json!({"data.n": {"exists": true}}), &e));
    assert!(holds(json!({"data.nope": {"exists": false}}), &e));
    assert!(!holds(json!({"data.nope": {"exists": true}}), &e));
    assert!(
        holds(json!({"data.list": {"exists": true}}), &e),
        "an empty array exists"
    );
    assert!(
        holds(json!({"data.list[*]": {"exists": false}}), &e),
        "but has no elements"
    );
    assert!(
        holds(json!({"data.items[*].k": {"exists": true}}), &e),
        "one of two has k"
    );
    assert!(holds(json!({"data.items[*].z": {"exists": false}}), &e));
}

#[test]
fn comparisons_order_numbers_numerically() {
    let e = event(json!({"p": 2, "half": 2.5, "big": u64::MAX}));
    assert!(holds(json!({"data.p": {"gte": 2}}), &e));
    assert!(!holds(json!({"data.p": {"gt": 2}}), &e));
    assert!(holds(json!({"data.p": {"gt": 1.5}}), &e));
    assert!(holds(json!({"data.p": {"lte": 2.0}}), &e));
    assert!(!holds(json!({"data.p": {"lt": 2}}), &e));
    assert!(holds(json!({"data.half": {"gt": 2, "lt": 3}}), &e));
    assert!(
        !holds(json!({"data.half": {"gte": 1, "lte": 2}}), &e),
        "every operator must hold"
    );
    assert!(holds(json!({"data.big": {"gt": i64::MAX}}), &e));
    assert!(holds(json!({"data.p": {"gt": -1}}), &e));
}

#[test]
fn comparisons_order_strings_so_iso_times_compare_in_time_order() {
    let e = sample("corrective_action_rejected");
    let created = "data.correctiveAction.createdAtUtc"; // 2026-11-20T06:41:52.918Z
    assert!(holds(json!({created: {"gte": "2026-11-20T00:00:00Z"}}), &e));
    assert!(holds(json!({created: {"lt": "2026-11-21"}}), &e));
    assert!(!holds(json!({created: {"gt": "2026-12-01T00:00:00Z"}}), &e));
}

#[test]
fn comparisons_between_a_string_and_a_number_never_hold() {
    let e = event(json!({"text": "5", "num": 5, "flag": true}));
    for op in ["gt", "gte", "lt", "lte"] {
        assert!(!holds(json!({"data.text": {op: 1}}), &e), "{op}");
        assert!(!holds(json!({"data.num": {op: "1"}}), &e), "{op}");
        assert!(!holds(json!({"data.flag": {op: 0}}), &e), "{op}");
        assert!(!holds(json!({"data.missing": {op: 0}}), &e), "{op}");
    }
}

#[test]
fn comparisons_on_a_wildcard_path_hold_if_some_element_compares() {
    let e = event(json!({"scores": [1, 7, 3], "empty": []}));
    assert!(holds(json!({"data.scores[*]": {"gt": 5}}), &e));
    assert!(!holds(json!({"data.scores[*]": {"gt": 7}}), &e));
    assert!(!holds(json!({"data.empty[*]": {"lt": 100}}), &e));
}

#[test]
fn contains_finds_substrings_and_array_elements() {
    let e = event(json!({"text": "Walk-in freezer", "tags": ["a", 2], "num": 12, "o": {"a": 1}}));
    assert!(holds(json!({"data.text": {"contains": "freezer"}}), &e));
    assert!(!holds(json!({"data.text": {"contains": "Freezer"}}), &e));
    assert!(holds(json!({"data.tags": {"contains": "a"}}), &e));
    assert!(holds(json!({"data.tags": {"contains": 2.0}}), &e));
    assert!(!holds(json!({"data.tags": {"contains": "2"}}), &e));
    assert!(
        !holds(json!({"data.num": {"contains": 1}}), &e),
        "not a string or array"
    );
    assert!(!holds(json!({"data.text": {"contains": 1}}), &e));
    assert!(
        !holds(json!({"data.o": {"contains": "a"}}), &e),
        "objects have no elements"
    );
    assert!(!holds(json!({"data.missing": {"contains": "a"}}), &e));
}

#[test]
fn any_holds_if_one_alternative_holds() {
    let e = event(json!({"p": 1, "s": "open"}));
    let either = json!({"any": [{"data.p": {"gte": 2}}, {"data.s": "open"}]});
    assert!(holds(either, &e));
    let neither = json!({"any": [{"data.p": {"gte": 2}}, {"data.s": "closed"}]});
    assert!(!holds(neither, &e));
    let both_needed = json!({"any": [{"data.p": 1, "data.s": "closed"}]});
    assert!(
        !holds(both_needed, &e),
        "an alternative is a map whose entries must all hold"
    );
}

#[test]
fn not_holds_if_its_map_does_not() {
    let e = event(json!({"p": 1, "s": "open"}));
    assert!(holds(json!({"not": {"data.s": "closed"}}), &e));
    assert!(!holds(json!({"not": {"data.s": "open"}}), &e));
    assert!(
        holds(json!({"not": {"data.s": "open", "data.p": 2}}), &e),
        "not of an and"
    );
    assert!(holds(json!({"not": {"data.missing": {"regex": "x"}}}), &e));
}

#[test]
fn any_and_not_nest() {
    let e = event(json!({"p": 1, "s": "open"}));
    let nested = json!({"any": [{"not": {"data.s": "open"}}, {"not": {"any": [{"data.p": 2}]}}]});
    assert!(holds(nested, &e));
    let double = json!({"not": {"not": {"data.s": "open"}}});
    assert!(holds(double, &e));
    let fails = json!({"not": {"any": [{"data.p": 5}, {"not": {"data.s": "closed"}}]}});
    assert!(!holds(fails, &e));
}

#[test]
fn paths_reach_the_event_type_and_company_too() {
    let e = sample("audit_expired");
    assert!(holds(
        json!({"event": "AUDIT_EXPIRED", "company.name": {"regex": "^North"}}),
        &e
    ));
    assert!(!holds(json!({"audit.template.name": {"exists": true}}), &e));
}

//! Comparing rules as AWS holds them, and rebasing a draft onto a web ACL
//! that moved since the draft was made: the draft's own changes (against
//! the rules it was drafted on) are carried onto the live rules, rule by
//! rule, so what someone else changed in the meantime survives.

use super::model::RuleEntry;
use serde_json::Value;
use std::collections::BTreeMap;

/// A rule's JSON without explicit nulls: AWS (and the emulator) may write
/// an unset field as `null` where a draft leaves it out; both mean the same.
fn normalized(value: &Value) -> Value {
    match value {
        Value::Object(object) => Value::Object(
            object
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), normalized(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(normalized).collect()),
        other => other.clone(),
    }
}

/// A rule the way AWS identifies it in a web ACL: by name (a rule without
/// one by its place).
fn key_of(i: usize, entry: &RuleEntry) -> String {
    entry
        .name()
        .map_or_else(|| format!("#{}", i + 1), str::to_owned)
}

fn keyed(rules: &[RuleEntry]) -> BTreeMap<String, Value> {
    rules
        .iter()
        .enumerate()
        .map(|(i, entry)| (key_of(i, entry), normalized(&entry.to_json())))
        .collect()
}

/// Whether two lists hold the same rules, whatever their order and explicit
/// nulls.
pub fn same_rules(a: &[RuleEntry], b: &[RuleEntry]) -> bool {
    keyed(a) == keyed(b)
}

/// A draft's rules carried onto newer live rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Rebased {
    pub rules: Vec<RuleEntry>,
    /// Rules both sides changed differently, in words; the draft's version
    /// was kept (or the live one, where the draft removed a rule that was
    /// changed since), for the author to look at before review.
    pub conflicts: Vec<String>,
}

/// Applies the changes from `base` to `ours` onto `live`.
pub fn rebase(base: &[RuleEntry], ours: &[RuleEntry], live: &[RuleEntry]) -> Rebased {
    let (base_keys, our_keys) = (keyed(base), keyed(ours));
    let our_entries: BTreeMap<String, &RuleEntry> = ours
        .iter()
        .enumerate()
        .map(|(i, e)| (key_of(i, e), e))
        .collect();
    let mut rules = Vec::new();
    let mut conflicts = Vec::new();
    let live_keys = keyed(live);
    for (i, entry) in live.iter().enumerate() {
        let key = key_of(i, entry);
        let theirs = &live_keys[&key];
        match (base_keys.get(&key), our_keys.get(&key)) {
            (Some(old), Some(mine)) => {
                if mine == old || mine == theirs {
                    rules.push(entry.clone());
                } else {
                    if theirs != old {
                        conflicts.push(format!(
                            "{key}: changed in the draft and in AWS since; the draft's version is kept"
                        ));
                    }
                    rules.push(our_entries[&key].clone());
                }
            }
            (Some(old), None) => {
                if theirs != old {
                    conflicts.push(format!(
                        "{key}: removed in the draft but changed in AWS since; AWS's version is kept"
                    ));
                    rules.push(entry.clone());
                }
            }
            (None, Some(mine)) => {
                if mine != theirs {
                    conflicts.push(format!(
                        "{key}: added in the draft and in AWS since; the draft's version is kept"
                    ));
                }
                rules.push(our_entries[&key].clone());
            }
            (None, None) => rules.push(entry.clone()),
        }
    }
    for (i, entry) in ours.iter().enumerate() {
        let key = &key_of(i, entry);
        if live_keys.contains_key(key) {
            continue;
        }
        match base_keys.get(key) {
            None => rules.push(entry.clone()),
            Some(old) if *old == our_keys[key] => {}
            Some(_) => {
                conflicts.push(format!(
                    "{key}: changed in the draft but removed in AWS since; the draft's version is kept"
                ));
                rules.push(entry.clone());
            }
        }
    }
    Rebased { rules, conflicts }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::model::read_rules;
    use serde_json::json;

    fn rule(name: &str, priority: i64, limit: i64) -> Value {
        json!({"Name": name, "Priority": priority, "Action": {"Block": {}},
               "Statement": {"RateBasedStatement": {"Limit": limit, "AggregateKeyType": "IP"}},
               "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": name}})
    }

    fn rules(items: &[Value]) -> Vec<RuleEntry> {
        read_rules(Value::Array(items.to_vec())).unwrap()
    }

    fn limits(rules: &[RuleEntry]) -> Vec<(String, i64)> {
        rules
            .iter()
            .map(|r| {
                let json = r.to_json();
                (
                    r.name().unwrap().to_owned(),
                    json["Statement"]["RateBasedStatement"]["Limit"]
                        .as_i64()
                        .unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn explicit_nulls_and_order_do_not_make_rules_differ() {
        let mut with_null = rule("A", 0, 100);
        with_null["RuleLabels"] = Value::Null;
        let a = rules(&[rule("B", 1, 5), with_null]);
        let b = rules(&[rule("A", 0, 100), rule("B", 1, 5)]);
        assert!(same_rules(&a, &b));
        assert!(!same_rules(
            &a,
            &rules(&[rule("A", 0, 101), rule("B", 1, 5)])
        ));
        assert!(!same_rules(&a, &rules(&[rule("A", 0, 100)])));
    }

    #[test]
    fn changes_made_elsewhere_survive_a_rebase() {
        let base = rules(&[rule("Login", 1, 150), rule("Blanket", 2, 7000)]);
        // The draft raises the blanket limit and adds a rule.
        let ours = rules(&[
            rule("Login", 1, 150),
            rule("Blanket", 2, 9000),
            rule("Api", 3, 500),
        ]);
        // Meanwhile someone lowered the login limit and added a rule in AWS.
        let live = rules(&[
            rule("Login", 1, 100),
            rule("Blanket", 2, 7000),
            rule("Geo", 4, 50),
        ]);
        let rebased = rebase(&base, &ours, &live);
        assert_eq!(
            limits(&rebased.rules),
            vec![
                ("Login".into(), 100),
                ("Blanket".into(), 9000),
                ("Geo".into(), 50),
                ("Api".into(), 500)
            ]
        );
        assert!(rebased.conflicts.is_empty());
    }

    #[test]
    fn both_sides_changing_a_rule_is_reported() {
        let base = rules(&[rule("Blanket", 2, 7000), rule("Old", 3, 10)]);
        let ours = rules(&[rule("Blanket", 2, 9000)]);
        let live = rules(&[rule("Blanket", 2, 8000), rule("Old", 3, 20)]);
        let rebased = rebase(&base, &ours, &live);
        assert_eq!(
            limits(&rebased.rules),
            vec![("Blanket".into(), 9000), ("Old".into(), 20)]
        );
        assert_eq!(rebased.conflicts.len(), 2, "{:?}", rebased.conflicts);
        assert!(rebased.conflicts[0].starts_with("Blanket: changed in the draft and in AWS"));
        assert!(rebased.conflicts[1].starts_with("Old: removed in the draft"));
    }

    #[test]
    fn a_rule_removed_on_both_sides_stays_removed() {
        let base = rules(&[rule("A", 0, 1), rule("B", 1, 2)]);
        let ours = rules(&[rule("A", 0, 1)]);
        let live = rules(&[rule("A", 0, 1)]);
        let rebased = rebase(&base, &ours, &live);
        assert_eq!(limits(&rebased.rules), vec![("A".into(), 1)]);
        assert!(rebased.conflicts.is_empty());
    }
}

//! What a draft changes in a web ACL, rule by rule: which rules are added,
//! removed or changed, and for a changed rule where, as JSON paths with the
//! values before and after (a new priority is a change of `Priority`).
//! Rules are matched by name, as AWS identifies them within a web ACL.

use super::model::RuleEntry;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum RuleChange {
    Added {
        name: String,
        after: Value,
    },
    Removed {
        name: String,
        before: Value,
    },
    Changed {
        name: String,
        fields: Vec<FieldChange>,
        before: Value,
        after: Value,
    },
}

/// One value that differs, at a path from the rule
/// (`Statement.RateBasedStatement.Limit`); `null` where there is none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub path: String,
    pub before: Value,
    pub after: Value,
}

impl RuleChange {
    pub fn name(&self) -> &str {
        match self {
            RuleChange::Added { name, .. }
            | RuleChange::Removed { name, .. }
            | RuleChange::Changed { name, .. } => name,
        }
    }
}

/// The changes from `before` to `after`, in the order of `after` with the
/// removed rules last. Unchanged rules are left out.
pub fn diff(before: &[RuleEntry], after: &[RuleEntry]) -> Vec<RuleChange> {
    let key = |entry: &RuleEntry, i: usize| {
        entry
            .name()
            .map_or_else(|| format!("#{}", i + 1), str::to_owned)
    };
    let old: Vec<(String, Value)> = before
        .iter()
        .enumerate()
        .map(|(i, e)| (key(e, i), e.to_json()))
        .collect();
    let mut changes = Vec::new();
    let mut matched = vec![false; old.len()];
    for (i, entry) in after.iter().enumerate() {
        let name = key(entry, i);
        let json = entry.to_json();
        match old.iter().position(|(n, _)| *n == name) {
            None => changes.push(RuleChange::Added { name, after: json }),
            Some(j) => {
                matched[j] = true;
                let mut fields = Vec::new();
                compare(&old[j].1, &json, "", &mut fields);
                if !fields.is_empty() {
                    changes.push(RuleChange::Changed {
                        name,
                        fields,
                        before: old[j].1.clone(),
                        after: json,
                    });
                }
            }
        }
    }
    for (j, (name, json)) in old.into_iter().enumerate() {
        if !matched[j] {
            changes.push(RuleChange::Removed { name, before: json });
        }
    }
    changes
}

fn compare(before: &Value, after: &Value, path: &str, out: &mut Vec<FieldChange>) {
    let join = |key: &str| match path {
        "" => key.to_owned(),
        _ => format!("{path}.{key}"),
    };
    match (before, after) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                compare(value, b.get(key).unwrap_or(&Value::Null), &join(key), out);
            }
            for (key, value) in b {
                if !a.contains_key(key) {
                    compare(&Value::Null, value, &join(key), out);
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                compare(x, y, &format!("{path}[{i}]"), out);
            }
        }
        (a, b) if a != b => out.push(FieldChange {
            path: path.to_owned(),
            before: a.clone(),
            after: b.clone(),
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::model::read_rules;
    use crate::rules::templates::Template;
    use serde_json::json;

    fn rate(name: &str, priority: i64, limit: i64) -> Value {
        json!({
            "Name": name, "Priority": priority,
            "Statement": {"RateBasedStatement": {"Limit": limit, "AggregateKeyType": "IP"}},
            "Action": {"Block": {}},
            "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": name}
        })
    }

    #[test]
    fn changes_are_named_by_rule_and_path() {
        let before = read_rules(json!([
            rate("blanket", 2, 7000),
            rate("old", 3, 100),
            rate("same", 4, 50)
        ]))
        .unwrap();
        let mut after = read_rules(json!([rate("blanket", 1, 9000), rate("same", 4, 50)])).unwrap();
        after.extend(Template::IpReputation.rules(0));
        let changes = diff(&before, &after);
        let names: Vec<&str> = changes.iter().map(RuleChange::name).collect();
        assert_eq!(names, ["blanket", "aws-ip-reputation", "old"]);
        let RuleChange::Changed { fields, .. } = &changes[0] else {
            panic!("changed")
        };
        assert_eq!(
            fields,
            &[
                FieldChange {
                    path: "Priority".into(),
                    before: json!(2),
                    after: json!(1)
                },
                FieldChange {
                    path: "Statement.RateBasedStatement.Limit".into(),
                    before: json!(7000),
                    after: json!(9000)
                },
            ]
        );
        assert!(matches!(changes[1], RuleChange::Added { .. }));
        assert!(matches!(changes[2], RuleChange::Removed { .. }));
        assert!(
            diff(&before, &before).is_empty(),
            "nothing changed, nothing listed"
        );
    }

    #[test]
    fn a_field_added_or_removed_is_a_change_from_or_to_null() {
        let mut scoped = rate("r", 0, 100);
        scoped["Statement"]["RateBasedStatement"]["EvaluationWindowSec"] = json!(60);
        let before = read_rules(json!([rate("r", 0, 100)])).unwrap();
        let after = read_rules(json!([scoped])).unwrap();
        let RuleChange::Changed { fields, .. } = &diff(&before, &after)[0] else {
            panic!("changed")
        };
        assert_eq!(
            fields,
            &[FieldChange {
                path: "Statement.RateBasedStatement.EvaluationWindowSec".into(),
                before: Value::Null,
                after: json!(60)
            }]
        );
    }
}

//! What a draft changes in a web ACL, rule by rule: which rules are added,
//! removed or changed, and for a changed rule where, as JSON paths with the
//! values before and after (a new priority is a change of `Priority`).
//! Rules are matched by name, as AWS identifies them within a web ACL.

use super::model::RuleEntry;
use crate::changes::diff::diff_named;
pub use crate::changes::diff::{FieldChange, ItemChange};
use serde_json::Value;

/// The changes from `before` to `after`, in the order of `after` with the
/// removed rules last. Unchanged rules are left out.
pub fn diff(before: &[RuleEntry], after: &[RuleEntry]) -> Vec<ItemChange> {
    let named = |entries: &[RuleEntry]| -> Vec<(String, Value)> {
        entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let name = e
                    .name()
                    .map_or_else(|| format!("#{}", i + 1), str::to_owned);
                (name, e.to_json())
            })
            .collect()
    };
    diff_named(named(before), named(after))
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
        let names: Vec<&str> = changes.iter().map(ItemChange::name).collect();
        assert_eq!(names, ["blanket", "aws-ip-reputation", "old"]);
        let ItemChange::Changed { fields, .. } = &changes[0] else {
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
        assert!(matches!(changes[1], ItemChange::Added { .. }));
        assert!(matches!(changes[2], ItemChange::Removed { .. }));
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
        let ItemChange::Changed { fields, .. } = &diff(&before, &after)[0] else {
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

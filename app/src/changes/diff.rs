//! What a change changes, item by item: which named items (rules of a web
//! ACL, entries of the settings) are added, removed or changed, and for a
//! changed one where, as JSON paths with the values before and after. Every
//! kind of change request shows its diff in this one shape.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum ItemChange {
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

impl ItemChange {
    pub fn name(&self) -> &str {
        match self {
            ItemChange::Added { name, .. }
            | ItemChange::Removed { name, .. }
            | ItemChange::Changed { name, .. } => name,
        }
    }
}

/// Item by item, what `ours` changed from `base` carried onto `live`; every
/// other item as it is live. Returns the items (live's order, then ours')
/// and the names both sides changed differently (ours kept).
pub fn rebase_named(
    base: Vec<(String, Value)>,
    ours: Vec<(String, Value)>,
    live: Vec<(String, Value)>,
) -> (Vec<(String, Value)>, Vec<String>) {
    let find = |items: &[(String, Value)], name: &str| {
        items
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let mut names: Vec<String> = Vec::new();
    for (name, _) in live.iter().chain(&ours).chain(&base) {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    let mut items = Vec::new();
    let mut conflicts = Vec::new();
    for name in names {
        let (b, o, l) = (find(&base, &name), find(&ours, &name), find(&live, &name));
        let chosen = if o != b {
            if l != b && l != o {
                conflicts.push(format!(
                    "{name} was changed here and live; this change's kept"
                ));
            }
            o
        } else {
            l
        };
        if let Some(value) = chosen {
            items.push((name, value));
        }
    }
    (items, conflicts)
}

/// The changes from `before` to `after` (items named and in order), in the
/// order of `after` with the removed items last. Unchanged items are left
/// out.
pub fn diff_named(before: Vec<(String, Value)>, after: Vec<(String, Value)>) -> Vec<ItemChange> {
    let mut changes = Vec::new();
    let mut matched = vec![false; before.len()];
    for (name, json) in after {
        match before.iter().position(|(n, _)| *n == name) {
            None => changes.push(ItemChange::Added { name, after: json }),
            Some(j) => {
                matched[j] = true;
                let mut fields = Vec::new();
                compare(&before[j].1, &json, "", &mut fields);
                if !fields.is_empty() {
                    changes.push(ItemChange::Changed {
                        name,
                        fields,
                        before: before[j].1.clone(),
                        after: json,
                    });
                }
            }
        }
    }
    for (j, (name, json)) in before.into_iter().enumerate() {
        if !matched[j] {
            changes.push(ItemChange::Removed { name, before: json });
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

/// A changed item's moved values in a line: `Limit 7000 → 9000; …`.
pub fn moves(fields: &[FieldChange]) -> String {
    let show = |value: &Value| match value {
        Value::Null => "(none)".to_owned(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    fields
        .iter()
        .map(|f| format!("{} {} → {}", f.path, show(&f.before), show(&f.after)))
        .collect::<Vec<_>>()
        .join("; ")
}

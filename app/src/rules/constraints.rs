//! Every constraint the WAFv2 API model declares for a rule's fields —
//! string patterns and lengths, enumerations, integer ranges, list sizes,
//! required members — checked against a rule's JSON, walking the model's
//! shapes from `Rule`. The shapes are vendored from botocore's service
//! model (`wafv2_rule_shapes.json`, made by
//! `scripts/vendor/wafv2-rule-shapes.py`, which records its source and
//! date), not copied by hand. Patterns are matched the way the model means
//! them (found anywhere in the value unless anchored), with `regex-lite`,
//! whose `\w` and `\d` are ASCII as AWS's are.

use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::OnceLock;

const MODEL: &str = include_str!("wafv2_rule_shapes.json");

struct Model {
    shapes: Map<String, Value>,
    patterns: HashMap<String, regex_lite::Regex>,
    source: String,
}

fn model() -> &'static Model {
    static MODEL_READ: OnceLock<Model> = OnceLock::new();
    MODEL_READ.get_or_init(|| {
        let whole: Value = serde_json::from_str(MODEL).unwrap_or_default();
        let shapes = whole
            .get("shapes")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let patterns = shapes
            .values()
            .filter_map(|s| s.get("pattern").and_then(Value::as_str))
            .filter_map(|p| Some((p.to_owned(), regex_lite::Regex::new(p).ok()?)))
            .collect();
        let source = format!(
            "{} (extracted {})",
            whole["source"].as_str().unwrap_or("the WAFv2 API model"),
            whole["extracted"].as_str().unwrap_or("?")
        );
        Model {
            shapes,
            patterns,
            source,
        }
    })
}

/// Where the constraints come from, for the README and messages.
pub fn source() -> &'static str {
    &model().source
}

/// One broken constraint: the JSON path from the rule, and what the model
/// allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub path: String,
    pub message: String,
}

/// Every constraint `rule` (a rule's JSON, as the console's editor shows
/// it) breaks.
pub fn check(rule: &Value) -> Vec<Broken> {
    let mut broken = Vec::new();
    walk("Rule", rule, "", &mut broken);
    broken
}

fn join(path: &str, key: &str) -> String {
    match path {
        "" => key.to_owned(),
        _ => format!("{path}.{key}"),
    }
}

fn walk(shape_name: &str, value: &Value, path: &str, out: &mut Vec<Broken>) {
    let Some(shape) = model().shapes.get(shape_name) else {
        return;
    };
    let mut fail = |message: String| {
        out.push(Broken {
            path: path.to_owned(),
            message,
        })
    };
    let kind = shape["type"].as_str().unwrap_or_default();
    match (kind, value) {
        ("structure", Value::Object(members)) => {
            let declared = shape["members"].as_object();
            for required in shape["required"].as_array().into_iter().flatten() {
                let Some(name) = required.as_str() else {
                    continue;
                };
                if !members.contains_key(name) {
                    out.push(Broken {
                        path: join(path, name),
                        message: format!("{name} is required here"),
                    });
                }
            }
            // A member the vendored model does not know is left to AWS: the
            // model may be older than the API.
            for (name, member) in members {
                if let Some(spec) = declared.and_then(|d| d.get(name)) {
                    let inner = spec["shape"].as_str().unwrap_or_default();
                    walk(inner, member, &join(path, name), out);
                }
            }
        }
        ("list", Value::Array(items)) => {
            let size = items.len() as i64;
            bounds(shape, size, "item(s)", &mut fail);
            let inner = shape["member"]["shape"].as_str().unwrap_or_default();
            for (i, item) in items.iter().enumerate() {
                walk(inner, item, &format!("{path}[{i}]"), out);
            }
        }
        ("string", Value::String(text)) => {
            let allowed = shape["enum"].as_array();
            if let Some(allowed) = allowed.filter(|a| !a.iter().any(|v| v.as_str() == Some(text))) {
                let names: Vec<&str> = allowed.iter().filter_map(Value::as_str).collect();
                fail(format!("{text:?} is not one of {}", names.join(", ")));
                return;
            }
            bounds(
                shape,
                text.chars().count() as i64,
                "character(s)",
                &mut fail,
            );
            if let Some(pattern) = shape["pattern"].as_str() {
                let matches = model()
                    .patterns
                    .get(pattern)
                    .is_none_or(|re| re.is_match(text));
                if !matches {
                    fail(format!("{text:?} does not match the pattern {pattern}"));
                }
            }
        }
        ("integer" | "long", Value::Number(n)) => {
            if let Some(n) = n.as_i64() {
                if let Some(min) = shape["min"].as_i64().filter(|min| n < *min) {
                    fail(format!("{n} is below the minimum {min}"));
                }
                if let Some(max) = shape["max"].as_i64().filter(|max| n > *max) {
                    fail(format!("{n} is above the maximum {max}"));
                }
            } else {
                fail(format!("{n} is not a whole number"));
            }
        }
        ("boolean", Value::Bool(_)) | ("blob", Value::String(_)) => {}
        (_, Value::Null) => {}
        (expected, got) => fail(format!(
            "expected {} here, not {}",
            article(expected),
            describe(got)
        )),
    }
}

/// A list's or string's size against the shape's `min`/`max`.
fn bounds(shape: &Value, size: i64, unit: &str, fail: &mut impl FnMut(String)) {
    if let Some(min) = shape["min"].as_i64().filter(|min| size < *min) {
        fail(format!("{size} {unit}; at least {min} allowed"));
    }
    if let Some(max) = shape["max"].as_i64().filter(|max| size > *max) {
        fail(format!("{size} {unit}; at most {max} allowed"));
    }
}

fn article(kind: &str) -> &'static str {
    match kind {
        "structure" => "an object",
        "list" => "a list",
        "string" | "blob" => "a string",
        "integer" | "long" => "a whole number",
        "boolean" => "true or false",
        _ => "another value",
    }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Object(_) => "an object",
        Value::Array(_) => "a list",
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "true or false",
        Value::Null => "null",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(statement: Value) -> Value {
        json!({"Name": "Blanket", "Priority": 1, "Action": {"Block": {}}, "Statement": statement,
               "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": "Blanket"}})
    }

    #[test]
    fn every_vendored_pattern_compiles() {
        let patterns: Vec<&str> = model()
            .shapes
            .values()
            .filter_map(|s| s.get("pattern").and_then(Value::as_str))
            .collect();
        assert!(!patterns.is_empty());
        for p in patterns {
            assert!(model().patterns.contains_key(p), "{p} does not compile");
        }
        assert!(source().contains("botocore"), "{}", source());
    }

    #[test]
    fn a_valid_rule_breaks_nothing() {
        let valid = rule(
            json!({"RateBasedStatement": {"Limit": 2000, "AggregateKeyType": "IP",
            "EvaluationWindowSec": 300,
            "ScopeDownStatement": {"ByteMatchStatement": {"SearchString": "/login",
                "FieldToMatch": {"UriPath": {}}, "PositionalConstraint": "STARTS_WITH",
                "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}}}}),
        );
        assert_eq!(check(&valid), Vec::new());
    }

    #[test]
    fn patterns_lengths_enums_ranges_lists_and_required_members_are_checked() {
        let mut bad = rule(
            json!({"RateBasedStatement": {"Limit": 5, "AggregateKeyType": "EVERYONE",
            "ForwardedIPConfig": {"HeaderName": "X Forwarded For", "FallbackBehavior": "MATCH"},
            "ScopeDownStatement": {"ByteMatchStatement": {"SearchString": "/login",
                "FieldToMatch": {"UriPath": {}}, "PositionalConstraint": "STARTS_WITH",
                "TextTransformations": []}}}}),
        );
        bad["VisibilityConfig"]["MetricName"] = json!("has spaces!");
        bad["RuleLabels"] = json!([{"Name": ""}]);
        let found = check(&bad);
        let at = |path: &str| {
            found
                .iter()
                .find(|b| b.path == path)
                .map(|b| b.message.clone())
                .unwrap_or_else(|| panic!("nothing at {path}: {found:?}"))
        };
        assert!(at("Statement.RateBasedStatement.Limit").contains("below the minimum 10"));
        assert!(at("Statement.RateBasedStatement.AggregateKeyType").contains("is not one of"));
        assert!(
            at("Statement.RateBasedStatement.ForwardedIPConfig.HeaderName").contains("pattern")
        );
        assert!(at("VisibilityConfig.MetricName").contains("pattern"));
        assert!(at("RuleLabels[0].Name").contains("at least 1"));
        assert!(
            at("Statement.RateBasedStatement.ScopeDownStatement.ByteMatchStatement.TextTransformations")
                .contains("at least 1")
        );
        let missing = check(&json!({"Name": "x", "Priority": 0, "Statement": {}}));
        assert!(
            missing
                .iter()
                .any(|b| b.path == "VisibilityConfig" && b.message.contains("required"))
        );
    }
}

//! A rate-based rule proposed from a traffic analysis: the recommended
//! limit, the analysis's key (`IP`, or `FORWARDED_IP` with its header) and
//! window, and its scope as a `ScopeDownStatement` (URI exact or starts-with
//! as a `ByteMatchStatement` on `UriPath`, the method, the country as a
//! `GeoMatchStatement`, the label as a `LabelMatchStatement`; several under
//! an `AndStatement`). Where the web ACL
//! already has a rate rule with the same key and scope, that rule's limit
//! and window change instead of a near-duplicate being added.

use super::model::{RuleEntry, read_rules};
use crate::traffic::query::{Analysis, KeyBy, UriMatch};
use serde_json::{Value, json};

/// What the proposal did, in words, and the rules after it.
pub struct Proposed {
    pub rules: Vec<RuleEntry>,
    pub words: String,
}

fn byte_match(field: Value, search: &str, position: &str) -> Value {
    json!({"ByteMatchStatement": {
        "SearchString": search,
        "FieldToMatch": field,
        "PositionalConstraint": position,
        "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
    }})
}

/// The analysis's scope as a statement, if it has one.
pub fn scope_of(analysis: &Analysis) -> Option<Value> {
    let mut parts = Vec::new();
    if let Some(uri) = &analysis.uri {
        let position = match analysis.uri_match {
            UriMatch::Exact => "EXACTLY",
            UriMatch::Prefix => "STARTS_WITH",
        };
        parts.push(byte_match(json!({"UriPath": {}}), uri, position));
    }
    if let Some(method) = &analysis.method {
        parts.push(byte_match(json!({"Method": {}}), method, "EXACTLY"));
    }
    if let Some(country) = &analysis.country {
        parts.push(json!({"GeoMatchStatement": {"CountryCodes": [country]}}));
    }
    if let Some(label) = &analysis.label {
        let scope = if label.ends_with(':') {
            "NAMESPACE"
        } else {
            "LABEL"
        };
        parts.push(json!({"LabelMatchStatement": {"Scope": scope, "Key": label}}));
    }
    match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(json!({"AndStatement": {"Statements": parts}})),
    }
}

/// `rules` with a rate rule for `analysis` at `limit`.
pub fn propose(rules: &[RuleEntry], analysis: &Analysis, limit: i64) -> Result<Proposed, String> {
    let (key, forwarded) = match &analysis.by {
        KeyBy::Ip => ("IP", None),
        KeyBy::Forwarded(header) => (
            "FORWARDED_IP",
            Some(json!({"HeaderName": header, "FallbackBehavior": "MATCH"})),
        ),
        KeyBy::IpUri | KeyBy::Country => {
            return Err(
                "a rate rule is proposed from an analysis by client IP or forwarded IP".into(),
            );
        }
    };
    let scope = scope_of(analysis);
    let mut json_rules: Vec<Value> = rules.iter().map(RuleEntry::to_json).collect();
    let same = |rule: &Value| {
        let rate = &rule["Statement"]["RateBasedStatement"];
        rate.is_object()
            && rate["AggregateKeyType"] == key
            && rate.get("ForwardedIPConfig").map(|c| &c["HeaderName"])
                == forwarded.as_ref().map(|c| &c["HeaderName"])
            && rate.get("ScopeDownStatement") == scope.as_ref()
    };
    let words = if let Some(rule) = json_rules.iter_mut().find(|r| same(r)) {
        let rate = &mut rule["Statement"]["RateBasedStatement"];
        let was = rate["Limit"].clone();
        rate["Limit"] = json!(limit);
        rate["EvaluationWindowSec"] = json!(analysis.window);
        format!(
            "{}: limit {was} → {limit} per {} s",
            rule["Name"].as_str().unwrap_or("the rule"),
            analysis.window
        )
    } else {
        let name = free_name(&json_rules, analysis);
        let priority = place(&mut json_rules, scope.is_some());
        let mut rate = json!({"Limit": limit, "AggregateKeyType": key,
                              "EvaluationWindowSec": analysis.window});
        if let Some(config) = forwarded {
            rate["ForwardedIPConfig"] = config;
        }
        if let Some(scope) = scope {
            rate["ScopeDownStatement"] = scope;
        }
        json_rules.push(json!({
            "Name": name,
            "Priority": priority,
            "Action": {"Block": {}},
            "Statement": {"RateBasedStatement": rate},
            "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true,
                                 "MetricName": name},
        }));
        format!(
            "{name} is added: at most {limit} requests per {} s",
            analysis.window
        )
    };
    Ok(Proposed {
        rules: read_rules(Value::Array(json_rules))?,
        words,
    })
}

/// A name no rule has: from the scope's URI, else `RateLimit`.
fn free_name(rules: &[Value], analysis: &Analysis) -> String {
    let stem: String = match &analysis.uri {
        Some(uri) => {
            let cleaned: String = uri
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            format!("RateLimit{}", cleaned.trim_end_matches('-'))
        }
        None => "RateLimit".into(),
    };
    let taken = |name: &str| rules.iter().any(|r| r["Name"] == name);
    (1..)
        .map(|n| {
            if n == 1 {
                stem.clone()
            } else {
                format!("{stem}-{n}")
            }
        })
        .find(|name| !taken(name))
        .unwrap_or(stem)
}

/// The priority for a new rate rule: a scoped one just before the first
/// unscoped (blanket) rate rule, the rules from there on moved down one; an
/// unscoped one last.
fn place(rules: &mut [Value], scoped: bool) -> i64 {
    let last = rules
        .iter()
        .filter_map(|r| r["Priority"].as_i64())
        .max()
        .map_or(0, |p| p + 1);
    if !scoped {
        return last;
    }
    let blanket = rules
        .iter()
        .filter(|r| {
            let rate = &r["Statement"]["RateBasedStatement"];
            rate.is_object() && rate.get("ScopeDownStatement").is_none()
        })
        .filter_map(|r| r["Priority"].as_i64())
        .min();
    let Some(at) = blanket else {
        return last;
    };
    for rule in rules.iter_mut() {
        if let Some(p) = rule["Priority"].as_i64().filter(|p| *p >= at) {
            rule["Priority"] = json!(p + 1);
        }
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::validate::{has_errors, validate};
    use chrono::TimeZone;

    fn analysis(uri: Option<&str>, method: Option<&str>) -> Analysis {
        Analysis {
            from: chrono::Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap(),
            to: chrono::Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap(),
            window: 300,
            by: KeyBy::Ip,
            uri: uri.map(str::to_owned),
            uri_match: UriMatch::Prefix,
            method: method.map(str::to_owned),
            country: None,
            web_acl: None,
            label: None,
            sliding: false,
            limit: 10,
        }
    }

    fn live() -> Vec<RuleEntry> {
        read_rules(json!([
            {"Name": "Reputation", "Priority": 0, "OverrideAction": {"None": {}},
             "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "AWSManagedRulesAmazonIpReputationList"}},
             "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": "rep"}},
            {"Name": "LoginRule", "Priority": 1, "Action": {"Block": {}},
             "Statement": {"RateBasedStatement": {"Limit": 100, "AggregateKeyType": "IP", "EvaluationWindowSec": 300,
                "ScopeDownStatement": {"ByteMatchStatement": {"SearchString": "/login", "FieldToMatch": {"UriPath": {}},
                    "PositionalConstraint": "STARTS_WITH", "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}}}},
             "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": "login"}},
            {"Name": "BlanketRule", "Priority": 2, "Action": {"Block": {}},
             "Statement": {"RateBasedStatement": {"Limit": 7000, "AggregateKeyType": "IP"}},
             "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": "blanket"}}
        ]))
        .unwrap()
    }

    #[test]
    fn the_same_key_and_scope_changes_the_existing_rule() {
        let proposed = propose(&live(), &analysis(Some("/login"), None), 60).unwrap();
        assert_eq!(proposed.words, "LoginRule: limit 100 → 60 per 300 s");
        assert_eq!(proposed.rules.len(), 3);
        let json = proposed.rules[1].to_json();
        assert_eq!(json["Statement"]["RateBasedStatement"]["Limit"], 60);
        assert!(!has_errors(&validate(&proposed.rules)));
    }

    #[test]
    fn a_new_scope_is_added_before_the_blanket_rule() {
        let proposed = propose(&live(), &analysis(Some("/api/search"), Some("POST")), 250).unwrap();
        assert_eq!(
            proposed.words,
            "RateLimit-api-search is added: at most 250 requests per 300 s"
        );
        let rules: Vec<Value> = proposed.rules.iter().map(RuleEntry::to_json).collect();
        let added = rules
            .iter()
            .find(|r| r["Name"] == "RateLimit-api-search")
            .unwrap();
        assert_eq!(added["Priority"], 2);
        let scope = &added["Statement"]["RateBasedStatement"]["ScopeDownStatement"]["AndStatement"]
            ["Statements"];
        assert_eq!(
            scope[0]["ByteMatchStatement"]["PositionalConstraint"],
            "STARTS_WITH"
        );
        assert_eq!(scope[1]["ByteMatchStatement"]["SearchString"], "POST");
        let blanket = rules.iter().find(|r| r["Name"] == "BlanketRule").unwrap();
        assert_eq!(blanket["Priority"], 3, "moved down one");
        let found = validate(&proposed.rules);
        assert!(!has_errors(&found), "{found:?}");
    }

    #[test]
    fn a_key_waf_cannot_rate_limit_by_is_refused() {
        let mut by_country = analysis(None, None);
        by_country.by = KeyBy::Country;
        assert!(propose(&live(), &by_country, 100).is_err());
        let mut forwarded = analysis(None, None);
        forwarded.by = KeyBy::Forwarded("X-Forwarded-For".into());
        let proposed = propose(&live(), &forwarded, 500).unwrap();
        assert_eq!(
            proposed.words,
            "RateLimit is added: at most 500 requests per 300 s"
        );
    }
}

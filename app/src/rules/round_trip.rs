//! Every shape of rule the model reads, and some it does not, written back
//! exactly as they came.

use super::model::*;
use serde_json::{Value, json};

/// A web ACL's rules in the JSON of the AWS console's rule editor: every
/// aggregate key type and custom key kind, each scope-down statement kind,
/// each action, a managed rule group, and rules and fields the model does
/// not know.
fn rules() -> Value {
    let none = json!([{"Priority": 0, "Type": "NONE"}]);
    let lower =
        json!([{"Priority": 0, "Type": "LOWERCASE"}, {"Priority": 1, "Type": "URL_DECODE"}]);
    let visibility = |name: &str| json!({"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": name});
    json!([
        {
            "Name": "AWS-AWSManagedRulesAmazonIpReputationList",
            "Priority": 0,
            "Statement": {"ManagedRuleGroupStatement": {
                "VendorName": "AWS", "Name": "AWSManagedRulesAmazonIpReputationList",
                "ExcludedRules": [{"Name": "AWSManagedReconnaissanceList"}],
                "RuleActionOverrides": [{"Name": "AWSManagedIPDDoSList", "ActionToUse": {"Count": {}}}]
            }},
            "OverrideAction": {"None": {}},
            "VisibilityConfig": visibility("ip-reputation")
        },
        {
            "Name": "login-per-ip",
            "Priority": 1,
            "Statement": {"RateBasedStatement": {
                "Limit": 100, "EvaluationWindowSec": 300, "AggregateKeyType": "IP",
                "ScopeDownStatement": {"ByteMatchStatement": {
                    "SearchString": "/login", "FieldToMatch": {"UriPath": {}},
                    "TextTransformations": lower, "PositionalConstraint": "STARTS_WITH"
                }}
            }},
            "Action": {"Block": {"CustomResponse": {"ResponseCode": 429, "CustomResponseBodyKey": "slow-down"}}},
            "RuleLabels": [{"Name": "gatehouse:login-limited"}],
            "VisibilityConfig": visibility("login-per-ip")
        },
        {
            "Name": "per-forwarded-ip",
            "Priority": 2,
            "Statement": {"RateBasedStatement": {
                "Limit": 2000, "AggregateKeyType": "FORWARDED_IP",
                "ForwardedIPConfig": {"HeaderName": "X-Forwarded-For", "FallbackBehavior": "MATCH"}
            }},
            "Action": {"Captcha": {}},
            "CaptchaConfig": {"ImmunityTimeProperty": {"ImmunityTime": 300}},
            "VisibilityConfig": visibility("per-forwarded-ip")
        },
        {
            "Name": "custom-keys",
            "Priority": 3,
            "Statement": {"RateBasedStatement": {
                "Limit": 500, "EvaluationWindowSec": 60, "AggregateKeyType": "CUSTOM_KEYS",
                "CustomKeys": [
                    {"Header": {"Name": "x-api-key", "TextTransformations": none}},
                    {"Cookie": {"Name": "session", "TextTransformations": none}},
                    {"QueryArgument": {"Name": "user", "TextTransformations": lower}},
                    {"QueryString": {"TextTransformations": none}},
                    {"HTTPMethod": {}}
                ],
                "ScopeDownStatement": {"OrStatement": {"Statements": [
                    {"GeoMatchStatement": {"CountryCodes": ["DE", "FR"],
                        "ForwardedIPConfig": {"HeaderName": "X-Forwarded-For", "FallbackBehavior": "NO_MATCH"}}},
                    {"NotStatement": {"Statement": {"IPSetReferenceStatement": {
                        "ARN": "arn:aws:wafv2:us-east-1:123456789012:regional/ipset/office/1111",
                        "IPSetForwardedIPConfig": {"HeaderName": "X-Forwarded-For", "FallbackBehavior": "MATCH", "Position": "FIRST"}
                    }}}}
                ]}}
            }},
            "Action": {"Challenge": {}},
            "VisibilityConfig": visibility("custom-keys")
        },
        {
            "Name": "more-custom-keys",
            "Priority": 4,
            "Statement": {"RateBasedStatement": {
                "Limit": 10, "AggregateKeyType": "CUSTOM_KEYS",
                "CustomKeys": [
                    {"ForwardedIP": {}}, {"IP": {}},
                    {"LabelNamespace": {"Namespace": "awswaf:managed:aws:bot-control:"}},
                    {"UriPath": {"TextTransformations": none}},
                    {"JA3Fingerprint": {"FallbackBehavior": "MATCH"}}
                ],
                "ForwardedIPConfig": {"HeaderName": "True-Client-IP", "FallbackBehavior": "NO_MATCH"}
            }},
            "Action": {"Count": {}},
            "VisibilityConfig": visibility("more-custom-keys")
        },
        {
            "Name": "newest-keys",
            "Priority": 5,
            "Statement": {"RateBasedStatement": {
                "Limit": 2000000000, "EvaluationWindowSec": 600, "AggregateKeyType": "CUSTOM_KEYS",
                "CustomKeys": [{"JA4Fingerprint": {"FallbackBehavior": "NO_MATCH"}}, {"ASN": {}},
                               {"SomeFutureKey": {"Setting": 1}}]
            }},
            "Action": {"Block": {}},
            "VisibilityConfig": visibility("newest-keys")
        },
        {
            "Name": "hosting-providers",
            "Priority": 6,
            "Statement": {"RateBasedStatement": {
                "Limit": 50, "AggregateKeyType": "CONSTANT",
                "ScopeDownStatement": {"AndStatement": {"Statements": [
                    {"LabelMatchStatement": {"Scope": "LABEL", "Key": "awswaf:managed:aws:anonymous-ip-list:HostingProviderIPList"}},
                    {"ByteMatchStatement": {"SearchString": "POST", "FieldToMatch": {"Method": {}},
                        "TextTransformations": none, "PositionalConstraint": "EXACTLY"}},
                    {"ByteMatchStatement": {"SearchString": "bot", "FieldToMatch": {"SingleHeader": {"Name": "user-agent"}},
                        "TextTransformations": lower, "PositionalConstraint": "CONTAINS_WORD"}},
                    {"ByteMatchStatement": {"SearchString": "a=1", "FieldToMatch": {"JsonBody": {"MatchPattern": {"All": {}}, "MatchScope": "ALL"}},
                        "TextTransformations": none, "PositionalConstraint": "CONTAINS"}}
                ]}}
            }},
            "Action": {"Block": {}},
            "VisibilityConfig": visibility("hosting-providers")
        },
        {
            "Name": "sqli",
            "Priority": 7,
            "Statement": {"SqliMatchStatement": {"FieldToMatch": {"Body": {"OversizeHandling": "CONTINUE"}},
                "TextTransformations": none, "SensitivityLevel": "HIGH"}},
            "Action": {"Block": {}},
            "VisibilityConfig": visibility("sqli"),
            "SomeFutureRuleField": {"Enabled": true}
        },
        {
            "Name": "as-the-emulator-writes-it",
            "Priority": 9,
            "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "AWSManagedRulesAnonymousIpList",
                "Version": null, "ScopeDownStatement": null}},
            "Action": null,
            "OverrideAction": {"Count": {}},
            "RuleLabels": null,
            "CaptchaConfig": null,
            "VisibilityConfig": visibility("emulator")
        },
        {
            "Name": "no-visibility",
            "Priority": 8,
            "Statement": {"GeoMatchStatement": {"CountryCodes": ["KP"]}},
            "Action": {"Block": {}}
        }
    ])
}

#[test]
fn every_rule_reads_and_writes_back_exactly() {
    let json = rules();
    let read = read_rules(json.clone()).unwrap();
    assert_eq!(read.len(), 10);
    assert_eq!(rules_json(&read), json);
    // Through text, as an editor would save it.
    let text = serde_json::to_string_pretty(&read).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), json);
}

#[test]
fn what_the_model_knows_is_typed_and_the_rest_kept() {
    let read = read_rules(rules()).unwrap();
    let rule = |i: usize| match &read[i] {
        RuleEntry::Rule(rule) => rule.clone(),
        RuleEntry::Verbatim { reason, .. } => panic!("rule {i} not read: {reason}"),
    };
    let Statement::RateBased(login) = &rule(1).statement else {
        panic!("rate-based")
    };
    assert_eq!((login.limit, login.evaluation_window_sec), (100, Some(300)));
    assert_eq!(login.aggregate_key_type, AggregateKeyType::Ip);
    let Some(Statement::ByteMatch(scope)) = &login.scope_down_statement else {
        panic!("byte match scope-down")
    };
    assert_eq!(scope.search_string, "/login");
    assert_eq!(
        scope.field_to_match,
        FieldToMatch::UriPath(Empty::default())
    );
    assert_eq!(
        scope.positional_constraint,
        PositionalConstraint::StartsWith
    );
    assert!(
        matches!(rule(1).action, Some(RuleAction::Block(ref b)) if b.other.contains_key("CustomResponse"))
    );

    let Statement::RateBased(keys) = &rule(3).statement else {
        panic!("rate-based")
    };
    let kinds: Vec<String> = keys
        .custom_keys
        .iter()
        .flatten()
        .map(CustomKey::kind)
        .collect();
    assert_eq!(
        kinds,
        [
            "Header",
            "Cookie",
            "QueryArgument",
            "QueryString",
            "HTTPMethod"
        ]
    );
    let Statement::RateBased(newest) = &rule(5).statement else {
        panic!("rate-based")
    };
    assert!(matches!(
        newest.custom_keys.as_deref(),
        Some([
            CustomKey::Ja4Fingerprint(_),
            CustomKey::Asn(_),
            CustomKey::Other(_)
        ])
    ));

    assert_eq!(rule(7).statement.kind(), "SqliMatchStatement");
    assert!(matches!(rule(7).statement, Statement::Other(_)));
    assert!(rule(7).other.contains_key("SomeFutureRuleField"));
    assert!(rule(8).action.is_none(), "null reads as unset");
    assert!(
        matches!(&read[9], RuleEntry::Verbatim { reason, .. } if reason.contains("VisibilityConfig"))
    );
    assert_eq!(read[9].name(), Some("no-visibility"));
    assert_eq!(read[9].priority(), Some(8));
}

#[test]
fn a_null_goes_once_a_value_is_set() {
    let mut entry = RuleEntry::read(json!({
        "Name": "r", "Priority": 0, "Action": null,
        "Statement": {"GeoMatchStatement": {"CountryCodes": ["KP"]}},
        "VisibilityConfig": {"SampledRequestsEnabled": false, "CloudWatchMetricsEnabled": false, "MetricName": "r"}
    }));
    let RuleEntry::Rule(rule) = &mut entry else {
        panic!("read")
    };
    rule.action = Some(RuleAction::Block(Empty::default()));
    assert_eq!(entry.to_json()["Action"], json!({"Block": {}}));
}

#[test]
fn unknown_values_of_known_fields_are_kept_as_written() {
    let rule = json!({
        "Name": "r", "Priority": 0,
        "Statement": {"RateBasedStatement": {"Limit": 100, "AggregateKeyType": "SOMETHING_NEW"}},
        "Action": {"Block": {}},
        "VisibilityConfig": {"SampledRequestsEnabled": false, "CloudWatchMetricsEnabled": false, "MetricName": "r"}
    });
    let read = RuleEntry::read(rule.clone());
    let RuleEntry::Rule(typed) = &read else {
        panic!("read")
    };
    let Statement::RateBased(rate) = &typed.statement else {
        panic!("rate-based")
    };
    assert_eq!(
        rate.aggregate_key_type,
        AggregateKeyType::Other("SOMETHING_NEW".into())
    );
    assert_eq!(read.to_json(), rule);
}

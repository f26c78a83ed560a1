//! `gatehouse rules validate`: what a person checking a rules file sees.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use serde_json::{Value, json};
use std::process::Output;

fn validate(content: &str) -> (Output, Value) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.json");
    std::fs::write(&path, content).unwrap();
    let output = common::gatehouse()
        .args(["rules", "validate"])
        .arg(&path)
        .output()
        .unwrap();
    let findings = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output, findings)
}

fn rule(name: &str, priority: i64, limit: i64) -> Value {
    json!({
        "Name": name, "Priority": priority,
        "Statement": {"RateBasedStatement": {"Limit": limit, "EvaluationWindowSec": 300, "AggregateKeyType": "IP"}},
        "Action": {"Block": {}},
        "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": name}
    })
}

#[test]
fn sound_rules_pass_in_every_form_people_have_them() {
    let rules = json!([rule("blanket", 1, 2000)]);
    for document in [
        rules.clone(),
        json!({"Rules": rules.clone()}),
        json!({"WebACL": {"Name": "shop", "Rules": rules.clone()}, "LockToken": "x"}),
    ] {
        let (output, findings) = validate(&document.to_string());
        assert!(output.status.success(), "{document}: {output:?}");
        assert_eq!(findings, json!([]));
    }
}

#[test]
fn an_error_is_printed_with_its_rule_and_path_and_fails_the_command() {
    let (output, findings) =
        validate(&json!([rule("blanket", 1, 5), rule("blanket", 1, 2000)]).to_string());
    assert_eq!(output.status.code(), Some(1));
    let findings = findings.as_array().unwrap();
    assert!(findings.contains(&json!({
        "severity": "error", "rule": "blanket", "path": "Statement.RateBasedStatement.Limit",
        "message": "Limit is 5; WAF allows 10 to 2,000,000,000"
    })));
    let paths: Vec<&str> = findings
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"Name") && paths.contains(&"Priority"),
        "{paths:?}"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("the rules have errors"));
}

#[test]
fn warnings_alone_pass() {
    let specific = json!({
        "Name": "login", "Priority": 2,
        "Statement": {"RateBasedStatement": {"Limit": 100, "AggregateKeyType": "IP",
            "ScopeDownStatement": {"GeoMatchStatement": {"CountryCodes": ["DE"]}}}},
        "Action": {"Block": {}},
        "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": "login"}
    });
    let (output, findings) = validate(&json!([rule("blanket", 1, 2000), specific]).to_string());
    assert!(output.status.success());
    assert_eq!(findings[0]["severity"], "warning");
    assert_eq!(findings[0]["rule"], "login");
}

#[test]
fn a_file_that_is_not_json_says_so() {
    let (output, _) = validate("[{\"Name\": ");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not JSON"));
    assert!(output.stdout.is_empty());
}

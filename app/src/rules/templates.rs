//! Starting points for the rules the AWS guidance on rate-based rules
//! recommends: a blanket limit per IP, a tighter limit on one path, the
//! Amazon IP reputation list, a limit for traffic from some countries, and a
//! limit for requests from hosting providers (labelled by the anonymous IP
//! list). Each is a valid rule as it comes; the editor then adjusts it.

use super::model::{RuleEntry, read_rules};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    Blanket,
    UriSpecific,
    IpReputation,
    GeoScoped,
    HostingProviders,
}

/// The label the anonymous IP list adds to requests from hosting providers.
pub const HOSTING_PROVIDER_LABEL: &str =
    "awswaf:managed:aws:anonymous-ip-list:HostingProviderIPList";

impl Template {
    pub const ALL: [Template; 5] = [
        Template::Blanket,
        Template::UriSpecific,
        Template::IpReputation,
        Template::GeoScoped,
        Template::HostingProviders,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Template::Blanket => "Blanket limit per IP",
            Template::UriSpecific => "Limit on one path (e.g. /login)",
            Template::IpReputation => "Amazon IP reputation list",
            Template::GeoScoped => "Limit for some countries",
            Template::HostingProviders => {
                "Limit for hosting providers (with the anonymous IP list)"
            }
        }
    }

    /// The rule(s), named and prioritised from `priority`. The
    /// hosting-provider limit comes with the anonymous IP list that labels
    /// the requests, placed before it.
    pub fn rules(self, priority: i64) -> Vec<RuleEntry> {
        let visibility = |name: &str| json!({"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": name});
        let rate = |name: &str, priority: i64, statement: Value| {
            json!({
                "Name": name, "Priority": priority,
                "Statement": {"RateBasedStatement": statement},
                "Action": {"Block": {}},
                "VisibilityConfig": visibility(name)
            })
        };
        let managed = |name: &str, group: &str, priority: i64| {
            json!({
                "Name": name, "Priority": priority,
                "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": group}},
                "OverrideAction": {"None": {}},
                "VisibilityConfig": visibility(name)
            })
        };
        let rules = match self {
            Template::Blanket => vec![rate(
                "rate-limit-per-ip",
                priority,
                json!({"Limit": 2000, "EvaluationWindowSec": 300, "AggregateKeyType": "IP"}),
            )],
            Template::UriSpecific => vec![rate(
                "rate-limit-login",
                priority,
                json!({"Limit": 100, "EvaluationWindowSec": 300, "AggregateKeyType": "IP",
                    "ScopeDownStatement": {"ByteMatchStatement": {
                        "SearchString": "/login", "FieldToMatch": {"UriPath": {}},
                        "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
                        "PositionalConstraint": "STARTS_WITH"}}}),
            )],
            Template::IpReputation => vec![managed(
                "aws-ip-reputation",
                "AWSManagedRulesAmazonIpReputationList",
                priority,
            )],
            Template::GeoScoped => vec![rate(
                "rate-limit-countries",
                priority,
                json!({"Limit": 500, "EvaluationWindowSec": 300, "AggregateKeyType": "IP",
                    "ScopeDownStatement": {"GeoMatchStatement": {"CountryCodes": ["CN", "RU"]}}}),
            )],
            Template::HostingProviders => vec![
                managed(
                    "aws-anonymous-ip",
                    "AWSManagedRulesAnonymousIpList",
                    priority,
                ),
                rate(
                    "rate-limit-hosting-providers",
                    priority + 1,
                    json!({"Limit": 100, "EvaluationWindowSec": 300, "AggregateKeyType": "IP",
                        "ScopeDownStatement": {"LabelMatchStatement": {
                            "Scope": "LABEL", "Key": HOSTING_PROVIDER_LABEL}}}),
                ),
            ],
        };
        read_rules(Value::Array(rules)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::model::{Statement, rules_json};
    use crate::rules::validate::validate;

    #[test]
    fn every_template_is_valid_as_it_comes() {
        for template in Template::ALL {
            let rules = template.rules(0);
            assert!(!rules.is_empty(), "{template:?}");
            assert!(rules.iter().all(|r| matches!(r, RuleEntry::Rule(_))));
            assert_eq!(validate(&rules), [], "{template:?}: {}", rules_json(&rules));
        }
    }

    #[test]
    fn all_templates_together_make_a_web_acl_in_the_recommended_order() {
        let mut rules = Vec::new();
        for (i, template) in [
            Template::IpReputation,
            Template::HostingProviders,
            Template::UriSpecific,
            Template::GeoScoped,
            Template::Blanket,
        ]
        .into_iter()
        .enumerate()
        {
            rules.extend(template.rules(10 * i as i64));
        }
        assert_eq!(validate(&rules), []);
        let hosting = rules
            .iter()
            .find(|r| r.name() == Some("rate-limit-hosting-providers"));
        let Some(RuleEntry::Rule(rule)) = hosting else {
            panic!("hosting providers")
        };
        assert!(matches!(rule.statement, Statement::RateBased(_)));
    }
}

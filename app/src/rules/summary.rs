//! A rule in plain words, as the rate rules page lists it — "Block an IP
//! that sends more than 150 requests to paths starting with /login in any
//! 5 minutes" — and its cost in web ACL capacity units (WCU).

use super::model::*;

/// What the rule does, in one sentence.
pub fn summary(rule: &Rule) -> String {
    match &rule.statement {
        Statement::RateBased(rate) => rate_summary(rule, rate),
        Statement::ManagedRuleGroup(group) => {
            let counted = matches!(rule.override_action, Some(OverrideAction::Count(_)));
            format!(
                "Run the {} managed rule group {}{}",
                group.vendor_name,
                group.name,
                if counted {
                    ", only counting what it matches"
                } else {
                    " with its own actions"
                }
            )
        }
        other => format!(
            "{} requests {}",
            action_verb(rule.action.as_ref()),
            matching(other)
        ),
    }
}

fn rate_summary(rule: &Rule, rate: &RateBasedStatement) -> String {
    let verb = action_verb(rule.action.as_ref());
    let window = window_words(rate.evaluation_window_sec.unwrap_or(300));
    let scope = rate
        .scope_down_statement
        .as_ref()
        .map(|s| format!(" {}", matching(s)))
        .unwrap_or_default();
    let limit = thousands(rate.limit);
    match &rate.aggregate_key_type {
        AggregateKeyType::Constant => format!(
            "{verb} requests{scope} once together they number more than {limit} in any {window}"
        ),
        AggregateKeyType::Ip => {
            format!("{verb} an IP that sends more than {limit} requests{scope} in any {window}")
        }
        AggregateKeyType::ForwardedIp => {
            let header = rate
                .forwarded_ip_config
                .as_ref()
                .map_or("a forwarded-IP header", |c| c.header_name.as_str());
            format!(
                "{verb} an IP (the first address in {header}) that sends more than {limit} \
                 requests{scope} in any {window}"
            )
        }
        AggregateKeyType::CustomKeys => {
            let keys: Vec<String> = rate
                .custom_keys
                .iter()
                .flatten()
                .map(custom_key_words)
                .collect();
            format!(
                "{verb} each {} that sends more than {limit} requests{scope} in any {window}",
                keys.join(" + ")
            )
        }
        AggregateKeyType::Other(other) => format!(
            "{verb} each {other} key that sends more than {limit} requests{scope} in any {window}"
        ),
    }
}

fn action_verb(action: Option<&RuleAction>) -> String {
    match action {
        Some(RuleAction::Block(_)) => "Block".into(),
        Some(RuleAction::Count(_)) => "Count".into(),
        Some(RuleAction::Captcha(_)) => "Ask for a CAPTCHA from".into(),
        Some(RuleAction::Challenge(_)) => "Challenge".into(),
        Some(RuleAction::Allow(_)) => "Allow".into(),
        Some(other) => other.kind(),
        None => "(no action for)".into(),
    }
}

fn window_words(seconds: i64) -> String {
    match seconds {
        60 => "minute".into(),
        s if s % 60 == 0 => format!("{} minutes", s / 60),
        s => format!("{s} seconds"),
    }
}

fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

fn custom_key_words(key: &CustomKey) -> String {
    match key {
        CustomKey::Header(k) => format!("header {}", k.name),
        CustomKey::Cookie(k) => format!("cookie {}", k.name),
        CustomKey::QueryArgument(k) => format!("query argument {}", k.name),
        CustomKey::QueryString(_) => "query string".into(),
        CustomKey::HttpMethod(_) => "method".into(),
        CustomKey::ForwardedIp(_) => "forwarded IP".into(),
        CustomKey::Ip(_) => "IP".into(),
        CustomKey::LabelNamespace(k) => format!("label in {}", k.namespace),
        CustomKey::UriPath(_) => "path".into(),
        CustomKey::Ja3Fingerprint(_) => "JA3 fingerprint".into(),
        CustomKey::Ja4Fingerprint(_) => "JA4 fingerprint".into(),
        CustomKey::Asn(_) => "ASN".into(),
        CustomKey::Other(_) => key.kind(),
    }
}

/// "to paths starting with /login", "from DE or FR", … for a statement.
fn matching(statement: &Statement) -> String {
    match statement {
        Statement::ByteMatch(m) => {
            let text = &m.search_string;
            let how = |thing: &str| match &m.positional_constraint {
                PositionalConstraint::Exactly => format!("{thing} {text}"),
                PositionalConstraint::StartsWith => format!("{thing} starting with {text}"),
                PositionalConstraint::EndsWith => format!("{thing} ending in {text}"),
                PositionalConstraint::Contains => format!("{thing} containing {text}"),
                PositionalConstraint::ContainsWord => format!("{thing} containing the word {text}"),
                PositionalConstraint::Other(other) => format!("{thing} {other} {text}"),
            };
            match &m.field_to_match {
                FieldToMatch::UriPath(_) => match m.positional_constraint {
                    PositionalConstraint::Exactly => format!("to the path {text}"),
                    _ => format!("to {}", how("paths")),
                },
                FieldToMatch::Method(_) => format!("with method {text}"),
                FieldToMatch::QueryString(_) => format!("with {}", how("a query string")),
                FieldToMatch::SingleHeader(h) => {
                    format!("with {}", how(&format!("a {} header", h.name)))
                }
                FieldToMatch::Other(_) => format!("whose inspected part matches {text}"),
            }
        }
        Statement::GeoMatch(g) => format!("from {}", g.country_codes.join(" or ")),
        Statement::LabelMatch(l) => match l.scope {
            LabelMatchScope::Namespace => format!("with a label in {}", l.key),
            _ => format!("labelled {}", l.key),
        },
        Statement::IpSetReference(r) => {
            let name = r.arn.split('/').rev().nth(1).unwrap_or(&r.arn);
            format!("from addresses in IP set {name}")
        }
        Statement::And(a) => a
            .statements
            .iter()
            .map(matching)
            .collect::<Vec<_>>()
            .join(" and "),
        Statement::Or(o) => format!(
            "either {}",
            o.statements
                .iter()
                .map(matching)
                .collect::<Vec<_>>()
                .join(" or ")
        ),
        Statement::Not(n) => format!("not {}", matching(&n.statement)),
        other => format!("matching a {}", other.kind()),
    }
}

/// AWS managed rule groups' capacity in WCU.
const MANAGED_CAPACITY: &[(&str, u32)] = &[
    ("AWSManagedRulesAmazonIpReputationList", 25),
    ("AWSManagedRulesAnonymousIpList", 50),
    ("AWSManagedRulesCommonRuleSet", 700),
    ("AWSManagedRulesKnownBadInputsRuleSet", 200),
    ("AWSManagedRulesSQLiRuleSet", 200),
    ("AWSManagedRulesLinuxRuleSet", 200),
    ("AWSManagedRulesUnixRuleSet", 100),
    ("AWSManagedRulesWindowsRuleSet", 200),
    ("AWSManagedRulesPHPRuleSet", 100),
    ("AWSManagedRulesWordPressRuleSet", 100),
    ("AWSManagedRulesAdminProtectionRuleSet", 100),
    ("AWSManagedRulesBotControlRuleSet", 50),
    ("AWSManagedRulesATPRuleSet", 50),
    ("AWSManagedRulesACFPRuleSet", 50),
];

/// The rule's cost in WCU, by AWS's published rule capacities; `None` when
/// it holds something whose cost the model does not know.
pub fn wcu(rule: &Rule) -> Option<u32> {
    match &rule.statement {
        Statement::RateBased(rate) => {
            let keys = rate.custom_keys.as_ref().map_or(0, Vec::len) as u32;
            let scope = match &rate.scope_down_statement {
                Some(s) => statement_wcu(s)?,
                None => 0,
            };
            Some(2 + 30 * keys + scope)
        }
        other => statement_wcu(other),
    }
}

fn statement_wcu(statement: &Statement) -> Option<u32> {
    let transformations =
        |list: &[TextTransformation]| 10 * list.iter().filter(|t| t.kind != "NONE").count() as u32;
    match statement {
        Statement::ByteMatch(m) => {
            let base = match m.positional_constraint {
                PositionalConstraint::Contains | PositionalConstraint::ContainsWord => 10,
                _ => 2,
            };
            Some(base + transformations(&m.text_transformations))
        }
        Statement::GeoMatch(_) | Statement::LabelMatch(_) | Statement::IpSetReference(_) => Some(1),
        Statement::And(a) => a.statements.iter().map(statement_wcu).sum(),
        Statement::Or(o) => o.statements.iter().map(statement_wcu).sum(),
        Statement::Not(n) => statement_wcu(&n.statement),
        Statement::ManagedRuleGroup(g) => MANAGED_CAPACITY
            .iter()
            .find(|(name, _)| g.vendor_name == "AWS" && g.name == *name)
            .map(|(_, wcu)| *wcu),
        Statement::RateBased(_) | Statement::Other(_) => None,
    }
}

/// The web ACL's total over the rules whose cost is known, and how many
/// rules' costs are not.
pub fn web_acl_wcu(rules: &[RuleEntry]) -> (u32, usize) {
    let mut total = 0;
    let mut unknown = 0;
    for entry in rules {
        match entry {
            RuleEntry::Rule(rule) => match wcu(rule) {
                Some(cost) => total += cost,
                None => unknown += 1,
            },
            RuleEntry::Verbatim { .. } => unknown += 1,
        }
    }
    (total, unknown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(statement: serde_json::Value, action: &str) -> Rule {
        serde_json::from_value(json!({
            "Name": "r", "Priority": 0, "Statement": statement, "Action": {action: {}},
            "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": "r"}
        }))
        .unwrap()
    }

    #[test]
    fn rules_read_as_a_person_would_say_them() {
        let login = rule(
            json!({"RateBasedStatement": {"Limit": 150, "EvaluationWindowSec": 300, "AggregateKeyType": "IP",
                "ScopeDownStatement": {"ByteMatchStatement": {"SearchString": "/login", "FieldToMatch": {"UriPath": {}},
                    "TextTransformations": [{"Priority": 0, "Type": "NONE"}], "PositionalConstraint": "STARTS_WITH"}}}}),
            "Block",
        );
        assert_eq!(
            summary(&login),
            "Block an IP that sends more than 150 requests to paths starting with /login in any 5 minutes"
        );
        assert_eq!(wcu(&login), Some(4));
        let hosting = rule(
            json!({"RateBasedStatement": {"Limit": 2000, "EvaluationWindowSec": 60, "AggregateKeyType": "CONSTANT",
                "ScopeDownStatement": {"LabelMatchStatement": {"Scope": "LABEL",
                    "Key": "awswaf:managed:aws:anonymous-ip-list:HostingProviderIPList"}}}}),
            "Captcha",
        );
        assert_eq!(
            summary(&hosting),
            "Ask for a CAPTCHA from requests labelled awswaf:managed:aws:anonymous-ip-list:HostingProviderIPList \
             once together they number more than 2,000 in any minute"
        );
        let forwarded = rule(
            json!({"RateBasedStatement": {"Limit": 7000, "AggregateKeyType": "FORWARDED_IP",
                "ForwardedIPConfig": {"HeaderName": "X-Forwarded-For", "FallbackBehavior": "MATCH"},
                "ScopeDownStatement": {"NotStatement": {"Statement": {"GeoMatchStatement": {"CountryCodes": ["DE", "AT"]}}}}}}),
            "Count",
        );
        assert_eq!(
            summary(&forwarded),
            "Count an IP (the first address in X-Forwarded-For) that sends more than 7,000 requests not from DE or AT in any 5 minutes"
        );
        let keys = rule(
            json!({"RateBasedStatement": {"Limit": 100, "AggregateKeyType": "CUSTOM_KEYS",
                "CustomKeys": [{"Header": {"Name": "x-api-key", "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}}, {"HTTPMethod": {}}]}}),
            "Block",
        );
        assert_eq!(
            summary(&keys),
            "Block each header x-api-key + method that sends more than 100 requests in any 5 minutes"
        );
        assert_eq!(wcu(&keys), Some(62));
    }

    #[test]
    fn capacity_adds_up_and_says_what_it_cannot_price() {
        let contains = rule(
            json!({"RateBasedStatement": {"Limit": 100, "AggregateKeyType": "IP",
                "ScopeDownStatement": {"AndStatement": {"Statements": [
                    {"ByteMatchStatement": {"SearchString": "bot", "FieldToMatch": {"SingleHeader": {"Name": "user-agent"}},
                        "TextTransformations": [{"Priority": 0, "Type": "LOWERCASE"}], "PositionalConstraint": "CONTAINS"}},
                    {"GeoMatchStatement": {"CountryCodes": ["DE"]}}]}}}}),
            "Block",
        );
        assert_eq!(wcu(&contains), Some(2 + 10 + 10 + 1));
        let sqli = RuleEntry::Rule(Box::new(rule(json!({"SqliMatchStatement": {}}), "Block")));
        let entries = [RuleEntry::Rule(Box::new(contains)), sqli];
        assert_eq!(web_acl_wcu(&entries), (23, 1));
    }
}

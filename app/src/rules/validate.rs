//! What AWS would refuse in a web ACL's rules, said before AWS says it, and
//! what it would accept but a careful reviewer would question.
//!
//! Each finding names the rule, the JSON path of the field (from the rule)
//! and what is allowed, so a person can act on it. Errors are what
//! `UpdateWebACL` rejects; warnings (the lint) are legal but likely
//! mistakes: a specific rate rule behind the blanket one, the IP reputation
//! list not first, a label matched before any rule adds it.

use super::model::*;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub severity: Severity,
    /// The rule's name (or its position, `#3`, when it has none).
    pub rule: String,
    /// Where in the rule, as a JSON path from the rule: `Statement.RateBasedStatement.Limit`.
    pub path: String,
    pub message: String,
}

pub const LIMIT_RANGE: (i64, i64) = (10, 2_000_000_000);
pub const WINDOWS: [i64; 4] = [60, 120, 300, 600];
pub const MAX_CUSTOM_KEYS: usize = 5;

/// Checks `rules` as a whole web ACL would hold them.
pub fn validate(rules: &[RuleEntry]) -> Vec<Finding> {
    let mut check = Check::default();
    for (index, entry) in rules.iter().enumerate() {
        let name = entry
            .name()
            .filter(|n| !n.is_empty())
            .map_or_else(|| format!("#{}", index + 1), str::to_owned);
        check.rule = name.clone();
        match entry {
            RuleEntry::Rule(rule) => {
                check.rule_itself(rule);
                check.model_constraints(&rule.to_json());
            }
            // Kept as it came: not checked against the model either.
            RuleEntry::Verbatim { reason, .. } => check.push(
                Severity::Warning,
                "",
                format!("not understood, kept exactly as it is: {reason}"),
            ),
        }
    }
    check.across(rules);
    check.findings
}

/// Whether any finding is an error.
pub fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity == Severity::Error)
}

#[derive(Default)]
struct Check {
    rule: String,
    findings: Vec<Finding>,
}

impl Check {
    fn push(&mut self, severity: Severity, path: &str, message: String) {
        self.findings.push(Finding {
            severity,
            rule: self.rule.clone(),
            path: path.to_owned(),
            message,
        });
    }

    /// What the WAFv2 API model declares for each field, where the checks
    /// above have not already said it.
    fn model_constraints(&mut self, rule: &serde_json::Value) {
        for broken in super::constraints::check(rule) {
            let said = self.findings.iter().any(|f| {
                f.rule == self.rule
                    && f.severity == Severity::Error
                    && (f.path == broken.path || broken.path.starts_with(&format!("{}.", f.path)))
            });
            if !said {
                self.error(
                    &broken.path,
                    format!("{} (WAFv2 API model)", broken.message),
                );
            }
        }
    }

    fn error(&mut self, path: &str, message: impl Into<String>) {
        self.push(Severity::Error, path, message.into());
    }

    fn warning(&mut self, path: &str, message: impl Into<String>) {
        self.push(Severity::Warning, path, message.into());
    }

    fn rule_itself(&mut self, rule: &Rule) {
        if !valid_name(&rule.name, 128) {
            self.error(
                "Name",
                "a rule name is 1 to 128 letters, digits, hyphens and underscores",
            );
        }
        if rule.priority < 0 {
            self.error("Priority", "a priority is 0 or more");
        }
        let metric = &rule.visibility_config.metric_name;
        if !valid_metric_name(metric) {
            self.error(
                "VisibilityConfig.MetricName",
                "a metric name is 1 to 255 letters, digits and the characters _ - # : . /, without spaces, \
                 and not \"All\" or \"Default_Action\"",
            );
        }
        let group = matches!(rule.statement, Statement::ManagedRuleGroup(_))
            || rule.statement.kind() == "RuleGroupReferenceStatement";
        match (group, &rule.action, &rule.override_action) {
            (true, Some(_), _) => self.error(
                "Action",
                "a rule group rule takes OverrideAction (None or Count), not Action",
            ),
            (true, None, None) => self.error(
                "OverrideAction",
                "a rule group rule needs OverrideAction: {\"None\": {}} or {\"Count\": {}}",
            ),
            (false, _, Some(_)) => self.error(
                "OverrideAction",
                "only a rule group rule takes OverrideAction; this rule needs Action",
            ),
            (false, None, _) => self.error(
                "Action",
                "the rule needs an Action: Block, Count, Captcha or Challenge",
            ),
            _ => {}
        }
        if let Statement::RateBased(rate) = &rule.statement {
            if matches!(rule.action, Some(RuleAction::Allow(_))) {
                self.error(
                    "Action",
                    "a rate-based rule cannot Allow: use Block, Count, Captcha or Challenge",
                );
            }
            self.rate_based(rate, "Statement.RateBasedStatement");
        } else {
            self.statement(&rule.statement, "Statement");
        }
        for (i, label) in rule.rule_labels.iter().flatten().enumerate() {
            if !valid_label(&label.name) {
                self.error(
                    &format!("RuleLabels[{i}].Name"),
                    "a label is 1 to 1024 letters, digits and the characters _ - :, without spaces",
                );
            }
        }
    }

    fn rate_based(&mut self, rate: &RateBasedStatement, path: &str) {
        let (low, high) = LIMIT_RANGE;
        if !(low..=high).contains(&rate.limit) {
            self.error(
                &format!("{path}.Limit"),
                format!("Limit is {}; WAF allows 10 to 2,000,000,000", rate.limit),
            );
        }
        if let Some(window) = rate.evaluation_window_sec
            && !WINDOWS.contains(&window)
        {
            self.error(
                &format!("{path}.EvaluationWindowSec"),
                format!("EvaluationWindowSec is {window}; WAF allows 60, 120, 300 or 600"),
            );
        }
        let keys = rate.custom_keys.as_deref().unwrap_or_default();
        let forwarded_key = keys.iter().any(|k| matches!(k, CustomKey::ForwardedIp(_)));
        match &rate.aggregate_key_type {
            AggregateKeyType::CustomKeys => {
                if keys.is_empty() || keys.len() > MAX_CUSTOM_KEYS {
                    self.error(
                        &format!("{path}.CustomKeys"),
                        format!(
                            "CUSTOM_KEYS takes 1 to 5 custom keys; this rule has {}",
                            keys.len()
                        ),
                    );
                }
                let addresses = keys
                    .iter()
                    .filter(|k| matches!(k, CustomKey::Ip(_) | CustomKey::ForwardedIp(_)))
                    .count();
                if keys.len() == 1 && addresses == 1 {
                    self.error(
                        &format!("{path}.CustomKeys"),
                        "IP or ForwardedIP alone is not a custom key set: add another key, \
                         or use AggregateKeyType IP or FORWARDED_IP",
                    );
                }
            }
            AggregateKeyType::Constant => {
                if rate.scope_down_statement.is_none() {
                    self.error(
                        &format!("{path}.ScopeDownStatement"),
                        "CONSTANT counts every request together, so it needs a ScopeDownStatement \
                         to say which requests",
                    );
                }
            }
            AggregateKeyType::Ip | AggregateKeyType::ForwardedIp => {}
            AggregateKeyType::Other(other) => self.error(
                &format!("{path}.AggregateKeyType"),
                format!("AggregateKeyType {other:?} is not one of IP, FORWARDED_IP, CUSTOM_KEYS, CONSTANT"),
            ),
        }
        if !keys.is_empty() && rate.aggregate_key_type != AggregateKeyType::CustomKeys {
            self.error(
                &format!("{path}.CustomKeys"),
                "CustomKeys are only for AggregateKeyType CUSTOM_KEYS",
            );
        }
        let needs_forwarded =
            rate.aggregate_key_type == AggregateKeyType::ForwardedIp || forwarded_key;
        match (&rate.forwarded_ip_config, needs_forwarded) {
            (None, true) => self.error(
                &format!("{path}.ForwardedIPConfig"),
                "keying on the forwarded IP needs ForwardedIPConfig: the header to read \
                 (e.g. X-Forwarded-For) and FallbackBehavior MATCH or NO_MATCH",
            ),
            (Some(_), false) => self.error(
                &format!("{path}.ForwardedIPConfig"),
                "ForwardedIPConfig is only for FORWARDED_IP, or CUSTOM_KEYS with a ForwardedIP key",
            ),
            (Some(config), true) => {
                self.forwarded_config(config, &format!("{path}.ForwardedIPConfig"))
            }
            (None, false) => {}
        }
        for (i, key) in keys.iter().enumerate() {
            self.custom_key(key, &format!("{path}.CustomKeys[{i}]"));
        }
        if let Some(scope) = &rate.scope_down_statement {
            self.statement(scope, &format!("{path}.ScopeDownStatement"));
        }
    }

    fn forwarded_config(&mut self, config: &ForwardedIpConfig, path: &str) {
        if !valid_header(&config.header_name) {
            self.error(
                &format!("{path}.HeaderName"),
                format!(
                    "{:?} is not a header name: 1 to 255 letters, digits and hyphens",
                    config.header_name
                ),
            );
        }
        if let FallbackBehavior::Other(other) = &config.fallback_behavior {
            self.error(
                &format!("{path}.FallbackBehavior"),
                format!("FallbackBehavior {other:?} is not MATCH or NO_MATCH"),
            );
        }
    }

    fn custom_key(&mut self, key: &CustomKey, path: &str) {
        let (name, transformations, kind) = match key {
            CustomKey::Header(k) => (Some(&k.name), Some(&k.text_transformations), "Header"),
            CustomKey::Cookie(k) => (Some(&k.name), Some(&k.text_transformations), "Cookie"),
            CustomKey::QueryArgument(k) => (
                Some(&k.name),
                Some(&k.text_transformations),
                "QueryArgument",
            ),
            CustomKey::QueryString(k) => (None, Some(&k.text_transformations), "QueryString"),
            CustomKey::UriPath(k) => (None, Some(&k.text_transformations), "UriPath"),
            CustomKey::LabelNamespace(k) => {
                if !valid_label(&k.namespace) || !k.namespace.ends_with(':') {
                    self.error(
                        &format!("{path}.LabelNamespace.Namespace"),
                        "a label namespace is a label prefix ending in a colon, \
                         e.g. awswaf:managed:aws:bot-control:",
                    );
                }
                return;
            }
            _ => return,
        };
        if let Some(name) = name {
            let ok = match kind {
                "Header" => valid_header(name),
                _ => !name.is_empty() && name.len() <= 64 && !name.contains(char::is_whitespace),
            };
            if !ok {
                self.error(
                    &format!("{path}.{kind}.Name"),
                    format!("{name:?} is not a valid {kind} name"),
                );
            }
        }
        if let Some(transformations) = transformations {
            self.transformations(
                transformations,
                &format!("{path}.{kind}.TextTransformations"),
            );
        }
    }

    fn transformations(&mut self, list: &[TextTransformation], path: &str) {
        if list.is_empty() {
            self.error(
                path,
                "at least one text transformation is needed: [{\"Priority\": 0, \"Type\": \"NONE\"}] for none",
            );
        }
        let mut seen = HashSet::new();
        for (i, t) in list.iter().enumerate() {
            if !seen.insert(t.priority) {
                self.error(
                    &format!("{path}[{i}].Priority"),
                    format!(
                        "priority {} is used twice in these transformations",
                        t.priority
                    ),
                );
            }
        }
    }

    fn statement(&mut self, statement: &Statement, path: &str) {
        match statement {
            Statement::ByteMatch(m) => {
                let path = format!("{path}.ByteMatchStatement");
                if m.search_string.is_empty() || m.search_string.len() > 200 {
                    self.error(
                        &format!("{path}.SearchString"),
                        "SearchString is 1 to 200 bytes",
                    );
                }
                if let PositionalConstraint::Other(other) = &m.positional_constraint {
                    self.error(
                        &format!("{path}.PositionalConstraint"),
                        format!(
                            "PositionalConstraint {other:?} is not one of EXACTLY, STARTS_WITH, \
                             ENDS_WITH, CONTAINS, CONTAINS_WORD"
                        ),
                    );
                }
                if let FieldToMatch::SingleHeader(h) = &m.field_to_match
                    && !valid_header(&h.name)
                {
                    self.error(
                        &format!("{path}.FieldToMatch.SingleHeader.Name"),
                        format!("{:?} is not a header name", h.name),
                    );
                }
                self.transformations(
                    &m.text_transformations,
                    &format!("{path}.TextTransformations"),
                );
            }
            Statement::GeoMatch(g) => {
                let path = format!("{path}.GeoMatchStatement");
                if g.country_codes.is_empty() {
                    self.error(&format!("{path}.CountryCodes"), "name at least one country");
                }
                for (i, code) in g.country_codes.iter().enumerate() {
                    if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
                        self.error(
                            &format!("{path}.CountryCodes[{i}]"),
                            format!("{code:?} is not a two-letter ISO 3166 code such as DE"),
                        );
                    }
                }
                if let Some(config) = &g.forwarded_ip_config {
                    self.forwarded_config(config, &format!("{path}.ForwardedIPConfig"));
                }
            }
            Statement::LabelMatch(l) => {
                let path = format!("{path}.LabelMatchStatement");
                if !valid_label(&l.key) {
                    self.error(
                        &format!("{path}.Key"),
                        "a label is 1 to 1024 letters, digits and the characters _ - :, without spaces",
                    );
                }
                if let LabelMatchScope::Other(other) = &l.scope {
                    self.error(
                        &format!("{path}.Scope"),
                        format!("Scope {other:?} is not LABEL or NAMESPACE"),
                    );
                }
            }
            Statement::IpSetReference(r) => {
                if !r.arn.starts_with("arn:aws") || !r.arn.contains(":ipset/") {
                    self.error(
                        &format!("{path}.IPSetReferenceStatement.ARN"),
                        format!("{:?} is not an IP set ARN", r.arn),
                    );
                }
            }
            Statement::And(a) => self.nested(&a.statements, &format!("{path}.AndStatement")),
            Statement::Or(o) => self.nested(&o.statements, &format!("{path}.OrStatement")),
            Statement::Not(n) => {
                self.statement(&n.statement, &format!("{path}.NotStatement.Statement"))
            }
            Statement::RateBased(_) => self.error(
                path,
                "a rate-based statement can only be a rule's top-level statement",
            ),
            Statement::ManagedRuleGroup(_) if path != "Statement" => self.error(
                path,
                "a managed rule group can only be a rule's top-level statement",
            ),
            Statement::ManagedRuleGroup(_) | Statement::Other(_) => {}
        }
    }

    fn nested(&mut self, statements: &[Statement], path: &str) {
        if statements.len() < 2 {
            self.error(
                &format!("{path}.Statements"),
                "And and Or statements combine at least two statements",
            );
        }
        for (i, s) in statements.iter().enumerate() {
            self.statement(s, &format!("{path}.Statements[{i}]"));
        }
    }

    /// Names and priorities unique; labels matched after they are added;
    /// the lint on order.
    fn across(&mut self, rules: &[RuleEntry]) {
        let mut names: HashSet<&str> = HashSet::new();
        let mut priorities: HashMap<i64, &str> = HashMap::new();
        for entry in rules {
            let Some(name) = entry.name() else { continue };
            self.rule = name.to_owned();
            if !names.insert(name) {
                self.error(
                    "Name",
                    format!("another rule is also named {name:?}; names must be unique"),
                );
            }
            if let Some(priority) = entry.priority()
                && let Some(other) = priorities.insert(priority, name)
            {
                self.error(
                    "Priority",
                    format!("priority {priority} is also {other:?}'s; priorities must be unique"),
                );
            }
        }
        let mut typed: Vec<&Rule> = rules
            .iter()
            .filter_map(|e| match e {
                RuleEntry::Rule(rule) => Some(&**rule),
                RuleEntry::Verbatim { .. } => None,
            })
            .collect();
        typed.sort_by_key(|r| r.priority);
        self.labels_in_order(&typed);
        self.lint_order(&typed);
    }

    fn labels_in_order(&mut self, rules: &[&Rule]) {
        for (position, rule) in rules.iter().enumerate() {
            let mut keys = Vec::new();
            label_keys(&rule.statement, &mut keys);
            for (scope, key) in keys {
                let adders: Vec<usize> = rules
                    .iter()
                    .enumerate()
                    .filter(|(_, other)| adds_label(other, &scope, &key))
                    .map(|(i, _)| i)
                    .collect();
                self.rule = rule.name.clone();
                let before = adders.iter().any(|&i| i < position);
                if !adders.is_empty() && !before {
                    let adder = &rules[adders[0]].name;
                    self.error(
                        "Statement",
                        format!(
                            "matches label {key:?}, which rule {adder:?} adds later (priority {}); \
                             give this rule a higher priority number than {adder:?}",
                            rules[adders[0]].priority
                        ),
                    );
                } else if adders.is_empty() {
                    self.warning(
                        "Statement",
                        format!(
                            "matches label {key:?}, but no rule before it in this web ACL adds it"
                        ),
                    );
                }
            }
        }
    }

    fn lint_order(&mut self, rules: &[&Rule]) {
        let blanket = rules.iter().position(|r| {
            matches!(&r.statement, Statement::RateBased(rate)
                if rate.scope_down_statement.is_none()
                    && rate.aggregate_key_type == AggregateKeyType::Ip
                    && matches!(r.action, Some(RuleAction::Block(_))))
        });
        if let Some(blanket) = blanket {
            for rule in &rules[blanket + 1..] {
                if let Statement::RateBased(rate) = &rule.statement
                    && rate.scope_down_statement.is_some()
                {
                    self.rule = rule.name.clone();
                    self.warning(
                        "Priority",
                        format!(
                            "this specific rate rule comes after the blanket rule {:?}, which \
                             blocks first: give it a lower priority number",
                            rules[blanket].name
                        ),
                    );
                }
            }
        }
        let reputation = rules.iter().position(|r| {
            matches!(&r.statement, Statement::ManagedRuleGroup(g)
                if g.vendor_name == "AWS" && g.name == "AWSManagedRulesAmazonIpReputationList")
        });
        if let Some(position) = reputation.filter(|&p| p > 0) {
            self.rule = rules[position].name.clone();
            self.warning(
                "Priority",
                format!(
                    "the Amazon IP reputation list runs after {:?}: put it first, so known-bad \
                     addresses are stopped before they are counted",
                    rules[0].name
                ),
            );
        }
    }
}

/// Label match keys of a statement and those inside it, with their scope.
fn label_keys(statement: &Statement, keys: &mut Vec<(LabelMatchScope, String)>) {
    statement.each(&mut |s| {
        if let Statement::LabelMatch(l) = s {
            keys.push((l.scope.clone(), l.key.clone()));
        }
    });
}

/// AWS managed rule groups and the label namespace each adds.
const MANAGED_NAMESPACES: &[(&str, &str)] = &[
    (
        "AWSManagedRulesAmazonIpReputationList",
        "awswaf:managed:aws:amazon-ip-list:",
    ),
    (
        "AWSManagedRulesAnonymousIpList",
        "awswaf:managed:aws:anonymous-ip-list:",
    ),
    (
        "AWSManagedRulesBotControlRuleSet",
        "awswaf:managed:aws:bot-control:",
    ),
    (
        "AWSManagedRulesCommonRuleSet",
        "awswaf:managed:aws:core-rule-set:",
    ),
    (
        "AWSManagedRulesKnownBadInputsRuleSet",
        "awswaf:managed:aws:known-bad-inputs:",
    ),
    (
        "AWSManagedRulesSQLiRuleSet",
        "awswaf:managed:aws:sql-database:",
    ),
    ("AWSManagedRulesATPRuleSet", "awswaf:managed:aws:atp:"),
    ("AWSManagedRulesACFPRuleSet", "awswaf:managed:aws:acfp:"),
];

/// Whether `rule` adds the label (or a label in the namespace) `key`.
fn adds_label(rule: &Rule, scope: &LabelMatchScope, key: &str) -> bool {
    let matches = |label: &str| match scope {
        LabelMatchScope::Namespace => label.starts_with(key) || key.starts_with(label),
        _ => label == key || key.ends_with(&format!(":{label}")),
    };
    if rule.rule_labels.iter().flatten().any(|l| matches(&l.name)) {
        return true;
    }
    match &rule.statement {
        Statement::ManagedRuleGroup(g) => MANAGED_NAMESPACES.iter().any(|(name, namespace)| {
            g.name == *name && (key.starts_with(namespace) || namespace.starts_with(key))
        }),
        _ => false,
    }
}

fn valid_name(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.len() <= max
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn valid_metric_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name != "All"
        && name != "Default_Action"
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-#:./".contains(&b))
}

fn valid_header(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn valid_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 1024
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-:".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn rate(name: &str, priority: i64, statement: Value) -> Value {
        json!({
            "Name": name, "Priority": priority,
            "Statement": {"RateBasedStatement": statement},
            "Action": {"Block": {}},
            "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": name}
        })
    }

    fn findings(rules: Value) -> Vec<(Severity, String, String)> {
        let rules = read_rules(rules).unwrap();
        validate(&rules)
            .into_iter()
            .map(|f| (f.severity, f.rule, f.path))
            .collect()
    }

    fn blanket(limit: i64) -> Value {
        rate(
            "blanket",
            10,
            json!({"Limit": limit, "AggregateKeyType": "IP"}),
        )
    }

    #[test]
    fn a_sound_web_acl_has_no_findings() {
        let login = rate(
            "login",
            1,
            json!({"Limit": 100, "EvaluationWindowSec": 300, "AggregateKeyType": "IP",
                   "ScopeDownStatement": {"ByteMatchStatement": {"SearchString": "/login",
                       "FieldToMatch": {"UriPath": {}}, "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
                       "PositionalConstraint": "STARTS_WITH"}}}),
        );
        assert_eq!(findings(json!([login, blanket(2000)])), []);
    }

    #[test]
    fn what_aws_would_refuse_is_an_error_at_its_field() {
        let cases = [
            (
                json!({"Limit": 5, "AggregateKeyType": "IP"}),
                "Statement.RateBasedStatement.Limit",
            ),
            (
                json!({"Limit": 2_000_000_001_i64, "AggregateKeyType": "IP"}),
                "Statement.RateBasedStatement.Limit",
            ),
            (
                json!({"Limit": 100, "EvaluationWindowSec": 90, "AggregateKeyType": "IP"}),
                "Statement.RateBasedStatement.EvaluationWindowSec",
            ),
            (
                json!({"Limit": 100, "AggregateKeyType": "CONSTANT"}),
                "Statement.RateBasedStatement.ScopeDownStatement",
            ),
            (
                json!({"Limit": 100, "AggregateKeyType": "FORWARDED_IP"}),
                "Statement.RateBasedStatement.ForwardedIPConfig",
            ),
            (
                json!({"Limit": 100, "AggregateKeyType": "FORWARDED_IP",
                    "ForwardedIPConfig": {"HeaderName": "X Forwarded", "FallbackBehavior": "MATCH"}}),
                "Statement.RateBasedStatement.ForwardedIPConfig.HeaderName",
            ),
            (
                json!({"Limit": 100, "AggregateKeyType": "CUSTOM_KEYS", "CustomKeys":
                    [{"HTTPMethod": {}}, {"IP": {}}, {"QueryString": {"TextTransformations": [{"Priority": 0, "Type": "NONE"}]}},
                     {"UriPath": {"TextTransformations": [{"Priority": 0, "Type": "NONE"}]}}, {"ASN": {}},
                     {"Header": {"Name": "x-a", "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}}]}),
                "Statement.RateBasedStatement.CustomKeys",
            ),
            (
                json!({"Limit": 100, "AggregateKeyType": "CUSTOM_KEYS", "CustomKeys": [{"IP": {}}]}),
                "Statement.RateBasedStatement.CustomKeys",
            ),
            (
                json!({"Limit": 100, "AggregateKeyType": "IP", "ScopeDownStatement": {"GeoMatchStatement": {"CountryCodes": ["Germany"]}}}),
                "Statement.RateBasedStatement.ScopeDownStatement.GeoMatchStatement.CountryCodes[0]",
            ),
        ];
        for (statement, path) in cases {
            let found = findings(json!([rate("r", 0, statement.clone())]));
            assert!(
                found.contains(&(Severity::Error, "r".into(), path.into())),
                "{statement}: {found:?}"
            );
        }
    }

    #[test]
    fn names_priorities_metrics_and_actions_are_checked() {
        let mut bad_metric = blanket(100);
        bad_metric["VisibilityConfig"]["MetricName"] = json!("my metric");
        let mut allow = rate("allow", 3, json!({"Limit": 100, "AggregateKeyType": "IP"}));
        allow["Action"] = json!({"Allow": {}});
        let found = findings(json!([bad_metric, blanket(100), allow]));
        for expected in [
            (Severity::Error, "blanket", "VisibilityConfig.MetricName"),
            (Severity::Error, "blanket", "Name"),
            (Severity::Error, "blanket", "Priority"),
            (Severity::Error, "allow", "Action"),
        ] {
            let expected = (expected.0, expected.1.to_owned(), expected.2.to_owned());
            assert!(found.contains(&expected), "{expected:?} in {found:?}");
        }
        let messages: Vec<String> = validate(&read_rules(json!([blanket(5)])).unwrap())
            .into_iter()
            .map(|f| f.message)
            .collect();
        assert_eq!(messages, ["Limit is 5; WAF allows 10 to 2,000,000,000"]);
    }

    #[test]
    fn a_label_must_be_added_before_it_is_matched() {
        let scoped = rate(
            "hosting",
            0,
            json!({"Limit": 100, "AggregateKeyType": "IP", "ScopeDownStatement": {"LabelMatchStatement":
                {"Scope": "LABEL", "Key": "awswaf:managed:aws:anonymous-ip-list:HostingProviderIPList"}}}),
        );
        let anonymous = |priority: i64| {
            json!({"Name": "anonymous", "Priority": priority,
                "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "AWSManagedRulesAnonymousIpList"}},
                "OverrideAction": {"None": {}},
                "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": "anonymous"}})
        };
        let after = findings(json!([scoped.clone(), anonymous(5)]));
        assert!(
            after.contains(&(Severity::Error, "hosting".into(), "Statement".into())),
            "{after:?}"
        );
        let mut before = scoped.clone();
        before["Priority"] = json!(1);
        assert_eq!(findings(json!([anonymous(0), before])), []);
        let nobody = findings(json!([scoped]));
        assert_eq!(
            nobody,
            [(Severity::Warning, "hosting".into(), "Statement".into())]
        );
    }

    #[test]
    fn the_lint_wants_specific_rules_and_the_reputation_list_first() {
        let login = rate(
            "login",
            20,
            json!({"Limit": 100, "AggregateKeyType": "IP", "ScopeDownStatement": {"GeoMatchStatement": {"CountryCodes": ["DE"]}}}),
        );
        let reputation = json!({"Name": "reputation", "Priority": 30,
            "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "AWSManagedRulesAmazonIpReputationList"}},
            "OverrideAction": {"None": {}},
            "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": "reputation"}});
        let found = findings(json!([blanket(2000), login, reputation]));
        assert_eq!(
            found,
            [
                (Severity::Warning, "login".into(), "Priority".into()),
                (Severity::Warning, "reputation".into(), "Priority".into()),
            ]
        );
    }

    #[test]
    fn a_rule_kept_verbatim_is_a_warning_not_an_error() {
        let found = findings(
            json!([{"Name": "odd", "Priority": 1, "Statement": {"GeoMatchStatement": {"CountryCodes": ["KP"]}}}]),
        );
        assert_eq!(found, [(Severity::Warning, "odd".into(), "".into())]);
        assert!(!has_errors(&validate(
            &read_rules(json!([blanket(100)])).unwrap()
        )));
    }
}

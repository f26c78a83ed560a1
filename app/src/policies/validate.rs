//! Policy checks as you type, modelled on IAM Access Analyzer's policy
//! validation and named with its issue codes: errors AWS would refuse,
//! security warnings, warnings and suggestions, each at its JSON path with
//! a message that says how to fix it. Pure, for the page (in the browser),
//! the server and the command line.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    SecurityWarning,
    Warning,
    Suggestion,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub severity: Severity,
    pub code: &'static str,
    /// Where, as a JSON path: `Statement[0].Condition.IpAddress`.
    pub path: String,
    pub message: String,
}

const OPERATORS: [&str; 27] = [
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NotIpAddress",
    "ArnEquals",
    "ArnLike",
    "ArnNotEquals",
    "ArnNotLike",
    "Null",
];

/// Checks a policy document given as text.
pub fn validate_text(text: &str) -> Vec<Finding> {
    match serde_json::from_str::<Value>(text) {
        Ok(document) => validate(&document),
        Err(error) => vec![finding(
            Severity::Error,
            "INVALID_JSON",
            "",
            format!("The policy is not JSON: {error}."),
        )],
    }
}

fn finding(severity: Severity, code: &'static str, path: &str, message: String) -> Finding {
    Finding {
        severity,
        code,
        path: path.to_owned(),
        message,
    }
}

/// Checks a policy document.
pub fn validate(document: &Value) -> Vec<Finding> {
    let mut out = Vec::new();
    let Value::Object(policy) = document else {
        out.push(finding(
            Severity::Error,
            "INVALID_JSON",
            "",
            "A policy is a JSON object.".into(),
        ));
        return out;
    };
    match policy.get("Version").and_then(Value::as_str) {
        None => out.push(finding(
            Severity::Warning,
            "MISSING_VERSION",
            "Version",
            "Add \"Version\": \"2012-10-17\": without it policy variables are taken literally."
                .into(),
        )),
        Some("2012-10-17") | Some("2008-10-17") => {}
        Some(other) => out.push(finding(
            Severity::Error,
            "INVALID_VERSION",
            "Version",
            format!("Version {other:?} is not one IAM knows: use \"2012-10-17\"."),
        )),
    }
    let statements: Vec<&Value> = match policy.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => {
            out.push(finding(
                Severity::Error,
                "MISSING_STATEMENT",
                "Statement",
                "Add a Statement: one statement object or a list of them.".into(),
            ));
            return out;
        }
    };
    let mut sids = Vec::new();
    for (i, statement) in statements.into_iter().enumerate() {
        let at = format!("Statement[{i}]");
        let Value::Object(statement) = statement else {
            out.push(finding(
                Severity::Error,
                "INVALID_JSON",
                &at,
                "A statement is a JSON object.".into(),
            ));
            continue;
        };
        if let Some(sid) = statement.get("Sid").and_then(Value::as_str) {
            if sids.contains(&sid) {
                out.push(finding(
                    Severity::Error,
                    "DUPLICATE_SID",
                    &format!("{at}.Sid"),
                    format!("Sid {sid:?} is used twice: give each statement its own."),
                ));
            }
            sids.push(sid);
        }
        check_statement(&at, statement, &mut out);
    }
    out.sort_by_key(|f| f.severity);
    out
}

fn check_statement(at: &str, statement: &Map<String, Value>, out: &mut Vec<Finding>) {
    let effect = statement.get("Effect").and_then(Value::as_str);
    match effect {
        None => out.push(finding(
            Severity::Error,
            "MISSING_EFFECT",
            &format!("{at}.Effect"),
            "Add \"Effect\": \"Allow\" or \"Deny\".".into(),
        )),
        Some("Allow") | Some("Deny") => {}
        Some(other) => out.push(finding(
            Severity::Error,
            "INVALID_EFFECT",
            &format!("{at}.Effect"),
            format!("Effect {other:?} is neither \"Allow\" nor \"Deny\" (case matters)."),
        )),
    }
    let allow = effect == Some("Allow");
    let actions = pair(at, statement, "Action", "MISSING_ACTION", out);
    let resources = pair(at, statement, "Resource", "MISSING_RESOURCE", out);
    if let Some((actions, not)) = &actions {
        for (j, action) in actions.iter().enumerate() {
            if action != "*" && !action.contains(':') {
                out.push(finding(
                    Severity::Error,
                    "INVALID_ACTION",
                    &format!("{at}.{}[{j}]", if *not { "NotAction" } else { "Action" }),
                    format!("{action:?} has no service prefix: write it as service:Action (execute-api:Invoke)."),
                ));
            }
        }
        redundant(
            at,
            if *not { "NotAction" } else { "Action" },
            actions,
            true,
            out,
        );
        if allow && *not {
            out.push(finding(
                Severity::SecurityWarning,
                "ALLOW_WITH_NOT_ACTION",
                &format!("{at}.NotAction"),
                "Allow with NotAction allows every other action, including ones added later: list the actions to allow.".into(),
            ));
        }
    }
    if let Some((resources, not)) = &resources {
        for (j, resource) in resources.iter().enumerate() {
            if resource != "*" && !arn_shaped(resource) {
                out.push(finding(
                    Severity::Error,
                    "INVALID_ARN_RESOURCE",
                    &format!("{at}.{}[{j}]", if *not { "NotResource" } else { "Resource" }),
                    format!("{resource:?} is not an ARN (arn:partition:service:region:account:resource) or \"*\"."),
                ));
            }
        }
        redundant(
            at,
            if *not { "NotResource" } else { "Resource" },
            resources,
            false,
            out,
        );
        if allow && *not {
            out.push(finding(
                Severity::SecurityWarning,
                "ALLOW_WITH_NOT_RESOURCE",
                &format!("{at}.NotResource"),
                "Allow with NotResource allows every other resource: list the resources to allow."
                    .into(),
            ));
        }
    }
    if allow
        && matches!(&actions, Some((a, false)) if a.iter().any(|x| x == "*"))
        && matches!(&resources, Some((r, false)) if r.iter().any(|x| x == "*"))
    {
        out.push(finding(
            Severity::SecurityWarning,
            "PASS_ROLE_WITH_STAR_IN_ACTION_AND_RESOURCE",
            at,
            "\"Action\": \"*\" with \"Resource\": \"*\" allows everything: name the actions and resources.".into(),
        ));
    }
    if let Some(condition) = statement.get("Condition") {
        check_condition(&format!("{at}.Condition"), condition, out);
    }
}

/// The `name`/`Not{name}` pair: exactly one must be there.
fn pair(
    at: &str,
    statement: &Map<String, Value>,
    name: &str,
    missing: &'static str,
    out: &mut Vec<Finding>,
) -> Option<(Vec<String>, bool)> {
    let not_name = format!("Not{name}");
    match (statement.get(name), statement.get(&not_name)) {
        (Some(value), None) => Some((super::evaluate::strings(value), false)),
        (None, Some(value)) => Some((super::evaluate::strings(value), true)),
        (Some(_), Some(_)) => {
            out.push(finding(
                Severity::Error,
                "MUTUALLY_EXCLUSIVE_ELEMENTS",
                at,
                format!("Use {name} or {not_name}, not both."),
            ));
            None
        }
        (None, None) => {
            out.push(finding(
                Severity::Error,
                missing,
                at,
                format!("Add {name} (or {not_name})."),
            ));
            None
        }
    }
}

fn arn_shaped(text: &str) -> bool {
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    parts.len() == 6 && parts[0] == "arn" && !parts[2].is_empty()
}

/// An item another item of the list already covers.
fn redundant(at: &str, name: &str, items: &[String], fold_case: bool, out: &mut Vec<Finding>) {
    let norm = |s: &String| {
        if fold_case {
            s.to_ascii_lowercase()
        } else {
            s.clone()
        }
    };
    for (j, item) in items.iter().enumerate() {
        let covered = items.iter().enumerate().any(|(k, other)| {
            k != j
                && super::evaluate::glob(&norm(other), &norm(item))
                && (norm(other) != norm(item) || k < j)
        });
        if covered {
            out.push(finding(
                Severity::Suggestion,
                "REDUNDANT_ACTION_OR_RESOURCE",
                &format!("{at}.{name}[{j}]"),
                format!("{item:?} is already covered by another entry: remove it."),
            ));
        }
    }
}

fn check_condition(at: &str, condition: &Value, out: &mut Vec<Finding>) {
    let Value::Object(block) = condition else {
        out.push(finding(
            Severity::Error,
            "INVALID_JSON",
            at,
            "A Condition is an object of operators.".into(),
        ));
        return;
    };
    for (operator, keys) in block {
        let path = format!("{at}.{operator}");
        let base = operator
            .trim_start_matches("ForAnyValue:")
            .trim_start_matches("ForAllValues:");
        let (base, if_exists) = match base.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (base, false),
        };
        if !OPERATORS.contains(&base) {
            out.push(finding(
                Severity::Error,
                "INVALID_CONDITION_OPERATOR",
                &path,
                format!("{operator:?} is not a condition operator (StringEquals, IpAddress, …)."),
            ));
            continue;
        }
        if base == "Null" && if_exists {
            out.push(finding(
                Severity::Error,
                "NULL_WITH_IF_EXISTS",
                &path,
                "Null already tests whether the key exists: drop IfExists.".into(),
            ));
        }
        let Value::Object(keys) = keys else {
            out.push(finding(
                Severity::Error,
                "INVALID_JSON",
                &path,
                "An operator takes an object of keys.".into(),
            ));
            continue;
        };
        for (key, values) in keys {
            let values = super::evaluate::strings(values);
            let at = format!("{path}.{key}");
            if !supplied_by_api_gateway(key) {
                out.push(finding(
                    Severity::Warning,
                    "UNSUPPORTED_CONDITION_KEY",
                    &at,
                    format!(
                        "API Gateway may not supply {key:?} when it evaluates an authorizer's policy, \
                         so this condition may decide nothing: test on aws:SourceIp, aws:SourceVpc(e), \
                         aws:CurrentTime or aws:EpochTime, or decide it in the authorizer."
                    ),
                ));
            }
            check_values(&at, base, key, &values, out);
        }
    }
}

/// Global condition keys that are part of every request API Gateway
/// evaluates a policy for: the caller's network and the time.
const API_GATEWAY_KEYS: [&str; 6] = [
    "aws:SourceIp",
    "aws:SourceVpc",
    "aws:SourceVpce",
    "aws:CurrentTime",
    "aws:EpochTime",
    "aws:SecureTransport",
];

fn supplied_by_api_gateway(key: &str) -> bool {
    API_GATEWAY_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key))
}

fn check_values(at: &str, base: &str, key: &str, values: &[String], out: &mut Vec<Finding>) {
    for value in values {
        match base {
            "StringEquals" | "StringNotEquals" if value.contains('*') || value.contains('?') => out
                .push(finding(
                    Severity::Warning,
                    "MISSING_WILDCARD_FOR_STRING_LIKE",
                    at,
                    format!(
                        "{value:?} has a wildcard, which {base} takes literally: use StringLike."
                    ),
                )),
            "Bool"
                if !value.eq_ignore_ascii_case("true") && !value.eq_ignore_ascii_case("false") =>
            {
                out.push(finding(
                    Severity::Warning,
                    "INVALID_BOOL_VALUE",
                    at,
                    format!("Bool takes \"true\" or \"false\", not {value:?}."),
                ))
            }
            "IpAddress" | "NotIpAddress" => check_cidr(at, key, value, out),
            _ => {}
        }
    }
}

fn check_cidr(at: &str, key: &str, value: &str, out: &mut Vec<Finding>) {
    let net = match value.parse::<ipnet::IpNet>() {
        Ok(net) => net,
        Err(_) => {
            match value.parse::<std::net::IpAddr>() {
                Ok(address) => ipnet::IpNet::from(address),
                Err(_) => {
                    out.push(finding(
                    Severity::Error,
                    "INVALID_CIDR",
                    at,
                    format!("{value:?} is not an IP address or CIDR (203.0.113.0/24, 2001:db8::/32)."),
                ));
                    return;
                }
            }
        }
    };
    if net.network() != net.addr() {
        out.push(finding(
            Severity::Suggestion,
            "CIDR_HOST_BITS_SET",
            at,
            format!("{value} has host bits set: it means {}.", net.trunc()),
        ));
    }
    let private = match net.addr() {
        std::net::IpAddr::V4(v4) => v4.is_private() || v4.is_loopback(),
        std::net::IpAddr::V6(v6) => v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00,
    };
    if key.eq_ignore_ascii_case("aws:SourceIp") && private {
        out.push(finding(
            Severity::Warning,
            "PRIVATE_IP_ADDRESS",
            at,
            format!("aws:SourceIp is the public address a request comes from; {value} is private and never matches it."),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn codes(document: Value) -> Vec<&'static str> {
        validate(&document).into_iter().map(|f| f.code).collect()
    }

    #[test]
    fn each_problem_is_found_with_its_code() {
        let ok = json!({"Version": "2012-10-17", "Statement": [{"Sid": "A", "Effect": "Allow",
            "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:*:*:*/*/GET/pets",
            "Condition": {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}}]});
        assert_eq!(codes(ok), Vec::<&str>::new());
        let rows: Vec<(Value, &str)> = vec![
            (json!({"Version": "2012-10-17"}), "MISSING_STATEMENT"),
            (
                json!({"Statement": {"Effect": "Allow", "Action": "a:b", "Resource": "*"}}),
                "MISSING_VERSION",
            ),
            (
                json!({"Version": "2020-01-01", "Statement": []}),
                "INVALID_VERSION",
            ),
            (
                json!({"Version": "2012-10-17", "Statement": [{"Action": "a:b", "Resource": "*"}]}),
                "MISSING_EFFECT",
            ),
            (
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "allow", "Action": "a:b", "Resource": "*"}]}),
                "INVALID_EFFECT",
            ),
            (
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Resource": "*"}]}),
                "MISSING_ACTION",
            ),
            (
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "a:b"}]}),
                "MISSING_RESOURCE",
            ),
            (
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "a:b", "NotAction": "c:d", "Resource": "*"}]}),
                "MUTUALLY_EXCLUSIVE_ELEMENTS",
            ),
            (
                json!({"Version": "2012-10-17", "Statement": [{"Sid": "x", "Effect": "Deny", "Action": "a:b", "Resource": "*"}, {"Sid": "x", "Effect": "Deny", "Action": "a:b", "Resource": "*"}]}),
                "DUPLICATE_SID",
            ),
            (
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "Invoke", "Resource": "*"}]}),
                "INVALID_ACTION",
            ),
            (
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "a:b", "Resource": "pets/*"}]}),
                "INVALID_ARN_RESOURCE",
            ),
            (
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "a:b", "Resource": "*", "Condition": {"StringEqualz": {"k": "v"}}}]}),
                "INVALID_CONDITION_OPERATOR",
            ),
            (
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "a:b", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "300.1.1.1/8"}}}]}),
                "INVALID_CIDR",
            ),
            (
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "a:b", "Resource": "*", "Condition": {"NullIfExists": {"k": "true"}}}]}),
                "NULL_WITH_IF_EXISTS",
            ),
            (
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
                "PASS_ROLE_WITH_STAR_IN_ACTION_AND_RESOURCE",
            ),
            (
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotAction": "a:b", "Resource": "arn:aws:s3:::x"}]}),
                "ALLOW_WITH_NOT_ACTION",
            ),
            (
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "a:b", "NotResource": "arn:aws:s3:::x"}]}),
                "ALLOW_WITH_NOT_RESOURCE",
            ),
            (
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "a:b", "Resource": "*", "Condition": {"StringEquals": {"aws:username": "a*"}}}]}),
                "MISSING_WILDCARD_FOR_STRING_LIKE",
            ),
            (
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "a:b", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "yes"}}}]}),
                "INVALID_BOOL_VALUE",
            ),
            (
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "a:b", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]}),
                "PRIVATE_IP_ADDRESS",
            ),
            (
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "a:b", "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalTag/team": "vets"}}}]}),
                "UNSUPPORTED_CONDITION_KEY",
            ),
            (
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": ["a:*", "a:b"], "Resource": "*"}]}),
                "REDUNDANT_ACTION_OR_RESOURCE",
            ),
            (
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "a:b", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.9/24"}}}]}),
                "CIDR_HOST_BITS_SET",
            ),
        ];
        for (document, code) in rows {
            assert!(
                codes(document.clone()).contains(&code),
                "{code} expected for {document}"
            );
        }
        assert_eq!(
            validate_text("{").first().map(|f| f.code),
            Some("INVALID_JSON")
        );
    }

    #[test]
    fn findings_come_worst_first_with_a_path() {
        let document = json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"},
                                           {"Effect": "Nope", "Action": "a:b", "Resource": "*"}]});
        let found = validate(&document);
        assert_eq!(found[0].severity, Severity::Error);
        assert_eq!(found[0].path, "Statement[1].Effect");
        assert!(found.iter().any(|f| f.severity == Severity::Warning));
    }
}

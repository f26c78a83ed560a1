//! A policy in plain words, for the Policies page and the diff of a change
//! request: "Allows every method under /petstore/v1/ and GET
//! /petstore/v2/status, only from 192.0.2.0/24 or 198.51.100.0/24".

use super::evaluate::strings;
use serde_json::Value;

/// What a policy document allows and denies, one clause per statement.
pub fn summary(document: &Value) -> String {
    let statements = match document.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    };
    if statements.is_empty() {
        return "Allows nothing (no statements)".into();
    }
    statements
        .into_iter()
        .map(statement)
        .collect::<Vec<_>>()
        .join("; ")
}

fn statement(statement: &Value) -> String {
    let verb = match statement.get("Effect").and_then(Value::as_str) {
        Some("Allow") => "Allows",
        Some("Deny") => "Denies",
        _ => "Does nothing (no valid Effect) for",
    };
    let mut words = format!("{verb} {}", resources(statement));
    if let Some(actions) = actions(statement) {
        words.push_str(&format!(" ({actions})"));
    }
    if let Some(Value::Object(block)) = statement.get("Condition") {
        for (operator, keys) in block {
            let Value::Object(keys) = keys else { continue };
            for (key, values) in keys {
                words.push_str(&format!(", {}", condition(operator, key, &strings(values))));
            }
        }
    }
    words
}

/// Actions other than invoking the API, said aloud.
fn actions(statement: &Value) -> Option<String> {
    let invoke = |a: &String| {
        matches!(
            a.to_ascii_lowercase().as_str(),
            "execute-api:invoke" | "execute-api:*" | "*"
        )
    };
    match (statement.get("Action"), statement.get("NotAction")) {
        (Some(actions), _) => {
            let actions = strings(actions);
            (!actions.iter().all(invoke)).then(|| format!("actions {}", actions.join(", ")))
        }
        (None, Some(not)) => Some(format!("every action but {}", strings(not).join(", "))),
        (None, None) => Some("no action".into()),
    }
}

fn resources(statement: &Value) -> String {
    match (statement.get("Resource"), statement.get("NotResource")) {
        (Some(resources), _) => or_list(strings(resources).iter().map(|r| endpoint(r)), "and"),
        (None, Some(not)) => format!(
            "everything but {}",
            or_list(strings(not).iter().map(|r| endpoint(r)), "and")
        ),
        (None, None) => "nothing (no Resource)".into(),
    }
}

/// `arn:aws:execute-api:*:*:*/*/GET/petstore/v2/status` → `GET
/// /petstore/v2/status`; other ARNs as they are.
pub fn endpoint(resource: &str) -> String {
    if resource == "*" {
        return "every method and path".into();
    }
    let parts: Vec<&str> = resource.splitn(6, ':').collect();
    let [_, _, "execute-api", region, account, rest] = parts.as_slice() else {
        return resource.to_owned();
    };
    let mut pieces = rest.splitn(4, '/');
    let (api, stage, method, path) = (
        pieces.next().unwrap_or("*"),
        pieces.next().unwrap_or("*"),
        pieces.next().unwrap_or("*"),
        pieces.next().unwrap_or("*"),
    );
    let method = match method {
        "*" => "every method".to_owned(),
        m => m.to_owned(),
    };
    let path = match path {
        "*" => if method == "every method" {
            " and path"
        } else {
            " on every path"
        }
        .to_owned(),
        p if p.ends_with("/*") && !p[..p.len() - 2].contains('*') => {
            format!(" under /{}", &p[..p.len() - 1])
        }
        p => format!(" /{p}"),
    };
    let mut words = format!("{method}{path}");
    if rest.is_empty() {
        words = "every method and path".into();
    }
    let mut of = Vec::new();
    if api != "*" {
        of.push(format!("API {api}"));
    }
    if stage != "*" {
        of.push(format!("stage {stage}"));
    }
    if *region != "*" && !region.is_empty() {
        of.push(format!("region {region}"));
    }
    if *account != "*" && !account.is_empty() {
        of.push(format!("account {account}"));
    }
    if !of.is_empty() {
        words.push_str(&format!(" of {}", of.join(", ")));
    }
    words
}

fn condition(operator: &str, key: &str, values: &[String]) -> String {
    let any = or_list(values.iter().cloned(), "or");
    match (operator, key.to_ascii_lowercase().as_str()) {
        ("IpAddress", "aws:sourceip") => format!("only from {any}"),
        ("NotIpAddress", "aws:sourceip") => format!("not from {any}"),
        _ => format!("when {key} {operator} {any}"),
    }
}

fn or_list(items: impl Iterator<Item = String>, word: &str) -> String {
    let items: Vec<String> = items.collect();
    match items.as_slice() {
        [] => "nothing".into(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {word} {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_seed_policy_in_words() {
        let seed = json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "execute-api:Invoke",
            "Resource": ["arn:aws:execute-api:*:*:*/*/*/petstore/v1/*",
                         "arn:aws:execute-api:*:*:*/*/GET/petstore/v2/status"],
            "Condition": {"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "198.51.100.0/24"]}}}]});
        assert_eq!(
            summary(&seed),
            "Allows every method under /petstore/v1/ and GET /petstore/v2/status, \
             only from 192.0.2.0/24 or 198.51.100.0/24"
        );
    }

    #[test]
    fn denies_other_actions_and_named_apis_are_said() {
        let policy = json!({"Statement": [
            {"Effect": "Deny", "Action": "execute-api:Invoke",
             "Resource": "arn:aws:execute-api:eu-west-1:*:abc123/prod/DELETE/*"},
            {"Effect": "Allow", "Action": "execute-api:ManageConnections", "Resource": "*"}]});
        assert_eq!(
            summary(&policy),
            "Denies DELETE on every path of API abc123, stage prod, region eu-west-1; \
             Allows every method and path (actions execute-api:ManageConnections)"
        );
        assert_eq!(summary(&json!({})), "Allows nothing (no statements)");
    }
}

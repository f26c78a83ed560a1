//! The IAM policy evaluator (SPEC §4): pure, no I/O, so the server, the
//! command line and the browser run the same code.
//!
//! IAM semantics as AWS documents them: an explicit deny wins; otherwise an
//! allow is needed; nothing matching is an implicit deny. `Statement`,
//! `Action`/`NotAction` and `Resource`/`NotResource` may each be one value
//! or a list. Actions match case-insensitively, resources case-sensitively;
//! `*` matches any run of characters (`/` included) and `?` exactly one.
//! Conditions: several values of one key are ORed, several keys and
//! operators ANDed; a missing key fails a positive operator and satisfies a
//! negated one; `…IfExists` is true when the key is missing; `ForAnyValue:`
//! with a missing key is false, `ForAllValues:` true. Condition keys are
//! case-insensitive. Policy variables (`${aws:username}`, `${key, 'default'}`,
//! `${*}`, `${?}`, `${$}`) are substituted in resources and condition values
//! under Version `2012-10-17` and taken literally under `2008-10-17`.

use super::conditions::{self, ConditionTrace};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A request's context: condition keys (any case) and their values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context(BTreeMap<String, Vec<String>>);

impl Context {
    pub fn new() -> Self {
        Context::default()
    }

    /// Sets `key` (keys are case-insensitive) to one or more values.
    pub fn with(mut self, key: &str, values: &[&str]) -> Self {
        self.0.insert(
            key.to_ascii_lowercase(),
            values.iter().map(|v| (*v).to_owned()).collect(),
        );
        self
    }

    /// The values of `key`, if the request has it.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.0.get(&key.to_ascii_lowercase()).map(Vec::as_slice)
    }
}

/// What is asked: an action on a resource, in a context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub action: String,
    pub resource: String,
    pub context: Context,
}

/// A policy document and whose it is (a group name, for the authorizer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub label: String,
    pub document: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
}

/// A statement: the policy it is in, its Sid, its place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementRef {
    pub policy: String,
    pub sid: Option<String>,
    pub index: usize,
}

/// Whether an element (Action, Resource) matched, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub matched: bool,
    pub why: String,
}

/// How one statement met the request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatementTrace {
    pub statement: StatementRef,
    pub effect: String,
    pub action: Check,
    pub resource: Check,
    pub conditions: Vec<ConditionTrace>,
    /// Action, resource and every condition matched.
    pub matched: bool,
}

/// The decision, the statement that made it, and every statement's trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub decision: Decision,
    pub deciding: Option<StatementRef>,
    pub statements: Vec<StatementTrace>,
    /// The decision turned on a condition (API Gateway may not evaluate
    /// conditions of an authorizer's policy: the page says so).
    pub depends_on_condition: bool,
}

impl Evaluation {
    /// The answer scripts get (`gatehouse policy simulate`, the API):
    /// `{"decision", "statement", "explanation", "depends_on_condition"}`.
    pub fn answer(&self) -> Value {
        serde_json::json!({
            "decision": self.decision,
            "statement": self.deciding,
            "explanation": self.statements,
            "depends_on_condition": self.depends_on_condition,
        })
    }
}

/// Evaluates `request` against every statement of `policies`.
pub fn evaluate(policies: &[Policy], request: &Request) -> Evaluation {
    let mut statements = Vec::new();
    for policy in policies {
        let literal = policy.document.get("Version").and_then(Value::as_str) != Some("2012-10-17");
        let list = match policy.document.get("Statement") {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(one @ Value::Object(_)) => vec![one],
            _ => Vec::new(),
        };
        for (index, statement) in list.into_iter().enumerate() {
            let at = StatementRef {
                policy: policy.label.clone(),
                sid: statement
                    .get("Sid")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                index,
            };
            statements.push(trace(at, statement, request, literal));
        }
    }
    let first = |effect: &str| {
        statements
            .iter()
            .find(|s| s.matched && s.effect == effect)
            .map(|s| (s.statement.clone(), !s.conditions.is_empty()))
    };
    let (decision, deciding) = match (first("Deny"), first("Allow")) {
        (Some(deny), _) => (Decision::ExplicitDeny, Some(deny)),
        (None, Some(allow)) => (Decision::Allow, Some(allow)),
        (None, None) => (Decision::ImplicitDeny, None),
    };
    // An implicit deny turns on a condition when a statement failed only
    // for its conditions.
    let depends_on_condition = match &deciding {
        Some((_, conditional)) => *conditional,
        None => statements.iter().any(|s| {
            s.action.matched && s.resource.matched && s.conditions.iter().any(|c| !c.matched)
        }),
    };
    Evaluation {
        decision,
        deciding: deciding.map(|(at, _)| at),
        statements,
        depends_on_condition,
    }
}

fn trace(at: StatementRef, statement: &Value, request: &Request, literal: bool) -> StatementTrace {
    let effect = statement
        .get("Effect")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let action = element(statement, "Action", |pattern| {
        glob(
            &pattern.to_ascii_lowercase(),
            &request.action.to_ascii_lowercase(),
        )
    });
    let resource = element(statement, "Resource", |pattern| {
        match substitute(pattern, &request.context, literal) {
            Some(pattern) => glob(&pattern, &request.resource),
            None => false,
        }
    });
    let conditions = match statement.get("Condition") {
        Some(Value::Object(block)) => conditions::evaluate(block, &request.context, &|text| {
            substitute(text, &request.context, literal)
        }),
        _ => Vec::new(),
    };
    let matched = effect_known(&effect)
        && action.matched
        && resource.matched
        && conditions.iter().all(|c| c.matched);
    StatementTrace {
        statement: at,
        effect,
        action,
        resource,
        conditions,
        matched,
    }
}

fn effect_known(effect: &str) -> bool {
    effect == "Allow" || effect == "Deny"
}

/// `Action` or `NotAction` (likewise `Resource`): matched when one of the
/// patterns matches, or for the `Not` form when none does.
fn element(statement: &Value, name: &str, matches: impl Fn(&str) -> bool) -> Check {
    let not_name = format!("Not{name}");
    let (patterns, negated) = match (statement.get(name), statement.get(&not_name)) {
        (Some(value), None) => (strings(value), false),
        (None, Some(value)) => (strings(value), true),
        (Some(_), Some(_)) => {
            return Check {
                matched: false,
                why: format!("both {name} and {not_name}: the statement is invalid"),
            };
        }
        (None, None) => {
            return Check {
                matched: false,
                why: format!("no {name}: the statement is invalid"),
            };
        }
    };
    let hit = patterns.iter().find(|p| matches(p));
    let matched = hit.is_some() != negated;
    let why = match (hit, negated) {
        (Some(p), false) => format!("{name} {p:?} matches"),
        (None, false) => format!("no {name} matches ({})", patterns.join(", ")),
        (Some(p), true) => format!("{not_name} {p:?} matches, so the statement does not apply"),
        (None, true) => format!("none of {not_name} ({}) matches", patterns.join(", ")),
    };
    Check { matched, why }
}

/// A string or a list of strings.
pub fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(text) => vec![text.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|v| match v {
                Value::String(text) => Some(text.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                _ => None,
            })
            .collect(),
        Value::Number(n) => vec![n.to_string()],
        Value::Bool(b) => vec![b.to_string()],
        _ => Vec::new(),
    }
}

/// Stand-ins, in a substituted pattern, for a `*` and a `?` that are meant
/// literally (from `${*}`, `${?}` or a variable's value).
const LITERAL_STAR: char = '\u{E000}';
const LITERAL_QUESTION: char = '\u{E001}';

fn as_literal(text: &str) -> String {
    text.replace('*', &LITERAL_STAR.to_string())
        .replace('?', &LITERAL_QUESTION.to_string())
}

/// IAM wildcard matching: `*` any run of characters, `/` included; `?`
/// exactly one character.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let same = |pc: char, tc: char| match pc {
        LITERAL_STAR => tc == '*',
        LITERAL_QUESTION => tc == '?',
        '?' => true,
        _ => pc == tc,
    };
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < t.len() {
        if i < p.len() && p[i] != '*' && same(p[i], t[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

/// Substitutes policy variables in `text`: `${key}` by the request's value
/// (`None` when it has none and no default is given), `${key, 'default'}`,
/// and `${*}`, `${?}`, `${$}` by those characters. What is substituted is
/// literal: a `*` in a username is no wildcard. Under the 2008 version
/// (`literal`) nothing is substituted.
pub fn substitute(text: &str, context: &Context, literal: bool) -> Option<String> {
    if literal || !text.contains("${") {
        return Some(text.to_owned());
    }
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Some(out);
        };
        let inner = &after[..end];
        match inner {
            "*" | "?" | "$" => out.push_str(&as_literal(inner)),
            _ => {
                let (key, default) = match inner.split_once(',') {
                    Some((key, default)) => {
                        let default = default.trim().trim_matches('\'');
                        (key.trim(), Some(default))
                    }
                    None => (inner.trim(), None),
                };
                match (context.get(key).and_then(|v| v.first()), default) {
                    (Some(value), _) => out.push_str(&as_literal(value)),
                    (None, Some(default)) => out.push_str(&as_literal(default)),
                    (None, None) => return None,
                }
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// A substituted value as plain text (its literal `*` and `?` restored).
pub fn plain(text: &str) -> String {
    text.replace(LITERAL_STAR, "*")
        .replace(LITERAL_QUESTION, "?")
}

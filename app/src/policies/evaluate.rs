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
use std::borrow::Cow;
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

    /// The values of `key`, if the request has it. A context holds a few
    /// keys: looked through without lowercasing `key` anew.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_slice())
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

/// A policy's statements (one object or a list), and whether its variables
/// are literal (any Version but `2012-10-17`).
fn statements_of(document: &Value) -> (&[Value], bool) {
    let literal = document.get("Version").and_then(Value::as_str) != Some("2012-10-17");
    let list = match document.get("Statement") {
        Some(Value::Array(items)) => items.as_slice(),
        Some(one @ Value::Object(_)) => std::slice::from_ref(one),
        _ => &[],
    };
    (list, literal)
}

/// The decision alone, and whether it turned on a condition: what
/// [`evaluate`] decides, by the same matching, without the explanation
/// (for the decision matrix and scripts that ask many questions).
pub fn decide(policies: &[Policy], request: &Request) -> (Decision, bool) {
    let mut allowed: Option<bool> = None;
    let mut condition_failed = false;
    for policy in policies {
        let (list, literal) = statements_of(&policy.document);
        for statement in list {
            let action = action_hit(statement, request).matched();
            if !action || !resource_hit(statement, request, literal).matched() {
                continue;
            }
            let (holds, conditional) = match statement.get("Condition") {
                Some(Value::Object(block)) => (
                    conditions::holds(block, &request.context, &|text| {
                        substitute(text, &request.context, literal)
                    }),
                    !block.is_empty(),
                ),
                _ => (true, false),
            };
            if !holds {
                condition_failed = true;
                continue;
            }
            match statement.get("Effect").and_then(Value::as_str) {
                Some("Deny") => return (Decision::ExplicitDeny, conditional),
                Some("Allow") if allowed.is_none() => allowed = Some(conditional),
                _ => {}
            }
        }
    }
    match allowed {
        Some(conditional) => (Decision::Allow, conditional),
        None => (Decision::ImplicitDeny, condition_failed),
    }
}

/// Evaluates `request` against every statement of `policies`.
pub fn evaluate(policies: &[Policy], request: &Request) -> Evaluation {
    let mut statements = Vec::new();
    for policy in policies {
        let (list, literal) = statements_of(&policy.document);
        for (index, statement) in list.iter().enumerate() {
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
    let action = action_hit(statement, request).check("Action");
    let resource = resource_hit(statement, request, literal).check("Resource");
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

/// How an element (`Action`/`NotAction`, `Resource`/`NotResource`) met
/// the request: the pattern that matched, if one did.
enum Hit<'a> {
    Found {
        negated: bool,
        pattern: Option<&'a str>,
        patterns: &'a Value,
    },
    /// Both forms, or neither: the statement is invalid.
    Invalid { both: bool },
}

impl Hit<'_> {
    fn matched(&self) -> bool {
        match self {
            Hit::Found {
                negated, pattern, ..
            } => pattern.is_some() != *negated,
            Hit::Invalid { .. } => false,
        }
    }

    /// Why, in words, for the trace.
    fn check(&self, name: &str) -> Check {
        let not_name = format!("Not{name}");
        let why = match self {
            Hit::Invalid { both: true } => {
                format!("both {name} and {not_name}: the statement is invalid")
            }
            Hit::Invalid { both: false } => format!("no {name}: the statement is invalid"),
            Hit::Found {
                negated,
                pattern,
                patterns,
            } => match (pattern, negated) {
                (Some(p), false) => format!("{name} {p:?} matches"),
                (None, false) => format!("no {name} matches ({})", strings(patterns).join(", ")),
                (Some(p), true) => {
                    format!("{not_name} {p:?} matches, so the statement does not apply")
                }
                (None, true) => format!(
                    "none of {not_name} ({}) matches",
                    strings(patterns).join(", ")
                ),
            },
        };
        Check {
            matched: self.matched(),
            why,
        }
    }
}

/// `name` or `Not{name}` of a statement, with the first pattern `matches`.
fn hit<'a>(
    statement: &'a Value,
    name: &str,
    not_name: &str,
    matches: impl Fn(&str) -> bool,
) -> Hit<'a> {
    let (patterns, negated) = match (statement.get(name), statement.get(not_name)) {
        (Some(value), None) => (value, false),
        (None, Some(value)) => (value, true),
        (Some(_), Some(_)) => return Hit::Invalid { both: true },
        (None, None) => return Hit::Invalid { both: false },
    };
    let pattern = match patterns {
        Value::String(one) => matches(one).then_some(one.as_str()),
        Value::Array(list) => list.iter().filter_map(Value::as_str).find(|p| matches(p)),
        _ => None,
    };
    Hit::Found {
        negated,
        pattern,
        patterns,
    }
}

/// Actions match case-insensitively.
fn action_hit<'a>(statement: &'a Value, request: &Request) -> Hit<'a> {
    hit(statement, "Action", "NotAction", |pattern| {
        glob_ignoring_case(pattern, &request.action)
    })
}

/// Resources match case-sensitively, after substitution.
fn resource_hit<'a>(statement: &'a Value, request: &Request, literal: bool) -> Hit<'a> {
    hit(statement, "Resource", "NotResource", |pattern| {
        substitute(pattern, &request.context, literal)
            .is_some_and(|pattern| glob(&pattern, &request.resource))
    })
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
    if pattern.is_ascii() && text.is_ascii() {
        // No stand-ins (they are not ASCII): byte by byte.
        return wildcard(
            pattern.as_bytes(),
            text.as_bytes(),
            |p| p == b'*',
            |p, t| p == b'?' || p == t,
        );
    }
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    wildcard(
        &p,
        &t,
        |p| p == '*',
        |pc, tc| match pc {
            LITERAL_STAR => tc == '*',
            LITERAL_QUESTION => tc == '?',
            '?' => true,
            _ => pc == tc,
        },
    )
}

/// [`glob`] with letters compared regardless of case (actions).
pub fn glob_ignoring_case(pattern: &str, text: &str) -> bool {
    if pattern.is_ascii() && text.is_ascii() {
        return wildcard(
            pattern.as_bytes(),
            text.as_bytes(),
            |p| p == b'*',
            |p, t| p == b'?' || p.eq_ignore_ascii_case(&t),
        );
    }
    glob(&pattern.to_lowercase(), &text.to_lowercase())
}

/// Wildcard matching over any units: backtracking to the last `*`.
fn wildcard<T: Copy>(
    p: &[T],
    t: &[T],
    is_star: impl Fn(T) -> bool,
    same: impl Fn(T, T) -> bool,
) -> bool {
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < t.len() {
        if i < p.len() && !is_star(p[i]) && same(p[i], t[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && is_star(p[i]) {
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
    p[i..].iter().all(|c| is_star(*c))
}

/// Substitutes policy variables in `text`: `${key}` by the request's value
/// (`None` when it has none and no default is given), `${key, 'default'}`,
/// and `${*}`, `${?}`, `${$}` by those characters. What is substituted is
/// literal: a `*` in a username is no wildcard. Under the 2008 version
/// (`literal`) nothing is substituted.
pub fn substitute<'a>(text: &'a str, context: &Context, literal: bool) -> Option<Cow<'a, str>> {
    if literal || !text.contains("${") {
        return Some(Cow::Borrowed(text));
    }
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Some(Cow::Owned(out));
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
    Some(Cow::Owned(out))
}

/// A substituted value as plain text (its literal `*` and `?` restored).
pub fn plain(text: &str) -> Cow<'_, str> {
    if !text.contains([LITERAL_STAR, LITERAL_QUESTION]) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.replace(LITERAL_STAR, "*")
            .replace(LITERAL_QUESTION, "?"),
    )
}

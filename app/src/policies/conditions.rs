//! A statement's `Condition` block, operator by operator: every family IAM
//! documents (String, Numeric, Date, Bool, Binary, IP address, ARN, Null),
//! the `…IfExists` suffix and the `ForAnyValue:`/`ForAllValues:` set
//! prefixes, each with why it matched or not.

use super::evaluate::{Context, glob, plain};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::net::IpAddr;

/// How one operator on one key met the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionTrace {
    pub operator: String,
    pub key: String,
    pub values: Vec<String>,
    pub matched: bool,
    pub why: String,
}

/// Substitutes a condition value's policy variables (`None`: a variable
/// with no value, which matches nothing).
pub type Substitute<'s> = &'s dyn for<'a> Fn(&'a str) -> Option<Cow<'a, str>>;

/// Every operator and key of a `Condition` block; all must match.
pub fn evaluate(
    block: &Map<String, Value>,
    context: &Context,
    substitute: Substitute<'_>,
) -> Vec<ConditionTrace> {
    let mut traces = Vec::new();
    for (operator, keys) in block {
        let Value::Object(keys) = keys else {
            traces.push(refused(operator, "", "its keys are not an object"));
            continue;
        };
        for (key, values) in keys {
            traces.push(one(operator, key, &wanted(values, substitute), context));
        }
    }
    traces
}

/// Whether every operator and key of a `Condition` block matches: what
/// [`evaluate`] finds, without the words.
pub fn holds(block: &Map<String, Value>, context: &Context, substitute: Substitute<'_>) -> bool {
    block.iter().all(|(operator, keys)| match keys {
        Value::Object(keys) => keys.iter().all(|(key, values)| {
            outcome(operator, key, &wanted(values, substitute), context).matched
        }),
        _ => false,
    })
}

/// A condition's values (one or a list), substituted.
fn wanted<'a>(values: &'a Value, substitute: Substitute<'_>) -> Vec<Option<Cow<'a, str>>> {
    let one = |value: &'a Value| match value {
        Value::String(text) => substitute(text),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Owned(b.to_string())),
        _ => None,
    };
    match values {
        Value::Array(list) => list
            .iter()
            .filter(|v| !v.is_array() && !v.is_object() && !v.is_null())
            .map(one)
            .collect(),
        Value::String(_) | Value::Number(_) | Value::Bool(_) => vec![one(values)],
        _ => Vec::new(),
    }
}

fn refused(operator: &str, key: &str, why: &str) -> ConditionTrace {
    ConditionTrace {
        operator: operator.to_owned(),
        key: key.to_owned(),
        values: Vec::new(),
        matched: false,
        why: why.to_owned(),
    }
}

/// The parts of an operator's name.
struct Operator<'a> {
    set: Option<Set>,
    base: &'a str,
    if_exists: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Set {
    AnyValue,
    AllValues,
}

fn parse(name: &str) -> Operator<'_> {
    let (set, rest) = if let Some(rest) = name.strip_prefix("ForAnyValue:") {
        (Some(Set::AnyValue), rest)
    } else if let Some(rest) = name.strip_prefix("ForAllValues:") {
        (Some(Set::AllValues), rest)
    } else {
        (None, name)
    };
    match rest.strip_suffix("IfExists") {
        Some(base) => Operator {
            set,
            base,
            if_exists: true,
        },
        None => Operator {
            set,
            base: rest,
            if_exists: false,
        },
    }
}

/// How one operator on one key came out, and why in a word.
struct Outcome {
    matched: bool,
    why: Why,
}

enum Why {
    /// A Null test: whether the key is absent.
    Null {
        absent: bool,
    },
    NullPrefixed,
    NotAnOperator,
    /// The request lacks the key: the rule that decided.
    Missing(&'static str),
    /// The request's values were compared.
    Compared,
}

/// One operator on one key: `values` are the condition's (ORed), already
/// substituted (`None` where a variable had no value: it matches nothing).
fn outcome(name: &str, key: &str, values: &[Option<Cow<str>>], context: &Context) -> Outcome {
    let op = parse(name);
    let done = |matched: bool, why: Why| Outcome { matched, why };
    let request = context.get(key);
    if op.base == "Null" {
        if op.if_exists || op.set.is_some() {
            return done(false, Why::NullPrefixed);
        }
        let absent = request.is_none_or(<[String]>::is_empty);
        let wants_absent = values
            .iter()
            .flatten()
            .any(|v| v.eq_ignore_ascii_case("true"));
        return done(absent == wants_absent, Why::Null { absent });
    }
    let Some((positive, negated)) = family(op.base) else {
        return done(false, Why::NotAnOperator);
    };
    let request: &[String] = match request {
        Some(values) if !values.is_empty() => values,
        _ => {
            let (matched, why) = match (op.set, op.if_exists, negated) {
                (_, true, _) => (true, "the key is missing, and IfExists makes that a match"),
                (Some(Set::AllValues), _, _) => (true, "the key is missing: ForAllValues is true"),
                (Some(Set::AnyValue), _, _) => (false, "the key is missing: ForAnyValue is false"),
                (None, _, true) => (true, "the key is missing: a negated operator matches"),
                (None, _, false) => (false, "the key is missing: a positive operator fails"),
            };
            return done(matched, Why::Missing(why));
        }
    };
    // Whether one request value matches one of the condition's values
    // under the positive form of the operator.
    let hits = |value: &str| {
        values
            .iter()
            .flatten()
            .any(|wanted| positive(value, wanted))
    };
    let satisfies = |value: &str| hits(value) != negated;
    let matched = match op.set {
        Some(Set::AllValues) => request.iter().all(|v| satisfies(v)),
        Some(Set::AnyValue) => request.iter().any(|v| satisfies(v)),
        // A single-valued operator: positive when any value matches,
        // negated when none does.
        None if negated => !request.iter().any(|v| hits(v)),
        None => request.iter().any(|v| hits(v)),
    };
    done(matched, Why::Compared)
}

/// [`outcome`] with its values and why in words.
fn one(name: &str, key: &str, values: &[Option<Cow<str>>], context: &Context) -> ConditionTrace {
    let found = outcome(name, key, values, context);
    let why = match found.why {
        Why::Null { absent } => {
            format!("{key} is {}", if absent { "absent" } else { "present" })
        }
        Why::NullPrefixed => "Null takes no IfExists or set prefix".into(),
        Why::NotAnOperator => format!("{name} is not a condition operator"),
        Why::Missing(why) => format!("{key}: {why}"),
        Why::Compared => format!(
            "{key} is {}: {}",
            context.get(key).unwrap_or_default().join(", "),
            if found.matched {
                "matches"
            } else {
                "does not match"
            }
        ),
    };
    ConditionTrace {
        operator: name.to_owned(),
        key: key.to_owned(),
        values: values
            .iter()
            .map(|v| {
                v.as_deref()
                    .map(|v| plain(v).into_owned())
                    .unwrap_or_else(|| "(unset variable)".into())
            })
            .collect(),
        matched: found.matched,
        why,
    }
}

type Compare = fn(&str, &str) -> bool;

/// The positive comparison of an operator, and whether the operator is its
/// negation.
fn family(base: &str) -> Option<(Compare, bool)> {
    Some(match base {
        "StringEquals" => (string_equals, false),
        "StringNotEquals" => (string_equals, true),
        "StringEqualsIgnoreCase" => (string_equals_ignore_case, false),
        "StringNotEqualsIgnoreCase" => (string_equals_ignore_case, true),
        "StringLike" => (string_like, false),
        "StringNotLike" => (string_like, true),
        "NumericEquals" => (|a, b| numbers(a, b).is_some_and(|(a, b)| a == b), false),
        "NumericNotEquals" => (|a, b| numbers(a, b).is_some_and(|(a, b)| a == b), true),
        "NumericLessThan" => (|a, b| numbers(a, b).is_some_and(|(a, b)| a < b), false),
        "NumericLessThanEquals" => (|a, b| numbers(a, b).is_some_and(|(a, b)| a <= b), false),
        "NumericGreaterThan" => (|a, b| numbers(a, b).is_some_and(|(a, b)| a > b), false),
        "NumericGreaterThanEquals" => (|a, b| numbers(a, b).is_some_and(|(a, b)| a >= b), false),
        "DateEquals" => (|a, b| dates(a, b).is_some_and(|(a, b)| a == b), false),
        "DateNotEquals" => (|a, b| dates(a, b).is_some_and(|(a, b)| a == b), true),
        "DateLessThan" => (|a, b| dates(a, b).is_some_and(|(a, b)| a < b), false),
        "DateLessThanEquals" => (|a, b| dates(a, b).is_some_and(|(a, b)| a <= b), false),
        "DateGreaterThan" => (|a, b| dates(a, b).is_some_and(|(a, b)| a > b), false),
        "DateGreaterThanEquals" => (|a, b| dates(a, b).is_some_and(|(a, b)| a >= b), false),
        "Bool" => (|a, b| a.eq_ignore_ascii_case(&plain(b)), false),
        "BinaryEquals" => (|a, b| a == plain(b), false),
        "IpAddress" => (in_range, false),
        "NotIpAddress" => (in_range, true),
        "ArnEquals" | "ArnLike" => (arn_like, false),
        "ArnNotEquals" | "ArnNotLike" => (arn_like, true),
        _ => return None,
    })
}

fn string_equals(value: &str, wanted: &str) -> bool {
    value == plain(wanted)
}

fn string_equals_ignore_case(value: &str, wanted: &str) -> bool {
    value.to_lowercase() == plain(wanted).to_lowercase()
}

fn string_like(value: &str, wanted: &str) -> bool {
    glob(wanted, value)
}

fn numbers(value: &str, wanted: &str) -> Option<(f64, f64)> {
    Some((
        value.trim().parse().ok()?,
        plain(wanted).trim().parse().ok()?,
    ))
}

/// ISO 8601 (with or without a time) or seconds since the epoch.
fn date(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<i64>() {
        return Some(seconds);
    }
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(at.timestamp());
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp())
}

fn dates(value: &str, wanted: &str) -> Option<(i64, i64)> {
    Some((date(value)?, date(&plain(wanted))?))
}

/// An address within a CIDR (IPv4 or IPv6) or equal to a bare address.
fn in_range(value: &str, wanted: &str) -> bool {
    let Ok(address) = value.trim().parse::<IpAddr>() else {
        return false;
    };
    let address = address.to_canonical();
    let wanted = plain(wanted);
    let wanted = wanted.trim();
    if let Ok(net) = wanted.parse::<ipnet::IpNet>() {
        return net.contains(&address);
    }
    wanted
        .parse::<IpAddr>()
        .is_ok_and(|bare| bare.to_canonical() == address)
}

/// ARNs compared part by part (`arn:partition:service:region:account:
/// resource`), each part with wildcards.
fn arn_like(value: &str, wanted: &str) -> bool {
    let value: Vec<&str> = value.splitn(6, ':').collect();
    let wanted: Vec<&str> = wanted.splitn(6, ':').collect();
    value.len() == 6 && wanted.len() == 6 && value.iter().zip(&wanted).all(|(v, w)| glob(w, v))
}

//! The authorizer's DynamoDB table: every item read (all pages, strongly
//! consistent), each `policy` taken from a map or a JSON string, and a set
//! of mapping changes written in one `TransactWriteItems`, each write
//! conditioned on its item being exactly what it was read as.
//!
//! Items are kept as read, in DynamoDB's JSON form (`{"S": "…"}`), so a
//! write changes the `policy` attribute only and keeps every other one.

use super::mapping::{Mapping, Mappings, Stored};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::RequestId;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use base64::Engine;
use serde_json::{Map, Number, Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// The partition key the authorizer reads.
pub const GROUP: &str = "group";
/// The attribute holding the policy.
pub const POLICY: &str = "policy";
/// What DynamoDB takes in one transaction.
pub const MOST_WRITES: usize = 100;

type Item = HashMap<String, AttributeValue>;

/// The table as read: the mappings and each item as stored (by group).
#[derive(Debug, Clone, PartialEq)]
pub struct Read {
    pub mappings: Mappings,
    /// `{group: {attribute: <DynamoDB JSON>}}`.
    pub items: Map<String, Value>,
}

impl Read {
    /// What a write based on this read carries: the SHA-256 of every item.
    pub fn token(&self) -> String {
        hex::encode(Sha256::digest(
            Value::Object(self.items.clone()).to_string().as_bytes(),
        ))
    }
}

/// Every item of `table`.
pub async fn read(
    dynamodb: &Client,
    table: &str,
) -> Result<Read, SdkError<aws_sdk_dynamodb::operation::scan::ScanError>> {
    let mut items = Map::new();
    let mut mappings = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let page = dynamodb
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await?;
        for item in page.items() {
            let Some(AttributeValue::S(group)) = item.get(GROUP) else {
                continue;
            };
            mappings.push(mapping_of(group, item.get(POLICY)));
            items.insert(group.clone(), item_json(item));
        }
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => break,
        }
    }
    Ok(Read {
        mappings: Mappings::new(mappings),
        items,
    })
}

fn mapping_of(group: &str, policy: Option<&AttributeValue>) -> Mapping {
    let (policy, stored) = match policy {
        Some(AttributeValue::S(text)) => (
            serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone())),
            Stored::String,
        ),
        Some(value) => (document(value), Stored::Map),
        None => (Value::Null, Stored::Map),
    };
    Mapping {
        group: group.to_owned(),
        policy,
        stored,
    }
}

/// A DynamoDB value as plain JSON: a map as an object, a list as an array.
pub fn document(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => number(n),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::M(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), document(v))).collect())
        }
        AttributeValue::L(list) => Value::Array(list.iter().map(document).collect()),
        AttributeValue::Ss(set) => set.iter().cloned().map(Value::String).collect(),
        AttributeValue::Ns(set) => set.iter().map(|n| number(n)).collect(),
        other => item_value_json(other),
    }
}

fn number(text: &str) -> Value {
    text.parse::<i64>()
        .map(Value::from)
        .ok()
        .or_else(|| {
            text.parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .map(Value::Number)
        })
        .unwrap_or_else(|| Value::String(text.to_owned()))
}

/// A policy document as the DynamoDB map AWS's sample stack writes.
pub fn map_of(document: &Value) -> AttributeValue {
    match document {
        Value::Object(map) => {
            AttributeValue::M(map.iter().map(|(k, v)| (k.clone(), map_of(v))).collect())
        }
        Value::Array(list) => AttributeValue::L(list.iter().map(map_of).collect()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Null => AttributeValue::Null(true),
    }
}

/// A mapping's `policy` attribute, in its form.
pub fn policy_value(mapping: &Mapping) -> AttributeValue {
    match (&mapping.policy, mapping.stored) {
        (Value::String(text), Stored::String) => AttributeValue::S(text.clone()),
        (document, Stored::String) => AttributeValue::S(document.to_string()),
        (document, Stored::Map) => map_of(document),
    }
}

fn item_json(item: &Item) -> Value {
    Value::Object(
        item.iter()
            .map(|(k, v)| (k.clone(), item_value_json(v)))
            .collect(),
    )
}

/// DynamoDB's JSON form of a value: `{"S": "…"}`, `{"M": {…}}`.
fn item_value_json(value: &AttributeValue) -> Value {
    let b64 = |b: &Blob| base64::engine::general_purpose::STANDARD.encode(b.as_ref());
    match value {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::B(b) => json!({"B": b64(b)}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        AttributeValue::Null(n) => json!({"NULL": n}),
        AttributeValue::Ss(s) => json!({"SS": s}),
        AttributeValue::Ns(s) => json!({"NS": s}),
        AttributeValue::Bs(s) => json!({"BS": s.iter().map(b64).collect::<Vec<_>>()}),
        AttributeValue::L(l) => json!({"L": l.iter().map(item_value_json).collect::<Vec<_>>()}),
        AttributeValue::M(m) => json!({"M": item_json(m)}),
        _ => json!({"NULL": true}),
    }
}

/// Back from DynamoDB's JSON form.
fn item_value(json: &Value) -> Option<AttributeValue> {
    let (tag, inner) = json.as_object()?.iter().next()?;
    let strings = |v: &Value| -> Option<Vec<String>> {
        v.as_array()?
            .iter()
            .map(|s| s.as_str().map(str::to_owned))
            .collect()
    };
    let blob = |v: &Value| {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str()?)
            .ok()
            .map(Blob::new)
    };
    Some(match tag.as_str() {
        "S" => AttributeValue::S(inner.as_str()?.to_owned()),
        "N" => AttributeValue::N(inner.as_str()?.to_owned()),
        "B" => AttributeValue::B(blob(inner)?),
        "BOOL" => AttributeValue::Bool(inner.as_bool()?),
        "NULL" => AttributeValue::Null(inner.as_bool()?),
        "SS" => AttributeValue::Ss(strings(inner)?),
        "NS" => AttributeValue::Ns(strings(inner)?),
        "BS" => AttributeValue::Bs(inner.as_array()?.iter().map(blob).collect::<Option<_>>()?),
        "L" => AttributeValue::L(
            inner
                .as_array()?
                .iter()
                .map(item_value)
                .collect::<Option<_>>()?,
        ),
        "M" => AttributeValue::M(item_of(inner)?),
        _ => return None,
    })
}

fn item_of(json: &Value) -> Option<Item> {
    json.as_object()?
        .iter()
        .map(|(k, v)| Some((k.clone(), item_value(v)?)))
        .collect()
}

/// Why a transaction was not written.
#[derive(Debug)]
pub enum WriteError {
    /// A condition failed: an item is no longer what it was read as.
    Moved {
        request_id: Option<String>,
    },
    Refused {
        message: String,
        request_id: Option<String>,
    },
    Unanswered(String),
}

/// Writes every mapping that differs between `base` and `proposed` in one
/// transaction: a new group put only if it does not exist, a changed one's
/// `policy` set and a removed one deleted only if the item is still every
/// attribute it was read with. `token` makes a retry of the same write
/// idempotent (DynamoDB's client request token, for ten minutes).
pub async fn write(
    dynamodb: &Client,
    table: &str,
    base: &Read,
    proposed: &Mappings,
    token: &str,
) -> Result<Option<String>, WriteError> {
    let refused = |message: String| WriteError::Refused {
        message,
        request_id: None,
    };
    let mut writes = Vec::new();
    let mut groups = base.mappings.groups();
    groups.extend(proposed.groups());
    groups.sort();
    groups.dedup();
    for group in &groups {
        let (was, now) = (base.mappings.get(group), proposed.get(group));
        if was == now {
            continue;
        }
        let read_as = base.items.get(group).and_then(item_of);
        let write = match (now, read_as) {
            (Some(mapping), None) => put(table, mapping),
            (Some(mapping), Some(item)) => update(table, mapping, &item),
            (None, Some(item)) => delete(table, group, &item),
            (None, None) => continue,
        }
        .map_err(|e| refused(e.to_string()))?;
        writes.push(write);
    }
    if writes.is_empty() {
        return Ok(None);
    }
    if writes.len() > MOST_WRITES {
        return Err(refused(format!(
            "{} groups change; DynamoDB writes at most {MOST_WRITES} in one transaction",
            writes.len()
        )));
    }
    let sent = dynamodb
        .transact_write_items()
        .set_transact_items(Some(writes))
        .client_request_token(&token[..token.len().min(36)])
        .send()
        .await;
    match sent {
        Ok(output) => Ok(output.request_id().map(str::to_owned)),
        Err(e) => {
            let request_id = e.request_id().map(str::to_owned);
            let message = DisplayErrorContext(&e).to_string();
            Err(match &e {
                SdkError::ServiceError(service) => {
                    let moved = match service.err() {
                        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(t) => t
                            .cancellation_reasons()
                            .iter()
                            .any(|r| r.code() == Some("ConditionalCheckFailed")),
                        _ => false,
                    };
                    if moved {
                        WriteError::Moved { request_id }
                    } else {
                        WriteError::Refused {
                            message,
                            request_id,
                        }
                    }
                }
                SdkError::ConstructionFailure(_) => WriteError::Refused {
                    message,
                    request_id,
                },
                _ => WriteError::Unanswered(message),
            })
        }
    }
}

/// `#a0 = :a0 AND …` over every attribute of `item`.
fn exactly(
    item: &Item,
) -> (
    String,
    HashMap<String, String>,
    HashMap<String, AttributeValue>,
) {
    let mut names = HashMap::new();
    let mut values = HashMap::new();
    let mut clauses = Vec::new();
    let mut keys: Vec<&String> = item.keys().collect();
    keys.sort();
    for (i, key) in keys.into_iter().enumerate() {
        names.insert(format!("#a{i}"), key.clone());
        values.insert(format!(":a{i}"), item[key].clone());
        clauses.push(format!("#a{i} = :a{i}"));
    }
    (clauses.join(" AND "), names, values)
}

fn key(group: &str) -> Item {
    HashMap::from([(GROUP.to_owned(), AttributeValue::S(group.to_owned()))])
}

type Built = Result<TransactWriteItem, aws_sdk_dynamodb::error::BuildError>;

fn put(table: &str, mapping: &Mapping) -> Built {
    let put = Put::builder()
        .table_name(table)
        .item(GROUP, AttributeValue::S(mapping.group.clone()))
        .item(POLICY, policy_value(mapping))
        .condition_expression("attribute_not_exists(#g)")
        .expression_attribute_names("#g", GROUP)
        .build()?;
    Ok(TransactWriteItem::builder().put(put).build())
}

fn update(table: &str, mapping: &Mapping, item: &Item) -> Built {
    let (condition, mut names, mut values) = exactly(item);
    names.insert("#p".into(), POLICY.into());
    values.insert(":p".into(), policy_value(mapping));
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(key(&mapping.group)))
        .update_expression("SET #p = :p")
        .condition_expression(condition)
        .set_expression_attribute_names(Some(names))
        .set_expression_attribute_values(Some(values))
        .build()?;
    Ok(TransactWriteItem::builder().update(update).build())
}

fn delete(table: &str, group: &str, item: &Item) -> Built {
    let (condition, names, values) = exactly(item);
    let delete = Delete::builder()
        .table_name(table)
        .set_key(Some(key(group)))
        .condition_expression(condition)
        .set_expression_attribute_names(Some(names))
        .set_expression_attribute_values(Some(values))
        .build()?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_read_back_from_their_json_form() {
        let item: Item = HashMap::from([
            ("group".into(), AttributeValue::S("vets".into())),
            ("n".into(), AttributeValue::N("1.5".into())),
            ("b".into(), AttributeValue::B(Blob::new(vec![0, 1, 2]))),
            ("ss".into(), AttributeValue::Ss(vec!["a".into()])),
            (
                "m".into(),
                AttributeValue::M(HashMap::from([(
                    "l".into(),
                    AttributeValue::L(vec![AttributeValue::Bool(true), AttributeValue::Null(true)]),
                )])),
            ),
        ]);
        assert_eq!(item_of(&item_json(&item)), Some(item));
    }

    #[test]
    fn a_policy_keeps_its_form() {
        let document = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": ["a", "b"]}]});
        let as_map = map_of(&document);
        assert_eq!(super::document(&as_map), document);
        let mapping = mapping_of("g", Some(&AttributeValue::S(document.to_string())));
        assert_eq!(mapping.stored, Stored::String);
        assert_eq!(mapping.policy, document);
        assert_eq!(
            policy_value(&mapping),
            AttributeValue::S(document.to_string())
        );
        let broken = mapping_of("g", Some(&AttributeValue::S("{nope".into())));
        assert_eq!(broken.policy, Value::String("{nope".into()));
        assert_eq!(policy_value(&broken), AttributeValue::S("{nope".into()));
    }
}

//! The group → policy mappings of the authorizer's DynamoDB table as a kind
//! of change request: read whole (`policies::table`), with a token that is
//! the SHA-256 of every item; written in one `TransactWriteItems` whose
//! every write is conditioned on its item being what the change was based
//! on. Only the groups a change touches are written, so a change to another
//! group elsewhere does not stop it; a change to one of its own does.

use super::{Landing, Live, PushError, Pushed, Reach, ReadError, Rebased, TargetRef, landed_items};
use crate::changes::ChangeDiff;
use crate::changes::diff::{ItemChange, diff_named, moves, rebase_named};
use crate::policies::mapping::Mappings;
use crate::policies::summary::summary;
use crate::policies::table::{self, WriteError};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// What a policy table's change requests are about.
pub fn target(table: &str) -> TargetRef {
    TargetRef {
        name: table.to_owned(),
        scope: "DynamoDB".into(),
        id: table.to_owned(),
    }
}

pub fn mappings(content: &Value) -> Mappings {
    Mappings::read(content).unwrap_or_default()
}

fn live_of(target: &TargetRef, read: &table::Read) -> Live {
    Live {
        target: target.clone(),
        token: read.token(),
        content: read.mappings.to_json(),
        resource: json!({"items": read.items}),
    }
}

/// The table as read when `live` was.
fn read_of(live: &Live) -> table::Read {
    table::Read {
        mappings: mappings(&live.content),
        items: live
            .resource
            .get("items")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_else(Map::new),
    }
}

fn read_failed(e: impl std::fmt::Display) -> ReadError {
    ReadError {
        service: "DynamoDB",
        cause: e.to_string(),
    }
}

pub async fn read_live(reach: Reach<'_>, target: &TargetRef) -> Result<Live, ReadError> {
    let read = table::read(&reach.aws.dynamodb, &target.name)
        .await
        .map_err(|e| read_failed(aws_sdk_dynamodb::error::DisplayErrorContext(&e)))?;
    Ok(live_of(target, &read))
}

pub async fn push(reach: Reach<'_>, base: &Live, content: &Value) -> Result<Pushed, PushError> {
    let proposed = Mappings::read(content).map_err(|message| PushError::Refused {
        message,
        request_id: None,
    })?;
    // The same change on the same base is the same transaction: a retry
    // within DynamoDB's ten minutes is not written twice.
    let idempotency = hex::encode(Sha256::digest(
        format!("{}\n{content}", base.token).as_bytes(),
    ));
    let written = table::write(
        &reach.aws.dynamodb,
        &base.target.name,
        &read_of(base),
        &proposed,
        &idempotency,
    )
    .await;
    let request_id = match written {
        Ok(request_id) => request_id,
        Err(WriteError::Moved { request_id }) => return Err(PushError::Stale { request_id }),
        Err(WriteError::Refused {
            message,
            request_id,
        }) => {
            return Err(PushError::Refused {
                message,
                request_id,
            });
        }
        Err(WriteError::Unanswered(why)) => return Err(PushError::Unanswered(why)),
    };
    // Written: the token is of the table as it is now.
    let now = read_live(reach, &base.target)
        .await
        .map_err(|e| PushError::Unanswered(e.to_string()))?;
    Ok(Pushed {
        next_token: now.token,
        request_id,
    })
}

pub fn same(a: &Value, b: &Value) -> bool {
    mappings(a) == mappings(b)
}

/// Whether the groups the change touches hold what it proposes (applied),
/// still what it was based on (not taken), or something else (moved).
/// Groups it does not touch may have changed meanwhile either way.
pub fn landed(base: &Live, content: &Value, live: &Live) -> Landing {
    landed_items(
        &mappings(&base.content).items(),
        &mappings(content).items(),
        &mappings(&live.content).items(),
        false,
    )
}

pub fn diff(before: &Value, after: &Value) -> ChangeDiff {
    let changes = diff_named(mappings(before).items(), mappings(after).items());
    let words = changes.iter().map(in_words).collect();
    ChangeDiff { changes, words }
}

pub fn check(content: &Value) -> Result<(), String> {
    let mappings = Mappings::read(content)?;
    mappings.check()
}

pub fn rebase(base: &Value, content: &Value, live: &Value) -> Rebased {
    let (items, conflicts) = rebase_named(
        mappings(base).items(),
        mappings(content).items(),
        mappings(live).items(),
    );
    Rebased {
        content: Mappings::from_items(items).to_json(),
        conflicts,
    }
}

fn in_words(change: &ItemChange) -> String {
    let plain = |item: &Value| summary(item.get("policy").unwrap_or(&Value::Null));
    match change {
        ItemChange::Added { name, after } => {
            format!("group {name} is mapped: {}", plain(after))
        }
        ItemChange::Removed { name, before } => {
            format!("group {name} is unmapped (it had: {})", plain(before))
        }
        ItemChange::Changed {
            name,
            fields,
            after,
            ..
        } => format!("group {name}: {}. Now: {}", moves(fields), plain(after)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policies::mapping::{Mapping, Stored};

    fn live(groups: &[(&str, &str)]) -> Live {
        let mappings = Mappings::new(
            groups
                .iter()
                .map(|(group, resource)| Mapping {
                    group: (*group).into(),
                    policy: json!({"Version": "2012-10-17", "Statement": [
                        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": resource}]}),
                    stored: Stored::Map,
                })
                .collect(),
        );
        Live {
            target: target("t"),
            token: String::new(),
            content: mappings.to_json(),
            resource: json!({}),
        }
    }

    #[test]
    fn only_the_groups_a_change_touches_decide_where_it_landed() {
        let base = live(&[("a", "1"), ("b", "1")]);
        let ours = live(&[("a", "2"), ("b", "1")]).content;
        let applied_and_b_moved = live(&[("a", "2"), ("b", "9")]);
        assert_eq!(landed(&base, &ours, &applied_and_b_moved), Landing::Applied);
        let untouched_but_b_moved = live(&[("a", "1"), ("b", "9")]);
        assert_eq!(
            landed(&base, &ours, &untouched_but_b_moved),
            Landing::NotTaken
        );
        let a_moved = live(&[("a", "3"), ("b", "1")]);
        assert_eq!(landed(&base, &ours, &a_moved), Landing::Moved);
        let a_removed = live(&[("b", "1")]);
        assert_eq!(landed(&base, &ours, &a_removed), Landing::Moved);
    }

    #[test]
    fn a_diff_says_which_groups_change_in_words() {
        let before = live(&[("a", "arn:aws:execute-api:*:*:*/*/GET/pets")]).content;
        let after = live(&[
            ("a", "arn:aws:execute-api:*:*:*/*/*/pets"),
            ("new", "arn:aws:execute-api:*:*:*/*/GET/status"),
        ])
        .content;
        let diff = diff(&before, &after);
        assert_eq!(diff.changes.len(), 2);
        assert!(diff.words[0].starts_with("group a: "), "{:?}", diff.words);
        assert!(diff.words[0].ends_with("Now: Allows every method /pets"));
        assert_eq!(diff.words[1], "group new is mapped: Allows GET /status");
    }
}

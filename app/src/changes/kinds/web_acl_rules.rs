//! The rules of a WAF web ACL as a kind of change request: read with
//! `GetWebACL`, written with `UpdateWebACL` and the `LockToken` of the
//! rules the change was based on (`rules::live`), compared and rebased
//! rule by rule (`rules::merge`).

use super::{Live, PushError, Pushed, Reach, ReadError, Rebased, TargetRef};
use crate::changes::ChangeDiff;
use crate::changes::diff::ItemChange;
use crate::rules::live::{self, LiveRules, UpdateError, WebAclRef};
use crate::rules::merge;
use crate::rules::model::{RuleEntry, read_rules, rules_json};
use crate::rules::validate;
use serde_json::Value;

/// Rules stored as a change's content (the console's JSON form).
pub fn rules(content: &Value) -> Vec<RuleEntry> {
    read_rules(content.clone()).unwrap_or_default()
}

/// A web ACL's live rules as a change request's live state.
pub fn live_of(rules: &LiveRules) -> Live {
    Live {
        target: TargetRef {
            name: rules.web_acl.name.clone(),
            scope: rules.web_acl.scope.clone(),
            id: rules.web_acl.id.clone(),
        },
        token: rules.lock_token.clone(),
        content: rules_json(&rules.rules),
        resource: rules.web_acl_json.clone(),
    }
}

/// A change request's live state as the web ACL's rules.
pub fn rules_of(live: &Live) -> LiveRules {
    LiveRules {
        web_acl: web_acl(&live.target, &live.resource),
        lock_token: live.token.clone(),
        rules: rules(&live.content),
        web_acl_json: live.resource.clone(),
    }
}

fn web_acl(target: &TargetRef, resource: &Value) -> WebAclRef {
    WebAclRef {
        name: target.name.clone(),
        id: target.id.clone(),
        arn: resource
            .get("ARN")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        scope: target.scope.clone(),
    }
}

pub async fn read_live(reach: Reach<'_>, target: &TargetRef) -> Result<Live, ReadError> {
    let web_acl = web_acl(target, &Value::Null);
    live::rules_of(&reach.aws.wafv2, web_acl)
        .await
        .map(|rules| live_of(&rules))
        .map_err(|e| ReadError {
            service: "AWS WAF",
            cause: e.to_string(),
        })
}

pub async fn push(reach: Reach<'_>, base: &Live, content: &Value) -> Result<Pushed, PushError> {
    match live::update_rules(&reach.aws.wafv2, &rules_of(base), &rules(content)).await {
        Ok(pushed) => Ok(Pushed {
            next_token: pushed.next_lock_token,
            request_id: pushed.request_id,
        }),
        Err(UpdateError::Stale { request_id }) => Err(PushError::Stale { request_id }),
        Err(UpdateError::Refused {
            message,
            request_id,
        }) => Err(PushError::Refused {
            message,
            request_id,
        }),
        Err(UpdateError::Unanswered(why)) => Err(PushError::Unanswered(why)),
    }
}

pub fn same(a: &Value, b: &Value) -> bool {
    merge::same_rules(&rules(a), &rules(b))
}

pub fn diff(before: &Value, after: &Value) -> ChangeDiff {
    let changes = crate::rules::diff::diff(&rules(before), &rules(after));
    let words = changes.iter().map(in_words).collect();
    ChangeDiff { changes, words }
}

pub fn check(content: &Value) -> Result<(), String> {
    if validate::has_errors(&validate::validate(&rules(content))) {
        return Err("the rules have errors AWS would refuse: fix them before submitting".into());
    }
    Ok(())
}

pub fn rebase(base: &Value, content: &Value, live: &Value) -> Rebased {
    let rebased = merge::rebase(&rules(base), &rules(content), &rules(live));
    Rebased {
        content: rules_json(&rebased.rules),
        conflicts: rebased.conflicts,
    }
}

/// One rule's change in a line: what a new rule does, which values of a
/// changed one move.
fn in_words(change: &ItemChange) -> String {
    let plain = |json: &Value| match RuleEntry::read(json.clone()) {
        RuleEntry::Rule(rule) => crate::rules::summary::summary(&rule),
        RuleEntry::Verbatim { .. } => "a rule Gatehouse keeps as it is".to_owned(),
    };
    match change {
        ItemChange::Added { name, after } => format!("{name} is added: {}", plain(after)),
        ItemChange::Removed { name, before } => {
            format!("{name} is removed (it was: {})", plain(before))
        }
        ItemChange::Changed {
            name,
            fields,
            after,
            ..
        } => format!(
            "{name}: {}. Now: {}",
            crate::changes::diff::moves(fields),
            plain(after)
        ),
    }
}

//! What differs between kinds of change request, and nothing else: how a
//! kind's live state is read, compared, diffed, checked before review,
//! carried onto a newer live state, and written with its own optimistic
//! check. Review, approvals, apply, settle, stale, drift and rollback call
//! these and are the same for every kind.

pub mod policy_mappings;
pub mod settings;
pub mod vpn_geofencing;
pub mod web_acl_rules;

use super::{ChangeDiff, Kind};
use crate::state::AwsClients;
use serde_json::Value;
use sqlx::PgPool;

/// What a change request is about, as AWS (or Gatehouse) names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRef {
    pub name: String,
    /// `REGIONAL`/`CLOUDFRONT` for web ACLs; `gatehouse` for settings.
    pub scope: String,
    /// AWS's id of it (the web ACL id); `settings` for settings.
    pub id: String,
}

/// A target's state as read: the token a write based on it must carry,
/// its content (what a change request changes), and the rest of the
/// resource as read (carried over by a write).
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    pub target: TargetRef,
    pub token: String,
    pub content: Value,
    pub resource: Value,
}

/// What reading or writing a kind's live state needs.
#[derive(Clone, Copy)]
pub struct Reach<'a> {
    pub pool: &'a PgPool,
    pub aws: &'a AwsClients,
}

/// A write that was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    pub next_token: String,
    /// AWS's request id, when AWS was written.
    pub request_id: Option<String>,
}

/// A write that was not made, or may not have been.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The target changed since the base was read (its optimistic check
    /// failed); nothing was written.
    #[error("the target changed since it was read; nothing was written")]
    Stale { request_id: Option<String> },
    /// Refused for another reason; nothing was written. The words are for
    /// the log and the audit trail.
    #[error("refused: {message}")]
    Refused {
        message: String,
        request_id: Option<String>,
    },
    /// No answer: the write may or may not have been made.
    #[error("no answer: {0}")]
    Unanswered(String),
}

/// A change's content carried onto a newer live state.
pub struct Rebased {
    pub content: Value,
    /// The items both sides changed (the change's version was kept).
    pub conflicts: Vec<String>,
}

/// Where an apply landed, judged from the live state read after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Landing {
    /// The live state holds what the change proposes.
    Applied,
    /// The live state is still what the change was based on: it was not
    /// taken.
    NotTaken,
    /// Something else: the target moved; the change is stale.
    Moved,
}

/// Where an apply landed, item by item (as `items()` names a kind's
/// content): every watched item holding the change's value is applied;
/// every one holding the change's or the base's is not (yet) taken; any
/// other value means the target moved. `every_item` watches the items the
/// change leaves alone too (a target written in parts, each part checked);
/// otherwise only the items it changes (writes conditioned per item).
pub fn landed_items(
    base: &[(String, Value)],
    ours: &[(String, Value)],
    now: &[(String, Value)],
    every_item: bool,
) -> Landing {
    let find = |items: &[(String, Value)], name: &str| {
        items
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let mut names: Vec<&String> = Vec::new();
    for (name, _) in base.iter().chain(ours).chain(now) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let mut all_ours = true;
    for name in names {
        let (b, o, n) = (find(base, name), find(ours, name), find(now, name));
        if !every_item && b == o {
            continue;
        }
        if n == o {
            continue;
        }
        all_ours = false;
        if n != b {
            return Landing::Moved;
        }
    }
    match all_ours {
        true => Landing::Applied,
        false => Landing::NotTaken,
    }
}

/// Why reading a live state failed: which service, and the cause for the
/// log.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{service}: {cause}")]
pub struct ReadError {
    pub service: &'static str,
    pub cause: String,
}

impl Kind {
    /// The state of `target` now, exactly as held where it lives.
    pub async fn read_live(self, reach: Reach<'_>, target: &TargetRef) -> Result<Live, ReadError> {
        match self {
            Kind::WebAclRules => web_acl_rules::read_live(reach, target).await,
            Kind::Settings => settings::read_live(reach).await,
            Kind::PolicyMappings => policy_mappings::read_live(reach, target).await,
            Kind::VpnGeofencing => vpn_geofencing::read_live(reach, target).await,
        }
    }

    /// The state of `target` as pages show it: through the live-state
    /// cache every request shares, with its age (`changes::shown`). Never
    /// the base of anything written.
    pub async fn read_shown(
        self,
        reach: Reach<'_>,
        target: &TargetRef,
    ) -> Result<super::shown::Shown, ReadError> {
        reach.aws.live.read(self, reach, target).await
    }

    /// Writes `content` over `base`, with `base`'s token as the optimistic
    /// check.
    pub async fn push(
        self,
        reach: Reach<'_>,
        base: &Live,
        content: &Value,
    ) -> Result<Pushed, PushError> {
        match self {
            Kind::WebAclRules => web_acl_rules::push(reach, base, content).await,
            Kind::Settings => settings::push(reach, base, content).await,
            Kind::PolicyMappings => policy_mappings::push(reach, base, content).await,
            Kind::VpnGeofencing => vpn_geofencing::push(reach, base, content).await,
        }
    }

    /// Whether two contents are the same as far as the target is concerned.
    pub fn same(self, a: &Value, b: &Value) -> bool {
        match self {
            Kind::WebAclRules => web_acl_rules::same(a, b),
            Kind::Settings => settings::same(a, b),
            Kind::PolicyMappings => policy_mappings::same(a, b),
            Kind::VpnGeofencing => vpn_geofencing::same(a, b),
        }
    }

    /// From `before` to `after`, item by item and in words.
    pub fn diff(self, before: &Value, after: &Value) -> ChangeDiff {
        match self {
            Kind::WebAclRules => web_acl_rules::diff(before, after),
            Kind::Settings => settings::diff(before, after),
            Kind::PolicyMappings => policy_mappings::diff(before, after),
            Kind::VpnGeofencing => vpn_geofencing::diff(before, after),
        }
    }

    /// What stops `content` from going to review: errors AWS (or Gatehouse)
    /// would refuse.
    pub fn check(self, content: &Value) -> Result<(), String> {
        match self {
            Kind::WebAclRules => web_acl_rules::check(content),
            Kind::Settings => settings::check(content),
            Kind::PolicyMappings => policy_mappings::check(content),
            Kind::VpnGeofencing => vpn_geofencing::check(content),
        }
    }

    /// Where an apply of `content` over `base` landed, from `live` read
    /// after it: for a kind written whole, the token moved onto the
    /// change's content; the policy table judges only the groups the change
    /// touches.
    pub fn landed(self, base: &Live, content: &Value, live: &Live) -> Landing {
        match self {
            Kind::PolicyMappings => policy_mappings::landed(base, content, live),
            Kind::VpnGeofencing => vpn_geofencing::landed(base, content, live),
            Kind::WebAclRules | Kind::Settings => {
                if live.token == base.token {
                    Landing::NotTaken
                } else if self.same(&live.content, content) {
                    Landing::Applied
                } else {
                    Landing::Moved
                }
            }
        }
    }

    /// `content`'s changes to `base` made to `live` instead.
    pub fn rebase(self, base: &Value, content: &Value, live: &Value) -> Rebased {
        match self {
            Kind::WebAclRules => web_acl_rules::rebase(base, content, live),
            Kind::Settings => settings::rebase(base, content, live),
            Kind::PolicyMappings => policy_mappings::rebase(base, content, live),
            Kind::VpnGeofencing => vpn_geofencing::rebase(base, content, live),
        }
    }

    /// The content as the review page shows it.
    pub fn pretty(self, content: &Value) -> String {
        serde_json::to_string_pretty(content).unwrap_or_default()
    }

    /// What this kind's service is called in messages ("AWS WAF").
    pub fn service(self) -> &'static str {
        match self {
            Kind::WebAclRules => "AWS WAF",
            Kind::Settings => "Gatehouse's settings",
            Kind::PolicyMappings => "DynamoDB",
            Kind::VpnGeofencing => "AWS",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Landing, landed_items};
    use serde_json::{Value, json};

    fn items(a: i64, b: i64) -> Vec<(String, Value)> {
        vec![("a".into(), json!(a)), ("b".into(), json!(b))]
    }

    #[test]
    fn a_target_written_in_parts_watches_every_part() {
        // The change sets a to 2 and leaves b at 1.
        let (base, ours) = (items(1, 1), items(2, 1));
        assert_eq!(
            landed_items(&base, &ours, &items(2, 1), true),
            Landing::Applied
        );
        assert_eq!(
            landed_items(&base, &ours, &items(1, 1), true),
            Landing::NotTaken
        );
        assert_eq!(
            landed_items(&base, &ours, &items(2, 9), true),
            Landing::Moved,
            "b moved"
        );
        assert_eq!(
            landed_items(&base, &ours, &items(2, 9), false),
            Landing::Applied,
            "b not watched"
        );
        assert_eq!(
            landed_items(&base, &ours, &items(7, 1), false),
            Landing::Moved
        );
    }
}

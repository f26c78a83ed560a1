//! Change requests (SPEC §6): nothing reaches AWS but through one. A draft
//! becomes a change request; it is reviewed by link, approved by someone
//! other than its author (approvals bound to the exact content), applied
//! with the token of the live state it was based on, and every step is an
//! audit event written in the same transaction as the step.
//!
//! This module holds what the pages, the API and the command line share;
//! the store and the apply are server-only.

use crate::roles::Role;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub mod diff;
#[cfg(feature = "ssr")]
pub mod kinds;

pub use diff::{FieldChange, ItemChange};

#[cfg(feature = "ssr")]
pub mod apply;
#[cfg(feature = "ssr")]
pub mod drafts;
#[cfg(feature = "ssr")]
pub mod drift;
#[cfg(feature = "ssr")]
pub mod evidence;
#[cfg(feature = "ssr")]
pub mod shown;
#[cfg(feature = "ssr")]
pub mod steps;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub mod view;

/// Where a change request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Draft,
    InReview,
    Approved,
    /// Being pushed to AWS; settled on the next attempt or at start-up if
    /// the push was interrupted.
    Applying,
    Applied,
    Rejected,
    Withdrawn,
    Failed,
    /// The live state moved since the change was based on it; nothing was
    /// overwritten.
    Stale,
}

impl Status {
    pub const ALL: [Status; 9] = [
        Status::Draft,
        Status::InReview,
        Status::Approved,
        Status::Applying,
        Status::Applied,
        Status::Rejected,
        Status::Withdrawn,
        Status::Failed,
        Status::Stale,
    ];

    /// The value stored in `change_requests.status` and used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::InReview => "in_review",
            Status::Approved => "approved",
            Status::Applying => "applying",
            Status::Applied => "applied",
            Status::Rejected => "rejected",
            Status::Withdrawn => "withdrawn",
            Status::Failed => "failed",
            Status::Stale => "stale",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// What the pages call it.
    pub fn label(self) -> &'static str {
        match self {
            Status::Draft => "Draft",
            Status::InReview => "In review",
            Status::Approved => "Approved",
            Status::Applying => "Being applied",
            Status::Applied => "Applied",
            Status::Rejected => "Rejected",
            Status::Withdrawn => "Withdrawn",
            Status::Failed => "Failed",
            Status::Stale => "Stale",
        }
    }

    /// Whether the content may still be edited (which sends it back to
    /// review).
    pub fn editable(self) -> bool {
        matches!(self, Status::Draft | Status::InReview | Status::Approved)
    }
}

/// What a change request changes. Each kind says how its live state is
/// read, diffed, checked and written (`kinds`); review, approval, apply,
/// stale, drift and rollback are one mechanism for all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The rules of a WAF web ACL.
    WebAclRules,
    /// Gatehouse's own settings: managed resources, roles, approvals.
    Settings,
    /// The group → policy mappings of the authorizer's DynamoDB table.
    PolicyMappings,
    /// Client VPN geofencing: allowed countries, NAT addresses, the deny
    /// policy (and SCP) that follows.
    VpnGeofencing,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::WebAclRules,
        Kind::Settings,
        Kind::PolicyMappings,
        Kind::VpnGeofencing,
    ];

    /// The value stored in `change_requests.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::WebAclRules => "web_acl_rules",
            Kind::Settings => "settings",
            Kind::PolicyMappings => "policy_mappings",
            Kind::VpnGeofencing => "vpn_geofencing",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// The role that drafts, edits and submits a change of this kind.
    pub fn author_role(self) -> Role {
        match self {
            Kind::WebAclRules | Kind::PolicyMappings | Kind::VpnGeofencing => Role::Editor,
            Kind::Settings => Role::Admin,
        }
    }

    /// The role that approves, rejects and applies one of someone else's.
    pub fn approver_role(self) -> Role {
        match self {
            Kind::WebAclRules | Kind::PolicyMappings | Kind::VpnGeofencing => Role::Approver,
            Kind::Settings => Role::Admin,
        }
    }

    /// What its content is called on the review page.
    pub fn content_label(self) -> &'static str {
        match self {
            Kind::WebAclRules => "Rules",
            Kind::Settings => "Settings",
            Kind::PolicyMappings => "Mappings",
            Kind::VpnGeofencing => "Geofencing",
        }
    }

    /// What its target is, in a sentence: "the web ACL changed elsewhere".
    pub fn noun(self) -> &'static str {
        match self {
            Kind::WebAclRules => "web ACL",
            Kind::Settings => "settings",
            Kind::PolicyMappings => "policy table",
            Kind::VpnGeofencing => "VPN geofencing set",
        }
    }

    /// The apply button: where the change goes.
    pub fn apply_label(self) -> &'static str {
        match self {
            Kind::WebAclRules => "Apply to AWS",
            Kind::Settings => "Apply the settings",
            Kind::PolicyMappings => "Apply to DynamoDB",
            Kind::VpnGeofencing => "Apply to AWS, part by part",
        }
    }

    /// The rebase button.
    pub fn rebase_label(self) -> &'static str {
        match self {
            Kind::WebAclRules => "Rebase onto the live rules",
            Kind::Settings => "Rebase onto the live settings",
            Kind::PolicyMappings => "Rebase onto the live mappings",
            Kind::VpnGeofencing => "Rebase onto the live set",
        }
    }

    /// Its target as people name it: `web ACL shop (REGIONAL)`.
    pub fn describe(self, name: &str, scope: &str) -> String {
        match self {
            Kind::WebAclRules => format!("web ACL {name} ({scope})"),
            Kind::Settings => "Gatehouse settings".to_owned(),
            Kind::PolicyMappings => format!("policy table {name}"),
            Kind::VpnGeofencing => format!("VPN geofencing set {name}"),
        }
    }
}

/// A change request as the reviews list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRow {
    pub id: String,
    pub kind: Kind,
    pub title: String,
    pub author: String,
    pub status: Status,
    /// What it changes, e.g. `web ACL shop (REGIONAL)`.
    pub target: String,
    pub approvals: i64,
    pub required_approvals: i32,
    pub updated_at: DateTime<Utc>,
}

/// What the reviews list and `GET /api/v1/changes` filter by.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeFilter {
    pub status: Option<Status>,
    /// Exact username.
    pub author: Option<String>,
    /// Part of the target's name.
    pub target: Option<String>,
}

impl ChangeFilter {
    /// Reads the filter from query parameters; blanks mean no filter.
    pub fn from_query(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let text = |key: &str| {
            get(key)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        Ok(ChangeFilter {
            status: text("status")
                .map(|s| {
                    Status::parse(&s).ok_or_else(|| {
                        let known: Vec<_> = Status::ALL.iter().map(|s| s.as_str()).collect();
                        format!("status: {s:?} is not one of {}", known.join(", "))
                    })
                })
                .transpose()?,
            author: text("author"),
            target: text("target"),
        })
    }
}

/// Evidence attached to a change request: a traffic analysis or the
/// decision-matrix cells a policy change moves, frozen when attached (its
/// link still opens it live).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// `/traffic?…` or `/policies?…`: where it came from.
    pub link: String,
    /// What it found, in words.
    pub summary: String,
    /// The top-keys chart as it was when attached (SVG drawn by the server);
    /// empty for a decision matrix.
    pub chart: String,
    /// The decision-matrix cells the change moves.
    #[serde(default)]
    pub matrix: Vec<crate::policies::matrix::Changed>,
    pub attached_by: String,
    pub attached_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    pub author: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub approver: String,
    pub approved_at: DateTime<Utc>,
    /// Of the content as it is now; an approval of earlier content is shown
    /// but does not count.
    pub current: bool,
}

/// One step of the timeline: an audit event of the change request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub at: DateTime<Utc>,
    pub actor: Option<String>,
    /// The audit action's label.
    pub what: String,
    pub aws_request_id: Option<String>,
    pub audit_id: i64,
}

/// The changes between two versions of a change's content: per item in
/// plain words, and structured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeDiff {
    pub changes: Vec<ItemChange>,
    /// One line per changed rule.
    pub words: Vec<String>,
}

/// The live state found when the change went stale, against the change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StaleView {
    /// From the live state to the change's.
    pub diff: ChangeDiff,
    /// The live state, as JSON.
    pub live_json: String,
}

/// What the signed-in person may do with a change request now. The server
/// checks each again when it is asked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allowed {
    pub edit: bool,
    pub submit: bool,
    pub attach: bool,
    pub approve: bool,
    pub reject: bool,
    pub apply: bool,
    pub withdraw: bool,
    pub rebase: bool,
    pub rollback: bool,
}

/// A change request, whole, as the review page and
/// `GET /api/v1/changes/{id}` show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeView {
    pub id: String,
    pub kind: Kind,
    pub title: String,
    pub description: String,
    pub author: String,
    pub status: Status,
    pub target_name: String,
    pub target_scope: String,
    /// The target as people name it.
    pub target: String,
    pub created_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub applied_at: Option<DateTime<Utc>>,
    pub applied_by: Option<String>,
    pub aws_request_id: Option<String>,
    /// Why the apply failed, in words for the console.
    pub failure: Option<String>,
    pub content_hash: String,
    pub required_approvals: i32,
    /// From the live state it is based on to what it proposes.
    pub diff: ChangeDiff,
    pub base_json: String,
    pub content_json: String,
    pub stale: Option<StaleView>,
    pub evidence: Vec<Evidence>,
    pub comments: Vec<Comment>,
    pub approvals: Vec<Approval>,
    pub timeline: Vec<Step>,
    pub rollback_of: Option<String>,
}

impl ChangeView {
    /// Approvals of the content as it is now.
    pub fn current_approvals(&self) -> usize {
        self.approvals.iter().filter(|a| a.current).count()
    }

    /// What `user` may do with it now.
    pub fn allowed(&self, user: &crate::auth::User) -> Allowed {
        let author = self.author == user.username;
        let editor = user.has(self.kind.author_role());
        let approver = user.has(self.kind.approver_role());
        let approved_by_user = self
            .approvals
            .iter()
            .any(|a| a.current && a.approver == user.username);
        let reviewable = matches!(self.status, Status::InReview | Status::Approved);
        Allowed {
            edit: author && editor && self.status.editable(),
            submit: author && editor && self.status == Status::Draft,
            attach: author && editor && self.status.editable(),
            approve: approver && !author && reviewable && !approved_by_user,
            reject: approver && !author && (reviewable || self.status == Status::Stale),
            apply: matches!(
                self.status,
                Status::Approved | Status::Applying | Status::Failed
            ) && (approver || (author && editor)),
            withdraw: author
                && matches!(
                    self.status,
                    Status::Draft
                        | Status::InReview
                        | Status::Approved
                        | Status::Stale
                        | Status::Failed
                ),
            rebase: author && editor && self.status == Status::Stale,
            rollback: editor && self.status == Status::Applied,
        }
    }
}

/// A managed target's live state against the last version Gatehouse
/// applied to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    pub kind: Kind,
    /// The target as people name it.
    pub target: String,
    pub web_acl: String,
    pub scope: String,
    /// The last change request applied to it.
    pub last_applied: Option<LastApplied>,
    pub state: DriftState,
    /// How old the live state compared is ("read 4 s ago"), when it was
    /// read from AWS.
    pub read: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastApplied {
    pub id: String,
    pub title: String,
    pub applied_by: Option<String>,
    pub applied_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DriftState {
    /// Live equals the last applied version.
    InSync,
    /// Live differs: from the last applied version to live.
    Drifted(ChangeDiff),
    /// Nothing applied through Gatehouse yet: nothing to compare with.
    NeverApplied,
    /// The web ACL could not be read (why, for the console).
    Unreadable(String),
}

/// The audit target of change request `id`; its timeline is every event
/// whose target starts with it.
pub fn audit_target(id: &str, kind: Kind, target_scope: &str, target_name: &str) -> String {
    match kind {
        Kind::WebAclRules => format!("change request {id} · web ACL {target_scope}/{target_name}"),
        Kind::Settings => format!("change request {id} · settings"),
        Kind::PolicyMappings => format!("change request {id} · policy table {target_name}"),
        Kind::VpnGeofencing => format!("change request {id} · VPN geofencing set {target_name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_back() {
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Some(status));
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::Value::from(status.as_str())
            );
        }
        assert_eq!(Status::parse("open"), None);
    }

    fn change(author: &str, status: Status, approvals: Vec<Approval>) -> ChangeView {
        let at = DateTime::<Utc>::default();
        ChangeView {
            id: "c".into(),
            kind: Kind::WebAclRules,
            title: "t".into(),
            description: String::new(),
            author: author.into(),
            status,
            target_name: "shop".into(),
            target_scope: "REGIONAL".into(),
            target: "web ACL shop (REGIONAL)".into(),
            created_at: at,
            submitted_at: None,
            updated_at: at,
            applied_at: None,
            applied_by: None,
            aws_request_id: None,
            failure: None,
            content_hash: String::new(),
            required_approvals: 1,
            diff: ChangeDiff {
                changes: Vec::new(),
                words: Vec::new(),
            },
            base_json: String::new(),
            content_json: String::new(),
            stale: None,
            evidence: Vec::new(),
            comments: Vec::new(),
            approvals,
            timeline: Vec::new(),
            rollback_of: None,
        }
    }

    fn user(name: &str, role: crate::roles::Role) -> crate::auth::User {
        crate::auth::User {
            username: name.into(),
            sub: name.into(),
            groups: Vec::new(),
            roles: crate::roles::Role::ALL
                .into_iter()
                .filter(|r| *r <= role)
                .collect(),
        }
    }

    #[test]
    fn the_page_offers_each_person_only_the_steps_they_may_take() {
        use crate::roles::Role;
        let review = change("alice", Status::InReview, Vec::new());
        let author = review.allowed(&user("alice", Role::Approver));
        assert!(!author.approve && !author.reject, "not on one's own");
        assert!(author.withdraw && author.edit && !author.apply);
        let other = review.allowed(&user("bob", Role::Approver));
        assert!(other.approve && other.reject && !other.withdraw && !other.edit);
        let viewer = review.allowed(&user("vic", Role::Viewer));
        assert_eq!(viewer, Allowed::default());

        let approved_by_bob = vec![Approval {
            approver: "bob".into(),
            approved_at: DateTime::<Utc>::default(),
            current: true,
        }];
        let approved = change("alice", Status::Approved, approved_by_bob);
        assert!(
            !approved.allowed(&user("bob", Role::Approver)).approve,
            "once"
        );
        assert!(approved.allowed(&user("bob", Role::Approver)).apply);
        assert!(
            approved.allowed(&user("alice", Role::Editor)).apply,
            "the author, once approved"
        );
        assert!(!approved.allowed(&user("eve", Role::Editor)).apply);

        let applied = change("alice", Status::Applied, Vec::new());
        assert!(applied.allowed(&user("eve", Role::Editor)).rollback);
        assert!(!applied.allowed(&user("alice", Role::Approver)).withdraw);
        let stale = change("alice", Status::Stale, Vec::new());
        assert!(stale.allowed(&user("alice", Role::Editor)).rebase);
        assert!(!stale.allowed(&user("bob", Role::Approver)).rebase);
    }

    #[test]
    fn filters_read_from_the_query_string() {
        let filter = ChangeFilter::from_query(|k| match k {
            "status" => Some("in_review".into()),
            "author" => Some(" ".into()),
            "target" => Some("shop".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(
            filter,
            ChangeFilter {
                status: Some(Status::InReview),
                author: None,
                target: Some("shop".into())
            }
        );
        let bad = ChangeFilter::from_query(|k| (k == "status").then(|| "done".into()));
        assert!(
            bad.unwrap_err()
                .starts_with("status: \"done\" is not one of draft")
        );
    }
}

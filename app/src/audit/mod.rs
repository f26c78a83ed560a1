//! The audit trail: every sign-in, refusal and change, append-only and
//! hash-chained in PostgreSQL.
//!
//! An event is written with [`record`] inside the transaction of the change
//! it records, so that if it cannot be written the change does not happen.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
mod chain;
#[cfg(feature = "ssr")]
pub mod checkpoint;
#[cfg(feature = "ssr")]
pub mod refusals;
#[cfg(feature = "ssr")]
mod store;

#[cfg(feature = "ssr")]
pub use chain::{GENESIS, canonical, chain_hash};
#[cfg(feature = "ssr")]
pub use store::{Broken, NewEvent, export, record, search, verify};

/// How far the latest checkpoint reaches, for the Audit page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Coverage {
    /// No key or no anchor is configured.
    NotAnchored,
    /// Configured; nothing written yet (or the anchor cannot be reached).
    Pending {
        anchor: String,
        problem: Option<String>,
    },
    Covered {
        anchor: String,
        sequence: i64,
        at: DateTime<Utc>,
        /// Object Lock, as the bucket has it.
        lock: Option<String>,
        problem: Option<String>,
    },
}

/// How many events the audit page shows at a time.
pub const PAGE_SIZE: i64 = 50;

/// What happened, in the words the audit page shows and filters by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    SignIn,
    SignInFailed,
    SignOut,
    SessionExpired,
    AccessDenied,
    CsrfRefused,
    LogsImported,
    DraftSaved,
    DraftDiscarded,
    ChangeSubmitted,
    ChangeEdited,
    EvidenceAttached,
    ChangeCommented,
    ChangeApproved,
    ChangeRejected,
    ChangeWithdrawn,
    ChangeRefused,
    ChangeRebased,
    ChangeApplyStarted,
    ChangeApplied,
    ChangeStale,
    ChangeApplyFailed,
    ChangeApplySettled,
    SettingsChanged,
    AthenaRunStarted,
    AthenaRunFinished,
    AthenaRunCancelled,
}

impl Action {
    pub const ALL: [Action; 27] = [
        Action::SignIn,
        Action::SignInFailed,
        Action::SignOut,
        Action::SessionExpired,
        Action::AccessDenied,
        Action::CsrfRefused,
        Action::LogsImported,
        Action::DraftSaved,
        Action::DraftDiscarded,
        Action::ChangeSubmitted,
        Action::ChangeEdited,
        Action::EvidenceAttached,
        Action::ChangeCommented,
        Action::ChangeApproved,
        Action::ChangeRejected,
        Action::ChangeWithdrawn,
        Action::ChangeRefused,
        Action::ChangeRebased,
        Action::ChangeApplyStarted,
        Action::ChangeApplied,
        Action::ChangeStale,
        Action::ChangeApplyFailed,
        Action::ChangeApplySettled,
        Action::SettingsChanged,
        Action::AthenaRunStarted,
        Action::AthenaRunFinished,
        Action::AthenaRunCancelled,
    ];

    /// What the audit page calls it.
    pub fn label(self) -> &'static str {
        match self {
            Action::SignIn => "Signed in",
            Action::SignInFailed => "Sign-in failed",
            Action::SignOut => "Signed out",
            Action::SessionExpired => "Session expired",
            Action::AccessDenied => "Access denied",
            Action::CsrfRefused => "Cross-site request refused",
            Action::LogsImported => "WAF logs imported",
            Action::DraftSaved => "Draft saved",
            Action::DraftDiscarded => "Draft discarded",
            Action::ChangeSubmitted => "Change request submitted",
            Action::ChangeEdited => "Change request edited",
            Action::EvidenceAttached => "Evidence attached",
            Action::ChangeCommented => "Comment added",
            Action::ChangeApproved => "Change request approved",
            Action::ChangeRejected => "Change request rejected",
            Action::ChangeWithdrawn => "Change request withdrawn",
            Action::ChangeRefused => "Change request step refused",
            Action::ChangeRebased => "Change request rebased",
            Action::ChangeApplyStarted => "Apply started",
            Action::ChangeApplied => "Change applied to AWS",
            Action::ChangeStale => "Change went stale",
            Action::ChangeApplyFailed => "Apply failed",
            Action::ChangeApplySettled => "Interrupted apply settled",
            Action::SettingsChanged => "Settings changed by the operator",
            Action::AthenaRunStarted => "Athena analysis started",
            Action::AthenaRunFinished => "Athena analysis ended",
            Action::AthenaRunCancelled => "Athena analysis cancelled",
        }
    }

    /// The action a stored value names, if it is one of ours.
    pub fn parse(stored: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == stored)
    }

    /// The value stored in `audit_events.action`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::SignIn => "auth.sign_in",
            Action::SignInFailed => "auth.sign_in_failed",
            Action::SignOut => "auth.sign_out",
            Action::SessionExpired => "auth.session_expired",
            Action::AccessDenied => "auth.access_denied",
            Action::CsrfRefused => "auth.csrf_refused",
            Action::LogsImported => "traffic.logs_imported",
            Action::DraftSaved => "rules.draft_saved",
            Action::DraftDiscarded => "rules.draft_discarded",
            Action::ChangeSubmitted => "changes.submitted",
            Action::ChangeEdited => "changes.edited",
            Action::EvidenceAttached => "changes.evidence_attached",
            Action::ChangeCommented => "changes.commented",
            Action::ChangeApproved => "changes.approved",
            Action::ChangeRejected => "changes.rejected",
            Action::ChangeWithdrawn => "changes.withdrawn",
            Action::ChangeRefused => "changes.refused",
            Action::ChangeRebased => "changes.rebased",
            Action::ChangeApplyStarted => "changes.apply_started",
            Action::ChangeApplied => "changes.applied",
            Action::ChangeStale => "changes.stale",
            Action::ChangeApplyFailed => "changes.apply_failed",
            Action::ChangeApplySettled => "changes.apply_settled",
            Action::SettingsChanged => "settings.changed",
            Action::AthenaRunStarted => "traffic.athena_started",
            Action::AthenaRunFinished => "traffic.athena_finished",
            Action::AthenaRunCancelled => "traffic.athena_cancelled",
        }
    }
}

/// Who acted: the Cognito `sub` and username, when known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub sub: Option<String>,
    pub username: Option<String>,
}

/// Where the request came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// An event as it was recorded.
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    pub actor_sub: Option<String>,
    pub actor_username: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub aws_request_id: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEvent {
    /// The fields, in the order of the struct and of a CSV export.
    pub const COLUMNS: [&'static str; 13] = [
        "id",
        "occurred_at",
        "actor_sub",
        "actor_username",
        "action",
        "target",
        "before",
        "after",
        "aws_request_id",
        "client_ip",
        "user_agent",
        "prev_hash",
        "hash",
    ];
}

/// The audit page's filters; every field narrows the view. Also what the
/// CSV and JSON exports take, so an export is exactly the filtered view.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    /// Part of the actor's username, or their exact `sub`.
    pub actor: Option<String>,
    /// A stored action value, e.g. `auth.sign_in`.
    pub action: Option<String>,
    /// Part of the target.
    pub target: Option<String>,
    /// Events at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Events before this time.
    pub to: Option<DateTime<Utc>>,
}

impl AuditFilter {
    /// Reads the filter from query parameters as the page's form sends them:
    /// empty fields mean no filter; times are RFC 3339 or the form's
    /// `YYYY-MM-DDTHH:MM`, taken as UTC.
    pub fn from_query(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let text = |key: &str| {
            get(key)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let time = |key: &str| -> Result<Option<DateTime<Utc>>, String> {
            text(key)
                .map(|v| {
                    parse_time(&v).ok_or_else(|| format!("{key}: {v:?} is not a date and time"))
                })
                .transpose()
        };
        Ok(AuditFilter {
            actor: text("actor"),
            action: text("action"),
            target: text("target"),
            from: time("from")?,
            to: time("to")?,
        })
    }

    /// The filter as a query string (without `?`), for links and exports.
    pub fn to_query(&self) -> String {
        let mut pairs = Vec::new();
        let mut push =
            |key: &str, value: &str| pairs.push(format!("{key}={}", crate::url::encode(value)));
        if let Some(v) = &self.actor {
            push("actor", v)
        }
        if let Some(v) = &self.action {
            push("action", v)
        }
        if let Some(v) = &self.target {
            push("target", v)
        }
        if let Some(v) = &self.from {
            push("from", &v.to_rfc3339())
        }
        if let Some(v) = &self.to {
            push("to", &v.to_rfc3339())
        }
        pairs.join("&")
    }
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
                .ok()
                .map(|t| t.and_utc())
        })
}

/// One page of the filtered trail, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    pub total: i64,
    /// 1-based.
    pub page: i64,
    pub pages: i64,
    /// How far the latest checkpoint outside the database reaches.
    pub coverage: Coverage,
    /// Events newer than the latest checkpoint.
    pub uncovered: i64,
    /// Refusals of anonymous callers counted and not yet written (they go
    /// in as one event per address and minute): (refusals, rows).
    pub pending_refusals: (i64, i64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_read_from_and_write_to_the_query_string() {
        let query = |key: &str| match key {
            "actor" => Some("editor".to_owned()),
            "action" => Some("auth.sign_in".to_owned()),
            "target" => Some("  ".to_owned()),
            "from" => Some("2026-11-23T20:00".to_owned()),
            "to" => Some("2026-11-24T00:00:00Z".to_owned()),
            _ => None,
        };
        let filter = AuditFilter::from_query(query).unwrap();
        assert_eq!(filter.actor.as_deref(), Some("editor"));
        assert_eq!(filter.target, None, "blank means no filter");
        assert_eq!(
            filter.from.unwrap().to_rfc3339(),
            "2026-11-23T20:00:00+00:00"
        );
        let again = filter.to_query();
        assert_eq!(
            again,
            "actor=editor&action=auth.sign_in&from=2026-11-23T20%3A00%3A00%2B00%3A00&to=2026-11-24T00%3A00%3A00%2B00%3A00"
        );
        let bad = AuditFilter::from_query(|k| (k == "from").then(|| "yesterday".to_owned()));
        assert_eq!(
            bad,
            Err("from: \"yesterday\" is not a date and time".to_owned())
        );
    }

    #[test]
    fn every_action_has_a_label_and_reads_back() {
        for action in Action::ALL {
            assert_eq!(Action::parse(action.as_str()), Some(action));
            assert!(!action.label().is_empty());
        }
        assert_eq!(Action::parse("auth.nothing"), None);
    }
}

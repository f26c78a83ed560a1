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
mod store;

#[cfg(feature = "ssr")]
pub use chain::{GENESIS, canonical, chain_hash};
#[cfg(feature = "ssr")]
pub use store::{Broken, NewEvent, record, verify};

/// What happened, in the words the audit page shows and filters by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    SignIn,
    SignInFailed,
    SignOut,
    SessionExpired,
    AccessDenied,
    CsrfRefused,
}

impl Action {
    pub const ALL: [Action; 6] = [
        Action::SignIn,
        Action::SignInFailed,
        Action::SignOut,
        Action::SessionExpired,
        Action::AccessDenied,
        Action::CsrfRefused,
    ];

    /// The value stored in `audit_events.action`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::SignIn => "auth.sign_in",
            Action::SignInFailed => "auth.sign_in_failed",
            Action::SignOut => "auth.sign_out",
            Action::SessionExpired => "auth.session_expired",
            Action::AccessDenied => "auth.access_denied",
            Action::CsrfRefused => "auth.csrf_refused",
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

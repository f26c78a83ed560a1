//! Who is making the current request, as the server's session middleware
//! found it, and the role check every server function starts with.

use super::User;
use super::sessions::Session;
use crate::audit::{self, Action, Client, NewEvent};
use crate::error::AppError;
use crate::roles::Role;
use leptos::prelude::use_context;

/// Put into each request's extensions by the session middleware.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub session: Option<Session>,
    pub client: Client,
}

impl Caller {
    pub fn user(&self) -> Option<&User> {
        self.session.as_ref().map(|s| &s.user)
    }
}

/// The caller of the request being handled (inside a server function or a
/// page render).
pub fn caller() -> Caller {
    use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Caller>().cloned())
        .unwrap_or_default()
}

/// The signed-in user when they hold `role`. Otherwise `Unauthorized` (not
/// signed in) or `Forbidden`, and the refusal is audited.
pub async fn require(role: Role) -> Result<User, AppError> {
    let caller = caller();
    match caller.user() {
        Some(user) if user.has(role) => Ok(user.clone()),
        Some(user) => {
            let state = crate::state::app_state()?;
            let target = use_context::<http::request::Parts>()
                .map(|p| p.uri.path().to_owned())
                .unwrap_or_default();
            record_denial(&state.pool, user, role, &target, &caller.client).await?;
            Err(AppError::Forbidden)
        }
        None => Err(AppError::Unauthorized),
    }
}

/// Audits a refused authorization: who, what they asked for, which role it
/// needed.
pub async fn record_denial(
    pool: &sqlx::PgPool,
    user: &User,
    needed: Role,
    target: &str,
    client: &Client,
) -> Result<(), AppError> {
    let mut tx = pool.begin().await?;
    audit::record(
        &mut tx,
        NewEvent::new(
            Action::AccessDenied,
            Some(super::sign_in::actor(user)),
            client.clone(),
        )
        .target(target.to_owned())
        .after(serde_json::json!({ "needed": needed, "roles": user.roles })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// `user` with the roles their groups grant by the mapping that applies now
/// (the file and environment over the console's settings).
pub async fn with_roles(state: &crate::state::AppState, mut user: User) -> Result<User, AppError> {
    let groups = crate::settings::store::role_groups(&state.pool, &state.overrides).await?;
    user.roles = groups.roles_for(&user.groups);
    Ok(user)
}

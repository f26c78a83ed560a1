//! Signing in and out against the user pool, with the audit events and the
//! throttling of failed attempts.

use super::User;
use super::sessions::{self, Tokens};
use super::tokens::TokenUse;
use crate::audit::{self, Action, Actor, Client, NewEvent};
use crate::error::AppError;
use crate::state::{AppState, CognitoPool};
use aws_sdk_cognitoidentityprovider::types::{
    AuthFlowType, AuthenticationResultType, ChallengeNameType,
};
use chrono::{TimeDelta, Utc};

/// What a sign-in attempt came to.
#[derive(Debug)]
pub enum Outcome {
    /// Signed in: the token for the session cookie.
    SignedIn { session_token: String },
    /// Cognito wants a new password first: the token for the challenge cookie.
    NewPasswordRequired { challenge_token: String },
    /// Wrong username or password (which one is not said).
    Invalid,
    /// Too many failures: wait this many minutes.
    LockedOut { minutes: i64 },
    /// The new password does not meet the pool's policy.
    WeakPassword,
    /// The challenge expired or was already used.
    ChallengeExpired,
}

fn pool(state: &AppState) -> Result<&CognitoPool, AppError> {
    state.auth.pool.as_ref().ok_or_else(|| {
        AppError::Unavailable(
            "Sign-in is not configured: set cognito.user_pool_id and cognito.client_id, \
             or run gatehouse demo."
                .into(),
        )
    })
}

/// Username and password against the pool (`USER_PASSWORD_AUTH`).
pub async fn with_password(
    state: &AppState,
    username: &str,
    password: &str,
    next_path: &str,
    client: &Client,
) -> Result<Outcome, AppError> {
    let cognito = pool(state)?;
    if username.chars().count() > audit::refusals::USERNAME_CHARS {
        // Longer than any Cognito username: refused without asking it.
        record_failure(state, username, client, "username too long").await?;
        return Ok(Outcome::Invalid);
    }
    // Counted before the pool is asked, so that guesses sent at the same
    // moment each see the others (sessions::locked_out).
    let ip = client.ip.clone().unwrap_or_default();
    let attempt = sessions::record_attempt(&state.anonymous_db, username, &ip).await?;
    if let Some(minutes) = sessions::locked_out(
        &state.anonymous_db,
        attempt,
        username,
        &ip,
        &state.auth.policy,
    )
    .await?
    {
        // Refused unasked, it was no guess: not counted, so that hammering
        // a locked address neither extends its lock nor backs the username
        // off further.
        sessions::forget_attempt(&state.anonymous_db, attempt).await?;
        refused(state, client, Some(username), "locked out").await?;
        return Ok(Outcome::LockedOut { minutes });
    }
    let answer = state
        .aws
        .cognito
        .initiate_auth()
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .client_id(&cognito.client_id)
        .auth_parameters("USERNAME", username)
        .auth_parameters("PASSWORD", password)
        .send()
        .await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(err) => {
            let wrong = err.as_service_error().is_some_and(|e| {
                e.is_not_authorized_exception()
                    || e.is_user_not_found_exception()
                    || e.is_user_not_confirmed_exception()
                    || e.is_password_reset_required_exception()
            });
            if wrong {
                // The attempt stays recorded: it is the failure.
                refused(state, client, Some(username), "refused by the user pool").await?;
                return Ok(Outcome::Invalid);
            }
            // No answer is no failure of the person's.
            sessions::forget_attempt(&state.anonymous_db, attempt).await?;
            return Err(AppError::unavailable(
                "Cognito",
                aws_sdk_cognitoidentityprovider::error::DisplayErrorContext(&err),
            ));
        }
    };
    // The password was right: the attempt was no failure.
    sessions::forget_attempt(&state.anonymous_db, attempt).await?;
    if answer.challenge_name() == Some(&ChallengeNameType::NewPasswordRequired) {
        let session = answer.session().unwrap_or_default();
        let challenge_token =
            sessions::store_challenge(&state.pool, username, session, next_path).await?;
        return Ok(Outcome::NewPasswordRequired { challenge_token });
    }
    match answer.authentication_result() {
        Some(result) => start_session(state, cognito, tokens_of(result)?, client).await,
        None => Err(AppError::internal(
            "sign-in",
            format!("unexpected challenge {:?}", answer.challenge_name()),
        )),
    }
}

/// Completes `NEW_PASSWORD_REQUIRED` with the password the user chose.
pub async fn with_new_password(
    state: &AppState,
    challenge_token: &str,
    new_password: &str,
    client: &Client,
) -> Result<(Outcome, String), AppError> {
    let cognito = pool(state)?;
    let Some(challenge) = sessions::take_challenge(&state.pool, challenge_token).await? else {
        return Ok((Outcome::ChallengeExpired, "/".into()));
    };
    let answer = state
        .aws
        .cognito
        .respond_to_auth_challenge()
        .client_id(&cognito.client_id)
        .challenge_name(ChallengeNameType::NewPasswordRequired)
        .session(&challenge.cognito_session)
        .challenge_responses("USERNAME", &challenge.username)
        .challenge_responses("NEW_PASSWORD", new_password)
        .send()
        .await;
    let next = challenge.next_path;
    let answer = match answer {
        Ok(answer) => answer,
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_invalid_password_exception()) =>
        {
            // The challenge was used up; the person starts again.
            return Ok((Outcome::WeakPassword, next));
        }
        Err(err)
            if err.as_service_error().is_some_and(|e| {
                e.is_not_authorized_exception()
                    || e.is_code_mismatch_exception()
                    || e.is_expired_code_exception()
            }) =>
        {
            return Ok((Outcome::ChallengeExpired, next));
        }
        Err(err) => {
            return Err(AppError::unavailable(
                "Cognito",
                aws_sdk_cognitoidentityprovider::error::DisplayErrorContext(&err),
            ));
        }
    };
    let result = answer
        .authentication_result()
        .ok_or_else(|| AppError::internal("new password", "no tokens after the challenge"))?;
    Ok((
        start_session(state, cognito, tokens_of(result)?, client).await?,
        next,
    ))
}

fn tokens_of(result: &AuthenticationResultType) -> Result<Tokens, AppError> {
    let access_token = result
        .access_token()
        .ok_or_else(|| AppError::internal("sign-in", "no access token"))?
        .to_owned();
    Ok(Tokens {
        access_token,
        refresh_token: result.refresh_token().map(str::to_owned),
        access_expires_at: Utc::now() + TimeDelta::seconds(i64::from(result.expires_in())),
    })
}

/// Verifies the access token, then stores the session and its audit event
/// in one transaction.
async fn start_session(
    state: &AppState,
    cognito: &CognitoPool,
    tokens: Tokens,
    client: &Client,
) -> Result<Outcome, AppError> {
    let user = cognito
        .verifier
        .verify(&tokens.access_token, TokenUse::Access)
        .await
        .map_err(|e| AppError::internal("verifying a fresh access token", e))?;
    let user = super::caller::with_roles(state, user).await?;
    let mut tx = state.pool.begin().await?;
    let session_token =
        sessions::create(&mut tx, &user, &tokens, &state.auth.policy, client).await?;
    sessions::clear_failures(&mut tx, &user.username).await?;
    audit::record(
        &mut tx,
        NewEvent::new(Action::SignIn, Some(actor(&user)), client.clone())
            .target(format!("user/{}", user.username))
            .after(serde_json::json!({ "groups": user.groups, "roles": user.roles })),
    )
    .await?;
    tx.commit().await?;
    Ok(Outcome::SignedIn { session_token })
}

/// A failed sign-in that was not recorded as an attempt first: recorded
/// for the throttle, and counted as a refusal.
async fn record_failure(
    state: &AppState,
    username: &str,
    client: &Client,
    reason: &str,
) -> Result<(), AppError> {
    let username: String = username
        .chars()
        .take(audit::refusals::USERNAME_CHARS)
        .collect();
    let ip = client.ip.as_deref().unwrap_or_default();
    sessions::record_attempt(&state.anonymous_db, &username, ip).await?;
    refused(state, client, Some(&username), reason).await
}

/// Counts a refused sign-in of someone not signed in (audit::refusals).
async fn refused(
    state: &AppState,
    client: &Client,
    username: Option<&str>,
    reason: &str,
) -> Result<(), AppError> {
    let action = Action::SignInFailed;
    audit::refusals::count(&state.anonymous_db, action, client, username, reason).await
}

pub fn actor(user: &User) -> Actor {
    Actor {
        sub: Some(user.sub.clone()),
        username: Some(user.username.clone()),
    }
}

/// Ends the session: removes it with its audit event, then revokes the
/// user's tokens at Cognito (`GlobalSignOut`). The local sign-out stands
/// even when Cognito cannot be reached, and even when its audit event
/// cannot be written: ending a session only ever takes access away, so it
/// is not held back (the failure is logged as an error).
pub async fn sign_out(
    state: &AppState,
    session: &sessions::Session,
    client: &Client,
) -> Result<(), AppError> {
    let audited = async {
        let mut tx = state.pool.begin().await?;
        sessions::delete(&mut tx, &session.id_hash).await?;
        audit::record(
            &mut tx,
            NewEvent::new(Action::SignOut, Some(actor(&session.user)), client.clone())
                .target(format!("user/{}", session.user.username)),
        )
        .await?;
        tx.commit().await?;
        Ok::<_, AppError>(())
    };
    if let Err(err) = audited.await {
        tracing::error!(%err, user = %session.user.username, "sign-out not audited; the session is ended regardless");
        let mut conn = state.pool.acquire().await?;
        sessions::delete(&mut conn, &session.id_hash).await?;
    }
    if let Err(err) = state
        .aws
        .cognito
        .global_sign_out()
        .access_token(&session.tokens.access_token)
        .send()
        .await
    {
        tracing::warn!(
            error = %aws_sdk_cognitoidentityprovider::error::DisplayErrorContext(&err),
            "GlobalSignOut failed; the local session is gone regardless"
        );
    }
    Ok(())
}

/// Ends a session that ran out (idle or absolute), with its audit event.
pub async fn expire(
    state: &AppState,
    session: &sessions::Session,
    why: &str,
    client: &Client,
) -> Result<(), AppError> {
    let mut tx = state.pool.begin().await?;
    if sessions::delete(&mut tx, &session.id_hash).await? {
        audit::record(
            &mut tx,
            NewEvent::new(
                Action::SessionExpired,
                Some(actor(&session.user)),
                client.clone(),
            )
            .target(format!("user/{}", session.user.username))
            .after(serde_json::json!({ "reason": why })),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Renews the access token with the refresh token and re-reads the groups,
/// so a change of membership takes effect within a token's lifetime.
/// `Ok(None)` when the pool refuses (the refresh token was revoked or has
/// expired: the session is over); an error when no answer came (the pool
/// unreachable or slow, the call budget spent), which ends nothing.
pub async fn refresh(
    state: &AppState,
    session: &sessions::Session,
) -> Result<Option<User>, AppError> {
    let cognito = pool(state)?;
    let Some(refresh_token) = &session.tokens.refresh_token else {
        return Ok(None);
    };
    let answer = state
        .aws
        .cognito
        .initiate_auth()
        .auth_flow(AuthFlowType::RefreshTokenAuth)
        .client_id(&cognito.client_id)
        .auth_parameters("REFRESH_TOKEN", refresh_token)
        .send()
        .await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_not_authorized_exception()) =>
        {
            return Ok(None);
        }
        Err(err) => {
            return Err(AppError::unavailable(
                "Cognito",
                aws_sdk_cognitoidentityprovider::error::DisplayErrorContext(&err),
            ));
        }
    };
    let Some(result) = answer.authentication_result() else {
        return Ok(None);
    };
    let tokens = tokens_of(result)?;
    let Ok(user) = cognito
        .verifier
        .verify(&tokens.access_token, TokenUse::Access)
        .await
    else {
        return Ok(None);
    };
    let user = super::caller::with_roles(state, user).await?;
    sessions::update_tokens(&state.pool, session, &user, &tokens).await?;
    Ok(Some(user))
}

/// What Cognito's `/oauth2/token` answers.
#[derive(serde::Deserialize)]
struct TokenResponse {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: i64,
}

/// Completes a hosted-UI sign-in: exchanges the authorization `code` with
/// the PKCE `code_verifier` and the exact redirect URI, then starts the
/// session as a password sign-in does. Refusals are audited.
pub async fn with_authorization_code(
    state: &AppState,
    code: &str,
    code_verifier: &str,
    client: &Client,
) -> Result<Outcome, AppError> {
    let cognito = pool(state)?;
    let hosted = cognito
        .hosted_ui
        .as_ref()
        .ok_or_else(|| AppError::BadRequest("Sign-in with Cognito is not configured.".into()))?;
    let response = reqwest::Client::new()
        .post(format!("{}/oauth2/token", hosted.domain))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", cognito.client_id.as_str()),
            ("code", code),
            ("redirect_uri", hosted.redirect_uri.as_str()),
            ("code_verifier", code_verifier),
        ])
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| AppError::unavailable("Cognito", e))?;
    if !response.status().is_success() {
        let status = response.status();
        record_failure(
            state,
            "(hosted UI)",
            client,
            &format!("code exchange refused: {status}"),
        )
        .await?;
        return Ok(Outcome::Invalid);
    }
    let answer: TokenResponse = response
        .json()
        .await
        .map_err(|e| AppError::internal("hosted UI token response", e))?;
    let tokens = Tokens {
        access_token: answer.access_token,
        refresh_token: answer.refresh_token,
        access_expires_at: Utc::now() + TimeDelta::seconds(answer.expires_in),
    };
    start_session(state, cognito, tokens, client).await
}

/// Records a hosted-UI sign-in that was refused before any code exchange
/// (a state mismatch, an error from Cognito).
///
/// Counted apart from failed sign-ins: anyone can send a browser to the
/// callback (an `<img>` on another site), so it must not count against the
/// visitor's address.
pub async fn refuse_callback(
    state: &AppState,
    client: &Client,
    reason: &str,
) -> Result<(), AppError> {
    refused(state, client, None, reason).await
}

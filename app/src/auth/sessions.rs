//! Server-side sessions and failed sign-ins, in PostgreSQL.
//!
//! The cookie holds 32 random bytes; the table keys sessions by their
//! SHA-256, so the table alone cannot be replayed as cookies. A new id is
//! issued at every sign-in (no session fixation).

use super::User;
use crate::audit::Client;
use crate::error::AppError;
use base64::Engine;
use chrono::{DateTime, TimeDelta, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};

/// How long sessions live and how failed sign-ins are throttled.
#[derive(Debug, Clone)]
pub struct SessionPolicy {
    pub idle: TimeDelta,
    pub absolute: TimeDelta,
    pub max_failures_per_username: i64,
    pub max_failures_per_ip: i64,
    pub lockout: TimeDelta,
    /// HTTPS: the cookie gets `Secure` and the `__Host-` prefix.
    pub secure_cookies: bool,
}

impl SessionPolicy {
    pub fn cookie_name(&self) -> &'static str {
        if self.secure_cookies {
            "__Host-gatehouse_session"
        } else {
            "gatehouse_session"
        }
    }

    /// The `Set-Cookie` value that hands `token` to the browser.
    pub fn cookie(&self, token: &str) -> String {
        format!(
            "{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
            self.cookie_name(),
            self.absolute.num_seconds(),
            if self.secure_cookies { "; Secure" } else { "" }
        )
    }

    /// The `Set-Cookie` value that removes the cookie.
    pub fn removal_cookie(&self) -> String {
        format!(
            "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
            self.cookie_name(),
            if self.secure_cookies { "; Secure" } else { "" }
        )
    }
}

/// A fresh random token and the hash it is stored under.
pub fn new_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Cognito's tokens for a signed-in user. Their `Debug` names no token, so
/// that a log line of a session shows none.
#[derive(Clone)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub access_expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("access_token", &"[redacted]")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("access_expires_at", &self.access_expires_at)
            .finish()
    }
}

/// A session as stored.
#[derive(Debug, Clone)]
pub struct Session {
    pub id_hash: String,
    pub user: User,
    pub tokens: Tokens,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl Session {
    /// Why the session is over at `now`, if it is.
    pub fn ended(&self, policy: &SessionPolicy, now: DateTime<Utc>) -> Option<&'static str> {
        if now >= self.expires_at {
            Some("absolute")
        } else if now >= self.last_seen_at + policy.idle {
            Some("idle")
        } else {
            None
        }
    }
}

/// Stores a new session for `user` and returns the token for its cookie.
pub async fn create(
    conn: &mut PgConnection,
    user: &User,
    tokens: &Tokens,
    policy: &SessionPolicy,
    client: &Client,
) -> Result<String, AppError> {
    let (token, hash) = new_token();
    let expires_at = Utc::now() + policy.absolute;
    sqlx::query!(
        r#"
        INSERT INTO sessions (id_hash, sub, username, groups, access_token, refresh_token,
                              access_expires_at, expires_at, client_ip, user_agent)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        "#,
        hash,
        user.sub,
        user.username,
        &user.groups,
        tokens.access_token,
        tokens.refresh_token,
        tokens.access_expires_at,
        expires_at,
        client.ip,
        client.user_agent,
    )
    .execute(&mut *conn)
    .await?;
    Ok(token)
}

/// The session a cookie token names, if it exists. Its roles come from its
/// groups by the mapping that applies now (read in the same query), so a
/// changed mapping takes effect at each person's next request.
pub async fn load(
    pool: &PgPool,
    token: &str,
    overrides: &crate::settings::Overrides,
) -> Result<Option<Session>, AppError> {
    let hash = hash_token(token);
    let row = sqlx::query!(
        r#"
        SELECT id_hash, sub, username, groups, access_token, refresh_token,
               access_expires_at, last_seen_at, expires_at,
               (SELECT value FROM settings WHERE key = 'role_groups') AS role_groups
          FROM sessions WHERE id_hash = $1
        "#,
        hash
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|row| {
        let doc = crate::settings::SettingsDoc {
            role_groups: row.role_groups.and_then(|v| serde_json::from_value(v).ok()),
            ..Default::default()
        };
        let groups = crate::settings::Effective::of(&doc, overrides).role_groups();
        Session {
            user: User {
                roles: groups.roles_for(&row.groups),
                username: row.username,
                sub: row.sub,
                groups: row.groups,
            },
            id_hash: row.id_hash,
            tokens: Tokens {
                access_token: row.access_token,
                refresh_token: row.refresh_token,
                access_expires_at: row.access_expires_at,
            },
            last_seen_at: row.last_seen_at,
            expires_at: row.expires_at,
        }
    }))
}

/// Records activity; only every half minute, to spare the database.
pub async fn touch(pool: &PgPool, session: &Session) -> Result<(), AppError> {
    if Utc::now() - session.last_seen_at < TimeDelta::seconds(30) {
        return Ok(());
    }
    sqlx::query!(
        "UPDATE sessions SET last_seen_at = now() WHERE id_hash = $1",
        session.id_hash
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Replaces the tokens and groups after a refresh.
pub async fn update_tokens(
    pool: &PgPool,
    session: &Session,
    user: &User,
    tokens: &Tokens,
) -> Result<(), AppError> {
    sqlx::query!(
        r#"
        UPDATE sessions
           SET groups = $2, access_token = $3, access_expires_at = $4,
               refresh_token = COALESCE($5, refresh_token)
         WHERE id_hash = $1
        "#,
        session.id_hash,
        &user.groups,
        tokens.access_token,
        tokens.access_expires_at,
        tokens.refresh_token,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Removes a session; true when there was one to remove.
pub async fn delete(conn: &mut PgConnection, id_hash: &str) -> Result<bool, AppError> {
    let done = sqlx::query!("DELETE FROM sessions WHERE id_hash = $1", id_hash)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The address sign-in attempts are counted by: an IPv4 address as it is,
/// an IPv6 address by its /64 (one subscriber's network; counting each
/// address would give anyone 2^64 fresh ones).
pub fn throttle_key(client_ip: &str) -> String {
    match client_ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => {
            let [a, b, c, d, ..] = v6.segments();
            format!("{}/64", std::net::Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
        }
        _ => client_ip.to_owned(),
    }
}

/// Records a sign-in attempt before the user pool is asked, as a failure
/// until it succeeds: so that attempts made at the same moment are each
/// counted by the others' [`locked_out`]. Returns its id.
pub async fn record_attempt(
    pool: &PgPool,
    username: &str,
    client_ip: &str,
) -> Result<i64, AppError> {
    let id = sqlx::query_scalar!(
        "INSERT INTO sign_in_failures (username, client_ip) VALUES ($1, $2) RETURNING id",
        username,
        throttle_key(client_ip)
    )
    .fetch_one(pool)
    .await?;
    Ok(id)
}

/// Removes an attempt that was no failure: the password was right, the
/// pool did not answer, or the attempt was refused without asking it.
pub async fn forget_attempt(pool: &PgPool, id: i64) -> Result<(), AppError> {
    sqlx::query!("DELETE FROM sign_in_failures WHERE id = $1", id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Whether attempt `attempt` (recorded already) must wait, and for how many
/// minutes, rounded up. Counted over the attempts before it in the lockout
/// window:
/// - per username and address: `max_failures_per_username`, then that pair
///   waits until the oldest of them leaves the window;
/// - per address: `max_failures_per_ip`, likewise;
/// - per username from any address, past `max_failures_per_username`: a
///   back-off, not a lock (one attempt per 2, 4, 8 … seconds, at most a
///   minute), so that nobody can lock a named person out, and guessing
///   from many addresses stays slow.
pub async fn locked_out(
    pool: &PgPool,
    attempt: i64,
    username: &str,
    client_ip: &str,
    policy: &SessionPolicy,
) -> Result<Option<i64>, AppError> {
    let since = Utc::now() - policy.lockout;
    let key = throttle_key(client_ip);
    let counts = sqlx::query!(
        r#"
        WITH earlier AS (
            SELECT username, client_ip, failed_at FROM sign_in_failures
             WHERE failed_at > $3 AND id < $6
               AND (lower(username) = lower($1) OR client_ip = $2)
        )
        SELECT
          (SELECT count(*) FROM earlier
            WHERE lower(username) = lower($1) AND client_ip = $2) AS "by_pair!",
          (SELECT min(failed_at) FROM (
             SELECT failed_at FROM earlier
              WHERE lower(username) = lower($1) AND client_ip = $2
              ORDER BY failed_at DESC LIMIT $4) latest) AS by_pair_oldest,
          (SELECT count(*) FROM earlier WHERE client_ip = $2) AS "by_ip!",
          (SELECT min(failed_at) FROM (
             SELECT failed_at FROM earlier WHERE client_ip = $2
              ORDER BY failed_at DESC LIMIT $5) latest) AS by_ip_oldest,
          (SELECT count(*) FROM earlier WHERE lower(username) = lower($1)) AS "by_username!",
          (SELECT max(failed_at) FROM earlier WHERE lower(username) = lower($1)) AS by_username_latest
        "#,
        username,
        key,
        since,
        policy.max_failures_per_username,
        policy.max_failures_per_ip,
        attempt,
    )
    .fetch_one(pool)
    .await?;
    let now = Utc::now();
    // A lock lifts when the oldest of the last `max` failures leaves the
    // window.
    let locked_until = [
        (counts.by_pair >= policy.max_failures_per_username)
            .then_some(counts.by_pair_oldest)
            .flatten(),
        (counts.by_ip >= policy.max_failures_per_ip)
            .then_some(counts.by_ip_oldest)
            .flatten(),
    ]
    .into_iter()
    .flatten()
    .map(|oldest| oldest + policy.lockout);
    let over = counts.by_username - policy.max_failures_per_username;
    let backed_off_until = counts
        .by_username_latest
        .filter(|_| over >= 0)
        .map(|latest| latest + TimeDelta::seconds(backoff_seconds(over)));
    Ok(locked_until
        .chain(backed_off_until)
        .filter(|until| *until > now)
        .max()
        .map(|until| {
            let seconds = (until - now).num_seconds().max(1);
            (seconds + 59) / 60
        }))
}

/// The wait between attempts for a username `over` failures past its
/// allowance: 2, 4, 8 … seconds, at most a minute.
fn backoff_seconds(over: i64) -> i64 {
    (2i64 << over.clamp(0, 5)).min(60)
}

pub async fn clear_failures(conn: &mut PgConnection, username: &str) -> Result<(), AppError> {
    sqlx::query!(
        "DELETE FROM sign_in_failures WHERE lower(username) = lower($1)",
        username
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Stores a pending password challenge; returns the token for its cookie.
pub async fn store_challenge(
    pool: &PgPool,
    username: &str,
    cognito_session: &str,
    next_path: &str,
) -> Result<String, AppError> {
    let (token, hash) = new_token();
    sqlx::query!(
        r#"
        INSERT INTO sign_in_challenges (id_hash, username, cognito_session, next_path, expires_at)
        VALUES ($1, $2, $3, $4, now() + interval '5 minutes')
        "#,
        hash,
        username,
        cognito_session,
        next_path
    )
    .execute(pool)
    .await?;
    Ok(token)
}

/// A pending challenge, taken (removed) so it can be used once.
pub struct Challenge {
    pub username: String,
    pub cognito_session: String,
    pub next_path: String,
}

pub async fn take_challenge(pool: &PgPool, token: &str) -> Result<Option<Challenge>, AppError> {
    let row = sqlx::query!(
        r#"
        DELETE FROM sign_in_challenges WHERE id_hash = $1
        RETURNING username, cognito_session, next_path, expires_at > now() AS "live!"
        "#,
        hash_token(token)
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.filter(|r| r.live).map(|r| Challenge {
        username: r.username,
        cognito_session: r.cognito_session,
        next_path: r.next_path,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_logged_shows_no_token() {
        let tokens = Tokens {
            access_token: "eyJ-access-secret".into(),
            refresh_token: Some("refresh-secret".into()),
            access_expires_at: Utc::now(),
        };
        let shown = format!("{tokens:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }

    fn policy(secure: bool) -> SessionPolicy {
        SessionPolicy {
            idle: TimeDelta::minutes(30),
            absolute: TimeDelta::hours(8),
            max_failures_per_username: 5,
            max_failures_per_ip: 20,
            lockout: TimeDelta::minutes(15),
            secure_cookies: secure,
        }
    }

    #[test]
    fn cookies_are_http_only_and_lax_and_secure_over_https() {
        let plain = policy(false).cookie("abc");
        assert!(plain.starts_with("gatehouse_session=abc;"), "{plain}");
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Lax"));
        assert!(!plain.contains("Secure"));
        let secure = policy(true).cookie("abc");
        assert!(
            secure.starts_with("__Host-gatehouse_session=abc;"),
            "{secure}"
        );
        assert!(secure.contains("; Secure") && secure.contains("Path=/"));
        assert!(!secure.contains("Domain"), "__Host- cookies have no Domain");
    }

    #[test]
    fn tokens_are_random_and_stored_hashed() {
        let (a, hash_a) = new_token();
        let (b, _) = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(hash_a, hash_token(&a));
        assert_ne!(hash_a, a);
    }

    #[test]
    fn sessions_end_when_idle_or_old() {
        let now = Utc::now();
        let session = |last_seen: TimeDelta, age_left: TimeDelta| Session {
            id_hash: String::new(),
            user: User {
                username: "u".into(),
                sub: "s".into(),
                groups: vec![],
                roles: vec![],
            },
            tokens: Tokens {
                access_token: String::new(),
                refresh_token: None,
                access_expires_at: now,
            },
            last_seen_at: now - last_seen,
            expires_at: now + age_left,
        };
        let p = policy(false);
        assert_eq!(
            session(TimeDelta::minutes(5), TimeDelta::hours(1)).ended(&p, now),
            None
        );
        assert_eq!(
            session(TimeDelta::minutes(31), TimeDelta::hours(1)).ended(&p, now),
            Some("idle")
        );
        assert_eq!(
            session(TimeDelta::minutes(1), TimeDelta::seconds(-1)).ended(&p, now),
            Some("absolute")
        );
    }
}

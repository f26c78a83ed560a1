//! The hash chain: a canonical encoding of an event and the SHA-256 that
//! links it to the event before. Pure, so the writer and the verifier
//! cannot disagree about what was hashed.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The fields of an event that its hash covers, in one fixed encoding: a
/// JSON object with sorted keys, the time in UTC with microseconds (what
/// PostgreSQL keeps), absent values as `null`.
#[allow(clippy::too_many_arguments)]
pub fn canonical(
    occurred_at: DateTime<Utc>,
    actor_sub: Option<&str>,
    actor_username: Option<&str>,
    action: &str,
    target: Option<&str>,
    before: Option<&str>,
    after: Option<&str>,
    aws_request_id: Option<&str>,
    client_ip: Option<&str>,
    user_agent: Option<&str>,
) -> String {
    // serde_json's map is a BTreeMap here (no preserve_order), so the keys
    // come out sorted whatever order they are inserted in.
    let object = serde_json::json!({
        "action": action,
        "actor_sub": actor_sub,
        "actor_username": actor_username,
        "after": after,
        "aws_request_id": aws_request_id,
        "before": before,
        "client_ip": client_ip,
        "occurred_at": occurred_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        "target": target,
        "user_agent": user_agent,
    });
    object.to_string()
}

/// SHA-256 over the previous hash, a newline and the canonical encoding, as
/// lower-case hex.
pub fn chain_hash(prev_hash: &str, canonical: &str) -> String {
    let mut digest = Sha256::new();
    digest.update(prev_hash.as_bytes());
    digest.update(b"\n");
    digest.update(canonical.as_bytes());
    hex::encode(digest.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sample(action: &str) -> String {
        let at = Utc
            .with_ymd_and_hms(2026, 11, 23, 20, 0, 0)
            .single()
            .unwrap_or_default();
        canonical(
            at,
            Some("sub-1"),
            Some("editor"),
            action,
            Some("web-acl/shop"),
            None,
            Some(r#"{"Limit":9000}"#),
            None,
            Some("192.0.2.1"),
            None,
        )
    }

    #[test]
    fn encoding_is_sorted_and_stable() {
        let text = sample("auth.sign_in");
        assert!(
            text.starts_with(r#"{"action":"auth.sign_in","actor_sub":"sub-1""#),
            "{text}"
        );
        assert!(
            text.contains(r#""occurred_at":"2026-11-23T20:00:00.000000Z""#),
            "{text}"
        );
        assert_eq!(text, sample("auth.sign_in"));
    }

    #[test]
    fn any_change_changes_the_hash() {
        let a = chain_hash(GENESIS, &sample("auth.sign_in"));
        assert_eq!(a.len(), 64);
        assert_ne!(a, chain_hash(GENESIS, &sample("auth.sign_out")));
        assert_ne!(
            a,
            chain_hash(&a, &sample("auth.sign_in")),
            "the previous hash counts"
        );
    }
}

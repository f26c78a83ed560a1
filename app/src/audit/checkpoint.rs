//! The audit head anchored outside the database.
//!
//! The hash chain shows an event changed, removed or reordered in the
//! middle of the trail, but not the newest events cut off its end, nor a
//! trail rewritten whole with fresh hashes: whoever can do either to the
//! table can do it to anything else in the database. So the head of the
//! chain (the newest event's id and hash, and the first event's hash, which
//! names the trail) is written, signed with HMAC-SHA256 under a key from the
//! environment, somewhere the database's users cannot reach: a file, or an
//! S3 bucket (under Object Lock where the bucket has it, so not even its
//! owner can remove a checkpoint before its retention ends). Each
//! checkpoint also signs the previous one's MAC, so that checkpoints taken
//! away from the middle of the anchor show. `gatehouse audit verify` checks
//! every checkpoint, and the trail against each.
//!
//! The writer signs a new head only when the trail still extends the last
//! checkpoint (its events there, unchanged, and every event since
//! following the one before): a trail rewritten under it is refused, not
//! re-signed, and the refusal shows on `/healthz` and the Audit page.

use super::Coverage;
use super::store::Broken;
use crate::error::AppError;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use sqlx::PgPool;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// The key checkpoints are signed with. Never printed: its `Debug` and
/// `Serialize` say `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct AuditKey(Vec<u8>);

impl AuditKey {
    /// Shorter keys are refused: an HMAC key is only as strong as it is
    /// long (32 bytes matches SHA-256).
    pub const MIN_LEN: usize = 32;

    pub fn new(text: &str) -> Result<Self, String> {
        if text.len() < Self::MIN_LEN {
            return Err(format!(
                "the audit key must be at least {} characters long",
                Self::MIN_LEN
            ));
        }
        Ok(AuditKey(text.as_bytes().to_vec()))
    }

    fn mac(&self, message: &str) -> Hmac<Sha256> {
        // HMAC takes a key of any length: this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(message.as_bytes());
        mac
    }
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for AuditKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("[redacted]")
    }
}

impl<'de> Deserialize<'de> for AuditKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        AuditKey::new(&text).map_err(serde::de::Error::custom)
    }
}

/// The head of the trail at one moment, signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The id of the newest event it covers.
    pub sequence: i64,
    /// That event's hash.
    pub hash: String,
    /// The first event's hash: which trail this is.
    pub first_hash: String,
    /// When it was written.
    pub at: DateTime<Utc>,
    /// The MAC of the checkpoint the anchor held when this one was signed
    /// (empty for the first); absent from checkpoints written before it was
    /// kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_mac: Option<String>,
    /// HMAC-SHA256 of the fields above, hex.
    pub mac: String,
}

impl Checkpoint {
    fn message(&self) -> String {
        let at = self.at.format("%Y-%m-%dT%H:%M:%S%.6fZ");
        let (sequence, hash, first_hash) = (self.sequence, &self.hash, &self.first_hash);
        match &self.previous_mac {
            None => {
                format!("gatehouse audit checkpoint v1\n{sequence}\n{hash}\n{first_hash}\n{at}")
            }
            Some(previous) => format!(
                "gatehouse audit checkpoint v2\n{sequence}\n{hash}\n{first_hash}\n{at}\n{previous}"
            ),
        }
    }

    /// Signs the head (`sequence`, `hash`) of the trail that begins with
    /// `first_hash`, after `previous`, the newest checkpoint there is.
    pub fn sign(
        key: &AuditKey,
        sequence: i64,
        hash: &str,
        first_hash: &str,
        previous: Option<&Checkpoint>,
    ) -> Self {
        let mut checkpoint = Checkpoint {
            sequence,
            hash: hash.to_owned(),
            first_hash: first_hash.to_owned(),
            at: Utc::now(),
            previous_mac: Some(previous.map(|p| p.mac.clone()).unwrap_or_default()),
            mac: String::new(),
        };
        checkpoint.mac = hex::encode(key.mac(&checkpoint.message()).finalize().into_bytes());
        checkpoint
    }

    /// Whether `key` signed it, compared in constant time.
    pub fn signed_by(&self, key: &AuditKey) -> bool {
        let Ok(mac) = hex::decode(&self.mac) else {
            return false;
        };
        key.mac(&self.message()).verify_slice(&mac).is_ok()
    }

    /// Where the trail `events` (id and hash, in order) departs from this
    /// checkpoint, if it does: the trail must still hold the first event
    /// and the event it covers, with the hashes it recorded.
    pub fn check<'a>(
        &self,
        first: Option<(i64, &'a str)>,
        covered: Option<(i64, &'a str)>,
        last: Option<i64>,
    ) -> Result<(), Broken> {
        let at = self.at.format("%Y-%m-%d %H:%M:%S UTC");
        match first {
            Some((_, hash)) if hash == self.first_hash => {}
            Some((id, _)) => {
                return Err(Broken {
                    id,
                    reason: format!(
                        "the trail begins with another event than the checkpoint of {at} \
                         recorded: it was replaced or rewritten from the start"
                    ),
                });
            }
            None => {
                return Err(Broken {
                    id: self.sequence,
                    reason: format!(
                        "the trail is empty, but the checkpoint of {at} covers events up to \
                         {}: they were removed",
                        self.sequence
                    ),
                });
            }
        }
        match covered {
            Some((_, hash)) if hash == self.hash => Ok(()),
            Some((id, _)) => Err(Broken {
                id,
                reason: format!(
                    "differs from the checkpoint of {at}: the trail was rewritten up to it"
                ),
            }),
            None => Err(Broken {
                id: self.sequence,
                reason: format!(
                    "missing: the checkpoint of {at} covers events up to {}, but the trail \
                     ends at {}: the newest events were removed",
                    self.sequence,
                    last.map_or_else(|| "nothing".to_owned(), |id| id.to_string())
                ),
            }),
        }
    }
}

/// Whether `all` (every checkpoint at the anchor, oldest first) is a whole
/// history signed with `key`: each checkpoint signed, and each one's
/// previous MAC that of a checkpoint still there. A checkpoint taken away
/// from the middle shows as the MAC a later one names; the newest one is
/// kept by the anchor's own retention (Object Lock).
pub fn check_history(all: &[Checkpoint], key: &AuditKey) -> Result<(), String> {
    let at = |c: &Checkpoint| c.at.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    let mut macs = std::collections::HashSet::new();
    for checkpoint in all {
        if !checkpoint.signed_by(key) {
            return Err(format!(
                "the checkpoint of {} (events up to {}) is not signed with audit.key: it was \
                 forged, or the key changed",
                at(checkpoint),
                checkpoint.sequence
            ));
        }
        macs.insert(checkpoint.mac.as_str());
    }
    for checkpoint in all {
        if let Some(previous) = &checkpoint.previous_mac
            && !previous.is_empty()
            && !macs.contains(previous.as_str())
        {
            return Err(format!(
                "the checkpoint of {} (events up to {}) follows a checkpoint that is no longer \
                 at the anchor: checkpoints were removed",
                at(checkpoint),
                checkpoint.sequence
            ));
        }
    }
    Ok(())
}

/// Where checkpoints are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anchor {
    /// One file, each newer checkpoint appended as a line of JSON.
    File(PathBuf),
    /// One object per checkpoint under `prefix`, named so that the newest
    /// is listed first; the bucket's Object Lock, where it has one, keeps
    /// each for its retention.
    S3 { bucket: String, prefix: String },
}

impl Anchor {
    /// `s3://bucket/prefix/` or a file path.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("the audit anchor is empty".into());
        }
        match text.strip_prefix("s3://") {
            Some(rest) => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                let valid = (3..=63).contains(&bucket.len())
                    && bucket.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.".contains(&b)
                    });
                if !valid {
                    return Err(format!("{bucket:?} is not an S3 bucket name"));
                }
                let mut prefix = prefix.to_owned();
                if !prefix.is_empty() && !prefix.ends_with('/') {
                    prefix.push('/');
                }
                Ok(Anchor::S3 {
                    bucket: bucket.to_owned(),
                    prefix,
                })
            }
            None => Ok(Anchor::File(PathBuf::from(text))),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Anchor::File(path) => path.display().to_string(),
            Anchor::S3 { bucket, prefix } => format!("s3://{bucket}/{prefix}"),
        }
    }

    /// The object of the checkpoint of `sequence`: ids counted down from
    /// the largest, zero-padded, so that S3's listing (in key order) starts
    /// with the newest.
    fn object_key(prefix: &str, sequence: i64) -> String {
        format!("{prefix}{:020}.json", i64::MAX - sequence)
    }

    /// Writes `checkpoint`. The writer asks only once the head has moved
    /// past what it holds; should two processes append out of order, the
    /// newest is still the one with the highest sequence, and the history
    /// check accepts both (each names a checkpoint that is there).
    pub async fn write(
        &self,
        s3: &aws_sdk_s3::Client,
        checkpoint: &Checkpoint,
    ) -> Result<(), AnchorError> {
        match self {
            Anchor::File(path) => {
                // Not read first: the file grows by a line a checkpoint, and
                // reading it whole at every write would grow with it.
                use tokio::io::AsyncWriteExt;
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    tokio::fs::create_dir_all(dir)
                        .await
                        .map_err(AnchorError::other)?;
                }
                // One write of one line, in append mode: a reader never
                // sees half of it beside whole ones.
                let mut line = serde_json::to_vec(checkpoint).map_err(AnchorError::other)?;
                line.push(b'\n');
                let mut file = tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .await
                    .map_err(AnchorError::other)?;
                file.write_all(&line).await.map_err(AnchorError::other)?;
                file.sync_all().await.map_err(AnchorError::other)
            }
            Anchor::S3 { bucket, prefix } => {
                let body = serde_json::to_vec_pretty(checkpoint).map_err(AnchorError::other)?;
                s3.put_object()
                    .bucket(bucket)
                    .key(Self::object_key(prefix, checkpoint.sequence))
                    .content_type("application/json")
                    .body(body.into())
                    .send()
                    .await
                    .map_err(AnchorError::aws)?;
                Ok(())
            }
        }
    }

    /// Every checkpoint at the anchor, oldest first.
    pub async fn all(&self, s3: &aws_sdk_s3::Client) -> Result<Vec<Checkpoint>, AnchorError> {
        let mut all = match self {
            Anchor::File(path) => Self::read_file(path).await?,
            Anchor::S3 { bucket, prefix } => {
                let mut keys = Vec::new();
                let mut pages = s3
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(prefix)
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(AnchorError::aws)?;
                    keys.extend(
                        page.contents()
                            .iter()
                            .filter_map(|o| o.key().map(str::to_owned)),
                    );
                }
                let mut all = Vec::with_capacity(keys.len());
                for key in keys {
                    all.push(Self::read_object(s3, bucket, &key).await?);
                }
                all
            }
        };
        all.sort_by_key(|c| c.sequence);
        Ok(all)
    }

    /// The checkpoints of a file anchor: JSON values one after another (a
    /// line each; an older single checkpoint written whole reads too).
    async fn read_file(path: &std::path::Path) -> Result<Vec<Checkpoint>, AnchorError> {
        let bytes = match tokio::fs::read(path).await {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(AnchorError::other(e)),
        };
        serde_json::Deserializer::from_slice(&bytes)
            .into_iter::<Checkpoint>()
            .collect::<Result<_, _>>()
            .map_err(|e| AnchorError::Unreadable(e.to_string()))
    }

    async fn read_object(
        s3: &aws_sdk_s3::Client,
        bucket: &str,
        key: &str,
    ) -> Result<Checkpoint, AnchorError> {
        let object = s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(AnchorError::aws)?;
        let bytes = object
            .body
            .collect()
            .await
            .map_err(AnchorError::other)?
            .to_vec();
        serde_json::from_slice(&bytes).map_err(|e| AnchorError::Unreadable(e.to_string()))
    }

    /// The newest checkpoint, if one was written.
    pub async fn latest(&self, s3: &aws_sdk_s3::Client) -> Result<Option<Checkpoint>, AnchorError> {
        match self {
            Anchor::File(path) => Ok(Self::read_file(path)
                .await?
                .into_iter()
                .max_by_key(|c| c.sequence)),
            Anchor::S3 { bucket, prefix } => {
                let listed = s3
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(prefix)
                    .max_keys(1)
                    .send()
                    .await
                    .map_err(AnchorError::aws)?;
                match listed.contents().first().and_then(|o| o.key()) {
                    Some(key) => Self::read_object(s3, bucket, key).await.map(Some),
                    None => Ok(None),
                }
            }
        }
    }

    /// Whether the bucket keeps objects under Object Lock by default, and
    /// how: `None` for a file.
    pub async fn lock(&self, s3: &aws_sdk_s3::Client) -> Option<String> {
        let Anchor::S3 { bucket, .. } = self else {
            return None;
        };
        let answer = s3
            .get_object_lock_configuration()
            .bucket(bucket)
            .send()
            .await;
        let rule = answer
            .ok()
            .and_then(|a| a.object_lock_configuration)
            .and_then(|c| c.rule)
            .and_then(|r| r.default_retention);
        Some(match rule {
            Some(retention) => {
                let mode = retention.mode().map_or("", |m| m.as_str()).to_lowercase();
                match (retention.days(), retention.years()) {
                    (Some(days), _) => format!("Object Lock, {mode} mode, {days} days"),
                    (_, Some(years)) => format!("Object Lock, {mode} mode, {years} years"),
                    _ => format!("Object Lock, {mode} mode"),
                }
            }
            None => "no Object Lock: an account admin can remove checkpoints".into(),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    #[error("cannot reach the audit anchor: {0}")]
    Other(String),
    #[error("AWS refused the audit anchor's request: {0}")]
    Aws(String),
    #[error("the audit anchor holds something that is not a checkpoint: {0}")]
    Unreadable(String),
}

impl AnchorError {
    fn other(e: impl std::fmt::Display) -> Self {
        AnchorError::Other(e.to_string())
    }

    fn aws<E: std::error::Error>(e: E) -> Self {
        AnchorError::Aws(aws_sdk_s3::error::DisplayErrorContext(e).to_string())
    }
}

/// The head of the trail: the newest event's id and hash, and the first
/// event's hash.
pub async fn head(pool: &PgPool) -> Result<Option<(i64, String, String)>, AppError> {
    let row = sqlx::query!(
        r#"SELECT last.id, last.hash,
                  (SELECT hash FROM audit_events ORDER BY id LIMIT 1) AS "first_hash!"
             FROM audit_events last ORDER BY id DESC LIMIT 1"#
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| (r.id, r.hash, r.first_hash)))
}

/// The writer of checkpoints: every `every` when the head has moved, and
/// when nudged (after an apply). One per process; several processes write
/// to the same anchor safely (a newer checkpoint is never replaced by an
/// older one).
pub struct Checkpoints {
    pub anchor: Anchor,
    key: AuditKey,
    s3: aws_sdk_s3::Client,
    every: Duration,
    nudged: Notify,
    state: Mutex<Written>,
}

#[derive(Default)]
struct Written {
    latest: Option<Checkpoint>,
    lock: Option<String>,
    problem: Option<String>,
    /// Why the last round refused to sign (the trail no longer extends the
    /// last checkpoint), until a round signs again.
    refused: Option<String>,
}

impl Checkpoints {
    pub fn new(anchor: Anchor, key: AuditKey, s3: aws_sdk_s3::Client, every: Duration) -> Self {
        Checkpoints {
            anchor,
            key,
            s3,
            every,
            nudged: Notify::new(),
            state: Mutex::new(Written::default()),
        }
    }

    /// Asks for a checkpoint now (after an apply), without waiting for it.
    pub fn nudge(&self) {
        self.nudged.notify_one();
    }

    /// Writes a checkpoint of the head if it moved since the last one, and
    /// only if the trail still extends the last one (see the module's
    /// docs). Returns the checkpoint the anchor now holds.
    pub async fn write(&self, pool: &PgPool) -> Result<Option<Checkpoint>, String> {
        let held = self.latest_held().await?;
        let Some((sequence, hash, first_hash)) = head(pool).await.map_err(|e| e.to_string())?
        else {
            return Ok(held);
        };
        if held.as_ref().is_some_and(|c| c.sequence >= sequence) {
            return Ok(held);
        }
        if let Some(held) = &held
            && let Some(reason) = self.departs_from(pool, held).await?
        {
            tracing::error!(anchor = self.anchor.describe(), %reason, "audit checkpoint refused");
            if let Ok(mut state) = self.state.lock() {
                state.refused = Some(reason.clone());
            }
            let refusal = format!("refused to sign the trail's head: {reason}");
            self.remember(Err(refusal.clone()));
            return Err(refusal);
        }
        let checkpoint = Checkpoint::sign(&self.key, sequence, &hash, &first_hash, held.as_ref());
        self.anchor
            .write(&self.s3, &checkpoint)
            .await
            .map_err(|e| e.to_string())?;
        self.remember(Ok(Some(checkpoint.clone())));
        if let Ok(mut state) = self.state.lock() {
            state.refused = None;
        }
        Ok(Some(checkpoint))
    }

    /// Why the trail cannot be signed after `held`, if it cannot: `held`
    /// is not ours, or the trail no longer extends it.
    async fn departs_from(
        &self,
        pool: &PgPool,
        held: &Checkpoint,
    ) -> Result<Option<String>, String> {
        let at = held.at.format("%Y-%m-%d %H:%M:%S UTC");
        if !held.signed_by(&self.key) {
            return Ok(Some(format!(
                "the anchor's newest checkpoint ({at}) is not signed with audit.key"
            )));
        }
        let extends = super::store::extends(pool, held)
            .await
            .map_err(|e| e.to_string())?;
        Ok(extends
            .err()
            .map(|broken| format!("the trail no longer extends the checkpoint of {at}: {broken}")))
    }

    /// Why the writer refuses to sign, while it does: the trail was
    /// rewritten under the last checkpoint. `/healthz` reports it.
    pub fn refused(&self) -> Option<String> {
        self.state.lock().ok().and_then(|s| s.refused.clone())
    }

    /// What this process last wrote or read, else what the anchor holds.
    async fn latest_held(&self) -> Result<Option<Checkpoint>, String> {
        if let Ok(state) = self.state.lock()
            && state.latest.is_some()
        {
            return Ok(state.latest.clone());
        }
        let read = self
            .anchor
            .latest(&self.s3)
            .await
            .map_err(|e| e.to_string());
        self.remember(read.clone());
        read
    }

    fn remember(&self, outcome: Result<Option<Checkpoint>, String>) {
        if let Ok(mut state) = self.state.lock() {
            match outcome {
                Ok(latest) => {
                    if latest.is_some() {
                        state.latest = latest;
                    }
                    state.problem = None;
                }
                Err(problem) => state.problem = Some(problem),
            }
        }
    }

    /// Runs until the process ends: a checkpoint every `every` (if the
    /// head moved) and on every nudge. A failure is logged and shown on
    /// the Audit page; the next round tries again.
    pub async fn run(self: Arc<Self>, pool: PgPool) {
        let lock = self.anchor.lock(&self.s3).await;
        if let Ok(mut state) = self.state.lock() {
            state.lock = lock;
        }
        loop {
            if let Err(problem) = self.write(&pool).await {
                tracing::warn!(anchor = self.anchor.describe(), %problem, "no audit checkpoint written");
                self.remember(Err(problem));
            }
            tokio::select! {
                () = tokio::time::sleep(self.every) => {}
                () = self.nudged.notified() => {}
            }
        }
    }

    pub fn coverage(&self) -> Coverage {
        let anchor = self.anchor.describe();
        let Ok(state) = self.state.lock() else {
            return Coverage::Pending {
                anchor,
                problem: None,
            };
        };
        match &state.latest {
            Some(c) => Coverage::Covered {
                anchor,
                sequence: c.sequence,
                at: c.at,
                lock: state.lock.clone(),
                problem: state.problem.clone(),
            },
            None => Coverage::Pending {
                anchor,
                problem: state.problem.clone(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> AuditKey {
        AuditKey::new("a key of thirty-two characters..").unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[test]
    fn a_short_key_is_refused_and_a_key_never_shows() {
        assert!(AuditKey::new("short").is_err());
        assert_eq!(format!("{:?}", key()), "[redacted]");
        assert_eq!(
            serde_json::to_string(&key()).unwrap_or_default(),
            "\"[redacted]\""
        );
    }

    #[test]
    fn only_the_key_that_signed_a_checkpoint_accepts_it() {
        let checkpoint = Checkpoint::sign(&key(), 7, &"a".repeat(64), &"b".repeat(64), None);
        assert!(checkpoint.signed_by(&key()));
        let other = AuditKey::new("another key of 32 characters....")
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert!(!checkpoint.signed_by(&other));
        let mut moved = checkpoint.clone();
        moved.sequence = 5;
        assert!(
            !moved.signed_by(&key()),
            "an edited checkpoint is not accepted"
        );
    }

    #[test]
    fn the_trail_is_held_against_the_checkpoint() {
        let (a, b, c) = ("a".repeat(64), "b".repeat(64), "c".repeat(64));
        let checkpoint = Checkpoint::sign(&key(), 7, &b, &a, None);
        assert_eq!(
            checkpoint.check(Some((1, &a)), Some((7, &b)), Some(9)),
            Ok(())
        );
        let cut = checkpoint.check(Some((1, &a)), None, Some(5)).unwrap_err();
        assert_eq!(cut.id, 7);
        assert!(cut.reason.contains("ends at 5"), "{}", cut.reason);
        assert!(
            checkpoint
                .check(Some((1, &a)), Some((7, &c)), Some(9))
                .is_err()
        );
        assert!(
            checkpoint
                .check(Some((1, &c)), Some((7, &b)), Some(9))
                .is_err()
        );
        assert!(checkpoint.check(None, None, None).is_err());
    }

    #[test]
    fn a_checkpoint_taken_from_the_middle_of_the_history_shows() {
        let (a, b, c) = ("a".repeat(64), "b".repeat(64), "c".repeat(64));
        let first = Checkpoint::sign(&key(), 3, &b, &a, None);
        let second = Checkpoint::sign(&key(), 5, &c, &a, Some(&first));
        let third = Checkpoint::sign(&key(), 9, &b, &a, Some(&second));
        let whole = [first.clone(), second.clone(), third.clone()];
        assert_eq!(check_history(&whole, &key()), Ok(()));
        let gap = check_history(&[first.clone(), third.clone()], &key()).unwrap_err();
        assert!(gap.contains("checkpoints were removed"), "{gap}");
        // Only the oldest gone is the same gap, one step later.
        assert!(check_history(&[second.clone(), third.clone()], &key()).is_err());
        // The previous MAC is signed: it cannot be blanked to hide a gap.
        let mut blanked = third.clone();
        blanked.previous_mac = Some(String::new());
        let forged = check_history(&[first, blanked], &key()).unwrap_err();
        assert!(forged.contains("not signed with audit.key"), "{forged}");
    }

    #[test]
    fn anchors_are_read_from_their_text() {
        assert_eq!(
            Anchor::parse("s3://audit-bucket/gatehouse/checkpoints"),
            Ok(Anchor::S3 {
                bucket: "audit-bucket".into(),
                prefix: "gatehouse/checkpoints/".into()
            })
        );
        assert_eq!(
            Anchor::parse("/var/lib/gatehouse/audit.json"),
            Ok(Anchor::File(PathBuf::from("/var/lib/gatehouse/audit.json")))
        );
        assert!(Anchor::parse("s3://Bad_Bucket/x").is_err());
        assert!(Anchor::parse(" ").is_err());
        assert!(Anchor::object_key("p/", 10) < Anchor::object_key("p/", 9));
    }
}

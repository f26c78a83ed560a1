//! The live state pages show, of every kind: read through one cache shared
//! by every request, so that page views do not become AWS calls.
//!
//! Each target is read at most once per time to live (a setting), and by
//! one request at a time: the others wait for its answer (single flight).
//! A read that fails keeps the last good state, shown marked as such with
//! its age, so a page still shows what it knew while AWS is unreachable.
//! Gatehouse's own writes forget the target's entry (the next view reads
//! it anew). Where correctness needs the exact state — the base of a
//! draft, an apply, a stale check — [`Kind::read_live`] is called directly
//! and this cache is not consulted.

use super::Kind;
use super::kinds::{Live, Reach, ReadError, TargetRef};
use crate::fresh::Keyed;
use std::time::Duration;
use tokio::time::Instant;

/// A live state as a page shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Shown {
    pub live: Live,
    /// How long ago it was read from AWS.
    pub age: Duration,
    /// Set when the latest read failed and this is the last good one.
    pub unreachable: Option<ReadError>,
}

impl Shown {
    /// "read 4 s ago", "read just now"; and, when AWS could not be read,
    /// that this is the last state known.
    pub fn freshness(&self) -> String {
        let secs = self.age.as_secs();
        let age = if secs == 0 {
            "read just now".to_owned()
        } else {
            format!("read {secs} s ago")
        };
        match &self.unreachable {
            Some(error) => format!("{} is unreachable: last known state, {age}", error.service),
            None => age,
        }
    }
}

#[derive(Default)]
struct Entry {
    /// When AWS was last asked, whatever it answered.
    asked: Option<Instant>,
    /// The last good state and when it was read.
    good: Option<(Instant, Live)>,
    /// The last answer's failure, if it failed.
    failed: Option<ReadError>,
}

type Key = (Kind, String, String, String);

/// Targets remembered at most: far more than any console manages.
const TARGETS: usize = 1024;

pub struct LiveCache {
    ttl: Duration,
    entries: Keyed<Key, Entry>,
}

impl LiveCache {
    pub fn new(ttl: Duration) -> Self {
        LiveCache {
            ttl,
            entries: Keyed::new(TARGETS),
        }
    }

    fn key(kind: Kind, target: &TargetRef) -> Key {
        (
            kind,
            target.scope.clone(),
            target.name.clone(),
            target.id.clone(),
        )
    }

    /// The target's live state, read from AWS only if the last read is
    /// older than the time to live.
    pub async fn read(
        &self,
        kind: Kind,
        reach: Reach<'_>,
        target: &TargetRef,
    ) -> Result<Shown, ReadError> {
        if kind == Kind::Settings {
            // Gatehouse's own database, changed from the command line too:
            // cheap to read, and read exactly.
            let live = kind.read_live(reach, target).await?;
            return Ok(Shown {
                live,
                age: Duration::ZERO,
                unreachable: None,
            });
        }
        let entry = self.entries.entry(Self::key(kind, target));
        let mut entry = entry.lock().await;
        let due = entry.asked.is_none_or(|at| at.elapsed() >= self.ttl);
        if due {
            let read = kind.read_live(reach, target).await;
            let now = Instant::now();
            entry.asked = Some(now);
            match read {
                Ok(live) => {
                    entry.good = Some((now, live));
                    entry.failed = None;
                }
                Err(error) => entry.failed = Some(error),
            }
        }
        match (&entry.good, &entry.failed) {
            (Some((at, live)), failed) => Ok(Shown {
                live: live.clone(),
                age: at.elapsed(),
                unreachable: failed.clone(),
            }),
            (None, Some(error)) => Err(error.clone()),
            (None, None) => Err(ReadError {
                service: kind.service(),
                cause: "not read".into(),
            }),
        }
    }

    /// Forgets what was read of the target: after Gatehouse wrote it, the
    /// next view reads it anew.
    pub fn forget(&self, kind: Kind, target: &TargetRef) {
        self.entries.forget(&Self::key(kind, target));
    }
}

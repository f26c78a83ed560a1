//! A value read from elsewhere (AWS, mostly) and shared by every request:
//! read again only when older than its time to live, and by one caller at
//! a time — while one reads, the others wait for its answer instead of
//! reading too (single flight). What each caller gets says how old it is,
//! so a page can show "read 4 s ago".

use std::future::Future;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

pub struct Fresh<T> {
    ttl: Duration,
    /// The value and when it was read. Held while a caller reads, which is
    /// what makes the others wait.
    slot: Mutex<Option<(Instant, T)>>,
}

impl<T: Clone> Fresh<T> {
    pub fn new(ttl: Duration) -> Self {
        Fresh {
            ttl,
            slot: Mutex::new(None),
        }
    }

    /// The value, read with `read` if there is none younger than the time
    /// to live, and its age. A caller that gives up while reading (its
    /// request dropped) leaves the reading to the next.
    pub async fn get<F, Fut>(&self, read: F) -> (T, Duration)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        let mut slot = self.slot.lock().await;
        if let Some((at, value)) = &*slot
            && at.elapsed() < self.ttl
        {
            return (value.clone(), at.elapsed());
        }
        let value = read().await;
        *slot = Some((Instant::now(), value.clone()));
        (value, Duration::ZERO)
    }
}

/// One entry per key, each behind a lock of its own (a caller holding a
/// key's lock while it reads is what makes that key's other callers wait
/// for its answer), at most `capacity` of them: the entry used longest ago
/// goes first.
pub struct Keyed<K, E> {
    capacity: usize,
    entries: std::sync::Mutex<Vec<(K, std::sync::Arc<Mutex<E>>)>>,
}

impl<K: PartialEq, E: Default> Keyed<K, E> {
    pub fn new(capacity: usize) -> Self {
        Keyed {
            capacity: capacity.max(1),
            entries: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// The entry of `key`, new and empty if there was none.
    pub fn entry(&self, key: K) -> std::sync::Arc<Mutex<E>> {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Most recently used last.
        let entry = match entries.iter().position(|(k, _)| *k == key) {
            Some(at) => entries.remove(at).1,
            None => std::sync::Arc::default(),
        };
        if entries.len() >= self.capacity {
            entries.remove(0);
        }
        entries.push((key, entry.clone()));
        entry
    }

    /// Forgets the entry of `key`.
    pub fn forget(&self, key: &K) {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|(k, _)| k != key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Fifty callers at once: one read, every caller the same answer; once
    /// the time to live has passed, one read more. (On tokio's paused
    /// clock, which moves only when every task waits.)
    #[tokio::test(start_paused = true)]
    async fn many_callers_read_once_until_it_is_stale() {
        let fresh = Arc::new(Fresh::new(Duration::from_millis(300)));
        let reads = Arc::new(AtomicUsize::new(0));
        let ask = |fresh: Arc<Fresh<usize>>, reads: Arc<AtomicUsize>| async move {
            fresh
                .get(|| async {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    reads.fetch_add(1, Ordering::SeqCst) + 1
                })
                .await
        };
        let callers: Vec<_> = (0..50)
            .map(|_| tokio::spawn(ask(fresh.clone(), reads.clone())))
            .collect();
        for caller in callers {
            assert_eq!(caller.await.unwrap().0, 1);
        }
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (value, age) = ask(fresh.clone(), reads.clone()).await;
        assert_eq!(value, 1);
        assert!(age > Duration::ZERO, "from the cache, with its age");
        assert_eq!(age, Duration::from_millis(100));
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(ask(fresh.clone(), reads.clone()).await, (2, Duration::ZERO));
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn keyed_entries_are_shared_and_the_oldest_go_first() {
        let keyed: Keyed<u32, u32> = Keyed::new(2);
        let one = keyed.entry(1);
        assert!(Arc::ptr_eq(&one, &keyed.entry(1)), "one entry per key");
        keyed.entry(2);
        keyed.entry(1); // used again: 2 is now the oldest
        keyed.entry(3);
        assert!(Arc::ptr_eq(&one, &keyed.entry(1)), "kept");
        keyed.forget(&1);
        assert!(!Arc::ptr_eq(&one, &keyed.entry(1)), "forgotten");
    }

    /// A caller dropped while reading: the next one reads.
    #[tokio::test(start_paused = true)]
    async fn a_reader_that_gives_up_leaves_the_reading_to_the_next() {
        let fresh = Fresh::new(Duration::from_secs(60));
        let gave_up = tokio::time::timeout(
            Duration::from_millis(10),
            fresh.get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                1
            }),
        )
        .await;
        assert!(gave_up.is_err());
        assert_eq!(fresh.get(|| async { 2 }).await.0, 2);
    }
}

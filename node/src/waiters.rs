//! Callers waiting for a record's fate (`?wait=commit`).
//!
//! The API registers a waiter by record hash before admitting the record; the driver
//! resolves it when a block containing the record commits, and the admission pipeline or
//! the proposer resolves it when the record is refused or dropped. Bounded by
//! [`MAX_WAITERS`]; a waiter whose caller went away is simply dropped on resolution.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Serialize;
use tokio::sync::oneshot;
use tongban_ledger::types::Height;
use tongban_ledger::Hash32;

/// Most callers waiting at once.
pub const MAX_WAITERS: usize = 50_000;

/// What became of a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Fate {
    /// Committed in a block.
    Committed {
        /// The block's height.
        height: Height,
        /// Position in the block.
        index: u32,
        /// The block's hash.
        block_hash: Hash32,
    },
    /// Refused or dropped; it will not commit.
    Rejected {
        /// Stable reason code.
        code: &'static str,
        /// For humans.
        message: String,
    },
}

/// Too many callers are waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many callers waiting for commits ({MAX_WAITERS})")]
pub struct TooManyWaiters;

/// The waiting callers, by record hash.
#[derive(Debug, Default)]
pub struct Waiters {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    by_hash: HashMap<Hash32, Vec<oneshot::Sender<Fate>>>,
    count: usize,
}

impl Waiters {
    /// Registers a caller waiting for `hash`.
    pub fn register(&self, hash: Hash32) -> Result<oneshot::Receiver<Fate>, TooManyWaiters> {
        let mut inner = self.lock();
        if inner.count >= MAX_WAITERS {
            // Waiters whose callers gave up still count; sweep them before refusing.
            inner.by_hash.retain(|_, senders| {
                senders.retain(|s| !s.is_closed());
                !senders.is_empty()
            });
            inner.count = inner.by_hash.values().map(Vec::len).sum();
            if inner.count >= MAX_WAITERS {
                return Err(TooManyWaiters);
            }
        }
        let (sender, receiver) = oneshot::channel();
        inner.by_hash.entry(hash).or_default().push(sender);
        inner.count += 1;
        Ok(receiver)
    }

    /// Tells every caller waiting for `hash`.
    pub fn resolve(&self, hash: &Hash32, fate: &Fate) {
        let senders = {
            let mut inner = self.lock();
            match inner.by_hash.remove(hash) {
                Some(senders) => {
                    inner.count -= senders.len();
                    senders
                }
                None => return,
            }
        };
        for sender in senders {
            // The caller may have timed out; nothing to do then.
            let _ = sender.send(fate.clone());
        }
    }

    /// Whether anyone waits (lets the driver skip the lookups when nobody does).
    pub fn is_empty(&self) -> bool {
        self.lock().count == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the map inconsistent in a way
        // that matters (worst case a waiter is lost and its caller times out).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn resolves_every_waiter_of_a_hash() {
        let waiters = Waiters::default();
        let hash = Hash32([1; 32]);
        let a = waiters.register(hash).expect("room");
        let b = waiters.register(hash).expect("room");
        let other = waiters.register(Hash32([2; 32])).expect("room");
        let fate = Fate::Committed {
            height: 3,
            index: 0,
            block_hash: Hash32([9; 32]),
        };
        waiters.resolve(&hash, &fate);
        assert_eq!(a.await.expect("resolved"), fate);
        assert_eq!(b.await.expect("resolved"), fate);
        assert!(!waiters.is_empty());
        drop(other);
    }
}

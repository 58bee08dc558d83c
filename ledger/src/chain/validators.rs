//! The chain's validator sets in memory: every set, by the first height it votes on.
//!
//! The store keeps each set under `indexes/vset/{height}` (written in the commit of the
//! block that announced it); the chain reads them all once when it opens and adds each
//! new one after its commit is on disk. Every commit checks a quorum against the set of
//! its height and every proof bundle carries the set of its height and the whole list of
//! changes: read from RocksDB, that was an iterator seek and a prefix scan per bundle,
//! about a sixth of building one (ADR 0023). Sets change only by governance, a handful
//! in a chain's life, so all of them fit in memory.

use super::{ChainError, INDEX_VALIDATOR_SET};
use crate::codec;
use crate::store::{Column, Store, MAX_SCAN_ENTRIES};
use crate::types::{Height, ValidatorSet};

/// Every validator set of the chain, by the first height it votes on, ascending; the
/// first applies from height 1 (the genesis members).
#[derive(Debug)]
pub(super) struct ValidatorSets {
    sets: Vec<(Height, ValidatorSet)>,
}

impl ValidatorSets {
    /// The set of a new chain: the genesis validators, from height 1.
    pub(super) fn genesis(set: ValidatorSet) -> Self {
        ValidatorSets {
            sets: vec![(1, set)],
        }
    }

    /// Every set in `store`'s index.
    pub(super) fn load<S: Store>(store: &S) -> Result<Self, ChainError> {
        let entries = store.scan_prefix(Column::Indexes, INDEX_VALIDATOR_SET, MAX_SCAN_ENTRIES)?;
        if entries.len() == MAX_SCAN_ENTRIES {
            // Each change takes a governance proposal and a block; this many is not a
            // member list but a damaged index.
            return Err(ChainError::Corrupt(format!(
                "{MAX_SCAN_ENTRIES} or more validator sets in the index"
            )));
        }
        let mut sets: Vec<(Height, ValidatorSet)> = Vec::with_capacity(entries.len());
        for (key, bytes) in entries {
            let from = key
                .get(INDEX_VALIDATOR_SET.len()..)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| ChainError::Corrupt("validator set index key".into()))?;
            let set = codec::decode(&bytes)
                .map_err(|e| ChainError::Corrupt(format!("validator set from {from}: {e}")))?;
            sets.push((from, set));
        }
        Ok(ValidatorSets { sets })
    }

    /// The set that votes on block `height`: the last one applying from `height` or
    /// before; `None` before the first (height 0, or an empty index).
    pub(super) fn at(&self, height: Height) -> Option<&ValidatorSet> {
        let after = self.sets.partition_point(|(from, _)| *from <= height);
        after.checked_sub(1).map(|at| &self.sets[at].1)
    }

    /// The heights from which each set applies, ascending.
    pub(super) fn changes(&self) -> impl Iterator<Item = Height> + '_ {
        self.sets.iter().map(|(from, _)| *from)
    }

    /// Adds `set`, written by a commit, applying from `from` (after every other).
    pub(super) fn push(&mut self, from: Height, set: ValidatorSet) {
        debug_assert!(self.sets.last().is_none_or(|(last, _)| *last < from));
        self.sets.push((from, set));
    }
}

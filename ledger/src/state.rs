//! The interface between execution and the state tree.
//!
//! Execution reads current state through [`StateReader`] and produces [`StateChanges`]
//! (key hash → new value, or `None` to delete). The state tree (`state_tree`) applies
//! the changes of one block as one new version and returns the new root. Keys are built
//! by [`crate::keys`]; values are `codec::encode` of the types in [`crate::types`].

use std::collections::BTreeMap;

use crate::bytes::Hash32;

/// New values by key hash for one block; `None` deletes the key.
pub type StateChanges = BTreeMap<Hash32, Option<Vec<u8>>>;

/// A failure to read state (storage trouble, not a missing key).
#[derive(Debug, thiserror::Error)]
#[error("state read failed: {0}")]
pub struct StateReadError(pub String);

/// Reads the latest committed state.
pub trait StateReader {
    /// The value under `key`, if any.
    fn get(&self, key: &Hash32) -> Result<Option<Vec<u8>>, StateReadError>;
}

impl StateReader for BTreeMap<Hash32, Vec<u8>> {
    fn get(&self, key: &Hash32) -> Result<Option<Vec<u8>>, StateReadError> {
        Ok(BTreeMap::get(self, key).cloned())
    }
}

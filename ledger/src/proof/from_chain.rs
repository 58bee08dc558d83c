//! Filling a bundle from the node's chain: what `GET /v1/licences/{id}/proof` serves.

use crate::chain::{Chain, ChainError};
use crate::ids::LicenceId;
use crate::keys;
use crate::proof::bundle::{
    build_bundle, BuildError, BundleParts, ProofBundle, ValidatorSetChange, MAX_VALIDATOR_CHANGES,
};
use crate::store::Store;
use crate::types::Height;

/// Why the node could not build a bundle.
#[derive(Debug, thiserror::Error)]
pub enum ChainBundleError {
    /// Nothing is committed yet, so there is no signed header to prove against.
    #[error("no block is committed yet")]
    NoBlocks,
    /// The store failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The store lacks something a committed height must have.
    #[error("the store has no {what} at height {height}")]
    Missing {
        /// What is missing.
        what: &'static str,
        /// At which height.
        height: Height,
    },
    /// The parts do not fit together (a store inconsistency).
    #[error(transparent)]
    Build(#[from] BuildError),
}

/// A bundle for licence `id` at the chain's head, built at `now_ms`.
pub fn licence_bundle<S: Store + 'static>(
    chain: &Chain<S>,
    id: &LicenceId,
    now_ms: u64,
) -> Result<ProofBundle, ChainBundleError> {
    let height = chain.head().height;
    if height == 0 {
        return Err(ChainBundleError::NoBlocks);
    }
    let missing = |what, height| ChainBundleError::Missing { what, height };
    let (value, state_proof) = chain.state_proof(&keys::licence(id), height)?;
    let header = chain.header(height)?.ok_or(missing("header", height))?;
    let commit = chain.commit_at(height)?.ok_or(missing("commit", height))?;
    let validators = chain
        .validator_set(height)?
        .ok_or(missing("validator set", height))?;
    // `validator_set_changes` lists the heights from which a new set applied; the set
    // of height `from` was announced by block `from - 1`, which is the change step.
    let mut validator_changes = Vec::new();
    for from in chain.validator_set_changes()? {
        if from <= 1 || from > height {
            continue;
        }
        if validator_changes.len() == MAX_VALIDATOR_CHANGES {
            return Err(BuildError::TooManyValidatorChanges {
                count: MAX_VALIDATOR_CHANGES + 1,
                max: MAX_VALIDATOR_CHANGES,
            }
            .into());
        }
        let at = from - 1;
        validator_changes.push(ValidatorSetChange {
            header: chain.header(at)?.ok_or(missing("header", at))?,
            commit: chain.commit_at(at)?.ok_or(missing("commit", at))?,
            next_validators: chain
                .validator_set(from)?
                .ok_or(missing("validator set", from))?,
        });
    }
    Ok(build_bundle(BundleParts {
        chain_id: chain.chain_id().to_owned(),
        genesis_hash: chain.genesis_hash(),
        licence_id: id.clone(),
        value,
        state_proof,
        header,
        commit,
        validators,
        validator_changes,
        generated_at_ms: now_ms,
    })?)
}

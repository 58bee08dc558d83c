//! The one commit checker: is a header committed by a validator set?
//!
//! Every commit in the ledger is judged here: by the proof verifier (`proof::verify`),
//! and by [`Chain::commit`](crate::chain::Chain::commit) before it writes a block. A
//! commit is accepted for a header when it names the header's height and hash and
//! carries precommit signatures from more than two thirds of the set, in strictly
//! ascending validator-index order (so each signer appears once and a commit has one
//! encoding), each valid under the ledger's one signature rule (ZIP 215,
//! [`crate::crypto`]). One bad signature makes the whole commit invalid, even if enough
//! good ones remain: a commit is produced by an honest node from votes it has checked,
//! so a bad signature in it means it was altered.
//!
//! Cheap structural checks come first, so a malformed commit costs no curve arithmetic.

use crate::bytes::Hash32;
use crate::crypto::{verify_many, SignatureCheck, SignatureError};
use crate::types::{BlockHeader, Commit, ValidatorSet, Vote, VoteKind};

/// Why a header is not committed by a validator set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    /// The header names another chain.
    #[error("header names chain {found:?}, expected {expected:?}")]
    ChainIdMismatch {
        /// The genesis chain id.
        expected: String,
        /// The header's chain id.
        found: String,
    },
    /// The header's `validators_hash` is not the hash of the trusted validator set.
    #[error("header validators_hash {found} is not the trusted set's hash {expected}")]
    ValidatorsHashMismatch {
        /// Hash of the trusted set.
        expected: Hash32,
        /// The header's `validators_hash`.
        found: Hash32,
    },
    /// The commit is for another height.
    #[error("commit is for height {found}, header is at height {expected}")]
    HeightMismatch {
        /// The header's height.
        expected: u64,
        /// The commit's height.
        found: u64,
    },
    /// The commit is for another block.
    #[error("commit is for block {found}, header hashes to {expected}")]
    BlockHashMismatch {
        /// The header's hash.
        expected: Hash32,
        /// The commit's block hash.
        found: Hash32,
    },
    /// A signature names an index outside the validator set.
    #[error("signature index {index} is out of range for {validators} validators")]
    SignerOutOfRange {
        /// The index.
        index: u32,
        /// Size of the set.
        validators: usize,
    },
    /// Two signatures name the same validator.
    #[error("validator {index} signed twice")]
    DuplicateSigner {
        /// The index.
        index: u32,
    },
    /// Signatures are not in ascending validator-index order.
    #[error("signature of validator {index} follows validator {previous}; indexes must ascend")]
    SignersNotAscending {
        /// The out-of-order index.
        index: u32,
        /// The index before it.
        previous: u32,
    },
    /// A validator's key is not a usable ed25519 key.
    #[error("validator {index} has an invalid ed25519 key")]
    BadValidatorKey {
        /// The index.
        index: u32,
    },
    /// A signature does not verify over the precommit's signing bytes.
    #[error("signature of validator {index} does not verify")]
    BadSignature {
        /// The index.
        index: u32,
    },
    /// Fewer than a quorum of signatures.
    #[error("{signatures} signatures of {validators} validators; more than two thirds ({quorum}) needed")]
    TooFewSignatures {
        /// Valid distinct signatures present.
        signatures: usize,
        /// Size of the set.
        validators: usize,
        /// `floor(2n/3) + 1`.
        quorum: usize,
    },
}

impl CommitError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            CommitError::ChainIdMismatch { .. } => "header_chain_id_mismatch",
            CommitError::ValidatorsHashMismatch { .. } => "header_validators_hash_mismatch",
            CommitError::HeightMismatch { .. } => "commit_height_mismatch",
            CommitError::BlockHashMismatch { .. } => "commit_block_hash_mismatch",
            CommitError::SignerOutOfRange { .. } => "commit_signer_out_of_range",
            CommitError::DuplicateSigner { .. } => "commit_duplicate_signer",
            CommitError::SignersNotAscending { .. } => "commit_signers_not_ascending",
            CommitError::BadValidatorKey { .. } => "commit_bad_validator_key",
            CommitError::BadSignature { .. } => "commit_bad_signature",
            CommitError::TooFewSignatures { .. } => "commit_too_few_signatures",
        }
    }
}

/// The precommit that every signature of `commit` signs:
/// `Vote { chain_id, height, round, Precommit, Some(block_hash) }`.
pub fn commit_vote(chain_id: &str, commit: &Commit) -> Vote {
    Vote {
        chain_id: chain_id.to_owned(),
        height: commit.height,
        round: commit.round,
        kind: VoteKind::Precommit,
        block_hash: Some(commit.block_hash),
    }
}

/// Checks that `header` belongs to `chain_id`, names `validators` as its set, and is
/// committed by `commit` under `validators`: the ledger's only commit check.
///
/// Cheap structural checks come first, so a malformed commit costs no signature checks.
pub fn verify_commit(
    chain_id: &str,
    validators: &ValidatorSet,
    header: &BlockHeader,
    commit: &Commit,
) -> Result<(), CommitError> {
    if header.chain_id != chain_id {
        return Err(CommitError::ChainIdMismatch {
            expected: chain_id.to_owned(),
            found: header.chain_id.clone(),
        });
    }
    let set_hash = validators.hash();
    if header.validators_hash != set_hash {
        return Err(CommitError::ValidatorsHashMismatch {
            expected: set_hash,
            found: header.validators_hash,
        });
    }
    if commit.height != header.height {
        return Err(CommitError::HeightMismatch {
            expected: header.height,
            found: commit.height,
        });
    }
    let block_hash = header.hash();
    if commit.block_hash != block_hash {
        return Err(CommitError::BlockHashMismatch {
            expected: block_hash,
            found: commit.block_hash,
        });
    }
    verify_signatures(chain_id, validators, commit)
}

/// Checks the signatures of `commit` (indexes in range and strictly ascending, quorum,
/// validity) under `validators`, without looking at any header.
pub fn verify_signatures(
    chain_id: &str,
    validators: &ValidatorSet,
    commit: &Commit,
) -> Result<(), CommitError> {
    let n = validators.len();
    // Strictly ascending indexes: consensus assembles commits in index order, the order
    // makes duplicates impossible without a map, and it gives each commit one encoding.
    let mut items: Vec<SignatureCheck<'_>> = Vec::with_capacity(commit.signatures.len());
    let signing_bytes = commit_vote(chain_id, commit).signing_bytes();
    let mut previous: Option<u32> = None;
    for (index, signature) in &commit.signatures {
        let Some(validator) = usize::try_from(*index)
            .ok()
            .and_then(|i| validators.validators.get(i))
        else {
            return Err(CommitError::SignerOutOfRange {
                index: *index,
                validators: n,
            });
        };
        match previous {
            Some(p) if p == *index => {
                return Err(CommitError::DuplicateSigner { index: *index });
            }
            Some(p) if p > *index => {
                return Err(CommitError::SignersNotAscending {
                    index: *index,
                    previous: p,
                });
            }
            _ => {}
        }
        previous = Some(*index);
        items.push((&validator.key, signing_bytes.as_slice(), signature));
    }
    // Counting before verifying: too few signatures fail without any curve arithmetic.
    let quorum = validators.quorum();
    if commit.signatures.len() < quorum {
        return Err(CommitError::TooFewSignatures {
            signatures: commit.signatures.len(),
            validators: n,
            quorum,
        });
    }
    for ((index, _), result) in commit.signatures.iter().zip(verify_many(&items)) {
        match result {
            Ok(()) => {}
            Err(SignatureError::BadKey) => {
                return Err(CommitError::BadValidatorKey { index: *index })
            }
            Err(SignatureError::BadSignature) => {
                return Err(CommitError::BadSignature { index: *index })
            }
        }
    }
    Ok(())
}

//! The licence proof bundle (`tongban-licence-proof/v1`): its JSON form and its builder.
//!
//! The bundle carries everything an offline verifier needs besides the genesis file; the
//! field-by-field description is `docs/spec/proof-format.md`. The JSON form is the
//! format: field names and order do not change within `v1`, and unknown fields are
//! refused so that nothing a reader might trust goes unchecked.

use serde::{Deserialize, Serialize};

use crate::bytes::Hash32;
use crate::codec::{decode, CodecError};
use crate::ids::LicenceId;
use crate::state_tree::StateProof;
use crate::types::{BlockHeader, Commit, LicenceRecord, ValidatorSet};

/// The `format` string of this version of the bundle.
pub const FORMAT: &str = "tongban-licence-proof/v1";

/// Largest bundle JSON [`ProofBundle::from_json`] reads. A bundle with the largest
/// allowed validator sets and a long change chain stays far below this.
pub const MAX_BUNDLE_JSON_BYTES: usize = 8 * 1024 * 1024;

/// Most validator-set changes a bundle may carry (one per change since genesis).
pub const MAX_VALIDATOR_CHANGES: usize = 4096;

/// Most validators in any one set of a bundle.
pub const MAX_VALIDATORS: usize = 1024;

/// Largest encoded licence value. A `LicenceRecord` is a few hundred bytes; the
/// headroom covers long status reasons.
pub const MAX_LICENCE_VALUE_BYTES: usize = 64 * 1024;

/// A self-contained proof of a licence's state (or of its absence) at one height.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofBundle {
    /// Always [`FORMAT`].
    pub format: String,
    /// The chain the proof is about.
    pub chain_id: String,
    /// The hash of the chain's genesis; the verifier compares it with its genesis file.
    pub genesis_hash: Hash32,
    /// The licence id that was asked for; its state key is `keys::licence(id)`.
    pub licence_id: LicenceId,
    /// The licence's state value, or `None` when the proof shows that it does not exist.
    pub licence: Option<ProvenLicence>,
    /// Inclusion (or non-inclusion) proof of the value under `header.state_root`.
    pub state_proof: StateProof,
    /// The header whose `state_root` the proof is against.
    pub header: BlockHeader,
    /// The commit of `header`: precommits of more than two thirds of `validators`.
    pub commit: Commit,
    /// The validator set of `header.height`.
    pub validators: ValidatorSet,
    /// Every validator-set change since genesis below `header.height`, by height.
    pub validator_changes: Vec<ValidatorSetChange>,
    /// When the node built the bundle, Unix ms (informative; not checked).
    pub generated_at_ms: u64,
}

/// A licence state value as proven: the bytes are what the state proof proves; the
/// decoded copy is for people and must equal `decode(value)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvenLicence {
    /// `encode(LicenceRecord)`, hex in JSON.
    #[serde(with = "hex::serde")]
    pub value: Vec<u8>,
    /// The same record, decoded.
    pub decoded: LicenceRecord,
}

/// One step of the validator-set chain: block `header.height` changed the set, so the
/// set of `header.height + 1` is `next_validators`.
///
/// The step is trusted when `commit` carries a quorum of the set trusted so far (which
/// `header.validators_hash` names) and `next_validators` hashes to
/// `header.next_validators_hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidatorSetChange {
    /// The header of the block that applied the change.
    pub header: BlockHeader,
    /// Its commit, by the set before the change.
    pub commit: Commit,
    /// The set from `header.height + 1` on.
    pub next_validators: ValidatorSet,
}

/// Why bundle JSON could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BundleParseError {
    /// The input is larger than [`MAX_BUNDLE_JSON_BYTES`].
    #[error("proof bundle is {len} bytes; at most {max} are accepted")]
    TooLarge {
        /// Input size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The input is not a bundle (bad JSON, a missing or unknown field, a bad id or hex).
    #[error("not a proof bundle: {0}")]
    Json(#[from] serde_json::Error),
}

impl ProofBundle {
    /// Reads a bundle from JSON, refusing input above [`MAX_BUNDLE_JSON_BYTES`].
    ///
    /// Parsing checks only the shape; [`crate::proof::verify`] decides what it proves.
    pub fn from_json(bytes: &[u8]) -> Result<Self, BundleParseError> {
        if bytes.len() > MAX_BUNDLE_JSON_BYTES {
            return Err(BundleParseError::TooLarge {
                len: bytes.len(),
                max: MAX_BUNDLE_JSON_BYTES,
            });
        }
        Ok(serde_json::from_slice(bytes)?)
    }

    /// The bundle as pretty-printed JSON (the form served by the API and read by the CLI).
    pub fn to_json_pretty(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }
}

/// The parts of a bundle, as the node's store provides them.
#[derive(Debug, Clone)]
pub struct BundleParts {
    /// The chain id.
    pub chain_id: String,
    /// The genesis hash.
    pub genesis_hash: Hash32,
    /// The licence asked for.
    pub licence_id: LicenceId,
    /// The encoded licence value under `keys::licence(licence_id)` at `header.height`,
    /// or `None` if there is none.
    pub value: Option<Vec<u8>>,
    /// The state proof for that key at that height.
    pub state_proof: StateProof,
    /// The header.
    pub header: BlockHeader,
    /// Its commit.
    pub commit: Commit,
    /// The validator set of `header.height`.
    pub validators: ValidatorSet,
    /// The validator-set changes since genesis below `header.height`, ascending.
    pub validator_changes: Vec<ValidatorSetChange>,
    /// Now, Unix ms.
    pub generated_at_ms: u64,
}

/// Why parts from the store do not make a bundle. Each of these means the store handed
/// over inconsistent data; the node reports it rather than serve a proof that would fail.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The value is larger than [`MAX_LICENCE_VALUE_BYTES`].
    #[error("licence value is {len} bytes; at most {max} are allowed")]
    ValueTooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The value does not decode as a `LicenceRecord`.
    #[error("licence value does not decode: {0}")]
    ValueMalformed(#[from] CodecError),
    /// The value is another licence's.
    #[error("value is licence {found}, asked for {expected}")]
    LicenceIdMismatch {
        /// Asked for.
        expected: String,
        /// In the value.
        found: String,
    },
    /// The commit is not for the header's height.
    #[error("commit is for height {commit}, header is at {header}")]
    CommitHeightMismatch {
        /// Header height.
        header: u64,
        /// Commit height.
        commit: u64,
    },
    /// More than [`MAX_VALIDATOR_CHANGES`] changes.
    #[error("{count} validator-set changes; at most {max} fit in a bundle")]
    TooManyValidatorChanges {
        /// How many.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A set larger than [`MAX_VALIDATORS`].
    #[error("a validator set of {count}; at most {max} fit in a bundle")]
    TooManyValidators {
        /// How many.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// Change heights are not strictly ascending and below the header's height.
    #[error("validator-set change at height {height} is out of order (after {after}, header at {header})")]
    ChangeOutOfOrder {
        /// The change's height.
        height: u64,
        /// The previous change's height (0 for none).
        after: u64,
        /// The header's height.
        header: u64,
    },
}

/// Assembles a bundle from the store's parts, checking that they fit together (sizes,
/// order, the value's id) but not the signatures: the node produced and checked those.
pub fn build_bundle(parts: BundleParts) -> Result<ProofBundle, BuildError> {
    let licence = match parts.value {
        None => None,
        Some(value) => {
            if value.len() > MAX_LICENCE_VALUE_BYTES {
                return Err(BuildError::ValueTooLarge {
                    len: value.len(),
                    max: MAX_LICENCE_VALUE_BYTES,
                });
            }
            let decoded: LicenceRecord = decode(&value)?;
            if decoded.licence_id != parts.licence_id {
                return Err(BuildError::LicenceIdMismatch {
                    expected: parts.licence_id.as_str().to_owned(),
                    found: decoded.licence_id.as_str().to_owned(),
                });
            }
            Some(ProvenLicence { value, decoded })
        }
    };
    if parts.commit.height != parts.header.height {
        return Err(BuildError::CommitHeightMismatch {
            header: parts.header.height,
            commit: parts.commit.height,
        });
    }
    if parts.validator_changes.len() > MAX_VALIDATOR_CHANGES {
        return Err(BuildError::TooManyValidatorChanges {
            count: parts.validator_changes.len(),
            max: MAX_VALIDATOR_CHANGES,
        });
    }
    let sets = std::iter::once(&parts.validators)
        .chain(parts.validator_changes.iter().map(|c| &c.next_validators));
    for set in sets {
        if set.len() > MAX_VALIDATORS {
            return Err(BuildError::TooManyValidators {
                count: set.len(),
                max: MAX_VALIDATORS,
            });
        }
    }
    let mut after = 0;
    for change in &parts.validator_changes {
        let height = change.header.height;
        if height <= after || height >= parts.header.height {
            return Err(BuildError::ChangeOutOfOrder {
                height,
                after,
                header: parts.header.height,
            });
        }
        after = height;
    }
    Ok(ProofBundle {
        format: FORMAT.to_owned(),
        chain_id: parts.chain_id,
        genesis_hash: parts.genesis_hash,
        licence_id: parts.licence_id,
        licence,
        state_proof: parts.state_proof,
        header: parts.header,
        commit: parts.commit,
        validators: parts.validators,
        validator_changes: parts.validator_changes,
        generated_at_ms: parts.generated_at_ms,
    })
}

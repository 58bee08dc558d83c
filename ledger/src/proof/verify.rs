//! Offline verification of a licence proof bundle against a genesis file.
//!
//! [`verify`] is pure: no IO and no clock (the current time is an input), so the CLI, the
//! node and a browser build give the same answer for the same inputs. The checks run in
//! the order of `docs/spec/proof-format.md` §6 and the first failure decides the verdict:
//!
//! 1. format, chain id and genesis hash;
//! 2. the validator-set chain from genesis, one signed step per change;
//! 3. the final header under the trusted set and its commit quorum;
//! 4. the state proof of the licence key under `header.state_root`;
//! 5. the value: it decodes, the decoded copy matches, it is the licence asked for;
//! 6. the licence: document hash, status, validity dates, and last the proof's age.
//!
//! Proof age is checked last and only stands between a licence and `VALID`: `REVOKED`
//! and `EXPIRED` cannot be undone by later blocks, and every other verdict already
//! refuses the licence. A proof older than `max_age_ms` that would otherwise be valid is
//! `INVALID PROOF` with the distinct reason code `stale`.

use std::fmt;

use crate::bytes::Hash32;
use crate::codec::decode;
use crate::crypto::sha256;
use crate::keys;
use crate::proof::bundle::{
    ProofBundle, FORMAT, MAX_LICENCE_VALUE_BYTES, MAX_VALIDATORS, MAX_VALIDATOR_CHANGES,
};
use crate::proof::quorum::{verify_commit, CommitError};
use crate::types::{Genesis, Height, LicenceRecord, LicenceStatus, ValidatorSet};

/// What the verifier is told besides the bundle and the genesis.
#[derive(Debug, Clone, Copy)]
pub struct VerifyOptions<'a> {
    /// The current time, Unix ms.
    pub now_ms: u64,
    /// A proof whose header is older than this is stale; `None` accepts any age.
    pub max_age_ms: Option<u64>,
    /// The document presented with the licence, if any; its SHA-256 must equal the
    /// licence's `document_hash`.
    pub document: Option<&'a [u8]>,
}

/// The outcome of checking a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The licence exists, is active, within its validity dates and the proof is fresh.
    Valid,
    /// The licence is revoked (or superseded).
    Revoked {
        /// The reason recorded with the revocation.
        reason: Option<String>,
    },
    /// The licence is suspended.
    Suspended {
        /// The reason recorded with the suspension.
        reason: Option<String>,
    },
    /// The licence's validity ended before now.
    Expired {
        /// End of validity, Unix ms.
        valid_until: u64,
    },
    /// The licence's validity starts after now.
    NotYetValid {
        /// Start of validity, Unix ms.
        valid_from: u64,
    },
    /// The proof validly shows that no licence with this id exists at the proven height.
    Unknown,
    /// The bundle does not prove anything about the licence.
    InvalidProof(InvalidReason),
}

impl Verdict {
    /// `true` only for [`Verdict::Valid`].
    pub fn is_valid(&self) -> bool {
        matches!(self, Verdict::Valid)
    }

    /// What the CLI prints: `VALID`, `REVOKED`, `SUSPENDED`, `EXPIRED`, `NOT YET VALID`,
    /// `UNKNOWN` or `INVALID PROOF`.
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Valid => "VALID",
            Verdict::Revoked { .. } => "REVOKED",
            Verdict::Suspended { .. } => "SUSPENDED",
            Verdict::Expired { .. } => "EXPIRED",
            Verdict::NotYetValid { .. } => "NOT YET VALID",
            Verdict::Unknown => "UNKNOWN",
            Verdict::InvalidProof(_) => "INVALID PROOF",
        }
    }

    /// A stable machine-readable code: the verdict's, or for an invalid proof the
    /// reason's.
    pub fn code(&self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Revoked { .. } => "revoked",
            Verdict::Suspended { .. } => "suspended",
            Verdict::Expired { .. } => "expired",
            Verdict::NotYetValid { .. } => "not_yet_valid",
            Verdict::Unknown => "unknown",
            Verdict::InvalidProof(reason) => reason.code(),
        }
    }

    /// A sentence for people.
    pub fn message(&self) -> String {
        fn with_reason(what: &str, reason: &Option<String>) -> String {
            match reason {
                Some(r) => format!("{what}: {r}"),
                None => format!("{what} (no reason recorded)"),
            }
        }
        match self {
            Verdict::Valid => {
                "the licence is in force and the proof is signed by a quorum of validators"
                    .to_owned()
            }
            Verdict::Revoked { reason } => with_reason("the licence is revoked", reason),
            Verdict::Suspended { reason } => with_reason("the licence is suspended", reason),
            Verdict::Expired { valid_until } => {
                format!("the licence's validity ended at {valid_until} (Unix ms)")
            }
            Verdict::NotYetValid { valid_from } => {
                format!("the licence is valid only from {valid_from} (Unix ms)")
            }
            Verdict::Unknown => {
                "no licence with this id exists on the ledger at the proven height".to_owned()
            }
            Verdict::InvalidProof(reason) => reason.to_string(),
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.label(), self.message())
    }
}

/// Why a bundle proves nothing. Each variant has its own stable [`InvalidReason::code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidReason {
    /// The `format` field is not [`FORMAT`].
    #[error("unsupported proof format {found:?} (this verifier reads {FORMAT:?})")]
    UnsupportedFormat {
        /// The bundle's format.
        found: String,
    },
    /// The bundle is for another chain id than the genesis file's.
    #[error("proof is for chain {found:?}, the genesis file is for {expected:?}")]
    ChainIdMismatch {
        /// The genesis chain id.
        expected: String,
        /// The bundle's chain id.
        found: String,
    },
    /// The bundle names another genesis.
    #[error("proof names genesis {found}, the genesis file hashes to {expected}")]
    GenesisHashMismatch {
        /// The genesis file's hash.
        expected: Hash32,
        /// The bundle's genesis hash.
        found: Hash32,
    },
    /// The genesis has no active validators, so nothing can be committed under it.
    #[error("the genesis file has no active validators")]
    NoGenesisValidators,
    /// The bundle carries more changes than [`MAX_VALIDATOR_CHANGES`].
    #[error("{count} validator-set changes; at most {MAX_VALIDATOR_CHANGES} are accepted")]
    TooManyValidatorChanges {
        /// How many.
        count: usize,
    },
    /// A set in the bundle is larger than [`MAX_VALIDATORS`].
    #[error("a validator set of {count}; at most {MAX_VALIDATORS} are accepted")]
    TooManyValidators {
        /// How many.
        count: usize,
    },
    /// Change heights are not strictly ascending, or not below the proven header.
    #[error("validator-set change at height {height} is out of order (after height {after}, proven header at {header})")]
    ValidatorChangeOutOfOrder {
        /// The change's height.
        height: Height,
        /// The previous change's height (0 at genesis).
        after: Height,
        /// The proven header's height.
        header: Height,
    },
    /// A change's header is not committed by the set trusted before it.
    #[error("validator-set change at height {height}: {error}")]
    ValidatorChangeNotCommitted {
        /// The change's height.
        height: Height,
        /// What is wrong.
        error: CommitError,
    },
    /// A change's new set does not hash to its header's `next_validators_hash`.
    #[error("validator-set change at height {height}: the new set hashes to {found}, the header commits to {expected}")]
    ValidatorChangeSetMismatch {
        /// The change's height.
        height: Height,
        /// The header's `next_validators_hash`.
        expected: Hash32,
        /// Hash of the bundle's new set.
        found: Hash32,
    },
    /// A change leads to an empty set.
    #[error("validator-set change at height {height} leads to an empty set")]
    EmptyValidatorSet {
        /// The change's height.
        height: Height,
    },
    /// The bundle's `validators` are not the set that the chain of changes leads to.
    #[error("the bundle's validator set hashes to {found}, the change chain from genesis leads to {expected}")]
    ValidatorSetMismatch {
        /// Hash of the trusted set.
        expected: Hash32,
        /// Hash of the bundle's `validators`.
        found: Hash32,
    },
    /// The proven header is not committed by the trusted set.
    #[error("proven header at height {height}: {error}")]
    HeaderNotCommitted {
        /// The header's height.
        height: Height,
        /// What is wrong.
        error: CommitError,
    },
    /// The licence value is larger than [`MAX_LICENCE_VALUE_BYTES`].
    #[error("licence value is {len} bytes; at most {MAX_LICENCE_VALUE_BYTES} are accepted")]
    ValueTooLarge {
        /// Its size.
        len: usize,
    },
    /// The state proof does not prove the value (or its absence) under `state_root`.
    #[error("state proof does not verify against the header's state root: {0}")]
    StateProof(String),
    /// The proven bytes are not a `LicenceRecord`.
    #[error("proven licence value does not decode: {0}")]
    ValueMalformed(String),
    /// The decoded copy in the bundle differs from what the proven bytes decode to.
    #[error("the bundle's decoded licence differs from the proven bytes")]
    DecodedMismatch,
    /// The proven value is another licence's.
    #[error("proven value is licence {found}, the bundle asks about {expected}")]
    LicenceIdMismatch {
        /// Asked about.
        expected: String,
        /// In the value.
        found: String,
    },
    /// The document presented does not hash to the licence's `document_hash`.
    #[error("the document hashes to {presented}, the licence records {recorded}")]
    DocumentMismatch {
        /// The licence's `document_hash`.
        recorded: Hash32,
        /// SHA-256 of the presented document.
        presented: Hash32,
    },
    /// The proven header is older than the allowed age.
    #[error("proof is stale: its header is {age_ms} ms old, at most {max_age_ms} ms allowed")]
    Stale {
        /// `now_ms - header.time_ms`.
        age_ms: u64,
        /// The limit.
        max_age_ms: u64,
    },
}

impl InvalidReason {
    /// A stable machine-readable code. Commit failures use the commit error's code (the
    /// message says whether it was a change step or the proven header).
    pub fn code(&self) -> &'static str {
        match self {
            InvalidReason::UnsupportedFormat { .. } => "unsupported_format",
            InvalidReason::ChainIdMismatch { .. } => "chain_id_mismatch",
            InvalidReason::GenesisHashMismatch { .. } => "genesis_hash_mismatch",
            InvalidReason::NoGenesisValidators => "no_genesis_validators",
            InvalidReason::TooManyValidatorChanges { .. } => "too_many_validator_changes",
            InvalidReason::TooManyValidators { .. } => "too_many_validators",
            InvalidReason::ValidatorChangeOutOfOrder { .. } => "validator_change_out_of_order",
            InvalidReason::ValidatorChangeNotCommitted { error, .. } => error.code(),
            InvalidReason::ValidatorChangeSetMismatch { .. } => "validator_change_set_mismatch",
            InvalidReason::EmptyValidatorSet { .. } => "empty_validator_set",
            InvalidReason::ValidatorSetMismatch { .. } => "validator_set_mismatch",
            InvalidReason::HeaderNotCommitted { error, .. } => error.code(),
            InvalidReason::ValueTooLarge { .. } => "value_too_large",
            InvalidReason::StateProof(_) => "state_proof_invalid",
            InvalidReason::ValueMalformed(_) => "value_malformed",
            InvalidReason::DecodedMismatch => "decoded_value_mismatch",
            InvalidReason::LicenceIdMismatch { .. } => "licence_id_mismatch",
            InvalidReason::DocumentMismatch { .. } => "document_mismatch",
            InvalidReason::Stale { .. } => "stale",
        }
    }
}

/// Checks `bundle` against `genesis` and says what it proves about the licence.
pub fn verify(bundle: &ProofBundle, genesis: &Genesis, options: &VerifyOptions<'_>) -> Verdict {
    match verify_proof(bundle, genesis) {
        Err(reason) => Verdict::InvalidProof(reason),
        Ok(None) => Verdict::Unknown,
        Ok(Some(licence)) => judge(bundle, &licence, options),
    }
}

/// Steps 1 to 5: everything cryptographic. Returns the proven licence, or `None` for a
/// valid proof of absence.
pub fn verify_proof(
    bundle: &ProofBundle,
    genesis: &Genesis,
) -> Result<Option<LicenceRecord>, InvalidReason> {
    // 1. What the bundle claims to be about.
    if bundle.format != FORMAT {
        return Err(InvalidReason::UnsupportedFormat {
            found: bundle.format.clone(),
        });
    }
    if bundle.chain_id != genesis.chain_id {
        return Err(InvalidReason::ChainIdMismatch {
            expected: genesis.chain_id.clone(),
            found: bundle.chain_id.clone(),
        });
    }
    let genesis_hash = genesis.hash();
    if bundle.genesis_hash != genesis_hash {
        return Err(InvalidReason::GenesisHashMismatch {
            expected: genesis_hash,
            found: bundle.genesis_hash,
        });
    }
    let chain_id = genesis.chain_id.as_str();

    // 2. The validator-set chain. Limits first, so a huge bundle costs no signatures.
    if bundle.validator_changes.len() > MAX_VALIDATOR_CHANGES {
        return Err(InvalidReason::TooManyValidatorChanges {
            count: bundle.validator_changes.len(),
        });
    }
    let sets = std::iter::once(&bundle.validators)
        .chain(bundle.validator_changes.iter().map(|c| &c.next_validators));
    for set in sets {
        if set.len() > MAX_VALIDATORS {
            return Err(InvalidReason::TooManyValidators { count: set.len() });
        }
    }
    let genesis_set = ValidatorSet::from_members(&genesis.members);
    if genesis_set.is_empty() {
        return Err(InvalidReason::NoGenesisValidators);
    }
    let header_height = bundle.header.height;
    let mut trusted = &genesis_set;
    let mut after: Height = 0;
    for change in &bundle.validator_changes {
        let height = change.header.height;
        if height <= after || height >= header_height {
            return Err(InvalidReason::ValidatorChangeOutOfOrder {
                height,
                after,
                header: header_height,
            });
        }
        verify_commit(chain_id, trusted, &change.header, &change.commit)
            .map_err(|error| InvalidReason::ValidatorChangeNotCommitted { height, error })?;
        let next_hash = change.next_validators.hash();
        if next_hash != change.header.next_validators_hash {
            return Err(InvalidReason::ValidatorChangeSetMismatch {
                height,
                expected: change.header.next_validators_hash,
                found: next_hash,
            });
        }
        if change.next_validators.is_empty() {
            return Err(InvalidReason::EmptyValidatorSet { height });
        }
        trusted = &change.next_validators;
        after = height;
    }

    // 3. The proven header under the trusted set.
    let trusted_hash = trusted.hash();
    let bundle_set_hash = bundle.validators.hash();
    if bundle_set_hash != trusted_hash {
        return Err(InvalidReason::ValidatorSetMismatch {
            expected: trusted_hash,
            found: bundle_set_hash,
        });
    }
    verify_commit(chain_id, trusted, &bundle.header, &bundle.commit).map_err(|error| {
        InvalidReason::HeaderNotCommitted {
            height: header_height,
            error,
        }
    })?;

    // 4. The state proof: the bytes (or their absence) under the licence's key.
    let value = bundle.licence.as_ref().map(|l| l.value.as_slice());
    if let Some(value) = value {
        if value.len() > MAX_LICENCE_VALUE_BYTES {
            return Err(InvalidReason::ValueTooLarge { len: value.len() });
        }
    }
    let key = keys::licence(&bundle.licence_id);
    bundle
        .state_proof
        .verify(&bundle.header.state_root, &key, value)
        .map_err(|e| InvalidReason::StateProof(e.to_string()))?;

    // 5. The value. Only the proven bytes count; the decoded copy must agree with them.
    let Some(proven) = &bundle.licence else {
        return Ok(None);
    };
    let record: LicenceRecord =
        decode(&proven.value).map_err(|e| InvalidReason::ValueMalformed(e.to_string()))?;
    if record != proven.decoded {
        return Err(InvalidReason::DecodedMismatch);
    }
    if record.licence_id != bundle.licence_id {
        return Err(InvalidReason::LicenceIdMismatch {
            expected: bundle.licence_id.as_str().to_owned(),
            found: record.licence_id.as_str().to_owned(),
        });
    }
    Ok(Some(record))
}

/// Step 6: what the proven licence means now.
fn judge(bundle: &ProofBundle, licence: &LicenceRecord, options: &VerifyOptions<'_>) -> Verdict {
    if let Some(document) = options.document {
        let presented = sha256(&[document]);
        if presented != licence.document_hash {
            return Verdict::InvalidProof(InvalidReason::DocumentMismatch {
                recorded: licence.document_hash,
                presented,
            });
        }
    }
    match licence.status {
        LicenceStatus::Revoked => {
            return Verdict::Revoked {
                reason: licence.status_reason.clone(),
            }
        }
        LicenceStatus::Suspended => {
            return Verdict::Suspended {
                reason: licence.status_reason.clone(),
            }
        }
        LicenceStatus::Active => {}
    }
    if options.now_ms < licence.valid_from {
        return Verdict::NotYetValid {
            valid_from: licence.valid_from,
        };
    }
    if let Some(valid_until) = licence.valid_until {
        if options.now_ms > valid_until {
            return Verdict::Expired { valid_until };
        }
    }
    if let Some(max_age_ms) = options.max_age_ms {
        // A header from the verifier's future (clock skew) has age 0.
        let age_ms = options.now_ms.saturating_sub(bundle.header.time_ms);
        if age_ms > max_age_ms {
            return Verdict::InvalidProof(InvalidReason::Stale { age_ms, max_age_ms });
        }
    }
    Verdict::Valid
}

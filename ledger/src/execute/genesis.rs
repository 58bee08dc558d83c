//! Genesis: checking a [`Genesis`] and turning it into the state of version 0.
//!
//! A genesis file is the one thing a verifier trusts, so every field is checked with an
//! error that names it. [`genesis_changes`] writes exactly what execution later reads:
//! members, the key index, the sorted member list, the sorted admins and the parameters.
//!
//! Identifier validity (member ids, regions) is not re-checked here: the types can only
//! hold valid values, and decoding a genesis file goes through the same parsers.

use std::collections::BTreeSet;

use crate::bytes::PublicKey;
use crate::codec::encode;
use crate::crypto::verifying_key;
use crate::ids::MemberId;
use crate::keys;
use crate::state::StateChanges;
use crate::types::{Genesis, MemberStatus, ValidatorSet};

use super::governance::{check_member_fields, validate_params};
use super::{ChangeError, ParamsError, MAX_ADMINS, MAX_MEMBERS};

/// Longest chain id, in bytes.
pub const MAX_CHAIN_ID_BYTES: usize = 64;

/// What is wrong with a genesis.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    /// `chain_id` is empty.
    #[error("chain_id is empty")]
    EmptyChainId,
    /// `chain_id` is too long or has characters outside `[0-9A-Za-z._-]`.
    #[error("chain_id {0:?} must be 1..=64 characters of [0-9A-Za-z._-]")]
    InvalidChainId(String),
    /// `members` is empty.
    #[error("members is empty")]
    NoMembers,
    /// More members than [`MAX_MEMBERS`].
    #[error("members has {count} entries, the limit is {max}")]
    TooManyMembers {
        /// Members listed.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// Two members share an id.
    #[error("members: id {0} appears twice")]
    DuplicateMemberId(MemberId),
    /// Two members share a key.
    #[error("members: key {0} appears twice")]
    DuplicateMemberKey(PublicKey),
    /// A member's fields are invalid (name, roles, key).
    #[error("members: member {member_id}: {error}")]
    InvalidMember {
        /// The member.
        member_id: MemberId,
        /// What is wrong.
        error: ChangeError,
    },
    /// A member listed as removed (genesis lists the members that take part).
    #[error("members: member {0} is listed as removed")]
    RemovedMember(MemberId),
    /// No active member with the validator role.
    #[error("members: no active validator")]
    NoValidator,
    /// `admins` is empty.
    #[error("admins is empty")]
    NoAdmin,
    /// More admins than [`MAX_ADMINS`].
    #[error("admins has {count} entries, the limit is {max}")]
    TooManyAdmins {
        /// Admins listed.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// An admin key appears twice.
    #[error("admins: key {0} appears twice")]
    DuplicateAdmin(PublicKey),
    /// An admin key is not a valid ed25519 key.
    #[error("admins: key {0} is not a valid ed25519 public key")]
    InvalidAdminKey(PublicKey),
    /// The parameters are invalid.
    #[error("params: {0}")]
    Params(#[from] ParamsError),
}

/// Checks every field of a genesis.
pub fn validate_genesis(genesis: &Genesis) -> Result<(), GenesisError> {
    let chain_id = &genesis.chain_id;
    if chain_id.is_empty() {
        return Err(GenesisError::EmptyChainId);
    }
    if chain_id.len() > MAX_CHAIN_ID_BYTES
        || !chain_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(GenesisError::InvalidChainId(chain_id.clone()));
    }

    if genesis.members.is_empty() {
        return Err(GenesisError::NoMembers);
    }
    if genesis.members.len() > MAX_MEMBERS {
        return Err(GenesisError::TooManyMembers {
            count: genesis.members.len(),
            max: MAX_MEMBERS,
        });
    }
    let mut ids = BTreeSet::new();
    let mut member_keys = BTreeSet::new();
    for member in &genesis.members {
        if !ids.insert(&member.id) {
            return Err(GenesisError::DuplicateMemberId(member.id.clone()));
        }
        if !member_keys.insert(member.key) {
            return Err(GenesisError::DuplicateMemberKey(member.key));
        }
        check_member_fields(member).map_err(|error| GenesisError::InvalidMember {
            member_id: member.id.clone(),
            error,
        })?;
        if member.status == MemberStatus::Removed {
            return Err(GenesisError::RemovedMember(member.id.clone()));
        }
    }
    if ValidatorSet::from_members(&genesis.members).is_empty() {
        return Err(GenesisError::NoValidator);
    }

    if genesis.admins.is_empty() {
        return Err(GenesisError::NoAdmin);
    }
    if genesis.admins.len() > MAX_ADMINS {
        return Err(GenesisError::TooManyAdmins {
            count: genesis.admins.len(),
            max: MAX_ADMINS,
        });
    }
    let mut admins = BTreeSet::new();
    for admin in &genesis.admins {
        if !admins.insert(admin) {
            return Err(GenesisError::DuplicateAdmin(*admin));
        }
        if verifying_key(admin).is_err() {
            return Err(GenesisError::InvalidAdminKey(*admin));
        }
    }

    validate_params(&genesis.params)?;
    Ok(())
}

impl Genesis {
    /// Checks every field; see [`validate_genesis`].
    pub fn validate(&self) -> Result<(), GenesisError> {
        validate_genesis(self)
    }
}

/// The state changes of version 0: checks the genesis, then writes members, the
/// key → member index, the sorted member list, the sorted admins and the parameters.
pub fn genesis_changes(genesis: &Genesis) -> Result<StateChanges, GenesisError> {
    validate_genesis(genesis)?;
    let mut changes = StateChanges::new();
    let mut member_ids: Vec<MemberId> = Vec::with_capacity(genesis.members.len());
    for member in &genesis.members {
        changes.insert(keys::member(&member.id), Some(encode(member)));
        changes.insert(keys::member_key(&member.key), Some(encode(&member.id)));
        member_ids.push(member.id.clone());
    }
    member_ids.sort();
    changes.insert(keys::member_list(), Some(encode(&member_ids)));
    let mut admins = genesis.admins.clone();
    admins.sort();
    changes.insert(keys::admins(), Some(encode(&admins)));
    changes.insert(keys::params(), Some(encode(&genesis.params)));
    Ok(changes)
}

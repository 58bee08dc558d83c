//! Typed reads of state values, shared by execution, the chain facade and the API.
//!
//! Every function reads through a [`StateReader`], so it works on committed state and on
//! execution's in-block overlay alike. A value that does not decode is corrupt state (a
//! storage or programming fault, never a record's fault) and is an [`ExecError`].

use serde::de::DeserializeOwned;

use crate::bytes::{Hash32, PublicKey};
use crate::codec::decode;
use crate::ids::{CaseId, ItemCode, LicenceId, MemberId, TypeCode};
use crate::keys;
use crate::state::StateReader;
use crate::types::{
    CaseRecord, CatalogItem, ChainParams, LicenceRecord, LicenceType, Member, Proposal, ProposalId,
    ValidatorSet,
};

use super::ExecError;

/// Reads and decodes the value under `key`; `what` names it in errors.
pub(crate) fn get<T: DeserializeOwned>(
    reader: &dyn StateReader,
    key: &Hash32,
    what: &'static str,
) -> Result<Option<T>, ExecError> {
    match reader.get(key)? {
        None => Ok(None),
        Some(bytes) => decode(&bytes)
            .map(Some)
            .map_err(|e| ExecError::CorruptState {
                what,
                key: *key,
                detail: e.to_string(),
            }),
    }
}

/// A licence by id.
pub fn read_licence(
    reader: &dyn StateReader,
    id: &LicenceId,
) -> Result<Option<LicenceRecord>, ExecError> {
    get(reader, &keys::licence(id), "licence")
}

/// A case by id, with its timeline.
pub fn read_case(reader: &dyn StateReader, id: &CaseId) -> Result<Option<CaseRecord>, ExecError> {
    get(reader, &keys::case(id), "case")
}

/// A member by id (removed members included).
pub fn read_member(reader: &dyn StateReader, id: &MemberId) -> Result<Option<Member>, ExecError> {
    get(reader, &keys::member(id), "member")
}

/// The member whose current key is `key`.
pub fn read_member_by_key(
    reader: &dyn StateReader,
    key: &PublicKey,
) -> Result<Option<Member>, ExecError> {
    let Some(id) = get::<MemberId>(reader, &keys::member_key(key), "member key index")? else {
        return Ok(None);
    };
    let member = read_member(reader, &id)?.ok_or(ExecError::CorruptState {
        what: "member key index",
        key: keys::member_key(key),
        detail: format!("names member {id}, which does not exist"),
    })?;
    // The index is kept in step with member keys; a stale entry is a fault, not a member.
    if &member.key != key {
        return Err(ExecError::CorruptState {
            what: "member key index",
            key: keys::member_key(key),
            detail: format!("names member {id}, whose key is {}", member.key),
        });
    }
    Ok(Some(member))
}

/// The ids of all members (removed included), ascending.
pub fn read_member_list(reader: &dyn StateReader) -> Result<Vec<MemberId>, ExecError> {
    Ok(get(reader, &keys::member_list(), "member list")?.unwrap_or_default())
}

/// All members (removed included), ascending by id.
pub fn read_members(reader: &dyn StateReader) -> Result<Vec<Member>, ExecError> {
    let ids = read_member_list(reader)?;
    let mut members = Vec::with_capacity(ids.len());
    for id in ids {
        let member = read_member(reader, &id)?.ok_or_else(|| ExecError::CorruptState {
            what: "member list",
            key: keys::member_list(),
            detail: format!("lists member {id}, which does not exist"),
        })?;
        members.push(member);
    }
    Ok(members)
}

/// The chain parameters; missing parameters mean genesis was never applied.
pub fn read_params(reader: &dyn StateReader) -> Result<ChainParams, ExecError> {
    get(reader, &keys::params(), "chain parameters")?
        .ok_or(ExecError::MissingState("chain parameters"))
}

/// The admin keys, ascending.
pub fn read_admins(reader: &dyn StateReader) -> Result<Vec<PublicKey>, ExecError> {
    Ok(get(reader, &keys::admins(), "admins")?.unwrap_or_default())
}

/// The validator set that the state implies: active validators, ordered by member id.
pub fn validator_set(reader: &dyn StateReader) -> Result<ValidatorSet, ExecError> {
    Ok(ValidatorSet::from_members(&read_members(reader)?))
}

/// The last committed nonce of an author (0 if it never wrote).
pub fn read_nonce(reader: &dyn StateReader, author: &PublicKey) -> Result<u64, ExecError> {
    Ok(get(reader, &keys::nonce(author), "nonce")?.unwrap_or(0))
}

/// A governance proposal.
pub fn read_proposal(
    reader: &dyn StateReader,
    id: ProposalId,
) -> Result<Option<Proposal>, ExecError> {
    get(reader, &keys::proposal(id), "proposal")
}

/// Ids of open proposals, ascending.
pub fn read_open_proposals(reader: &dyn StateReader) -> Result<Vec<ProposalId>, ExecError> {
    Ok(get(reader, &keys::open_proposals(), "open proposals")?.unwrap_or_default())
}

/// A licence type of the catalogue.
pub fn read_licence_type(
    reader: &dyn StateReader,
    code: &TypeCode,
) -> Result<Option<LicenceType>, ExecError> {
    get(reader, &keys::licence_type(code), "licence type")
}

/// All licence type codes, ascending.
pub fn read_licence_type_list(reader: &dyn StateReader) -> Result<Vec<TypeCode>, ExecError> {
    Ok(get(reader, &keys::licence_type_list(), "licence type list")?.unwrap_or_default())
}

/// An item of the catalogue.
pub fn read_item(
    reader: &dyn StateReader,
    code: &ItemCode,
) -> Result<Option<CatalogItem>, ExecError> {
    get(reader, &keys::item(code), "catalogue item")
}

/// All item codes, ascending.
pub fn read_item_list(reader: &dyn StateReader) -> Result<Vec<ItemCode>, ExecError> {
    Ok(get(reader, &keys::item_list(), "item list")?.unwrap_or_default())
}

/// The whole catalogue: licence types and items, each ascending by code.
pub fn read_catalog(
    reader: &dyn StateReader,
) -> Result<(Vec<LicenceType>, Vec<CatalogItem>), ExecError> {
    let mut types = Vec::new();
    for code in read_licence_type_list(reader)? {
        types.push(
            read_licence_type(reader, &code)?.ok_or_else(|| ExecError::CorruptState {
                what: "licence type list",
                key: keys::licence_type_list(),
                detail: format!("lists type {code}, which does not exist"),
            })?,
        );
    }
    let mut items = Vec::new();
    for code in read_item_list(reader)? {
        items.push(
            read_item(reader, &code)?.ok_or_else(|| ExecError::CorruptState {
                what: "item list",
                key: keys::item_list(),
                detail: format!("lists item {code}, which does not exist"),
            })?,
        );
    }
    Ok((types, items))
}

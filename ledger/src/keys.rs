//! State keys: `sha256(namespace ‖ id)` for every kind of state (DESIGN §5).
//!
//! The namespace strings are part of the format: a verifier recomputes a licence's key
//! from its id to check a proof, so they never change.

use crate::bytes::{Hash32, PublicKey};
use crate::crypto::sha256;
use crate::ids::{CaseId, ItemCode, LicenceId, MemberId, TypeCode};
use crate::types::ProposalId;

/// Namespace of members, by member id. Value: `Member`.
pub const MEMBER: &[u8] = b"tongban/member/";
/// Namespace of the key → member id index. Value: `MemberId`.
pub const MEMBER_KEY: &[u8] = b"tongban/member-key/";
/// The sorted list of all member ids (including removed). Value: `Vec<MemberId>`.
pub const MEMBER_LIST: &[u8] = b"tongban/member-list";
/// The admin keys. Value: `Vec<PublicKey>`.
pub const ADMINS: &[u8] = b"tongban/admins";
/// The chain parameters. Value: `ChainParams`.
pub const PARAMS: &[u8] = b"tongban/params";
/// Namespace of licences, by licence id. Value: `LicenceRecord`.
pub const LICENCE: &[u8] = b"tongban/licence/";
/// Namespace of cases, by case id. Value: `CaseRecord`.
pub const CASE: &[u8] = b"tongban/case/";
/// Namespace of last committed nonces, by author key. Value: `u64`.
pub const NONCE: &[u8] = b"tongban/nonce/";
/// Namespace of governance proposals, by id (u64 little-endian). Value: `Proposal`.
pub const PROPOSAL: &[u8] = b"tongban/proposal/";
/// The ids of open proposals, ascending. Value: `Vec<ProposalId>`.
pub const OPEN_PROPOSALS: &[u8] = b"tongban/open-proposals";
/// Namespace of licence types, by type code. Value: `LicenceType`.
pub const LICENCE_TYPE: &[u8] = b"tongban/licence-type/";
/// The sorted list of licence type codes. Value: `Vec<TypeCode>`.
pub const LICENCE_TYPE_LIST: &[u8] = b"tongban/licence-type-list";
/// Namespace of catalogue items, by item code. Value: `CatalogItem`.
pub const ITEM: &[u8] = b"tongban/item/";
/// The sorted list of item codes. Value: `Vec<ItemCode>`.
pub const ITEM_LIST: &[u8] = b"tongban/item-list";

/// Key of a member.
pub fn member(id: &MemberId) -> Hash32 {
    sha256(&[MEMBER, id.as_str().as_bytes()])
}
/// Key of the key → member index entry.
pub fn member_key(key: &PublicKey) -> Hash32 {
    sha256(&[MEMBER_KEY, key.as_bytes()])
}
/// Key of the member list.
pub fn member_list() -> Hash32 {
    sha256(&[MEMBER_LIST])
}
/// Key of the admin set.
pub fn admins() -> Hash32 {
    sha256(&[ADMINS])
}
/// Key of the chain parameters.
pub fn params() -> Hash32 {
    sha256(&[PARAMS])
}
/// Key of a licence.
pub fn licence(id: &LicenceId) -> Hash32 {
    sha256(&[LICENCE, id.as_str().as_bytes()])
}
/// Key of a case.
pub fn case(id: &CaseId) -> Hash32 {
    sha256(&[CASE, id.as_str().as_bytes()])
}
/// Key of an author's last committed nonce.
pub fn nonce(author: &PublicKey) -> Hash32 {
    sha256(&[NONCE, author.as_bytes()])
}
/// Key of a proposal.
pub fn proposal(id: ProposalId) -> Hash32 {
    sha256(&[PROPOSAL, &id.to_le_bytes()])
}
/// Key of the open-proposal list.
pub fn open_proposals() -> Hash32 {
    sha256(&[OPEN_PROPOSALS])
}
/// Key of a licence type.
pub fn licence_type(code: &TypeCode) -> Hash32 {
    sha256(&[LICENCE_TYPE, code.as_str().as_bytes()])
}
/// Key of the licence type list.
pub fn licence_type_list() -> Hash32 {
    sha256(&[LICENCE_TYPE_LIST])
}
/// Key of a catalogue item.
pub fn item(code: &ItemCode) -> Hash32 {
    sha256(&[ITEM, code.as_str().as_bytes()])
}
/// Key of the item list.
pub fn item_list() -> Hash32 {
    sha256(&[ITEM_LIST])
}

//! Building a `genesis.json` step by step: `genesis new`, `add-member`, `add-admin`.
//!
//! Every identifier goes through the ledger's parsers, every key must be a usable ed25519
//! key, and the whole file is checked again before it is written, so the CLI never leaves
//! behind a genesis that a node would refuse. Files are replaced atomically (write to a
//! temporary file, sync, rename) so an interrupted command leaves the old file intact.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use tongban_ledger::crypto::verifying_key;
use tongban_ledger::ids::{IdError, MemberId, RegionCode};
use tongban_ledger::types::{ChainParams, Genesis, Member, MemberStatus, Role, Threshold};
use tongban_ledger::PublicKey;

/// Longest chain id accepted.
pub const MAX_CHAIN_ID_LEN: usize = 64;
/// Longest member name accepted, in bytes of UTF-8 (the ledger's limit).
pub const MAX_MEMBER_NAME_BYTES: usize = tongban_ledger::execute::MAX_NAME_BYTES;
/// Largest genesis file read.
pub const MAX_GENESIS_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// What is wrong with a genesis or a change to it.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// An identifier did not parse.
    #[error(transparent)]
    Id(#[from] IdError),
    /// The chain id is empty, too long or has characters outside `[A-Za-z0-9._-]`.
    #[error("chain id {0:?}: 1..={MAX_CHAIN_ID_LEN} characters of [A-Za-z0-9._-] expected")]
    ChainId(String),
    /// The threshold is not `N/D` with 0 < N < D.
    #[error("threshold {0:?}: expected N/D with 0 < N < D, e.g. 2/3")]
    Threshold(String),
    /// A member name is empty or too long.
    #[error("member name must be 1..={MAX_MEMBER_NAME_BYTES} bytes of UTF-8, not blank")]
    Name,
    /// A member with this id is already in the genesis.
    #[error("member {0} is already in the genesis")]
    DuplicateMember(String),
    /// The key already belongs to a member (keys identify members on the network).
    #[error("key {0} already belongs to member {1}")]
    DuplicateKey(String, String),
    /// The key is already an admin key.
    #[error("key {0} is already an admin")]
    DuplicateAdmin(String),
    /// The key is not a usable ed25519 public key.
    #[error("key {0} is not a valid ed25519 public key")]
    BadKey(String),
    /// A member has no roles.
    #[error("member {0} has no roles")]
    NoRoles(String),
    /// A parameter is out of range.
    #[error("chain parameter {0}")]
    Param(String),
    /// Reading or writing the file failed.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The output exists and is not replaced by `genesis new`.
    #[error("{0} already exists; refusing to overwrite")]
    Exists(PathBuf),
    /// The file is not a genesis.
    #[error("{path}: not a genesis file: {detail}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}

/// Parses `N/D` as a "more than N/D" threshold.
pub fn parse_threshold(s: &str) -> Result<Threshold, GenesisError> {
    let bad = || GenesisError::Threshold(s.to_owned());
    let (n, d) = s.split_once('/').ok_or_else(bad)?;
    let numerator: u32 = n.trim().parse().map_err(|_| bad())?;
    let denominator: u32 = d.trim().parse().map_err(|_| bad())?;
    if numerator == 0 || numerator >= denominator {
        return Err(bad());
    }
    Ok(Threshold {
        numerator,
        denominator,
    })
}

/// Checks a chain id.
pub fn check_chain_id(chain_id: &str) -> Result<(), GenesisError> {
    let ok = !chain_id.is_empty()
        && chain_id.len() <= MAX_CHAIN_ID_LEN
        && chain_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(GenesisError::ChainId(chain_id.to_owned()))
    }
}

/// A new genesis with no members and no admins.
pub fn new_genesis(
    chain_id: &str,
    genesis_time_ms: u64,
    params: ChainParams,
) -> Result<Genesis, GenesisError> {
    check_chain_id(chain_id)?;
    check_params(&params)?;
    Ok(Genesis {
        chain_id: chain_id.to_owned(),
        genesis_time_ms,
        members: Vec::new(),
        admins: Vec::new(),
        params,
    })
}

/// The ledger's own rules for chain parameters (the ones `SetParams` is held to).
fn check_params(params: &ChainParams) -> Result<(), GenesisError> {
    tongban_ledger::execute::validate_params(params).map_err(|e| GenesisError::Param(e.to_string()))
}

fn check_key(key: &PublicKey) -> Result<(), GenesisError> {
    verifying_key(key).map_err(|_| GenesisError::BadKey(key.to_hex()))?;
    Ok(())
}

/// The member described by command-line arguments, every field validated.
pub fn member(
    id: &str,
    name: &str,
    region: &str,
    key: PublicKey,
    roles: &[Role],
) -> Result<Member, GenesisError> {
    let id = MemberId::parse(id)?;
    let region = RegionCode::parse(region)?;
    if name.len() > MAX_MEMBER_NAME_BYTES || name.trim().is_empty() {
        return Err(GenesisError::Name);
    }
    check_key(&key)?;
    let mut roles: Vec<Role> = roles.to_vec();
    roles.sort();
    roles.dedup();
    if roles.is_empty() {
        return Err(GenesisError::NoRoles(id.to_string()));
    }
    Ok(Member {
        id,
        name: name.to_owned(),
        region,
        key,
        roles,
        status: MemberStatus::Active,
    })
}

/// Adds a member, refusing a duplicate id or key.
pub fn add_member(genesis: &mut Genesis, member: Member) -> Result<(), GenesisError> {
    if genesis.members.iter().any(|m| m.id == member.id) {
        return Err(GenesisError::DuplicateMember(member.id.to_string()));
    }
    if let Some(other) = genesis.members.iter().find(|m| m.key == member.key) {
        return Err(GenesisError::DuplicateKey(
            member.key.to_hex(),
            other.id.to_string(),
        ));
    }
    genesis.members.push(member);
    // Members are kept sorted by id so that the file reads the way the validator set is
    // ordered (and two people building the same genesis get the same bytes).
    genesis.members.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(())
}

/// Adds an admin key, refusing a duplicate.
pub fn add_admin(genesis: &mut Genesis, key: PublicKey) -> Result<(), GenesisError> {
    check_key(&key)?;
    if genesis.admins.contains(&key) {
        return Err(GenesisError::DuplicateAdmin(key.to_hex()));
    }
    genesis.admins.push(key);
    Ok(())
}

/// Checks a whole genesis: what `new`, `add-member` and `add-admin` guarantee, for a file
/// that may have been edited by hand.
pub fn check(genesis: &Genesis) -> Result<(), GenesisError> {
    check_chain_id(&genesis.chain_id)?;
    check_params(&genesis.params)?;
    let mut ids = BTreeSet::new();
    let mut keys = BTreeSet::new();
    for m in &genesis.members {
        if !ids.insert(m.id.clone()) {
            return Err(GenesisError::DuplicateMember(m.id.to_string()));
        }
        if !keys.insert(m.key) {
            return Err(GenesisError::DuplicateKey(m.key.to_hex(), m.id.to_string()));
        }
        check_key(&m.key)?;
        if m.roles.is_empty() {
            return Err(GenesisError::NoRoles(m.id.to_string()));
        }
        if m.name.len() > MAX_MEMBER_NAME_BYTES || m.name.trim().is_empty() {
            return Err(GenesisError::Name);
        }
    }
    let mut admins = BTreeSet::new();
    for a in &genesis.admins {
        check_key(a)?;
        if !admins.insert(*a) {
            return Err(GenesisError::DuplicateAdmin(a.to_hex()));
        }
    }
    Ok(())
}

/// Reads and checks a genesis file.
pub fn read(path: &Path) -> Result<Genesis, GenesisError> {
    let io = |source| GenesisError::Io {
        path: path.to_owned(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_GENESIS_FILE_BYTES {
        return Err(GenesisError::Malformed {
            path: path.to_owned(),
            detail: format!("larger than {MAX_GENESIS_FILE_BYTES} bytes"),
        });
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    let genesis: Genesis = serde_json::from_str(&text).map_err(|e| GenesisError::Malformed {
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    check(&genesis)?;
    Ok(genesis)
}

/// Writes a genesis: checked first, then replaced atomically. With `create_new`, an
/// existing file is an error.
pub fn write(path: &Path, genesis: &Genesis, create_new: bool) -> Result<(), GenesisError> {
    check(genesis)?;
    if create_new && path.exists() {
        return Err(GenesisError::Exists(path.to_owned()));
    }
    let io = |source| GenesisError::Io {
        path: path.to_owned(),
        source,
    };
    let mut text = serde_json::to_string_pretty(genesis).map_err(|e| GenesisError::Malformed {
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    text.push('\n');
    let tmp = path.with_extension("json.tmp");
    {
        let mut file = std::fs::File::create(&tmp).map_err(io)?;
        file.write_all(text.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
    }
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use tongban_ledger::crypto::public_key;

    fn key(seed: u8) -> PublicKey {
        public_key(&SigningKey::from_bytes(&[seed; 32]))
    }

    #[test]
    fn thresholds() {
        assert_eq!(
            parse_threshold("2/3").ok(),
            Some(Threshold {
                numerator: 2,
                denominator: 3
            })
        );
        for bad in ["", "2", "3/3", "0/3", "4/3", "a/b", "2/0"] {
            assert!(parse_threshold(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn builds_and_refuses_bad_input() -> Result<(), GenesisError> {
        let mut g = new_genesis("tongban-test", 1, ChainParams::default())?;
        assert!(new_genesis("bad id!", 1, ChainParams::default()).is_err());
        let m = member(
            "91350100M000100Y43",
            "福州市市场监督管理局",
            "350100",
            key(1),
            &[Role::Validator],
        )?;
        add_member(&mut g, m.clone())?;
        assert!(matches!(
            add_member(&mut g, m),
            Err(GenesisError::DuplicateMember(_))
        ));
        // Bad check character.
        assert!(matches!(
            member(
                "91350100M000100Y44",
                "x",
                "350100",
                key(2),
                &[Role::Validator]
            ),
            Err(GenesisError::Id(_))
        ));
        assert!(matches!(
            member(
                "91350100M000100Y43",
                "x",
                "35010",
                key(2),
                &[Role::Validator]
            ),
            Err(GenesisError::Id(_))
        ));
        assert!(matches!(
            member(
                "91350100M000100Y43",
                "",
                "350100",
                key(2),
                &[Role::Validator]
            ),
            Err(GenesisError::Name)
        ));
        assert!(matches!(
            member(
                "91350100M000100Y43",
                "x",
                "350100",
                PublicKey([0; 32]),
                &[Role::Validator]
            ),
            Err(GenesisError::BadKey(_))
        ));
        add_admin(&mut g, key(9))?;
        assert!(matches!(
            add_admin(&mut g, key(9)),
            Err(GenesisError::DuplicateAdmin(_))
        ));
        check(&g)?;
        Ok(())
    }
}

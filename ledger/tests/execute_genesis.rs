//! Genesis validation (every error names its field) and the state it writes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod execute_support;

use execute_support::*;
use tongban_ledger::codec::encode;
use tongban_ledger::crypto::{public_key, sha256};
use tongban_ledger::execute::{
    genesis_changes, read_admins, read_member_by_key, read_member_list, read_members, read_params,
    validate_genesis, validator_set, ChangeError, GenesisError, ParamsError,
};
use tongban_ledger::types::{MemberStatus, Role, Threshold};
use tongban_ledger::PublicKey;

#[test]
fn valid_genesis_writes_consistent_state() {
    let mut g = genesis(4, 3);
    g.members.reverse(); // order in the file does not matter
    g.admins.reverse();
    g.members[0].roles = vec![Role::Observer];
    let mut state = State::new();
    apply(&mut state, &genesis_changes(&g).unwrap());

    let ids = read_member_list(&state).unwrap();
    assert_eq!(ids, (0..4).map(member_id).collect::<Vec<_>>());
    let members = read_members(&state).unwrap();
    assert_eq!(members.len(), 4);
    for m in &g.members {
        assert_eq!(
            read_member_by_key(&state, &m.key).unwrap().as_ref(),
            Some(m)
        );
    }
    let mut admins = g.admins.clone();
    admins.sort();
    assert_eq!(read_admins(&state).unwrap(), admins);
    assert_eq!(read_params(&state).unwrap(), g.params);
    // Member 3 (first after the reverse) is an observer: 3 validators.
    let set = validator_set(&state).unwrap();
    assert_eq!(set.len(), 3);
    assert!(set
        .validators
        .windows(2)
        .all(|p| p[0].member_id < p[1].member_id));
}

#[test]
fn genesis_state_golden_digest() {
    // The bytes genesis writes are stored and hashed into the state root: pin them.
    let changes = genesis_changes(&genesis(3, 2)).unwrap();
    assert_eq!(changes.len(), 3 * 2 + 3);
    let digest = sha256(&[&encode(&changes)]);
    assert_eq!(digest.to_hex(), GOLDEN_GENESIS_DIGEST);
}

const GOLDEN_GENESIS_DIGEST: &str =
    "33dfb89590e590c1f1a6fa6bea316154bd488a2a76263aac7ec2bf6e412424bf";

fn expect(g: &tongban_ledger::types::Genesis, expected: GenesisError) {
    assert_eq!(validate_genesis(g), Err(expected.clone()));
    assert_eq!(g.validate(), Err(expected.clone()));
    assert_eq!(genesis_changes(g), Err(expected));
}

#[test]
fn every_genesis_error() {
    let good = genesis(3, 2);
    assert_eq!(validate_genesis(&good), Ok(()));

    let mut g = good.clone();
    g.chain_id = String::new();
    expect(&g, GenesisError::EmptyChainId);
    g.chain_id = "has space".into();
    expect(&g, GenesisError::InvalidChainId("has space".into()));
    g.chain_id = "x".repeat(65);
    expect(&g, GenesisError::InvalidChainId("x".repeat(65)));

    let mut g = good.clone();
    g.members.clear();
    expect(&g, GenesisError::NoMembers);

    let mut g = good.clone();
    g.members[2].id = g.members[0].id.clone();
    expect(&g, GenesisError::DuplicateMemberId(g.members[0].id.clone()));

    let mut g = good.clone();
    g.members[2].key = g.members[1].key;
    expect(&g, GenesisError::DuplicateMemberKey(g.members[1].key));

    let mut g = good.clone();
    g.members[1].key = PublicKey([0; 32]);
    expect(
        &g,
        GenesisError::InvalidMember {
            member_id: g.members[1].id.clone(),
            error: ChangeError::InvalidKey(PublicKey([0; 32])),
        },
    );

    let mut g = good.clone();
    g.members[1].name = String::new();
    expect(
        &g,
        GenesisError::InvalidMember {
            member_id: g.members[1].id.clone(),
            error: ChangeError::InvalidName { len: 0, max: 256 },
        },
    );

    let mut g = good.clone();
    g.members[1].roles = vec![];
    expect(
        &g,
        GenesisError::InvalidMember {
            member_id: g.members[1].id.clone(),
            error: ChangeError::InvalidRoles,
        },
    );

    let mut g = good.clone();
    g.members[1].status = MemberStatus::Removed;
    expect(&g, GenesisError::RemovedMember(g.members[1].id.clone()));

    let mut g = good.clone();
    for m in &mut g.members {
        m.roles = vec![Role::Observer];
    }
    expect(&g, GenesisError::NoValidator);
    let mut g = good.clone();
    for m in &mut g.members {
        m.status = MemberStatus::Suspended;
    }
    expect(&g, GenesisError::NoValidator);

    let mut g = good.clone();
    g.admins.clear();
    expect(&g, GenesisError::NoAdmin);
    let mut g = good.clone();
    g.admins.push(g.admins[0]);
    expect(&g, GenesisError::DuplicateAdmin(g.admins[0]));
    let mut g = good.clone();
    g.admins.push(PublicKey([0; 32]));
    expect(&g, GenesisError::InvalidAdminKey(PublicKey([0; 32])));
    let mut g = good.clone();
    g.admins = (0..65).map(|i| public_key(&key(i))).collect();
    expect(&g, GenesisError::TooManyAdmins { count: 65, max: 64 });

    let mut g = good.clone();
    g.params.governance_threshold = Threshold {
        numerator: 2,
        denominator: 0,
    };
    expect(
        &g,
        GenesisError::Params(ParamsError::ThresholdDenominatorZero),
    );
    g.params.governance_threshold = Threshold {
        numerator: 3,
        denominator: 3,
    };
    expect(
        &g,
        GenesisError::Params(ParamsError::ThresholdUnreachable {
            numerator: 3,
            denominator: 3,
        }),
    );
    let mut g = good.clone();
    g.params.proposal_expiry_blocks = 0;
    assert!(matches!(
        validate_genesis(&g),
        Err(GenesisError::Params(ParamsError::ProposalExpiry {
            value: 0,
            ..
        }))
    ));
    let mut g = good.clone();
    g.params.max_record_bytes = 100;
    assert!(matches!(
        validate_genesis(&g),
        Err(GenesisError::Params(ParamsError::MaxRecordBytes {
            value: 100,
            ..
        }))
    ));
    let mut g = good.clone();
    g.params.max_block_interval_ms = 0;
    assert!(matches!(
        validate_genesis(&g),
        Err(GenesisError::Params(ParamsError::MaxBlockInterval {
            value: 0,
            ..
        }))
    ));

    // Error messages name the field.
    let mut g = good;
    g.admins.clear();
    assert!(validate_genesis(&g)
        .unwrap_err()
        .to_string()
        .starts_with("admins"));
}

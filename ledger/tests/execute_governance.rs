//! Governance: proposals, approvals, threshold, expiry, member changes, the validator
//! set from h + 1, and the catalogue.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod execute_support;

use ed25519_dalek::SigningKey;
use execute_support::*;
use tongban_ledger::crypto::public_key;
use tongban_ledger::execute::{
    read_admins, read_catalog, read_member_by_key, read_member_list, read_open_proposals,
    read_params, read_proposal, validator_set, ChangeError, Mode, ParamsError, RejectReason,
};
use tongban_ledger::types::{
    CaseMode, ChainParams, MemberChange, MemberStatus, ProposalStatus, RecordBody, Role, Threshold,
};
use tongban_ledger::PublicKey;

fn propose(id: u64, change: MemberChange) -> RecordBody {
    RecordBody::ProposeMemberChange {
        proposal_id: id,
        change,
    }
}

fn approve(id: u64) -> RecordBody {
    RecordBody::Approve { proposal_id: id }
}

/// 4 members, 4 admins: the default threshold (more than 2/3) needs 3 approvals.
fn world() -> World {
    World::new(4, 4)
}

fn new_member(n: u32, seed: u8) -> (tongban_ledger::types::Member, SigningKey) {
    let k = key(seed);
    (member(n, &k, vec![Role::Validator]), k)
}

#[test]
fn proposal_applies_at_the_end_of_the_block_reaching_the_threshold() {
    let mut w = world();
    let (m, _) = new_member(10, 50);
    let (a0, a1, a2) = (w.admin(0), w.admin(1), w.admin(2));

    let outcome = w.ok(&a0, propose(7, MemberChange::Add(m.clone())));
    assert!(outcome.ended_proposals.is_empty());
    let p = read_proposal(&w.state, 7).unwrap().unwrap();
    assert_eq!(p.status, ProposalStatus::Open);
    assert_eq!(p.approvals, vec![public_key(&a0)]);
    assert_eq!(p.created_height, 1);
    assert_eq!(
        p.expires_height,
        1 + ChainParams::default().proposal_expiry_blocks
    );
    assert_eq!(read_open_proposals(&w.state).unwrap(), vec![7]);

    // Two of four: not more than two thirds.
    let outcome = w.ok(&a1, approve(7));
    assert!(outcome.ended_proposals.is_empty());
    assert!(w.member(&m.id).is_none());
    assert!(!outcome.validator_set_changed);

    // Third approval: applied at the end of this block; validators change from h + 1.
    let before = validator_set(&w.state).unwrap();
    let outcome = w.ok(&a2, approve(7));
    let h = w.height;
    assert_eq!(
        outcome.ended_proposals,
        vec![(7, ProposalStatus::Applied(h))]
    );
    assert_eq!(w.member(&m.id), Some(m.clone()));
    assert!(outcome.validator_set_changed);
    let next = outcome.next_validator_set.expect("next set");
    assert_eq!(next.len(), before.len() + 1);
    assert!(next.index_of(&m.key).is_some());
    assert_eq!(next, validator_set(&w.state).unwrap());
    assert!(read_open_proposals(&w.state).unwrap().is_empty());
    // Indexes kept consistent.
    assert!(read_member_list(&w.state).unwrap().contains(&m.id));
    assert_eq!(read_member_by_key(&w.state, &m.key).unwrap(), Some(m));

    // Applied: no more approvals.
    let a3 = w.admin(3);
    w.reject(&a3, approve(7), "proposal_not_open");
}

#[test]
fn approvals_in_the_same_block_apply_once_at_its_end() {
    let mut w = world();
    let (m, _) = new_member(11, 51);
    let records = vec![
        w.record(&w.admin(0), propose(1, MemberChange::Add(m.clone()))),
        w.record(&w.admin(1), approve(1)),
        w.record(&w.admin(2), approve(1)),
        // A fourth approval after the threshold is reached, same block: still open.
        w.record(&w.admin(3), approve(1)),
    ];
    let outcome = w.block(&records, Mode::Validate).unwrap();
    assert_eq!(outcome.kept.len(), 4);
    assert_eq!(
        outcome.ended_proposals,
        vec![(1, ProposalStatus::Applied(1))]
    );
    let p = read_proposal(&w.state, 1).unwrap().unwrap();
    assert_eq!(p.approvals.len(), 4);
    assert!(w.member(&m.id).is_some());
}

#[test]
fn proposal_rejections() {
    let mut w = world();
    let a0 = w.admin(0);
    let a1 = w.admin(1);
    let (m, _) = new_member(12, 52);
    let k0 = w.member_key(0);

    w.reject(&k0, propose(1, MemberChange::Add(m.clone())), "not_admin");
    w.reject(&k0, approve(1), "not_admin");
    w.reject(&a0, approve(1), "unknown_proposal");
    w.ok(&a0, propose(1, MemberChange::Add(m.clone())));
    w.reject(
        &a1,
        propose(1, MemberChange::Remove(w.id(1))),
        "proposal_exists",
    );
    let reason = w.reject(&a0, approve(1), "already_approved");
    assert_eq!(
        reason,
        RejectReason::AlreadyApproved {
            proposal_id: 1,
            admin: public_key(&a0)
        }
    );
}

/// `invalid!(&mut w, change, expected)`: the change and error are built before `w` is
/// borrowed mutably.
macro_rules! invalid {
    ($w:expr, $change:expr, $expected:expr $(,)?) => {{
        let change = $change;
        let expected = $expected;
        check_invalid($w, change, expected)
    }};
}

fn check_invalid(w: &mut World, change: MemberChange, expected: ChangeError) {
    let a0 = w.admin(0);
    let code = expected.code();
    let reason = w.reject(&a0, propose(1000 + w.height, change), "invalid_change");
    assert_eq!(reason, RejectReason::InvalidChange(expected), "{code}");
}

#[test]
fn invalid_changes_are_refused_when_proposed() {
    let mut w = World::new(2, 2);
    let (m, k) = new_member(20, 60);
    // Member exists.
    let mut dup = m.clone();
    dup.id = w.id(0);
    invalid!(
        &mut w,
        MemberChange::Add(dup.clone()),
        ChangeError::MemberExists(w.id(0))
    );
    // Key in use.
    let mut same_key = m.clone();
    same_key.key = public_key(&w.member_key(1));
    invalid!(
        &mut w,
        MemberChange::Add(same_key.clone()),
        ChangeError::KeyInUse(same_key.key)
    );
    // Invalid key, roles, name, status.
    let mut weak = m.clone();
    weak.key = PublicKey([0; 32]);
    invalid!(
        &mut w,
        MemberChange::Add(weak),
        ChangeError::InvalidKey(PublicKey([0; 32]))
    );
    let mut no_roles = m.clone();
    no_roles.roles = vec![];
    invalid!(
        &mut w,
        MemberChange::Add(no_roles),
        ChangeError::InvalidRoles
    );
    let mut twice = m.clone();
    twice.roles = vec![Role::Validator, Role::Validator];
    invalid!(&mut w, MemberChange::Add(twice), ChangeError::InvalidRoles);
    let mut unnamed = m.clone();
    unnamed.name = " ".into();
    invalid!(
        &mut w,
        MemberChange::Add(unnamed),
        ChangeError::InvalidName { len: 1, max: 256 }
    );
    let mut removed = m.clone();
    removed.status = MemberStatus::Removed;
    invalid!(
        &mut w,
        MemberChange::Add(removed),
        ChangeError::InvalidStatus(MemberStatus::Removed)
    );
    // Unknown member.
    let ghost = member_id(99);
    invalid!(
        &mut w,
        MemberChange::Remove(ghost.clone()),
        ChangeError::MemberUnknown(ghost.clone())
    );
    invalid!(
        &mut w,
        MemberChange::RotateKey {
            member_id: ghost.clone(),
            new_key: public_key(&k),
        },
        ChangeError::MemberUnknown(ghost.clone()),
    );
    invalid!(
        &mut w,
        MemberChange::SetRoles {
            member_id: ghost.clone(),
            roles: vec![Role::Observer],
        },
        ChangeError::MemberUnknown(ghost.clone()),
    );
    // Rotating to a key in use (its own).
    invalid!(
        &mut w,
        MemberChange::RotateKey {
            member_id: w.id(0),
            new_key: public_key(&w.member_key(0)),
        },
        ChangeError::KeyInUse(public_key(&w.member_key(0))),
    );
    // Status: Removed via SetStatus, unchanged status.
    invalid!(
        &mut w,
        MemberChange::SetStatus {
            member_id: w.id(0),
            status: MemberStatus::Removed,
        },
        ChangeError::InvalidStatus(MemberStatus::Removed),
    );
    invalid!(
        &mut w,
        MemberChange::SetStatus {
            member_id: w.id(0),
            status: MemberStatus::Active,
        },
        ChangeError::StatusUnchanged {
            member_id: w.id(0),
            status: MemberStatus::Active,
        },
    );
    // Admins.
    let a0 = public_key(&w.admin(0));
    invalid!(
        &mut w,
        MemberChange::AddAdmin(a0),
        ChangeError::AdminExists(a0)
    );
    let stranger = public_key(&key(77));
    invalid!(
        &mut w,
        MemberChange::RemoveAdmin(stranger),
        ChangeError::AdminUnknown(stranger)
    );
    // Parameters.
    let params = ChainParams {
        governance_threshold: Threshold {
            numerator: 1,
            denominator: 0,
        },
        ..ChainParams::default()
    };
    invalid!(
        &mut w,
        MemberChange::SetParams(params),
        ChangeError::InvalidParams(ParamsError::ThresholdDenominatorZero),
    );
    let params = ChainParams {
        max_block_records: 0,
        ..ChainParams::default()
    };
    invalid!(
        &mut w,
        MemberChange::SetParams(params),
        ChangeError::InvalidParams(ParamsError::MaxBlockRecords {
            value: 0,
            max: 100_000,
        }),
    );
}

#[test]
fn the_last_validator_and_the_last_admin_stay() {
    let mut w = World::new(1, 1);
    // One validator: removing, suspending or demoting it would leave none.
    invalid!(
        &mut w,
        MemberChange::Remove(w.id(0)),
        ChangeError::NoValidatorLeft
    );
    invalid!(
        &mut w,
        MemberChange::SetStatus {
            member_id: w.id(0),
            status: MemberStatus::Suspended,
        },
        ChangeError::NoValidatorLeft,
    );
    invalid!(
        &mut w,
        MemberChange::SetRoles {
            member_id: w.id(0),
            roles: vec![Role::Observer],
        },
        ChangeError::NoValidatorLeft,
    );
    let a0 = public_key(&w.admin(0));
    invalid!(
        &mut w,
        MemberChange::RemoveAdmin(a0),
        ChangeError::LastAdmin
    );
}

#[test]
fn a_proposal_that_became_invalid_fails() {
    // Two proposals remove the two validators of a 2-validator chain; admins = 1, so
    // each applies in the block that proposes it. Proposed in one block, the first
    // applies and the second fails (it would leave no validator).
    let mut w = World::new(2, 1);
    let a0 = w.admin(0);
    let records = vec![
        w.record(&a0, propose(1, MemberChange::Remove(w.id(0)))),
        w.record(&a0, propose(2, MemberChange::Remove(w.id(1)))),
    ];
    let outcome = w.block(&records, Mode::Validate).unwrap();
    assert_eq!(
        outcome.ended_proposals,
        vec![(1, ProposalStatus::Applied(1)), (2, ProposalStatus::Failed)]
    );
    assert_eq!(w.member(&w.id(0)).unwrap().status, MemberStatus::Removed);
    assert_eq!(w.member(&w.id(1)).unwrap().status, MemberStatus::Active);
    assert!(outcome.validator_set_changed);
    assert_eq!(outcome.next_validator_set.unwrap().len(), 1);
}

#[test]
fn proposals_expire() {
    let mut w = world();
    let a0 = w.admin(0);
    let params = ChainParams {
        proposal_expiry_blocks: 3,
        ..ChainParams::default()
    };
    // Set the expiry to 3 blocks (3 approvals of 4).
    w.ok(&a0, propose(1, MemberChange::SetParams(params.clone())));
    w.ok(&w.admin(1), approve(1));
    let outcome = w.ok(&w.admin(2), approve(1));
    assert_eq!(
        outcome.ended_proposals,
        vec![(1, ProposalStatus::Applied(3))]
    );
    assert_eq!(read_params(&w.state).unwrap(), params);

    let (m, _) = new_member(30, 70);
    w.ok(&a0, propose(2, MemberChange::Add(m.clone()))); // height 4, expires at 7
    assert_eq!(
        read_proposal(&w.state, 2).unwrap().unwrap().expires_height,
        7
    );
    w.block(&[], Mode::Validate).unwrap(); // 5
    w.block(&[], Mode::Validate).unwrap(); // 6
    let outcome = w.block(&[], Mode::Validate).unwrap(); // 7: last height, expires at its end
    assert_eq!(outcome.ended_proposals, vec![(2, ProposalStatus::Expired)]);
    assert_eq!(
        read_proposal(&w.state, 2).unwrap().unwrap().status,
        ProposalStatus::Expired
    );
    assert!(read_open_proposals(&w.state).unwrap().is_empty());
    w.reject(&w.admin(1), approve(2), "proposal_not_open");
    assert!(w.member(&m.id).is_none());
}

#[test]
fn approval_on_the_last_height_still_applies() {
    let mut w = world();
    let a0 = w.admin(0);
    let params = ChainParams {
        proposal_expiry_blocks: 2,
        ..ChainParams::default()
    };
    for (i, admin) in [0, 1, 2].into_iter().enumerate() {
        let body = if i == 0 {
            propose(1, MemberChange::SetParams(params.clone()))
        } else {
            approve(1)
        };
        let k = w.admin(admin);
        w.ok(&k, body);
    }
    let (m, _) = new_member(31, 71);
    w.ok(&a0, propose(2, MemberChange::Add(m.clone()))); // height 4, expires 6
    w.ok(&w.admin(1), approve(2)); // 5
    let outcome = w.ok(&w.admin(2), approve(2)); // 6
    assert_eq!(
        outcome.ended_proposals,
        vec![(2, ProposalStatus::Applied(6))]
    );
}

#[test]
fn rotate_key_moves_the_index() {
    let mut w = World::new(2, 1);
    let a0 = w.admin(0);
    let old = w.member_key(0);
    let new = key(80);
    let t = w.publish_type(1, &[0]);
    let outcome = w.ok(
        &a0,
        propose(
            1,
            MemberChange::RotateKey {
                member_id: w.id(0),
                new_key: public_key(&new),
            },
        ),
    );
    assert!(outcome.validator_set_changed);
    let next = outcome.next_validator_set.unwrap();
    assert!(next.index_of(&public_key(&new)).is_some());
    assert!(next.index_of(&public_key(&old)).is_none());
    assert_eq!(
        read_member_by_key(&w.state, &public_key(&old)).unwrap(),
        None
    );
    assert_eq!(w.member(&w.id(0)).unwrap().key, public_key(&new));

    let id = licence_id(&t, &w.id(0), "ROT");
    w.reject(&old, issue_body(&t, &id), "unknown_author");
    w.ok(&new, issue_body(&t, &id));
}

#[test]
fn roles_status_and_admins() {
    let mut w = World::new(3, 1);
    let a0 = w.admin(0);
    // Demote member 2 to observer: validator set shrinks from h + 1.
    let outcome = w.ok(
        &a0,
        propose(
            1,
            MemberChange::SetRoles {
                member_id: w.id(2),
                roles: vec![Role::Observer],
            },
        ),
    );
    assert_eq!(outcome.next_validator_set.unwrap().len(), 2);
    // Suspending an observer changes no validator set.
    let outcome = w.ok(
        &a0,
        propose(
            2,
            MemberChange::SetStatus {
                member_id: w.id(2),
                status: MemberStatus::Suspended,
            },
        ),
    );
    assert_eq!(
        outcome.ended_proposals,
        vec![(2, ProposalStatus::Applied(2))]
    );
    assert!(!outcome.validator_set_changed);
    assert_eq!(outcome.next_validator_set, None);

    // Admins: add one, then the threshold needs 2 of 2.
    let new_admin = key(210);
    w.ok(
        &a0,
        propose(3, MemberChange::AddAdmin(public_key(&new_admin))),
    );
    let mut admins = read_admins(&w.state).unwrap();
    assert_eq!(admins.len(), 2);
    assert!(admins.windows(2).all(|p| p[0] < p[1]));
    let outcome = w.ok(&a0, propose(4, MemberChange::RemoveAdmin(public_key(&a0))));
    assert!(outcome.ended_proposals.is_empty());
    let outcome = w.ok(&new_admin, approve(4));
    assert_eq!(
        outcome.ended_proposals,
        vec![(4, ProposalStatus::Applied(5))]
    );
    admins = read_admins(&w.state).unwrap();
    assert_eq!(admins, vec![public_key(&new_admin)]);
    w.reject(&a0, approve(4), "not_admin");
}

#[test]
fn removed_admin_approvals_do_not_count() {
    // 4 admins; proposal 1 removes admin 3 (applies with 3 approvals). Proposal 2 has
    // approvals of admins 0 and 3; after 3 is removed that is 1 of 3, not enough.
    let mut w = world();
    let a = [w.admin(0), w.admin(1), w.admin(2), w.admin(3)];
    w.ok(
        &a[3],
        propose(2, MemberChange::AddAdmin(public_key(&key(220)))),
    );
    w.ok(&a[0], approve(2));
    let records = vec![
        w.record(
            &a[0],
            propose(1, MemberChange::RemoveAdmin(public_key(&a[3]))),
        ),
        w.record(&a[1], approve(1)),
        w.record(&a[2], approve(1)),
    ];
    let outcome = w.block(&records, Mode::Validate).unwrap();
    assert_eq!(
        outcome.ended_proposals,
        vec![(1, ProposalStatus::Applied(3))]
    );
    assert_eq!(read_open_proposals(&w.state).unwrap(), vec![2]);
    // Admin 1 approves: 0 and 1 of {0, 1, 2} = 2 of 3, not more than 2/3.
    let outcome = w.ok(&a[1], approve(2));
    assert!(outcome.ended_proposals.is_empty());
    let outcome = w.ok(&a[2], approve(2));
    assert_eq!(
        outcome.ended_proposals,
        vec![(2, ProposalStatus::Applied(5))]
    );
}

#[test]
fn removed_member_key_stays_taken() {
    let mut w = World::new(2, 1);
    let a0 = w.admin(0);
    w.ok(&a0, propose(1, MemberChange::Remove(w.id(1))));
    let (mut m, _) = new_member(40, 90);
    m.key = public_key(&w.member_key(1));
    invalid!(
        &mut w,
        MemberChange::Add(m.clone()),
        ChangeError::KeyInUse(m.key)
    );
    invalid!(
        &mut w,
        MemberChange::Remove(w.id(1)),
        ChangeError::MemberRemoved(w.id(1))
    );
    let mut again = m.clone();
    again.id = w.id(1);
    again.key = public_key(&key(91));
    invalid!(
        &mut w,
        MemberChange::Add(again),
        ChangeError::MemberExists(w.id(1))
    );
}

#[test]
fn catalogue_publishing() {
    let mut w = World::new(2, 1);
    let a0 = w.admin(0);
    let k0 = w.member_key(0);
    let t1 = type_code(1);
    let publish_type =
        |issuers: Vec<tongban_ledger::ids::MemberId>| RecordBody::PublishLicenceType {
            type_code: t1.clone(),
            name: "营业执照".into(),
            issuers,
        };
    w.reject(&k0, publish_type(vec![w.id(0)]), "not_admin");
    w.reject(&a0, publish_type(vec![]), "invalid_catalog_entry");
    w.reject(
        &a0,
        publish_type(vec![w.id(0), w.id(0)]),
        "invalid_catalog_entry",
    );
    w.reject(&a0, publish_type(vec![member_id(55)]), "unknown_member");
    w.reject(
        &a0,
        RecordBody::PublishLicenceType {
            type_code: t1.clone(),
            name: "x".repeat(300),
            issuers: vec![w.id(0)],
        },
        "field_too_long",
    );
    w.ok(&a0, publish_type(vec![w.id(0)]));
    // Republishing replaces the entry.
    w.ok(&a0, publish_type(vec![w.id(0), w.id(1)]));
    let (types, items) = read_catalog(&w.state).unwrap();
    assert_eq!(types.len(), 1);
    assert_eq!(types[0].issuers, vec![w.id(0), w.id(1)]);
    assert!(items.is_empty());

    let item = |days: u32, modes: Vec<CaseMode>, uses: Vec<tongban_ledger::ids::TypeCode>| {
        RecordBody::PublishItem {
            item_code: item_code("ITEM-A"),
            name: "跨省迁移".into(),
            time_limit_days: days,
            modes,
            uses_types: uses,
            issues_types: vec![t1.clone()],
        }
    };
    w.reject(&k0, item(5, vec![CaseMode::Online], vec![]), "not_admin");
    w.reject(
        &a0,
        item(0, vec![CaseMode::Online], vec![]),
        "invalid_catalog_entry",
    );
    w.reject(
        &a0,
        item(3651, vec![CaseMode::Online], vec![]),
        "invalid_catalog_entry",
    );
    w.reject(&a0, item(5, vec![], vec![]), "invalid_catalog_entry");
    w.reject(
        &a0,
        item(5, vec![CaseMode::Online, CaseMode::Online], vec![]),
        "invalid_catalog_entry",
    );
    w.reject(
        &a0,
        item(5, vec![CaseMode::Online], vec![type_code(2)]),
        "unknown_licence_type",
    );
    w.ok(&a0, item(5, vec![CaseMode::Online], vec![t1.clone()]));
    w.publish_item("ITEM-0", 3);
    let (_, items) = read_catalog(&w.state).unwrap();
    let codes: Vec<&str> = items.iter().map(|i| i.item_code.as_str()).collect();
    assert_eq!(codes, vec!["ITEM-0", "ITEM-A"]);
    assert_eq!(items[1].issues_types, vec![t1]);
}

#[test]
fn open_proposals_are_bounded() {
    let mut w = world();
    let a0 = w.admin(0);
    let max = tongban_ledger::execute::MAX_OPEN_PROPOSALS as u64;
    let records: Vec<_> = (0..max)
        .map(|id| {
            w.record(
                &a0,
                propose(id, MemberChange::AddAdmin(public_key(&key(100)))),
            )
        })
        .collect();
    let outcome = w.block(&records, Mode::Validate).unwrap();
    assert_eq!(outcome.kept.len() as u64, max);
    assert_eq!(read_open_proposals(&w.state).unwrap().len() as u64, max);
    w.reject(
        &a0,
        propose(max, MemberChange::AddAdmin(public_key(&key(100)))),
        "too_many_open_proposals",
    );
    // Once one applies it leaves the open list, and there is room again.
    w.ok(&w.admin(1), approve(0));
    let outcome = w.ok(&w.admin(2), approve(0));
    assert_eq!(
        outcome.ended_proposals,
        vec![(0, ProposalStatus::Applied(3))]
    );
    w.ok(
        &a0,
        propose(max, MemberChange::AddAdmin(public_key(&key(101)))),
    );
}

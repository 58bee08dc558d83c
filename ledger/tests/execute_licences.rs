//! Licence rules and the record envelope (chain id, size, signature, nonce, author).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod execute_support;

use execute_support::*;
use tongban_ledger::crypto::public_key;
use tongban_ledger::execute::{read_nonce, Mode, RejectReason};
use tongban_ledger::ids::RegionCode;
use tongban_ledger::types::{LicenceStatus, MemberChange, MemberStatus, RecordBody, RecordPayload};
use tongban_ledger::{Hash32, Signature};

/// Members 0..3; type 1 issued by members 0 and 1.
fn world() -> (World, tongban_ledger::ids::TypeCode) {
    let mut w = World::new(4, 1);
    let t = w.publish_type(1, &[0, 1]);
    (w, t)
}

#[test]
fn issue_writes_the_licence() {
    let (mut w, t) = world();
    let id = licence_id(&t, &w.id(0), "A1");
    let k = w.member_key(0);
    w.ok(&k, issue_body(&t, &id));
    let l = w.licence(&id).expect("issued");
    assert_eq!(l.issuer, w.id(0));
    assert_eq!(l.status, LicenceStatus::Active);
    assert_eq!(l.issued_height, w.height);
    assert_eq!(l.document_hash, Hash32([8; 32]));
    assert_eq!(l.superseded_by, None);
}

#[test]
fn issue_with_region_issuer_code() {
    let (mut w, t) = world();
    let id = licence_id(&t, &w.id(0), "R1");
    let by_region =
        tongban_ledger::ids::LicenceId::compose(&t, region().as_str(), "R1", 1).expect("id");
    let k = w.member_key(0);
    w.ok(&k, issue_body(&t, &by_region));
    assert!(w.licence(&by_region).is_some());
    assert!(w.licence(&id).is_none());
    // A region the member does not serve is refused.
    let other = RegionCode::parse("110000").expect("region");
    let foreign = tongban_ledger::ids::LicenceId::compose(&t, other.as_str(), "R2", 1).expect("id");
    w.reject(&k, issue_body(&t, &foreign), "issuer_code_mismatch");
}

#[test]
fn issue_rejections() {
    let (mut w, t) = world();
    let k0 = w.member_key(0);
    let k2 = w.member_key(2);

    // Not an issuer of the type.
    let id2 = licence_id(&t, &w.id(2), "X");
    w.reject(&k2, issue_body(&t, &id2), "not_type_issuer");
    // Unknown type.
    let t9 = type_code(9);
    let id9 = licence_id(&t9, &w.id(0), "X");
    w.reject(&k0, issue_body(&t9, &id9), "unknown_licence_type");
    // Type code in the id differs from the record's.
    let id_other_type = licence_id(&t9, &w.id(0), "Y");
    w.reject(&k0, issue_body(&t, &id_other_type), "type_code_mismatch");
    // Issuer code of another member.
    let id_of_1 = licence_id(&t, &w.id(1), "Z");
    w.reject(&k0, issue_body(&t, &id_of_1), "issuer_code_mismatch");
    // Validity end not after start.
    let id = licence_id(&t, &w.id(0), "V");
    let mut body = issue_body(&t, &id);
    if let RecordBody::IssueLicence { valid_until, .. } = &mut body {
        *valid_until = Some(T0);
    }
    w.reject(&k0, body, "invalid_validity");
    // Exists.
    w.ok(&k0, issue_body(&t, &id));
    w.reject(&k0, issue_body(&t, &id), "licence_exists");
    // Admin keys are not members.
    let admin = w.admin(0);
    let id_a = licence_id(&t, &w.id(0), "ADM");
    w.reject(&admin, issue_body(&t, &id_a), "unknown_author");
}

#[test]
fn suspended_and_removed_members_cannot_issue() {
    let (mut w, t) = world();
    let admin = w.admin(0);
    w.ok(
        &admin,
        RecordBody::ProposeMemberChange {
            proposal_id: 1,
            change: MemberChange::SetStatus {
                member_id: w.id(1),
                status: MemberStatus::Suspended,
            },
        },
    );
    let k1 = w.member_key(1);
    let id = licence_id(&t, &w.id(1), "S");
    let reason = w.reject(&k1, issue_body(&t, &id), "author_not_active");
    assert_eq!(
        reason,
        RejectReason::AuthorNotActive {
            member_id: w.id(1),
            status: MemberStatus::Suspended
        }
    );
    w.ok(
        &admin,
        RecordBody::ProposeMemberChange {
            proposal_id: 2,
            change: MemberChange::Remove(w.id(1)),
        },
    );
    w.reject(&k1, issue_body(&t, &id), "author_not_active");
}

#[test]
fn status_machine_and_only_the_issuer() {
    let (mut w, t) = world();
    let k0 = w.member_key(0);
    let k1 = w.member_key(1);
    let id = licence_id(&t, &w.id(0), "M");
    w.ok(&k0, issue_body(&t, &id));
    let suspend = |r: &str| suspend_body(&id, r);
    let reinstate = RecordBody::ReinstateLicence {
        licence_id: id.clone(),
    };
    let revoke = RecordBody::RevokeLicence {
        licence_id: id.clone(),
        reason: "fraud".into(),
    };

    // Another issuer of the same type may not touch it.
    let reason = w.reject(&k1, suspend("x"), "not_licence_issuer");
    assert!(matches!(reason, RejectReason::NotLicenceIssuer { .. }));
    w.reject(&k1, revoke.clone(), "not_licence_issuer");

    // Active: reinstate is invalid.
    w.reject(&k0, reinstate.clone(), "invalid_status_change");
    w.ok(&k0, suspend("audit"));
    let l = w.licence(&id).unwrap();
    assert_eq!(l.status, LicenceStatus::Suspended);
    assert_eq!(l.status_reason.as_deref(), Some("audit"));
    assert_eq!(l.updated_height, w.height);
    // Suspended: suspend again is invalid.
    w.reject(&k0, suspend("again"), "invalid_status_change");
    w.ok(&k0, reinstate.clone());
    assert_eq!(w.licence(&id).unwrap().status, LicenceStatus::Active);
    assert_eq!(w.licence(&id).unwrap().status_reason, None);
    w.ok(&k0, suspend("audit 2"));
    w.ok(&k0, revoke.clone());
    assert_eq!(w.licence(&id).unwrap().status, LicenceStatus::Revoked);
    // Nothing leaves Revoked.
    w.reject(&k0, reinstate, "invalid_status_change");
    w.reject(&k0, suspend("late"), "invalid_status_change");
    w.reject(&k0, revoke, "invalid_status_change");

    // Unknown licence.
    let unknown = licence_id(&t, &w.id(0), "NONE");
    w.reject(
        &k0,
        RecordBody::RevokeLicence {
            licence_id: unknown,
            reason: "x".into(),
        },
        "unknown_licence",
    );
    // Over-long reason.
    let id2 = licence_id(&t, &w.id(0), "M2");
    w.ok(&k0, issue_body(&t, &id2));
    w.reject(
        &k0,
        RecordBody::SuspendLicence {
            licence_id: id2,
            reason: "x".repeat(tongban_ledger::execute::MAX_REASON_BYTES + 1),
        },
        "field_too_long",
    );
}

#[test]
fn revoke_directly_from_active() {
    let (mut w, t) = world();
    let k0 = w.member_key(0);
    let id = licence_id(&t, &w.id(0), "RA");
    w.ok(&k0, issue_body(&t, &id));
    w.ok(
        &k0,
        RecordBody::RevokeLicence {
            licence_id: id.clone(),
            reason: "error".into(),
        },
    );
    let l = w.licence(&id).unwrap();
    assert_eq!(l.status, LicenceStatus::Revoked);
    assert_eq!(l.status_reason.as_deref(), Some("error"));
}

#[test]
fn supersede() {
    let (mut w, t) = world();
    let k0 = w.member_key(0);
    let k1 = w.member_key(1);
    let old = licence_id(&t, &w.id(0), "OLD");
    w.ok(&k0, issue_body(&t, &old));
    let of_1 = licence_id(&t, &w.id(1), "OF1");
    w.ok(&k1, issue_body(&t, &of_1));

    let with_supersedes = |new: &tongban_ledger::ids::LicenceId,
                           old: &tongban_ledger::ids::LicenceId| {
        let mut body = issue_body(&t, new);
        if let RecordBody::IssueLicence { supersedes, .. } = &mut body {
            *supersedes = Some(old.clone());
        }
        body
    };
    // Another issuer's licence.
    let new_a = licence_id(&t, &w.id(0), "NEWA");
    w.reject(
        &k0,
        with_supersedes(&new_a, &of_1),
        "supersedes_other_issuer",
    );
    // Unknown licence.
    let ghost = licence_id(&t, &w.id(0), "GHOST");
    w.reject(&k0, with_supersedes(&new_a, &ghost), "supersedes_unknown");
    assert_eq!(w.licence(&of_1).unwrap().status, LicenceStatus::Active);

    let new = licence_id(&t, &w.id(0), "NEW");
    w.ok(&k0, with_supersedes(&new, &old));
    let o = w.licence(&old).unwrap();
    assert_eq!(o.status, LicenceStatus::Revoked);
    assert_eq!(o.superseded_by.as_ref(), Some(&new));
    assert_eq!(o.updated_height, w.height);
    let n = w.licence(&new).unwrap();
    assert_eq!(n.supersedes.as_ref(), Some(&old));
    assert_eq!(n.status, LicenceStatus::Active);
    // A revoked licence cannot be superseded again.
    let newer = licence_id(&t, &w.id(0), "NEWER");
    w.reject(&k0, with_supersedes(&newer, &old), "supersedes_revoked");
}

#[test]
fn envelope_rejections() {
    let (mut w, t) = world();
    let k0 = w.member_key(0);
    let id = licence_id(&t, &w.id(0), "E");

    // Wrong chain.
    let record = RecordPayload {
        chain_id: "other-chain".into(),
        author: public_key(&k0),
        nonce: 100,
        body: issue_body(&t, &id),
    }
    .sign(&k0);
    w.reject_record(&record, "wrong_chain_id");

    // Bad signature.
    let mut record = w.record(&k0, issue_body(&t, &id));
    record.signature.0[0] ^= 1;
    let reason = w.reject_record(&record, "bad_signature");
    assert_eq!(
        reason,
        RejectReason::BadSignature {
            record: record.hash()
        }
    );
    // An all-zero signature.
    let mut record = w.record(&k0, issue_body(&t, &id));
    record.signature = Signature([0; 64]);
    w.reject_record(&record, "bad_signature");

    // Too large: a reason longer than max_record_bytes.
    let big = RecordBody::RevokeLicence {
        licence_id: id.clone(),
        reason: "x".repeat(20_000),
    };
    w.reject(&k0, big, "record_too_large");

    // Unknown author (a key that is no member).
    let stranger = key(99);
    w.reject(&stranger, issue_body(&t, &id), "unknown_author");
}

#[test]
fn nonces() {
    let (mut w, t) = world();
    let k0 = w.member_key(0);
    let author = public_key(&k0);
    let at = |nonce: u64, serial: &str, t: &tongban_ledger::ids::TypeCode, w: &World| {
        RecordPayload {
            chain_id: CHAIN.into(),
            author,
            nonce,
            body: issue_body(t, &licence_id(t, &w.id(0), serial)),
        }
        .sign(&k0)
    };
    // Nonce 0 is never above the initial 0.
    let r = at(0, "N0", &t, &w);
    let reason = w.reject_record(&r, "stale_nonce");
    assert_eq!(reason, RejectReason::StaleNonce { nonce: 0, last: 0 });

    // Gaps are allowed; the nonce is stored.
    let r = at(10, "N10", &t, &w);
    w.block(&[r], Mode::Validate).unwrap();
    assert_eq!(read_nonce(&w.state, &author).unwrap(), 10);
    // Equal and lower nonces are stale.
    let r = at(10, "N10B", &t, &w);
    let reason = w.reject_record(&r, "stale_nonce");
    assert_eq!(
        reason,
        RejectReason::StaleNonce {
            nonce: 10,
            last: 10
        }
    );
    let r = at(5, "N5", &t, &w);
    w.reject_record(&r, "stale_nonce");
    // Replaying the committed record is stale too.
    let r = at(10, "N10", &t, &w);
    w.reject_record(&r, "stale_nonce");

    // Within one block nonces must rise: the second record sees the first's nonce.
    let a = at(20, "N20", &t, &w);
    let b = at(15, "N15", &t, &w);
    let outcome = w.block(&[a, b], Mode::Build).unwrap();
    assert_eq!(outcome.kept, vec![0]);
    assert_eq!(
        outcome.results[1].1,
        Err(RejectReason::StaleNonce {
            nonce: 15,
            last: 20
        })
    );
    assert_eq!(read_nonce(&w.state, &author).unwrap(), 20);

    // A refused record does not consume its nonce.
    let bad = at(30, "N20", &t, &w); // licence exists
    let outcome = w.block(&[bad], Mode::Build).unwrap();
    assert!(outcome.kept.is_empty());
    assert_eq!(read_nonce(&w.state, &author).unwrap(), 20);
    let good = at(30, "N30", &t, &w);
    w.block(&[good], Mode::Validate).unwrap();
    assert_eq!(read_nonce(&w.state, &author).unwrap(), 30);
}

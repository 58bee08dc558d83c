//! Licence proof bundles over a small real chain: honest bundles give the right verdict,
//! and each tampered part fails with its own reason.

mod proof_support;

use proof_support::*;
use tongban_ledger::codec::encode;
use tongban_ledger::crypto::{public_key, sha256};
use tongban_ledger::proof::{
    build_bundle, verify, BuildError, CommitError, InvalidReason, ProofBundle, Verdict,
    VerifyOptions, FORMAT, MAX_VALIDATOR_CHANGES,
};
use tongban_ledger::types::{LicenceStatus, Validator, ValidatorSet};
use tongban_ledger::{Hash32, Signature};

fn options() -> VerifyOptions<'static> {
    VerifyOptions {
        now_ms: NOW_MS,
        max_age_ms: None,
        document: None,
    }
}

fn check(bundle: &ProofBundle) -> Verdict {
    verify(bundle, &genesis(), &options())
}

/// The reason of an invalid verdict; fails the test for any other verdict.
fn reason(bundle: &ProofBundle) -> InvalidReason {
    match check(bundle) {
        Verdict::InvalidProof(reason) => reason,
        other => panic!("expected INVALID PROOF, got {other}"),
    }
}

fn header_commit_error(bundle: &ProofBundle) -> CommitError {
    match reason(bundle) {
        InvalidReason::HeaderNotCommitted { error, .. } => error,
        other => panic!("expected a header commit failure, got {other:?}"),
    }
}

fn change_commit_error(bundle: &ProofBundle) -> (u64, CommitError) {
    match reason(bundle) {
        InvalidReason::ValidatorChangeNotCommitted { height, error } => (height, error),
        other => panic!("expected a change commit failure, got {other:?}"),
    }
}

#[test]
fn chain_has_the_expected_shape() {
    let chain = TestChain::build();
    assert_eq!(chain.change_heights, vec![2, 4]);
    assert_eq!(chain.set(1).len(), 4);
    assert_eq!(chain.set(3).len(), 5);
    assert_eq!(chain.set(5).len(), 4);
    assert_ne!(chain.set(5), chain.set(1));
    assert_eq!(chain.bundle(&active_id(), TIP).validator_changes.len(), 2);
    assert_eq!(chain.bundle(&active_id(), 1).validator_changes.len(), 0);
    assert_eq!(chain.bundle(&active_id(), 3).validator_changes.len(), 1);
}

#[test]
fn active_licence_is_valid_at_every_height() {
    let chain = TestChain::build();
    for height in 1..=TIP {
        let bundle = chain.bundle(&active_id(), height);
        assert_eq!(check(&bundle), Verdict::Valid, "height {height}");
    }
}

#[test]
fn each_status_gives_its_verdict() {
    let chain = TestChain::build();
    // Revoked at height 5; active before.
    assert_eq!(check(&chain.bundle(&revoked_id(), 4)), Verdict::Valid);
    assert_eq!(
        check(&chain.bundle(&revoked_id(), TIP)),
        Verdict::Revoked {
            reason: Some("吊销：虚假登记".to_owned())
        }
    );
    assert_eq!(
        check(&chain.bundle(&suspended_id(), TIP)),
        Verdict::Suspended {
            reason: Some("营业场所核查中".to_owned())
        }
    );
    assert_eq!(
        check(&chain.bundle(&expired_id(), TIP)),
        Verdict::Expired {
            valid_until: GENESIS_TIME_MS + 1_000
        }
    );
    assert_eq!(
        check(&chain.bundle(&future_id(), TIP)),
        Verdict::NotYetValid {
            valid_from: VALID_UNTIL_MS
        }
    );
}

#[test]
fn expiry_is_strictly_after_valid_until() {
    let chain = TestChain::build();
    let bundle = chain.bundle(&expired_id(), TIP);
    let at = |now_ms| {
        verify(
            &bundle,
            &genesis(),
            &VerifyOptions {
                now_ms,
                ..options()
            },
        )
    };
    assert_eq!(at(GENESIS_TIME_MS + 1_000), Verdict::Valid);
    assert!(matches!(
        at(GENESIS_TIME_MS + 1_001),
        Verdict::Expired { .. }
    ));
    assert!(matches!(
        at(GENESIS_TIME_MS - 1),
        Verdict::NotYetValid { .. }
    ));
}

#[test]
fn missing_licence_is_unknown_with_a_valid_non_existence_proof() {
    let chain = TestChain::build();
    for height in [1, TIP] {
        let bundle = chain.bundle(&missing_id(), height);
        assert!(bundle.licence.is_none());
        assert_eq!(check(&bundle), Verdict::Unknown);
    }
    // The revoked licence did not exist before height 1: at genesis state it is absent,
    // but the bundle at height 1 proves it present, so claiming absence there fails.
    let mut bundle = chain.bundle(&active_id(), 1);
    bundle.licence = None;
    assert!(matches!(reason(&bundle), InvalidReason::StateProof(_)));
}

#[test]
fn non_existence_proof_cannot_hide_a_licence() {
    // A non-existence proof for the missing id, relabelled as a proof about the active
    // licence, does not verify: the key differs.
    let chain = TestChain::build();
    let mut bundle = chain.bundle(&missing_id(), TIP);
    bundle.licence_id = active_id();
    assert!(matches!(reason(&bundle), InvalidReason::StateProof(_)));
}

#[test]
fn document_is_checked() {
    let chain = TestChain::build();
    let bundle = chain.bundle(&active_id(), TIP);
    let with_document = |document: &[u8]| {
        verify(
            &bundle,
            &genesis(),
            &VerifyOptions {
                document: Some(document),
                ..options()
            },
        )
    };
    assert_eq!(with_document(DOCUMENT), Verdict::Valid);
    let verdict = with_document(b"a forged document");
    assert_eq!(
        verdict,
        Verdict::InvalidProof(InvalidReason::DocumentMismatch {
            recorded: sha256(&[DOCUMENT]),
            presented: sha256(&[b"a forged document"]),
        })
    );
    assert_eq!(verdict.code(), "document_mismatch");
    assert_eq!(verdict.label(), "INVALID PROOF");
}

#[test]
fn stale_proof_is_invalid_only_when_it_would_be_valid() {
    let chain = TestChain::build();
    let header_time = chain.header(TIP).time_ms;
    let aged = |id, max_age_ms| {
        verify(
            &chain.bundle(&id, TIP),
            &genesis(),
            &VerifyOptions {
                now_ms: header_time + 10_000,
                max_age_ms: Some(max_age_ms),
                document: None,
            },
        )
    };
    assert_eq!(aged(active_id(), 10_000), Verdict::Valid);
    let verdict = aged(active_id(), 9_999);
    assert_eq!(
        verdict,
        Verdict::InvalidProof(InvalidReason::Stale {
            age_ms: 10_000,
            max_age_ms: 9_999
        })
    );
    assert_eq!(verdict.code(), "stale");
    // Revocation is final, so an old proof of it still says REVOKED.
    assert!(matches!(aged(revoked_id(), 1), Verdict::Revoked { .. }));
}

// ---------------------------------------------------------------------------------
// Tampering, part by part
// ---------------------------------------------------------------------------------

#[test]
fn tampered_value_bytes_fail_the_state_proof() {
    let chain = TestChain::build();
    let mut bundle = chain.bundle(&active_id(), TIP);
    let licence = bundle.licence.as_mut().expect("present");
    let last = licence.value.len() - 1;
    licence.value[last] ^= 1;
    assert!(matches!(reason(&bundle), InvalidReason::StateProof(_)));
}

#[test]
fn tampered_decoded_copy_is_refused() {
    let chain = TestChain::build();
    let mut bundle = chain.bundle(&revoked_id(), TIP);
    // The proven bytes say revoked; the human-readable copy claims active.
    bundle.licence.as_mut().expect("present").decoded.status = LicenceStatus::Active;
    assert_eq!(reason(&bundle), InvalidReason::DecodedMismatch);
}

#[test]
fn swapped_value_and_copy_fail_the_state_proof() {
    // Replacing bytes and copy consistently with an active version still fails: the
    // state proof binds the bytes.
    let chain = TestChain::build();
    let mut bundle = chain.bundle(&revoked_id(), TIP);
    let active = licence_record(revoked_id(), LicenceStatus::Active, 5);
    let licence = bundle.licence.as_mut().expect("present");
    licence.value = encode(&active);
    licence.decoded = active;
    assert!(matches!(reason(&bundle), InvalidReason::StateProof(_)));
}

#[test]
fn tampered_state_proof_sibling_fails() {
    let chain = TestChain::build();
    let mut bundle = chain.bundle(&active_id(), TIP);
    assert!(!bundle.state_proof.siblings.is_empty());
    bundle.state_proof.siblings[0].0[0] ^= 1;
    assert!(matches!(reason(&bundle), InvalidReason::StateProof(_)));

    let mut bundle = chain.bundle(&missing_id(), TIP);
    let last = bundle.state_proof.siblings.len() - 1;
    bundle.state_proof.siblings[last].0[31] ^= 1;
    assert!(matches!(reason(&bundle), InvalidReason::StateProof(_)));
}

#[test]
fn tampered_header_fields_break_the_commit() {
    let chain = TestChain::build();
    let honest = chain.bundle(&active_id(), TIP);
    type Edit = fn(&mut tongban_ledger::types::BlockHeader);
    // Every field but `chain_id` and `validators_hash` (checked before the hash, below)
    // changes the block hash, so the commit no longer matches.
    let edits: Vec<(&str, Edit)> = vec![
        ("height", |h| h.height += 1),
        ("time_ms", |h| h.time_ms += 1),
        ("prev_hash", |h| h.prev_hash.0[0] ^= 1),
        ("records_root", |h| h.records_root.0[0] ^= 1),
        ("state_root", |h| h.state_root.0[0] ^= 1),
        ("next_validators_hash", |h| h.next_validators_hash.0[0] ^= 1),
        ("proposer", |h| h.proposer.0[0] ^= 1),
    ];
    for (field, edit) in edits {
        let mut bundle = honest.clone();
        edit(&mut bundle.header);
        let error = header_commit_error(&bundle);
        match field {
            "height" => assert!(
                matches!(error, CommitError::HeightMismatch { .. }),
                "{field}: {error:?}"
            ),
            _ => assert!(
                matches!(error, CommitError::BlockHashMismatch { .. }),
                "{field}: {error:?}"
            ),
        }
    }
    let mut bundle = honest.clone();
    bundle.header.chain_id = "another-chain".to_owned();
    assert!(matches!(
        header_commit_error(&bundle),
        CommitError::ChainIdMismatch { .. }
    ));
    let mut bundle = honest.clone();
    bundle.header.validators_hash.0[0] ^= 1;
    assert!(matches!(
        header_commit_error(&bundle),
        CommitError::ValidatorsHashMismatch { .. }
    ));
}

#[test]
fn header_and_commit_rehashed_together_still_need_signatures() {
    // An attacker who changes the state root and re-points the commit at the new hash
    // keeps the old signatures, which no longer verify.
    let chain = TestChain::build();
    let mut bundle = chain.bundle(&active_id(), TIP);
    bundle.header.state_root.0[0] ^= 1;
    bundle.commit.block_hash = bundle.header.hash();
    assert!(matches!(
        header_commit_error(&bundle),
        CommitError::BadSignature { index: 0 }
    ));
}

#[test]
fn tampered_commit_signature_fails() {
    let chain = TestChain::build();
    let mut bundle = chain.bundle(&active_id(), TIP);
    bundle.commit.signatures[2].1 .0[10] ^= 1;
    let error = header_commit_error(&bundle);
    assert_eq!(error, CommitError::BadSignature { index: 2 });
    assert_eq!(
        check(&bundle).code(),
        "commit_bad_signature",
        "the stable code names the failure"
    );
}

#[test]
fn commit_round_is_signed() {
    let chain = TestChain::build();
    let mut bundle = chain.bundle(&active_id(), TIP);
    bundle.commit.round = 1;
    assert!(matches!(
        header_commit_error(&bundle),
        CommitError::BadSignature { .. }
    ));
}

#[test]
fn too_few_signatures_fail() {
    let chain = TestChain::build();
    let set = chain.set(TIP).clone();
    assert_eq!(set.quorum(), 3);
    let mut bundle = chain.bundle(&active_id(), TIP);
    // Exactly a quorum passes.
    bundle.commit = sign_commit(&bundle.header, &set, &[0, 2, 3]);
    assert_eq!(check(&bundle), Verdict::Valid);
    // Two of four is not more than two thirds.
    bundle.commit = sign_commit(&bundle.header, &set, &[1, 3]);
    assert_eq!(
        header_commit_error(&bundle),
        CommitError::TooFewSignatures {
            signatures: 2,
            validators: 4,
            quorum: 3
        }
    );
}

#[test]
fn duplicate_signer_fails() {
    let chain = TestChain::build();
    let set = chain.set(TIP).clone();
    let mut bundle = chain.bundle(&active_id(), TIP);
    // Two real signatures of validator 1 and one of validator 2: three signatures,
    // two signers.
    bundle.commit = sign_commit(&bundle.header, &set, &[1, 1, 2]);
    assert_eq!(
        header_commit_error(&bundle),
        CommitError::DuplicateSigner { index: 1 }
    );
    assert_eq!(check(&bundle).code(), "commit_duplicate_signer");
    // A duplicate that is not adjacent also breaks the ascending order, which is
    // checked first.
    bundle.commit = sign_commit(&bundle.header, &set, &[1, 2, 1]);
    assert_eq!(
        header_commit_error(&bundle),
        CommitError::SignersNotAscending {
            index: 1,
            previous: 2
        }
    );
}

#[test]
fn signers_out_of_order_fail() {
    let chain = TestChain::build();
    let set = chain.set(TIP).clone();
    let mut bundle = chain.bundle(&active_id(), TIP);
    // Four valid signatures of four distinct validators, but not in index order.
    bundle.commit = sign_commit(&bundle.header, &set, &[0, 2, 1, 3]);
    assert_eq!(
        header_commit_error(&bundle),
        CommitError::SignersNotAscending {
            index: 1,
            previous: 2
        }
    );
    assert_eq!(check(&bundle).code(), "commit_signers_not_ascending");
    bundle.commit = sign_commit(&bundle.header, &set, &[0, 1, 2, 3]);
    assert_eq!(check(&bundle), Verdict::Valid);
}

#[test]
fn out_of_range_signer_fails() {
    let chain = TestChain::build();
    let mut bundle = chain.bundle(&active_id(), TIP);
    bundle.commit.signatures.push((4, Signature([0; 64])));
    assert_eq!(
        header_commit_error(&bundle),
        CommitError::SignerOutOfRange {
            index: 4,
            validators: 4
        }
    );
    bundle.commit.signatures.pop();
    bundle.commit.signatures[0].0 = u32::MAX;
    assert!(matches!(
        header_commit_error(&bundle),
        CommitError::SignerOutOfRange { .. }
    ));
}

#[test]
fn signatures_by_another_set_fail() {
    // Height 5 signed by the genesis validators (member 1 included, member 5 not): the
    // header names the new set, so the old set's signatures are not a quorum of it.
    let chain = TestChain::build();
    let mut bundle = chain.bundle(&active_id(), TIP);
    let old = chain.set(1).clone();
    bundle.commit = sign_commit(&bundle.header, &old, &everyone(&old));
    assert!(matches!(
        header_commit_error(&bundle),
        CommitError::BadSignature { .. }
    ));
}

#[test]
fn bundle_validator_set_must_be_the_trusted_one() {
    let chain = TestChain::build();
    let mut bundle = chain.bundle(&active_id(), TIP);
    bundle.validators = chain.set(1).clone();
    assert!(matches!(
        reason(&bundle),
        InvalidReason::ValidatorSetMismatch { .. }
    ));
}

#[test]
fn omitted_validator_change_fails() {
    let chain = TestChain::build();
    let mut bundle = chain.bundle(&active_id(), TIP);
    bundle.validator_changes.remove(1);
    // The chain now leads to the 5-validator set, which is not the bundle's.
    assert!(matches!(
        reason(&bundle),
        InvalidReason::ValidatorSetMismatch { .. }
    ));
    // Claiming that set as well: the header names another set.
    bundle.validators = chain.set(3).clone();
    assert!(matches!(
        header_commit_error(&bundle),
        CommitError::ValidatorsHashMismatch { .. }
    ));
}

/// Keys 7, 8, 9: an attacker's validators.
fn forged_set() -> ValidatorSet {
    ValidatorSet {
        validators: (7..=9)
            .map(|n| Validator {
                member_id: member_id(n),
                key: public_key(&signing_key(n)),
            })
            .collect(),
    }
}

#[test]
fn forged_validator_change_fails() {
    let chain = TestChain::build();
    let honest = chain.bundle(&active_id(), TIP);

    // 1. Replace the new set of a change by the attacker's: its hash is not the one the
    //    signed header commits to.
    let mut bundle = honest.clone();
    bundle.validator_changes[0].next_validators = forged_set();
    assert!(matches!(
        reason(&bundle),
        InvalidReason::ValidatorChangeSetMismatch { height: 2, .. }
    ));

    // 2. Also rewrite the change header's next_validators_hash and re-sign it with the
    //    attacker's keys: the header is not committed by the genesis set.
    let mut bundle = honest.clone();
    let change = &mut bundle.validator_changes[0];
    change.next_validators = forged_set();
    change.header.next_validators_hash = forged_set().hash();
    let genesis_set = chain.set(1).clone();
    let mut forged_signers = genesis_set.clone();
    for (i, v) in forged_signers.validators.iter_mut().enumerate() {
        v.key = public_key(&signing_key(7 + (i as u32 % 3)));
    }
    change.commit = sign_commit(&change.header, &forged_signers, &everyone(&forged_signers));
    let (height, error) = change_commit_error(&bundle);
    assert_eq!(height, 2);
    assert!(
        matches!(error, CommitError::BadSignature { .. }),
        "{error:?}"
    );

    // 3. A whole forged chain: the attacker's header claims its own set; the genesis set
    //    is not what it names.
    let mut bundle = honest.clone();
    let change = &mut bundle.validator_changes[0];
    change.header.validators_hash = forged_set().hash();
    change.commit = sign_commit(&change.header, &forged_set(), &everyone(&forged_set()));
    let (_, error) = change_commit_error(&bundle);
    assert!(
        matches!(error, CommitError::ValidatorsHashMismatch { .. }),
        "{error:?}"
    );

    // 4. A change commit with too few signatures.
    let mut bundle = honest.clone();
    let change = &mut bundle.validator_changes[1];
    let set = chain.set(4).clone();
    change.commit = sign_commit(&change.header, &set, &[0, 1, 2]);
    let (height, error) = change_commit_error(&bundle);
    assert_eq!(height, 4);
    assert_eq!(
        error,
        CommitError::TooFewSignatures {
            signatures: 3,
            validators: 5,
            quorum: 4
        }
    );
}

#[test]
fn validator_changes_must_be_in_order_and_below_the_header() {
    let chain = TestChain::build();
    let mut bundle = chain.bundle(&active_id(), TIP);
    bundle.validator_changes.swap(0, 1);
    // The change at height 4 now comes first and is checked against the genesis set,
    // which did not commit it.
    assert!(matches!(
        reason(&bundle),
        InvalidReason::ValidatorChangeNotCommitted {
            height: 4,
            error: CommitError::ValidatorsHashMismatch { .. }
        }
    ));
    let mut bundle = chain.bundle(&active_id(), 3);
    let repeated = bundle.validator_changes[0].clone();
    bundle.validator_changes.push(repeated);
    assert!(matches!(
        reason(&bundle),
        InvalidReason::ValidatorChangeOutOfOrder {
            height: 2,
            after: 2,
            ..
        }
    ));
    // A change at or above the proven header cannot be trusted to apply to it.
    let mut bundle = chain.bundle(&active_id(), 3);
    bundle.validator_changes = chain.changes_below(5);
    assert!(matches!(
        reason(&bundle),
        InvalidReason::ValidatorChangeOutOfOrder {
            height: 4,
            header: 3,
            ..
        }
    ));
}

#[test]
fn wrong_genesis_fails() {
    let chain = TestChain::build();
    let bundle = chain.bundle(&active_id(), TIP);

    let mut other = genesis();
    other.genesis_time_ms += 1;
    let verdict = verify(&bundle, &other, &options());
    assert!(matches!(
        verdict,
        Verdict::InvalidProof(InvalidReason::GenesisHashMismatch { .. })
    ));
    assert_eq!(verdict.code(), "genesis_hash_mismatch");

    let mut other = genesis();
    other.chain_id = "tongban-other".to_owned();
    assert!(matches!(
        verify(&bundle, &other, &options()),
        Verdict::InvalidProof(InvalidReason::ChainIdMismatch { .. })
    ));

    // A bundle that claims the other genesis' hash: the change chain starts from that
    // genesis' validators, which did not sign.
    let mut other = genesis();
    for (i, member) in other.members.iter_mut().enumerate() {
        member.key = public_key(&signing_key(20 + i as u32));
    }
    let mut bundle = chain.bundle(&active_id(), TIP);
    bundle.genesis_hash = other.hash();
    let verdict = verify(&bundle, &other, &options());
    assert!(
        matches!(
            verdict,
            Verdict::InvalidProof(InvalidReason::ValidatorChangeNotCommitted { height: 2, .. })
        ),
        "{verdict:?}"
    );
}

#[test]
fn unsupported_format_fails() {
    let chain = TestChain::build();
    let mut bundle = chain.bundle(&active_id(), TIP);
    bundle.format = "tongban-licence-proof/v2".to_owned();
    assert_eq!(
        reason(&bundle),
        InvalidReason::UnsupportedFormat {
            found: "tongban-licence-proof/v2".to_owned()
        }
    );
    assert_eq!(FORMAT, "tongban-licence-proof/v1");
}

#[test]
fn value_of_another_licence_fails() {
    // The other licence's value and proof under this id: the key differs.
    let chain = TestChain::build();
    let mut bundle = chain.bundle(&suspended_id(), TIP);
    bundle.licence_id = active_id();
    assert!(matches!(reason(&bundle), InvalidReason::StateProof(_)));
}

/// A bundle about `id` at a header re-signed by the real validators of the tip, over a
/// state tree holding `value` under `id`'s key: what validators signing a buggy state
/// would produce. It reaches the checks that come after the state proof.
fn bundle_over_state(id: &tongban_ledger::ids::LicenceId, value: Vec<u8>) -> ProofBundle {
    let chain = TestChain::build();
    let key = tongban_ledger::keys::licence(id);
    let mut tree = MemoryTree::default();
    let mut changes = std::collections::BTreeMap::new();
    changes.insert(key, Some(value.clone()));
    let root = tree.apply(&changes, 0);
    let (proven, proof) = tree.get_with_proof(&key, 0);
    assert_eq!(proven.as_ref(), Some(&value));
    let mut bundle = chain.bundle(&active_id(), TIP);
    bundle.licence_id = id.clone();
    bundle.header.state_root = root;
    bundle.commit = sign_commit(&bundle.header, chain.set(TIP), &everyone(chain.set(TIP)));
    bundle.state_proof = proof;
    let licence = bundle.licence.as_mut().expect("present");
    if let Ok(record) = tongban_ledger::codec::decode(&value) {
        licence.decoded = record;
    }
    licence.value = value;
    bundle
}

#[test]
fn malformed_value_fails() {
    let record = licence_record(active_id(), LicenceStatus::Active, 5);
    let bundle = bundle_over_state(&active_id(), encode(&record));
    assert_eq!(
        check(&bundle),
        Verdict::Valid,
        "the re-signed state is accepted"
    );
    // Junk bytes under the key, proven: the value check refuses them.
    let junk = bundle_over_state(&active_id(), vec![1, 2, 3]);
    assert!(matches!(reason(&junk), InvalidReason::ValueMalformed(_)));
    // A record with a trailing byte is not the one encoding of any record.
    let mut trailing = encode(&record);
    trailing.push(0);
    let bundle = bundle_over_state(&active_id(), trailing);
    assert!(matches!(reason(&bundle), InvalidReason::ValueMalformed(_)));
}

#[test]
fn value_naming_another_licence_fails() {
    // The suspended licence's record stored (and proven) under the active id's key.
    let record = licence_record(suspended_id(), LicenceStatus::Active, 5);
    let bundle = bundle_over_state(&active_id(), encode(&record));
    assert_eq!(
        reason(&bundle),
        InvalidReason::LicenceIdMismatch {
            expected: active_id().as_str().to_owned(),
            found: suspended_id().as_str().to_owned(),
        }
    );
}

#[test]
fn oversized_inputs_are_refused_before_signature_checks() {
    let chain = TestChain::build();
    let mut bundle = chain.bundle(&active_id(), TIP);
    let change = bundle.validator_changes[0].clone();
    bundle.validator_changes = vec![change; MAX_VALIDATOR_CHANGES + 1];
    assert_eq!(
        reason(&bundle),
        InvalidReason::TooManyValidatorChanges {
            count: MAX_VALIDATOR_CHANGES + 1
        }
    );
}

#[test]
fn builder_refuses_inconsistent_parts() {
    let chain = TestChain::build();
    let mut parts = chain.parts(&active_id(), TIP);
    parts.value = Some(vec![0xff; 3]);
    assert!(matches!(
        build_bundle(parts),
        Err(BuildError::ValueMalformed(_))
    ));

    let mut parts = chain.parts(&active_id(), TIP);
    parts.licence_id = suspended_id();
    assert!(matches!(
        build_bundle(parts),
        Err(BuildError::LicenceIdMismatch { .. })
    ));

    let mut parts = chain.parts(&active_id(), TIP);
    parts.commit.height = 4;
    assert!(matches!(
        build_bundle(parts),
        Err(BuildError::CommitHeightMismatch { .. })
    ));

    let mut parts = chain.parts(&active_id(), TIP);
    parts.validator_changes.reverse();
    assert!(matches!(
        build_bundle(parts),
        Err(BuildError::ChangeOutOfOrder { .. })
    ));

    let mut parts = chain.parts(&active_id(), 3);
    parts.validator_changes = chain.changes_below(5);
    assert!(matches!(
        build_bundle(parts),
        Err(BuildError::ChangeOutOfOrder { height: 4, .. })
    ));
}

#[test]
fn verdicts_have_labels_codes_and_messages() {
    let cases = [
        (Verdict::Valid, "VALID", "valid"),
        (Verdict::Revoked { reason: None }, "REVOKED", "revoked"),
        (
            Verdict::Suspended {
                reason: Some("x".into()),
            },
            "SUSPENDED",
            "suspended",
        ),
        (Verdict::Expired { valid_until: 1 }, "EXPIRED", "expired"),
        (
            Verdict::NotYetValid { valid_from: 1 },
            "NOT YET VALID",
            "not_yet_valid",
        ),
        (Verdict::Unknown, "UNKNOWN", "unknown"),
        (
            Verdict::InvalidProof(InvalidReason::DecodedMismatch),
            "INVALID PROOF",
            "decoded_value_mismatch",
        ),
    ];
    for (verdict, label, code) in cases {
        assert_eq!(verdict.label(), label);
        assert_eq!(verdict.code(), code);
        assert!(!verdict.message().is_empty());
        assert_eq!(
            verdict.to_string(),
            format!("{label}: {}", verdict.message())
        );
        assert_eq!(verdict.is_valid(), label == "VALID");
    }
    let _ = Hash32::ZERO;
}

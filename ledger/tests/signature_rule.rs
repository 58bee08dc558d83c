//! The one signature rule (ZIP 215, ADR 0001): single (`crypto::verify`) and batch
//! (`crypto::verify_many`) verification give the same verdict on every input, including
//! the edge cases on which Ed25519 implementations disagree.
//!
//! The edge cases are generated here, not pasted: the 14 encodings of small-order points
//! (8 canonical, 6 non-canonical) give the 196 small-order (A, R) signatures of Henry de
//! Valence's "It's 255:19AM" and the ed25519-consensus / ed25519-zebra test suites, all
//! valid under ZIP 215. Signatures by honest keys whose `R` carries a torsion component
//! are the case on which ed25519-dalek's batch and strict checks disagreed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use sha2::{Digest, Sha512};
use tongban_ledger::crypto::{
    batch_verifies, public_key, signature_batch_len, verify, verify_many, verifying_key,
    SignatureCheck, SignatureError, SIGNATURE_BATCH_MIN,
};
use tongban_ledger::{PublicKey, Signature};

/// `p = 2^255 - 19`, little-endian.
fn field_prime() -> [u8; 32] {
    let mut p = [0xff; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    p
}

/// Every 32-byte string that decodes to a point of small order (order dividing 8).
///
/// Canonical: the compressions of the 8 torsion points. Non-canonical: a `y` written as
/// `y + p` (possible only for `y < 19`, since `y + p` must fit 255 bits), and the sign
/// bit set on a point with `x = 0` (`y = ±1`), where both signs give the same point.
fn small_order_encodings() -> Vec<[u8; 32]> {
    let mut encodings: Vec<[u8; 32]> = EIGHT_TORSION
        .iter()
        .map(|point| point.compress().to_bytes())
        .collect();
    let mut candidates = Vec::new();
    for y in 0..19u8 {
        let mut bytes = field_prime();
        bytes[0] += y; // 0xed + 18 = 0xff: no carry
        candidates.push(bytes);
    }
    let one = {
        let mut b = [0; 32];
        b[0] = 1;
        b
    };
    let minus_one = {
        let mut b = field_prime();
        b[0] -= 1;
        b
    };
    candidates.push(one);
    candidates.push(minus_one);
    for candidate in candidates {
        for sign in [0u8, 0x80] {
            let mut bytes = candidate;
            bytes[31] |= sign;
            let Some(point) = CompressedEdwardsY(bytes).decompress() else {
                continue;
            };
            if point.is_small_order()
                && point.compress().to_bytes() != bytes
                && !encodings.contains(&bytes)
            {
                encodings.push(bytes);
            }
        }
    }
    encodings
}

/// The 196 small-order vectors: key `A` and `R` both small-order encodings, `s = 0`.
/// `[8][0]B = [8]R + [8][k]A` holds since both sides are the identity.
fn small_order_vectors() -> Vec<(PublicKey, Signature)> {
    let encodings = small_order_encodings();
    let mut vectors = Vec::new();
    for a in &encodings {
        for r in &encodings {
            let mut signature = [0; 64];
            signature[..32].copy_from_slice(r);
            vectors.push((PublicKey(*a), Signature(signature)));
        }
    }
    vectors
}

fn signing_key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// `k = H(R ‖ A ‖ M) mod ℓ`.
fn challenge(r: &[u8; 32], a: &[u8; 32], message: &[u8]) -> Scalar {
    let mut hasher = Sha512::new();
    hasher.update(r);
    hasher.update(a);
    hasher.update(message);
    let mut wide = [0u8; 64];
    wide.copy_from_slice(&hasher.finalize());
    Scalar::from_bytes_mod_order_wide(&wide)
}

/// An honest key's signature whose `R` is `[nonce]B + T` for the torsion point `T`,
/// with `s` correct for that `R`: valid under the cofactored equation, refused by
/// ed25519-dalek `verify_strict`, and a coin flip for cofactorless batch equations.
fn torsion_r_signature(key: &SigningKey, message: &[u8], nonce: u64, torsion: usize) -> Signature {
    let a = key.to_scalar();
    let public = key.verifying_key().to_bytes();
    let r_point: EdwardsPoint =
        Scalar::from(nonce + 1) * ED25519_BASEPOINT_POINT + EIGHT_TORSION[torsion];
    let r = r_point.compress().to_bytes();
    let s = Scalar::from(nonce + 1) + challenge(&r, &public, message) * a;
    let mut bytes = [0; 64];
    bytes[..32].copy_from_slice(&r);
    bytes[32..].copy_from_slice(s.as_bytes());
    Signature(bytes)
}

/// `s + ℓ` in place of `s`: the same point equation, but a non-canonical scalar.
fn with_non_canonical_s(signature: &Signature) -> Signature {
    // ℓ = 2^252 + 27742317777372353535851937790883648493, little-endian.
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x10,
    ];
    let mut out = *signature;
    let mut carry = 0u16;
    for (i, l) in L.iter().enumerate() {
        let sum = u16::from(out.0[32 + i]) + u16::from(*l) + carry;
        out.0[32 + i] = sum as u8;
        carry = sum >> 8;
    }
    out
}

/// A 32-byte string that is not the encoding of any curve point.
fn not_a_point() -> [u8; 32] {
    (2u8..)
        .map(|y| {
            let mut b = [0; 32];
            b[0] = y;
            b
        })
        .find(|b| CompressedEdwardsY(*b).decompress().is_none())
        .expect("half of all y are not on the curve")
}

fn checks<'a>(items: &'a [(PublicKey, Vec<u8>, Signature)]) -> Vec<SignatureCheck<'a>> {
    items.iter().map(|(k, m, s)| (k, m.as_slice(), s)).collect()
}

/// Per-item verdicts single vs `verify_many` must be equal, and the batch equation alone
/// (`batch_verifies`, no fallback) must pass exactly when every item passes alone, for
/// the whole set and for every chunk of it that `verify_many` makes. Returns the single
/// verdicts.
fn assert_single_equals_batch(
    items: &[(PublicKey, Vec<u8>, Signature)],
) -> Vec<Result<(), SignatureError>> {
    let single: Vec<_> = items.iter().map(|(k, m, s)| verify(k, m, s)).collect();
    let all = checks(items);
    let batch = verify_many(&all);
    assert_eq!(batch.len(), items.len());
    for (i, (one, many)) in single.iter().zip(&batch).enumerate() {
        assert_eq!(one, many, "item {i}: single and batch verdicts differ");
    }
    assert_eq!(
        batch_verifies(&all),
        single.iter().all(Result::is_ok),
        "the batch equation over all items disagrees with the single verdicts"
    );
    let chunk_len = signature_batch_len(all.len());
    for (c, (chunk, verdicts)) in all
        .chunks(chunk_len)
        .zip(single.chunks(chunk_len))
        .enumerate()
    {
        assert_eq!(
            batch_verifies(chunk),
            verdicts.iter().all(Result::is_ok),
            "chunk {c}: the batch equation disagrees with the single verdicts"
        );
    }
    single
}

#[test]
fn there_are_14_small_order_encodings_and_196_vectors() {
    let encodings = small_order_encodings();
    assert_eq!(encodings.len(), 14);
    let canonical = encodings
        .iter()
        .filter(|e| {
            CompressedEdwardsY(**e)
                .decompress()
                .unwrap()
                .compress()
                .to_bytes()
                == **e
        })
        .count();
    assert_eq!(canonical, 8);
    assert_eq!(small_order_vectors().len(), 196);
}

#[test]
fn small_order_vectors_are_valid_single_and_batch() {
    let message = b"tongban/vote/v1\0 any message".to_vec();
    let items: Vec<_> = small_order_vectors()
        .into_iter()
        .map(|(k, s)| (k, message.clone(), s))
        .collect();
    let verdicts = assert_single_equals_batch(&items);
    // ZIP 215: every one of them is valid (both sides of the cofactored equation are
    // the identity), whatever the message.
    assert!(verdicts.iter().all(Result::is_ok), "{verdicts:?}");
    // And each one passes the batch equation alone and beside honest signatures.
    let honest: Vec<_> = (1..=3u8)
        .map(|seed| {
            let key = signing_key(seed);
            let m = vec![seed; 10];
            let s = Signature(ed25519_dalek::Signer::sign(&key, &m).to_bytes());
            (public_key(&key), m, s)
        })
        .collect();
    for (i, vector) in items.iter().enumerate() {
        let alone = [vector.clone()];
        assert!(batch_verifies(&checks(&alone)), "vector {i} alone");
        let mut mixed = honest.clone();
        mixed.insert(i % 4, vector.clone());
        assert!(
            batch_verifies(&checks(&mixed)),
            "vector {i} with honest ones"
        );
        // One bad companion makes the batch fail, and the vector stays valid alone.
        mixed[(i + 1) % 4].2 .0[3] ^= 1;
        assert!(
            !batch_verifies(&checks(&mixed)),
            "vector {i} with a bad one"
        );
        let ones: Vec<bool> = mixed
            .iter()
            .map(|(k, m, s)| verify(k, m, s).is_ok())
            .collect();
        assert_eq!(ones.iter().filter(|ok| !**ok).count(), 1);
        assert_eq!(
            verify_many(&checks(&mixed))
                .iter()
                .map(Result::is_ok)
                .collect::<Vec<_>>(),
            ones
        );
    }
}

#[test]
fn small_order_vectors_mixed_with_good_and_bad_signatures_agree() {
    let vectors = small_order_vectors();
    let mut items = Vec::new();
    let mut expected = Vec::new();
    for (i, (key, signature)) in vectors.into_iter().enumerate() {
        let message = format!("record {i}").into_bytes();
        items.push((key, message.clone(), signature));
        expected.push(true);
        let honest = signing_key((i % 200) as u8 + 1);
        let mut good = Signature(ed25519_dalek::Signer::sign(&honest, &message).to_bytes());
        if i % 37 == 5 {
            // Some chunks also hold a bad signature, so the one-by-one fallback runs
            // over vectors too.
            good.0[40] ^= 1;
            expected.push(false);
        } else {
            expected.push(true);
        }
        items.push((public_key(&honest), message, good));
    }
    assert!(items.len() > 4 * SIGNATURE_BATCH_MIN);
    let verdicts = assert_single_equals_batch(&items);
    let ok: Vec<bool> = verdicts.iter().map(Result::is_ok).collect();
    assert_eq!(ok, expected);
}

#[test]
fn small_order_keys_are_refused_at_admission() {
    // ZIP 215 accepts the vectors above for every message, so a small-order key would
    // let anyone sign as its holder: key admission (`verifying_key`, used by genesis,
    // governance and key files) refuses every one of them, which is what keeps
    // signatures under admitted keys unforgeable.
    for encoding in small_order_encodings() {
        assert_eq!(
            verifying_key(&PublicKey(encoding)).map(|_| ()),
            Err(SignatureError::BadKey),
            "{encoding:02x?}"
        );
    }
    assert!(verifying_key(&public_key(&signing_key(1))).is_ok());
}

#[test]
fn torsion_in_r_is_valid_alike_and_the_old_rule_disagreed() {
    let honest = signing_key(9);
    let public = public_key(&honest);
    let vk = honest.verifying_key();
    let mut old_batch_accepted = 0;
    for torsion in 1..8 {
        let message = format!("torsion {torsion}").into_bytes();
        let crafted = torsion_r_signature(&honest, &message, 1000 + torsion as u64, torsion);
        // Good companions: a batch of them with the crafted one.
        let mut items = vec![(public, message.clone(), crafted)];
        for seed in 0..10u8 {
            let key = signing_key(seed + 100);
            let m = vec![seed; 20];
            let s = Signature(ed25519_dalek::Signer::sign(&key, &m).to_bytes());
            items.push((public_key(&key), m, s));
        }
        let verdicts = assert_single_equals_batch(&items);
        assert!(
            verdicts.iter().all(Result::is_ok),
            "ZIP 215 accepts torsion in R"
        );

        // The rule this replaced: strict single verification refused it, while the
        // cofactorless batch equation accepted it for some batch compositions.
        let dalek_sig = ed25519_dalek::Signature::from_bytes(&crafted.0);
        assert!(vk.verify_strict(&message, &dalek_sig).is_err());
        for companions in 1..items.len() {
            let messages: Vec<&[u8]> = items[..=companions]
                .iter()
                .map(|(_, m, _)| m.as_slice())
                .collect();
            let signatures: Vec<_> = items[..=companions]
                .iter()
                .map(|(_, _, s)| ed25519_dalek::Signature::from_bytes(&s.0))
                .collect();
            let keys: Vec<_> = items[..=companions]
                .iter()
                .map(|(k, _, _)| ed25519_dalek::VerifyingKey::from_bytes(&k.0).unwrap())
                .collect();
            if ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok() {
                old_batch_accepted += 1;
            }
        }
    }
    assert!(
        old_batch_accepted > 0,
        "the old batch rule should accept some torsion signatures its strict rule refused"
    );
}

#[test]
fn non_canonical_s_and_undecodable_points_are_refused_alike() {
    let honest = signing_key(3);
    let message = b"m".to_vec();
    let good = Signature(ed25519_dalek::Signer::sign(&honest, &message).to_bytes());
    let mut bad_r = good;
    bad_r.0[..32].copy_from_slice(&not_a_point());
    let items = vec![
        (public_key(&honest), message.clone(), good),
        (
            public_key(&honest),
            message.clone(),
            with_non_canonical_s(&good),
        ),
        (PublicKey(not_a_point()), message.clone(), good),
        (public_key(&honest), message.clone(), bad_r),
    ];
    let verdicts = assert_single_equals_batch(&items);
    assert_eq!(
        verdicts,
        vec![
            Ok(()),
            Err(SignatureError::BadSignature),
            Err(SignatureError::BadKey),
            Err(SignatureError::BadSignature),
        ]
    );
}

/// What a generated item is, and whether ZIP 215 accepts it.
#[derive(Debug, Clone)]
enum Kind {
    Good,
    FlippedBit(usize),
    WrongMessage,
    TorsionR(usize),
    NonCanonicalS,
    SmallOrder(usize),
    KeyNotAPoint,
    RNotAPoint,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        6 => Just(Kind::Good),
        1 => (0..512usize).prop_map(Kind::FlippedBit),
        1 => Just(Kind::WrongMessage),
        1 => (1..8usize).prop_map(Kind::TorsionR),
        1 => Just(Kind::NonCanonicalS),
        1 => (0..196usize).prop_map(Kind::SmallOrder),
        1 => Just(Kind::KeyNotAPoint),
        1 => Just(Kind::RNotAPoint),
    ]
}

fn build(
    index: usize,
    kind: &Kind,
    vectors: &[(PublicKey, Signature)],
) -> ((PublicKey, Vec<u8>, Signature), bool) {
    let key = signing_key((index % 50) as u8 + 1);
    let public = public_key(&key);
    let message = format!("item {index}").into_bytes();
    let good = Signature(ed25519_dalek::Signer::sign(&key, &message).to_bytes());
    match kind {
        Kind::Good => ((public, message, good), true),
        Kind::FlippedBit(bit) => {
            let mut s = good;
            s.0[bit / 8] ^= 1 << (bit % 8);
            // A flipped bit can leave s non-canonical, R undecodable or the equation
            // false: always invalid (ed25519 signatures are not malleable by one bit).
            ((public, message, s), false)
        }
        Kind::WrongMessage => ((public, b"another".to_vec(), good), false),
        Kind::TorsionR(t) => (
            (
                public,
                message.clone(),
                torsion_r_signature(&key, &message, index as u64, *t),
            ),
            true,
        ),
        Kind::NonCanonicalS => ((public, message, with_non_canonical_s(&good)), false),
        Kind::SmallOrder(i) => {
            let (k, s) = vectors[*i];
            ((k, message, s), true)
        }
        Kind::KeyNotAPoint => ((PublicKey(not_a_point()), message, good), false),
        Kind::RNotAPoint => {
            let mut s = good;
            s.0[..32].copy_from_slice(&not_a_point());
            ((public, message, s), false)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// Random mixes of good and bad signatures, long enough to span several batches:
    /// every item gets the same verdict from `verify_many` as from `verify`, and that
    /// verdict is the one ZIP 215 prescribes for its kind.
    #[test]
    fn random_mixes_get_the_same_verdict_single_and_batch(
        kinds in proptest::collection::vec(kind(), 0..(3 * SIGNATURE_BATCH_MIN))
    ) {
        let vectors = small_order_vectors();
        let (items, expected): (Vec<_>, Vec<bool>) = kinds
            .iter()
            .enumerate()
            .map(|(i, k)| build(i, k, &vectors))
            .unzip();
        let single: Vec<_> = items.iter().map(|(k, m, s)| verify(k, m, s)).collect();
        let batch = verify_many(&checks(&items));
        prop_assert_eq!(&single, &batch);
        let ok: Vec<bool> = single.iter().map(Result::is_ok).collect();
        prop_assert_eq!(&ok, &expected);
        // The batch equation alone, with no fallback, over the whole mix.
        prop_assert_eq!(batch_verifies(&checks(&items)), ok.iter().all(|ok| *ok));
    }
}

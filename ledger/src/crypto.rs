//! Hashing and signatures with domain separation, and the one signature validity rule.
//!
//! Every signed message starts with its own domain string, so a signature over one kind
//! of message can never be replayed as another. Hashes that identify things (records,
//! headers, validator sets, genesis) are SHA-256 over a domain and the encoding.
//!
//! Signatures are made with ed25519-dalek and judged by **ZIP 215** (ADR 0001): `s` must
//! be canonical (`s < ℓ`), `A` and `R` must decode to curve points (non-canonical
//! encodings accepted), and the check is the cofactored `[8][s]B = [8]R + [8][k]A`. Under
//! ZIP 215 single and batch verification accept exactly the same signatures, so whether a
//! signature is valid is a function of `(key, message, signature)` alone, never of which
//! other signatures shared its batch. [`verify`] and [`verify_many`] (with its
//! all-or-nothing core [`batch_verifies`]) are the only ways the ledger checks a
//! signature, and they implement that one rule.
//!
//! Which keys may be *bound to an identity* (a member, an admin, a validator) is a
//! separate, stricter rule, [`verifying_key`]: ZIP 215 accepts signatures under a
//! small-order key for any message, so such keys are refused wherever a key is admitted.

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use ed25519_zebra::batch;
use rand_chacha::rand_core::SeedableRng as _;
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::bytes::{Hash32, PublicKey, Signature};
use crate::codec::encode;
use crate::types::{
    BlockHeader, Genesis, ProposalMessage, RecordPayload, SignedRecord, ValidatorSet, Vote,
};

/// Domain of record signatures.
pub const RECORD_DOMAIN: &[u8] = b"tongban/record/v1\0";
/// Domain of block hashes.
pub const HEADER_DOMAIN: &[u8] = b"tongban/header/v1\0";
/// Domain of vote signatures.
pub const VOTE_DOMAIN: &[u8] = b"tongban/vote/v1\0";
/// Domain of proposal signatures.
pub const PROPOSAL_DOMAIN: &[u8] = b"tongban/proposal/v1\0";
/// Domain of validator-set hashes.
pub const VALIDATORS_DOMAIN: &[u8] = b"tongban/validators/v1\0";
/// Domain of the genesis hash.
pub const GENESIS_DOMAIN: &[u8] = b"tongban/genesis/v1\0";

/// Fewest signatures in one ZIP 215 batch when [`verify_many`] splits a call across
/// cores.
pub const SIGNATURE_BATCH_MIN: usize = 64;
/// Most signatures in one ZIP 215 batch. A batch is one multiscalar multiplication, and
/// its cost per signature falls as it grows (one thread, 250-byte messages: 10.3 µs at
/// 64 and 8.2 µs at 512 with 4 authors, 19.4 µs and 16.1 µs with every signature by
/// another key; no further gain at 1,024). A failing batch re-checks each of its items
/// alone, so this also bounds what one bad signature costs.
pub const SIGNATURE_BATCH_MAX: usize = 512;
/// Domain of the seed of a batch's verification coefficients (never signed).
const BATCH_DOMAIN: &[u8] = b"tongban/batch-coefficients/v1\0";

/// SHA-256 of the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> Hash32 {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    Hash32(hasher.finalize().into())
}

/// A signature that did not verify, or a key that is not a usable ed25519 point.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The public key is not a curve point ([`verify`], [`verify_many`]), or is not
    /// admissible as an identity key ([`verifying_key`]: also small-order keys).
    #[error("public key is not a valid ed25519 key")]
    BadKey,
    /// The signature does not verify for this message and key.
    #[error("signature does not verify")]
    BadSignature,
}

/// The key admission rule: decodes a public key that may be bound to an identity
/// (genesis admins and members, governance changes, key files), refusing keys that are
/// not curve points and small-order (weak) keys.
///
/// Verification ([`verify`], ZIP 215) accepts a signature with `R` of small order and
/// `s = 0` under a small-order key for *every* message, so such a key must never name
/// anyone; refusing it here, where keys enter the chain, is what keeps signatures
/// unforgeable. Keys that pass are exactly those ed25519-dalek's `VerifyingKey` decodes
/// and does not call weak; the decoding is the same curve25519-dalek decompression that
/// ZIP 215 verification uses.
pub fn verifying_key(key: &PublicKey) -> Result<VerifyingKey, SignatureError> {
    let vk = VerifyingKey::from_bytes(&key.0).map_err(|_| SignatureError::BadKey)?;
    if vk.is_weak() {
        return Err(SignatureError::BadKey);
    }
    Ok(vk)
}

/// The public key of a signing key.
pub fn public_key(signing_key: &SigningKey) -> PublicKey {
    PublicKey(signing_key.verifying_key().to_bytes())
}

/// Signs `domain ++ message`.
pub fn sign(signing_key: &SigningKey, domain: &[u8], message: &[u8]) -> Signature {
    let mut bytes = Vec::with_capacity(domain.len() + message.len());
    bytes.extend_from_slice(domain);
    bytes.extend_from_slice(message);
    Signature(signing_key.sign(&bytes).to_bytes())
}

/// Verifies one signature over already-prefixed signing bytes under ZIP 215.
///
/// Accepts exactly the signatures that [`verify_many`] accepts.
pub fn verify(
    key: &PublicKey,
    signing_bytes: &[u8],
    signature: &Signature,
) -> Result<(), SignatureError> {
    zip215_item(key, signing_bytes, signature)
        .verify_single()
        .map_err(from_zebra)
}

/// One item for [`verify_many`]: key, signing bytes, signature.
pub type SignatureCheck<'a> = (&'a PublicKey, &'a [u8], &'a Signature);

/// How many signatures [`verify_many`] puts in one batch for a call of `items`: an even
/// share for each core, between [`SIGNATURE_BATCH_MIN`] and [`SIGNATURE_BATCH_MAX`].
/// (Which items share a batch never changes a verdict; see the module doc.)
pub fn signature_batch_len(items: usize) -> usize {
    items
        .div_ceil(rayon::current_num_threads().max(1))
        .clamp(SIGNATURE_BATCH_MIN, SIGNATURE_BATCH_MAX)
}

/// Verifies many signatures under ZIP 215, in batches of [`signature_batch_len`] spread
/// across all cores.
///
/// Returns one result per item, in order, and each result is exactly what [`verify`]
/// returns for that item. A batch that fails is re-checked one by one, so a single bad
/// signature costs its batch a second pass but names exactly the bad items.
pub fn verify_many(items: &[SignatureCheck<'_>]) -> Vec<Result<(), SignatureError>> {
    items
        .par_chunks(signature_batch_len(items.len()))
        .flat_map_iter(|chunk| verify_chunk(chunk).into_iter())
        .collect()
}

/// [`verify_many`] on the calling thread alone, in batches of [`SIGNATURE_BATCH_MAX`],
/// for a caller that keeps the other cores busy with other work meanwhile.
pub fn verify_many_on_this_thread(items: &[SignatureCheck<'_>]) -> Vec<Result<(), SignatureError>> {
    items
        .chunks(SIGNATURE_BATCH_MAX)
        .flat_map(verify_chunk)
        .collect()
}

fn verify_chunk(chunk: &[SignatureCheck<'_>]) -> Vec<Result<(), SignatureError>> {
    // `k = H(R ‖ A ‖ M)` is hashed once per item, here; the batch and, if it fails, the
    // one-by-one fallback both reuse it.
    let items: Vec<batch::Item> = chunk
        .iter()
        .map(|(key, message, signature)| zip215_item(key, message, signature))
        .collect();
    if batch_passes(chunk, &items) {
        return vec![Ok(()); chunk.len()];
    }
    items
        .into_iter()
        .map(|item| item.verify_single().map_err(from_zebra))
        .collect()
}

/// The batch form of the rule, all or nothing: `true` exactly when every item passes
/// [`verify`] (ZIP 215 guarantees it; an invalid item slips through only with
/// probability about 2^-128). [`verify_many`] is what callers want; this is exposed so
/// that tests can hold the batch equation itself to the single verdicts.
pub fn batch_verifies(items: &[SignatureCheck<'_>]) -> bool {
    let prepared: Vec<batch::Item> = items
        .iter()
        .map(|(key, message, signature)| zip215_item(key, message, signature))
        .collect();
    batch_passes(items, &prepared)
}

fn batch_passes(chunk: &[SignatureCheck<'_>], items: &[batch::Item]) -> bool {
    let mut verifier = batch::Verifier::new();
    for item in items {
        verifier.queue(item.clone());
    }
    // Under ZIP 215 a batch of valid signatures passes whatever its coefficients (each
    // item's residue is a torsion point, which the cofactor multiplication kills), and a
    // batch holding an invalid one fails unless the coefficients cancel its residue,
    // which needs them to hit one value in 2^128. So the per-item verdict never depends
    // on the coefficients, and they can be derived from the batch itself, as a
    // Fiat-Shamir challenge over everything the residues depend on: verification stays
    // a pure function (consensus uses it, and allows no randomness inside) and needs no
    // OS entropy (the verifier-only build).
    verifier.verify(batch_coefficients(chunk)).is_ok()
}

/// The stream of batch coefficients for `chunk`: ChaCha20 keyed by SHA-256 over a
/// domain and every key, signature and message of the chunk.
fn batch_coefficients(chunk: &[SignatureCheck<'_>]) -> ChaCha20Rng {
    let mut hasher = Sha256::new();
    hasher.update(BATCH_DOMAIN);
    for (key, message, signature) in chunk {
        hasher.update(key.0);
        hasher.update(signature.0);
        hasher.update((message.len() as u64).to_le_bytes());
        hasher.update(message);
    }
    ChaCha20Rng::from_seed(hasher.finalize().into())
}

fn zip215_item(key: &PublicKey, signing_bytes: &[u8], signature: &Signature) -> batch::Item {
    let key = ed25519_zebra::VerificationKeyBytes::from(key.0);
    let signature = ed25519_zebra::Signature::from_bytes(&signature.0);
    batch::Item::from((key, signature, signing_bytes))
}

fn from_zebra(error: ed25519_zebra::Error) -> SignatureError {
    match error {
        ed25519_zebra::Error::MalformedPublicKey => SignatureError::BadKey,
        _ => SignatureError::BadSignature,
    }
}

impl RecordPayload {
    /// `b"tongban/record/v1\0" ++ encode(payload)`.
    pub fn signing_bytes(&self) -> Vec<u8> {
        [RECORD_DOMAIN, &encode(self)].concat()
    }

    /// Signs the payload.
    pub fn sign(self, signing_key: &SigningKey) -> SignedRecord {
        let signature = sign(signing_key, RECORD_DOMAIN, &encode(&self));
        SignedRecord {
            payload: self,
            signature,
        }
    }
}

impl SignedRecord {
    /// `sha256(encode(signed_record))`: identifies the record everywhere.
    pub fn hash(&self) -> Hash32 {
        sha256(&[&encode(self)])
    }

    /// Verifies the author's signature.
    pub fn verify_signature(&self) -> Result<(), SignatureError> {
        verify(
            &self.payload.author,
            &self.payload.signing_bytes(),
            &self.signature,
        )
    }
}

impl BlockHeader {
    /// `sha256(b"tongban/header/v1\0" ++ encode(header))`.
    pub fn hash(&self) -> Hash32 {
        sha256(&[HEADER_DOMAIN, &encode(self)])
    }
}

impl Vote {
    /// `b"tongban/vote/v1\0" ++ encode(vote)`.
    pub fn signing_bytes(&self) -> Vec<u8> {
        [VOTE_DOMAIN, &encode(self)].concat()
    }
}

impl ProposalMessage {
    /// `b"tongban/proposal/v1\0" ++ encode(proposal)`.
    pub fn signing_bytes(&self) -> Vec<u8> {
        [PROPOSAL_DOMAIN, &encode(self)].concat()
    }
}

impl ValidatorSet {
    /// `sha256(b"tongban/validators/v1\0" ++ encode(set))`.
    pub fn hash(&self) -> Hash32 {
        sha256(&[VALIDATORS_DOMAIN, &encode(self)])
    }
}

impl Genesis {
    /// `sha256(b"tongban/genesis/v1\0" ++ encode(genesis))`; block 1's `prev_hash`.
    pub fn hash(&self) -> Hash32 {
        sha256(&[GENESIS_DOMAIN, &encode(self)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn verify_many_names_the_bad_items() {
        let messages: Vec<Vec<u8>> = (0..150u32).map(|i| i.to_le_bytes().to_vec()).collect();
        let keys: Vec<SigningKey> = (0..150u32).map(|i| key(i as u8)).collect();
        let publics: Vec<PublicKey> = keys.iter().map(public_key).collect();
        let mut sigs: Vec<Signature> = keys
            .iter()
            .zip(&messages)
            .map(|(k, m)| Signature(k.sign(m).to_bytes()))
            .collect();
        sigs[70].0[5] ^= 1;
        let items: Vec<SignatureCheck<'_>> = publics
            .iter()
            .zip(&messages)
            .zip(&sigs)
            .map(|((k, m), s)| (k, m.as_slice(), s))
            .collect();
        let results = verify_many(&items);
        assert_eq!(results.len(), 150);
        for (i, r) in results.iter().enumerate() {
            assert_eq!(r.is_ok(), i != 70, "item {i}");
        }
    }

    #[test]
    fn weak_key_is_refused() {
        // Admission refuses the small-order key; ZIP 215 verification would accept the
        // forgery `R = identity, s = 0` under it for any message, which is why it must
        // never be admitted (ADR 0001).
        let weak = PublicKey([0; 32]);
        assert!(verifying_key(&weak).is_err());
        let mut forged = Signature([0; 64]);
        forged.0[0] = 1; // R = the identity point, s = 0
        assert_eq!(verify(&weak, b"any message", &forged), Ok(()));
        assert_eq!(
            verify_many(&[(&weak, b"another".as_slice(), &forged)]),
            vec![Ok(())]
        );
    }

    #[test]
    fn key_that_is_not_a_point_is_a_bad_key_single_and_batch() {
        // About half of all y are not the y of a curve point.
        let bad = (2u8..)
            .map(|y| {
                let mut bytes = [0; 32];
                bytes[0] = y;
                PublicKey(bytes)
            })
            .find(|k| VerifyingKey::from_bytes(&k.0).is_err())
            .expect("a y off the curve");
        let sig = sign(&key(1), VOTE_DOMAIN, b"m");
        assert_eq!(verify(&bad, b"m", &sig), Err(SignatureError::BadKey));
        assert_eq!(
            verify_many(&[(&bad, b"m".as_slice(), &sig)]),
            vec![Err(SignatureError::BadKey)]
        );
    }

    #[test]
    fn domain_separation() {
        let k = key(1);
        let sig = sign(&k, VOTE_DOMAIN, b"m");
        assert!(verify(&public_key(&k), &[VOTE_DOMAIN, b"m"].concat(), &sig).is_ok());
        assert!(verify(&public_key(&k), &[PROPOSAL_DOMAIN, b"m"].concat(), &sig).is_err());
    }
}

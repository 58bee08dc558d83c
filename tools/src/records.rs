//! Building and signing records on the CLI side: admin records signed with a local key
//! file, commitments and document hashes.
//!
//! The CLI uses the current time in nanoseconds as the nonce (DESIGN §4). Two records
//! signed within one clock tick by the same process would collide, so [`NonceClock`]
//! hands out strictly increasing values even when the clock stands still.

use std::time::{SystemTime, UNIX_EPOCH};

use ed25519_dalek::SigningKey;
use tongban_ledger::crypto::{public_key, sha256};
use tongban_ledger::types::{RecordBody, RecordPayload, SignedRecord};
use tongban_ledger::Hash32;

/// Nanoseconds since the Unix epoch (0 if the clock is before 1970).
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    now_ns() / 1_000_000
}

/// Strictly increasing nonces from the clock.
#[derive(Debug, Default)]
pub struct NonceClock {
    last: u64,
}

impl NonceClock {
    /// A clock that has handed out nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next nonce: the current time in ns, or one more than the last one.
    pub fn next_nonce(&mut self) -> u64 {
        self.last = now_ns().max(self.last.saturating_add(1));
        self.last
    }
}

/// Signs `body` as `key` for `chain_id` with `nonce`.
pub fn sign(key: &SigningKey, chain_id: &str, nonce: u64, body: RecordBody) -> SignedRecord {
    RecordPayload {
        chain_id: chain_id.to_owned(),
        author: public_key(key),
        nonce,
        body,
    }
    .sign(key)
}

/// `sha256(salt ‖ id)`: how a holder or applicant appears on the ledger.
pub fn commitment(salt: &[u8], id: &str) -> Hash32 {
    sha256(&[salt, id.as_bytes()])
}

/// `sha256(document)`.
pub fn document_hash(document: &[u8]) -> Hash32 {
    sha256(&[document])
}

#[cfg(test)]
mod tests {
    use super::*;
    use tongban_ledger::types::RecordBody;

    #[test]
    fn nonces_strictly_increase() {
        let mut clock = NonceClock::new();
        let mut last = 0;
        for _ in 0..1000 {
            let n = clock.next_nonce();
            assert!(n > last);
            last = n;
        }
    }

    #[test]
    fn signed_record_verifies() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let record = sign(&key, "c", 7, RecordBody::Approve { proposal_id: 1 });
        assert!(record.verify_signature().is_ok());
        assert_eq!(record.payload.nonce, 7);
    }

    #[test]
    fn commitment_is_salted() {
        assert_ne!(commitment(b"a", "x"), commitment(b"b", "x"));
        assert_eq!(commitment(b"ab", "c"), sha256(&[b"abc"]));
    }
}

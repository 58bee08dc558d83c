//! The consensus safety state is read back from disk on every start. Decoding must not
//! panic, whatever decodes re-encodes to exactly the input, and restoring consensus
//! from it and starting a height must not panic either.
#![no_main]

use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use tongban_consensus::{Config, Consensus, Input, SafetyState, TimeoutConfig};
use tongban_ledger::codec::{decode, encode};
use tongban_ledger::crypto::public_key;
use tongban_ledger::ids::{uscc_check_char, MemberId};
use tongban_ledger::types::{Validator, ValidatorSet};

fuzz_target!(|data: &[u8]| {
    let Ok(state) = decode::<SafetyState>(data) else {
        return;
    };
    assert_eq!(encode(&state), data, "a safety state has two encodings");
    let height = state.height;
    let config = Config {
        chain_id: "fuzz".into(),
        timeouts: TimeoutConfig::default(),
    };
    let key = SigningKey::from_bytes(&[7; 32]);
    // A one-validator set holding our key, so that a resumed round runs fully.
    let first17 = "11350100000000001";
    let Some(check) = uscc_check_char(first17.as_bytes()) else {
        return;
    };
    let Ok(member_id) = MemberId::parse(&format!("{first17}{}", check as char)) else {
        return;
    };
    let validators = ValidatorSet {
        validators: vec![Validator {
            member_id,
            key: public_key(&key),
        }],
    };
    let mut consensus = Consensus::restore(config, key, state);
    let _ = consensus.process(Input::NewHeight { height, validators });
    let _ = consensus.process(Input::Retransmit);
});

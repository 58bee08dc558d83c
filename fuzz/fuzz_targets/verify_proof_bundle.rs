//! Proof bundles come from any node, or from a file a citizen hands a clerk. Parsing any
//! bytes as a bundle and verifying it against a fixed genesis must not panic, and a
//! bundle that parses survives a JSON round trip unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tongban_ledger::proof::{verify, verify_commit, ProofBundle, VerifyOptions};
use tongban_ledger::types::{ChainParams, Genesis};

fuzz_target!(|data: &[u8]| {
    if let Ok(bundle) = ProofBundle::from_json(data) {
        let json = bundle.to_json_pretty().expect("a parsed bundle serialises");
        let back = ProofBundle::from_json(json.as_bytes()).expect("its JSON parses");
        assert_eq!(back, bundle, "JSON round trip changed the bundle");
        // A genesis with no members: every path up to the validator check runs; the
        // chain id and genesis hash of the input decide how far it gets.
        let genesis = Genesis {
            chain_id: bundle.chain_id.clone(),
            genesis_time_ms: 0,
            members: Vec::new(),
            admins: Vec::new(),
            params: ChainParams::default(),
        };
        let options = VerifyOptions {
            now_ms: u64::MAX,
            max_age_ms: Some(0),
            document: Some(data),
        };
        let _ = verify(&bundle, &genesis, &options);
        // The genesis hash stops the whole check early on fuzzed input, so also run the
        // later steps directly on the bundle's own parts.
        let _ = verify_commit(&bundle.chain_id, &bundle.validators, &bundle.header, &bundle.commit);
        for change in &bundle.validator_changes {
            let _ = verify_commit(&bundle.chain_id, &bundle.validators, &change.header, &change.commit);
        }
        let key = tongban_ledger::keys::licence(&bundle.licence_id);
        let value = bundle.licence.as_ref().map(|l| l.value.as_slice());
        let _ = bundle.state_proof.verify(&bundle.header.state_root, &key, value);
        if let Some(value) = value {
            let _ = tongban_ledger::codec::decode::<tongban_ledger::types::LicenceRecord>(value);
        }
    }
});

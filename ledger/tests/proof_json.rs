//! The bundle's JSON form: round trip, shape, golden bytes, and hostile input.

mod proof_support;

use proptest::prelude::*;

use proof_support::*;
use tongban_ledger::proof::{
    verify, BundleParseError, ProofBundle, Verdict, VerifyOptions, MAX_BUNDLE_JSON_BYTES,
};

/// The worked example of `docs/spec/proof-format.md` §8: the active licence at height 3,
/// one validator-set change (at height 2) since genesis.
const EXAMPLE_FILE: &str = "tests/proof_example.json";
/// The genesis of the example, as `genesis.json`.
const EXAMPLE_GENESIS_FILE: &str = "tests/proof_example_genesis.json";

/// `file` in this crate's folder, found when the test runs rather than when it was
/// built: CI builds into a target folder shared with clones at other paths, and a test
/// binary cargo reuses from one of those must still read this clone's files.
fn in_crate(file: &str) -> std::path::PathBuf {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR");
    std::path::Path::new(&dir).join(file)
}

fn options() -> VerifyOptions<'static> {
    VerifyOptions {
        now_ms: NOW_MS,
        max_age_ms: None,
        document: None,
    }
}

fn example() -> ProofBundle {
    TestChain::build().bundle(&active_id(), 3)
}

#[test]
fn json_round_trip_keeps_the_verdict() {
    let chain = TestChain::build();
    for (id, height) in [(active_id(), TIP), (missing_id(), TIP), (revoked_id(), TIP)] {
        let bundle = chain.bundle(&id, height);
        let json = bundle.to_json_pretty().expect("json");
        let back = ProofBundle::from_json(json.as_bytes()).expect("parse");
        assert_eq!(back, bundle);
        assert_eq!(
            verify(&back, &genesis(), &options()),
            verify(&bundle, &genesis(), &options())
        );
    }
}

#[test]
fn json_shape() {
    let bundle = TestChain::build().bundle(&missing_id(), TIP);
    let value: serde_json::Value =
        serde_json::from_str(&bundle.to_json_pretty().expect("json")).expect("json");
    assert_eq!(value["format"], "tongban-licence-proof/v1");
    assert_eq!(value["licence"], serde_json::Value::Null);
    assert_eq!(value["licence_id"], missing_id().as_str());
    assert_eq!(value["genesis_hash"], genesis().hash().to_hex());
    assert_eq!(value["header"]["height"], TIP);
    assert!(value["commit"]["signatures"][0][1].is_string());
    assert_eq!(value["validator_changes"].as_array().map(Vec::len), Some(2));

    let bundle = TestChain::build().bundle(&active_id(), TIP);
    let value: serde_json::Value =
        serde_json::from_str(&bundle.to_json_pretty().expect("json")).expect("json");
    let hex = value["licence"]["value"].as_str().expect("hex string");
    assert_eq!(
        hex::decode(hex).expect("hex"),
        bundle.licence.as_ref().expect("present").value
    );
    assert_eq!(value["licence"]["decoded"]["status"], "active");
}

#[test]
fn golden_example() {
    let bundle = example();
    assert_eq!(verify(&bundle, &genesis(), &options()), Verdict::Valid);
    let json = bundle.to_json_pretty().expect("json") + "\n";
    let genesis_json = serde_json::to_string_pretty(&genesis()).expect("json") + "\n";
    if std::env::var_os("TONGBAN_UPDATE_GOLDEN").is_some() {
        std::fs::write(in_crate(EXAMPLE_FILE), &json).expect("write example");
        std::fs::write(in_crate(EXAMPLE_GENESIS_FILE), &genesis_json).expect("write genesis");
    }
    let golden = std::fs::read_to_string(in_crate(EXAMPLE_FILE)).expect(EXAMPLE_FILE);
    assert_eq!(
        json, golden,
        "the bundle format changed; if on purpose, rerun with TONGBAN_UPDATE_GOLDEN=1 and update the spec"
    );
    let golden_genesis =
        std::fs::read_to_string(in_crate(EXAMPLE_GENESIS_FILE)).expect(EXAMPLE_GENESIS_FILE);
    assert_eq!(genesis_json, golden_genesis);
    // The files verify on their own, as a verifier in another language would use them.
    let parsed = ProofBundle::from_json(golden.as_bytes()).expect("parse");
    let parsed_genesis = serde_json::from_str(&golden_genesis).expect("genesis");
    assert_eq!(verify(&parsed, &parsed_genesis, &options()), Verdict::Valid);
}

#[test]
fn hostile_json_is_refused_with_a_typed_error() {
    let json = example().to_json_pretty().expect("json");

    // Unknown fields.
    let extra = json.replacen("{", "{\n  \"trusted\": true,", 1);
    assert!(matches!(
        ProofBundle::from_json(extra.as_bytes()),
        Err(BundleParseError::Json(_))
    ));
    // A licence id with a bad check character.
    let id = active_id();
    let id = id.as_str();
    let mut bad_id = id.to_owned();
    bad_id.pop();
    bad_id.push(if id.ends_with('0') { '1' } else { '0' });
    let bad = json.replace(id, &bad_id);
    assert!(matches!(
        ProofBundle::from_json(bad.as_bytes()),
        Err(BundleParseError::Json(_))
    ));
    // A hash of the wrong length.
    let root = example().header.state_root.to_hex();
    let short = json.replace(&root, &root[..62]);
    assert!(matches!(
        ProofBundle::from_json(short.as_bytes()),
        Err(BundleParseError::Json(_))
    ));
    // Too large, refused before parsing.
    let huge = vec![b' '; MAX_BUNDLE_JSON_BYTES + 1];
    assert!(matches!(
        ProofBundle::from_json(&huge),
        Err(BundleParseError::TooLarge { .. })
    ));
    // Deep nesting is refused by serde_json's recursion limit, not the stack.
    let deep = "[".repeat(100_000);
    assert!(ProofBundle::from_json(deep.as_bytes()).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any single-byte change to the JSON either fails to parse, is refused by the
    /// verifier, or leaves the bundle's meaning unchanged (the only unchecked field is
    /// `generated_at_ms`; hex may change case). Never a panic, never a different VALID.
    #[test]
    fn single_byte_mutations_never_forge(position in any::<prop::sample::Index>(), mask in 1u8..=255) {
        let bundle = example();
        let mut json = bundle.to_json_pretty().expect("json").into_bytes();
        let i = position.index(json.len());
        json[i] ^= mask;
        if let Ok(mutated) = ProofBundle::from_json(&json) {
            let verdict = verify(&mutated, &genesis(), &options());
            if verdict.is_valid() {
                let mut same = mutated.clone();
                same.generated_at_ms = bundle.generated_at_ms;
                prop_assert_eq!(same, bundle);
            }
        }
    }
}

/// Prints the intermediate values of the worked example (`docs/spec/proof-format.md` §8):
/// `cargo test -p tongban-ledger --test proof_json -- --ignored --nocapture worked_example`.
#[test]
#[ignore = "prints the spec's worked example"]
fn worked_example_values() {
    use tongban_ledger::codec::encode;
    use tongban_ledger::proof::commit_vote;
    let bundle = example();
    let g = genesis();
    println!("genesis_hash          {}", g.hash());
    let set0 = tongban_ledger::types::ValidatorSet::from_members(&g.members);
    println!("genesis set hash      {}", set0.hash());
    let change = &bundle.validator_changes[0];
    println!("change[0] height      {}", change.header.height);
    println!("change[0] block hash  {}", change.header.hash());
    println!(
        "change[0] vote bytes  {}",
        hex::encode(commit_vote(&g.chain_id, &change.commit).signing_bytes())
    );
    println!("next set hash         {}", change.next_validators.hash());
    println!(
        "header encoding       {}",
        hex::encode(encode(&bundle.header))
    );
    println!("block hash            {}", bundle.header.hash());
    println!(
        "vote signing bytes    {}",
        hex::encode(commit_vote(&g.chain_id, &bundle.commit).signing_bytes())
    );
    let key = tongban_ledger::keys::licence(&bundle.licence_id);
    println!("licence key           {key}");
    let value = &bundle.licence.as_ref().expect("present").value;
    println!("value ({} bytes)     {}", value.len(), hex::encode(value));
    println!(
        "value hash            {}",
        tongban_ledger::crypto::sha256(&[value])
    );
    let leaf = bundle.state_proof.leaf.expect("leaf");
    println!("leaf hash             {}", leaf.hash());
    let n = bundle.state_proof.siblings.len();
    let mut h = leaf.hash();
    for (i, s) in bundle.state_proof.siblings.iter().enumerate() {
        let bit_index = n - 1 - i;
        let bit = (key.0[bit_index / 8] >> (7 - bit_index % 8)) & 1;
        h = if bit == 1 {
            tongban_ledger::state_tree::internal_hash(s, &h)
        } else {
            tongban_ledger::state_tree::internal_hash(&h, s)
        };
        println!("step {i}: bit {bit_index} = {bit} -> {h}");
    }
    println!("state_root            {}", bundle.header.state_root);
}

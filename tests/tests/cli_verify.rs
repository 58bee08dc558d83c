//! `tongban verify` end to end on proof bundles of a real (in-memory) chain: headers and
//! commits signed for real by four validators, two validator-set changes, and the
//! ledger's Jellyfish Merkle state tree (the chain of `ledger/tests/proof_support`).
//! Each verdict must print its label and exit with its own code; tampering with any
//! part of a proof must give INVALID PROOF (exit 8).
//!
//! Run after `cargo build --bins` of the same profile: the binary is found next to this
//! test's executable.

#[path = "../../ledger/tests/proof_support/mod.rs"]
mod proof_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tongban_tests::binaries::{binary, text};

use proof_support::{
    active_id, expired_id, future_id, missing_id, revoked_id, suspended_id, TestChain, DOCUMENT,
    TIP,
};
use tongban_ledger::proof::ProofBundle;

struct Files {
    dir: tempfile::TempDir,
    genesis: PathBuf,
    document: PathBuf,
    chain: TestChain,
}

impl Files {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let chain = TestChain::build();
        let genesis = dir.path().join("genesis.json");
        std::fs::write(
            &genesis,
            serde_json::to_vec_pretty(&chain.genesis).expect("genesis json"),
        )
        .expect("write genesis");
        let document = dir.path().join("licence.pdf");
        std::fs::write(&document, DOCUMENT).expect("write document");
        Files {
            dir,
            genesis,
            document,
            chain,
        }
    }

    fn write(&self, name: &str, bundle: &ProofBundle) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bundle.to_json_pretty().expect("bundle json")).expect("write");
        path
    }

    fn write_json(&self, name: &str, value: &serde_json::Value) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, serde_json::to_vec(value).expect("json")).expect("write");
        path
    }

    fn verify(&self, proof: &Path, extra: &[&str]) -> Output {
        Command::new(binary("tongban"))
            .args([
                "verify",
                "--genesis",
                self.genesis.to_str().expect("utf-8"),
                "--proof",
                proof.to_str().expect("utf-8"),
            ])
            .args(extra)
            .output()
            .expect("run tongban verify")
    }
}

fn expect_verdict(out: &Output, code: i32, label: &str) {
    assert_eq!(out.status.code(), Some(code), "{}", text(out));
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with(label),
        "expected {label}: {}",
        text(out)
    );
}

#[test]
fn each_verdict_has_its_label_and_exit_code() {
    let f = Files::new();
    let doc = f.document.to_str().expect("utf-8").to_owned();

    let valid = f.write("valid.json", &f.chain.bundle(&active_id(), TIP));
    expect_verdict(&f.verify(&valid, &["--document", &doc]), 0, "VALID");
    expect_verdict(&f.verify(&valid, &[]), 0, "VALID");

    let out = f.verify(&valid, &["--document", &doc, "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json verdict");
    assert_eq!(report["verdict"], "VALID");
    assert_eq!(report["code"], "valid");
    assert_eq!(report["height"], TIP);
    assert_eq!(report["document_checked"], true);

    let revoked = f.write("revoked.json", &f.chain.bundle(&revoked_id(), TIP));
    let out = f.verify(&revoked, &[]);
    expect_verdict(&out, 3, "REVOKED");
    assert!(
        text(&out).contains("吊销：虚假登记"),
        "reason: {}",
        text(&out)
    );
    // The same licence proven before its revocation was valid then.
    let before = f.write("before-revocation.json", &f.chain.bundle(&revoked_id(), 4));
    expect_verdict(&f.verify(&before, &[]), 0, "VALID");

    let suspended = f.write("suspended.json", &f.chain.bundle(&suspended_id(), TIP));
    expect_verdict(&f.verify(&suspended, &[]), 4, "SUSPENDED");
    let expired = f.write("expired.json", &f.chain.bundle(&expired_id(), TIP));
    expect_verdict(&f.verify(&expired, &[]), 5, "EXPIRED");
    let future = f.write("future.json", &f.chain.bundle(&future_id(), TIP));
    expect_verdict(&f.verify(&future, &[]), 6, "NOT YET VALID");
    let unknown = f.write("unknown.json", &f.chain.bundle(&missing_id(), TIP));
    expect_verdict(&f.verify(&unknown, &[]), 7, "UNKNOWN");
}

#[test]
fn wrong_document_stale_and_tampered_proofs_are_invalid() {
    let f = Files::new();
    let valid = f.chain.bundle(&active_id(), TIP);
    let valid_path = f.write("valid.json", &valid);

    // A different document than the one the licence records.
    let other = f.dir.path().join("other.pdf");
    std::fs::write(&other, b"%PDF-1.7 someone else's licence").expect("write");
    let out = f.verify(&valid_path, &["--document", other.to_str().expect("utf-8")]);
    expect_verdict(&out, 8, "INVALID PROOF");
    assert!(text(&out).contains("document_mismatch"), "{}", text(&out));

    // The test chain's blocks are from 2023: older than a minute.
    let out = f.verify(&valid_path, &["--max-age", "60"]);
    expect_verdict(&out, 8, "INVALID PROOF");

    let json: serde_json::Value =
        serde_json::from_str(&valid.to_json_pretty().expect("json")).expect("value");
    let flip = |s: &str| -> String {
        let mut chars: Vec<char> = s.chars().collect();
        let last = chars.len() - 1;
        chars[last] = if chars[last] == '0' { '1' } else { '0' };
        chars.into_iter().collect()
    };
    let mut cases: Vec<(&str, serde_json::Value)> = Vec::new();

    let mut t = json.clone();
    let v = t["licence"]["value"].as_str().expect("value").to_owned();
    t["licence"]["value"] = flip(&v).into();
    cases.push(("licence value bytes", t));

    let mut t = json.clone();
    let v = t["commit"]["signatures"][0][1]
        .as_str()
        .expect("sig")
        .to_owned();
    t["commit"]["signatures"][0][1] = flip(&v).into();
    cases.push(("a commit signature", t));

    let mut t = json.clone();
    let v = t["header"]["state_root"].as_str().expect("root").to_owned();
    t["header"]["state_root"] = flip(&v).into();
    cases.push(("the header's state root", t));

    let mut t = json.clone();
    t["validator_changes"] = serde_json::Value::Array(Vec::new());
    cases.push(("the validator-set history", t));

    let mut t = json.clone();
    if let Some(sigs) = t["commit"]["signatures"].as_array_mut() {
        sigs.truncate(2);
    }
    cases.push(("too few signatures", t));

    let mut t = json.clone();
    t["licence"]["decoded"]["status"] = "active".into();
    t["licence"]["decoded"]["valid_until"] = serde_json::Value::Null;
    cases.push(("the decoded copy", t));

    for (i, (what, tampered)) in cases.iter().enumerate() {
        let path = f.write_json(&format!("tampered-{i}.json"), tampered);
        let out = f.verify(&path, &[]);
        assert_eq!(
            out.status.code(),
            Some(8),
            "tampered {what}: {}",
            text(&out)
        );
        assert!(
            text(&out).starts_with("INVALID PROOF"),
            "{what}: {}",
            text(&out)
        );
    }

    // A proof checked against another chain's genesis.
    let mut other_genesis = f.chain.genesis.clone();
    other_genesis.chain_id = "another-chain".into();
    std::fs::write(
        &f.genesis,
        serde_json::to_vec(&other_genesis).expect("json"),
    )
    .expect("write");
    let out = f.verify(&valid_path, &[]);
    expect_verdict(&out, 8, "INVALID PROOF");
}

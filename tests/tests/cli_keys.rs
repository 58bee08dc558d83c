//! The `tongban` binary without a network: keygen, genesis building, and `verify` on
//! files that are not proofs. Run after `cargo build --release --bins` (or a debug
//! build): the binary is found next to this test's executable.

use tongban_tests::binaries::{text, tongban};

#[test]
fn keygen_writes_an_owner_only_file_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("k.json");
    let key_s = key.to_str().expect("utf-8 path");
    let out = tongban(&["keygen", "--out", key_s]);
    assert!(out.status.success(), "{}", text(&out));
    let public = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(public.len(), 64, "public key hex: {public:?}");
    let before = std::fs::read(&key).expect("key file");
    let json: serde_json::Value = serde_json::from_slice(&before).expect("key file is JSON");
    assert_eq!(json["public_key"], public.as_str());
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    }
    let again = tongban(&["keygen", "--out", key_s]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(
        text(&again).contains("refusing to overwrite"),
        "{}",
        text(&again)
    );
    assert_eq!(
        std::fs::read(&key).expect("key file"),
        before,
        "key changed"
    );
}

#[test]
fn genesis_is_built_step_by_step_and_bad_ids_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let g = dir.path().join("genesis.json");
    let g_s = g.to_str().expect("utf-8 path");
    let key = dir.path().join("m.json");
    let admin = dir.path().join("a.json");
    for k in [&key, &admin] {
        let out = tongban(&["keygen", "--out", k.to_str().expect("utf-8")]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let out = tongban(&["genesis", "new", "--chain-id", "cli-test", "--out", g_s]);
    assert!(out.status.success(), "{}", text(&out));
    let out = tongban(&["genesis", "new", "--chain-id", "cli-test", "--out", g_s]);
    assert!(!out.status.success(), "overwrote a genesis");

    let add = |id: &str, region: &str| {
        tongban(&[
            "genesis",
            "add-member",
            "--genesis",
            g_s,
            "--id",
            id,
            "--name",
            "福州市市场监督管理局",
            "--region",
            region,
            "--key",
            key.to_str().expect("utf-8"),
            "--role",
            "validator",
        ])
    };
    // Wrong check character (the standard's example ends in 3).
    let out = add("91350100M000100Y44", "350100");
    assert!(!out.status.success());
    assert!(text(&out).contains("check character"), "{}", text(&out));
    // Not a region code.
    let out = add("91350100M000100Y43", "35010A");
    assert!(!out.status.success());
    assert!(text(&out).contains("region"), "{}", text(&out));
    // The file is unchanged by the refusals.
    let parsed: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&g).expect("genesis")).expect("json");
    assert_eq!(parsed["members"].as_array().map(Vec::len), Some(0));

    let out = add("91350100M000100Y43", "350100");
    assert!(out.status.success(), "{}", text(&out));
    let out = add("91350100M000100Y43", "350100");
    assert!(
        text(&out).contains("already in the genesis"),
        "{}",
        text(&out)
    );

    let out = tongban(&[
        "genesis",
        "add-admin",
        "--genesis",
        g_s,
        "--key",
        admin.to_str().expect("utf-8"),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = tongban(&["genesis", "add-admin", "--genesis", g_s, "--key", "zz"]);
    assert!(!out.status.success());

    let genesis: tongban_ledger::types::Genesis =
        serde_json::from_slice(&std::fs::read(&g).expect("genesis")).expect("a ledger Genesis");
    assert_eq!(genesis.chain_id, "cli-test");
    assert_eq!(genesis.members.len(), 1);
    assert_eq!(genesis.admins.len(), 1);
    assert_eq!(genesis.members[0].id.as_str(), "91350100M000100Y43");
}

#[test]
fn verify_refuses_a_file_that_is_not_a_proof_and_a_missing_genesis() {
    let dir = tempfile::tempdir().expect("tempdir");
    let g = dir.path().join("genesis.json");
    let out = tongban(&[
        "genesis",
        "new",
        "--chain-id",
        "cli-test",
        "--out",
        g.to_str().expect("utf-8"),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let proof = dir.path().join("proof.json");
    std::fs::write(
        &proof,
        br#"{"format":"tongban-licence-proof/v1","chain_id":"x"}"#,
    )
    .expect("write");
    let out = tongban(&[
        "verify",
        "--genesis",
        g.to_str().expect("utf-8"),
        "--proof",
        proof.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));
    assert!(text(&out).contains("INVALID PROOF"), "{}", text(&out));

    let out = tongban(&[
        "verify",
        "--genesis",
        dir.path().join("missing.json").to_str().expect("utf-8"),
        "--proof",
        proof.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

//! `tongban devnet` end to end with real `tongban-node` processes on 127.0.0.1: the
//! network comes up and writes `devnet.json`; the demo's proofs give each verdict with
//! its exit code through `tongban verify`; a fresh proof fetched with the CLI from
//! another node verifies; admins add a member with `tongban member propose/approve`;
//! Ctrl-C (SIGINT) stops every node; running again on the same directory resumes the
//! chain without duplicating the demo data.
//!
//! Run after `cargo build --release --bins`: the binaries are found next to this test's
//! executable.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use std::time::{Duration, Instant};
use tongban_tests::binaries::{binary, text, tongban};

/// How long the devnet may take to come up and run its demo on a busy 2-core machine.
const UP_TIMEOUT: Duration = Duration::from_secs(300);

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The devnet process; killed (with its nodes stopped by SIGINT first) if the test fails.
struct Devnet {
    child: Option<Child>,
    log: PathBuf,
}

impl Devnet {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn interrupt(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = child.kill();
        child.wait().ok()
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        self.interrupt();
    }
}

fn verify(genesis: &Path, proof: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["verify", "--genesis", s(genesis), "--proof", s(proof)];
    args.extend_from_slice(extra);
    tongban(&args)
}

fn pid_alive(pid: u64) -> bool {
    // A zombie still has /proc/PID; its state letter is Z.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.contains(") Z "),
        Err(_) => false,
    }
}

#[test]
fn devnet_demo_verdicts_admin_commands_shutdown_and_resume() {
    let dir = tempfile::tempdir().expect("tempdir");
    let net = dir.path().join("net");
    let log = dir.path().join("devnet.out");
    let out_file = std::fs::File::create(&log).expect("log");
    let child = Command::new(binary("tongban"))
        .args(["devnet", "--nodes", "4", "--dir", s(&net)])
        .stdin(Stdio::null())
        .stdout(out_file.try_clone().expect("log"))
        .stderr(out_file)
        .spawn()
        .expect("start tongban devnet");
    let mut devnet = Devnet {
        child: Some(child),
        log: log.clone(),
    };

    // 1. Up: devnet.json written, demo done.
    let start = Instant::now();
    while !devnet.log().contains("press Ctrl-C") {
        if let Some(c) = devnet.child.as_mut() {
            if let Ok(Some(status)) = c.try_wait() {
                panic!("devnet exited early ({status}):\n{}", devnet.log());
            }
        }
        assert!(
            start.elapsed() < UP_TIMEOUT,
            "devnet not up after {UP_TIMEOUT:?}:\n{}",
            devnet.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(net.join("devnet.json")).expect("devnet.json"))
            .expect("devnet.json is JSON");
    let nodes = file["nodes"].as_array().expect("nodes").clone();
    assert_eq!(nodes.len(), 4);
    for n in &nodes {
        for field in ["name", "api", "token", "home", "pid"] {
            assert!(!n[field].is_null(), "node without {field}: {n}");
        }
        assert!(n["api"]
            .as_str()
            .unwrap_or("")
            .starts_with("http://127.0.0.1:"));
        assert!(pid_alive(n["pid"].as_u64().expect("pid")));
    }
    let genesis = PathBuf::from(file["genesis"].as_str().expect("genesis"));
    let api = |i: usize| nodes[i]["api"].as_str().expect("api").to_owned();
    let demo = net.join("demo");

    // 2. Verdicts and exit codes on the demo's proofs (fetched from node 4).
    let fresh = demo.join("proof-licence-1.json");
    let doc1 = demo.join("licence-1.txt");
    let doc2 = demo.join("licence-2.txt");
    let out = verify(&genesis, &fresh, &["--document", s(&doc1)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).starts_with("VALID"), "{}", text(&out));
    let out = verify(&genesis, &fresh, &["--document", s(&doc1), "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json verdict");
    assert_eq!(report["verdict"], "VALID");
    assert_eq!(report["exit_code"], 0);

    let out = verify(&genesis, &demo.join("proof-revoked.json"), &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).starts_with("REVOKED"), "{}", text(&out));
    assert!(
        text(&out).contains("devnet demo"),
        "reason shown: {}",
        text(&out)
    );

    let out = verify(&genesis, &demo.join("proof-unknown.json"), &[]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    assert!(text(&out).starts_with("UNKNOWN"), "{}", text(&out));

    let out = verify(&genesis, &fresh, &["--document", s(&doc2)]);
    assert_eq!(out.status.code(), Some(8), "wrong document: {}", text(&out));
    assert!(text(&out).starts_with("INVALID PROOF"), "{}", text(&out));

    // Tampered proofs: the licence value bytes, and one commit signature.
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&fresh).expect("proof")).expect("proof json");
    let mut tampered = bundle.clone();
    let value = tampered["licence"]["value"]
        .as_str()
        .expect("value hex")
        .to_owned();
    let flipped_last = if value.ends_with('0') { '1' } else { '0' };
    let mut changed = value[..value.len() - 1].to_owned();
    changed.push(flipped_last);
    tampered["licence"]["value"] = serde_json::Value::String(changed);
    let path = dir.path().join("tampered-value.json");
    std::fs::write(&path, serde_json::to_vec(&tampered).expect("json")).expect("write");
    let out = verify(&genesis, &path, &[]);
    assert_eq!(out.status.code(), Some(8), "tampered value: {}", text(&out));

    let mut tampered = bundle.clone();
    let sig = tampered["commit"]["signatures"][0][1]
        .as_str()
        .expect("signature hex")
        .to_owned();
    let first = if sig.starts_with('0') { "1" } else { "0" };
    tampered["commit"]["signatures"][0][1] =
        serde_json::Value::String(format!("{first}{}", &sig[1..]));
    let path = dir.path().join("tampered-signature.json");
    std::fs::write(&path, serde_json::to_vec(&tampered).expect("json")).expect("write");
    let out = verify(&genesis, &path, &[]);
    assert_eq!(
        out.status.code(),
        Some(8),
        "tampered signature: {}",
        text(&out)
    );

    // 3. The CLI's own API commands: a fresh proof from node 3, licence and case views.
    let licence_id = bundle["licence_id"]
        .as_str()
        .expect("licence id")
        .to_owned();
    let proof3 = dir.path().join("proof-from-node-3.json");
    let out = tongban(&[
        "licence",
        "proof",
        &licence_id,
        "--node",
        &api(2),
        "--out",
        s(&proof3),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = verify(&genesis, &proof3, &["--document", s(&doc1)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = tongban(&["licence", "show", &licence_id, "--node", &api(1)]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Active"), "{}", text(&out));
    let out = tongban(&["catalog", "list", "--node", &api(3)]);
    assert!(text(&out).contains("DEVNET-QYKB-001"), "{}", text(&out));

    // 4. Admins add a member: propose with admin 1, approve with admins 2 and 3.
    let new_key = dir.path().join("new-member.json");
    let out = tongban(&["keygen", "--out", s(&new_key)]);
    assert!(out.status.success(), "{}", text(&out));
    let admin = |i: usize| net.join("keys").join(format!("admin-{i}.json"));
    let new_id = "91350100M000100Y43";
    let out = tongban(&[
        "member",
        "propose",
        "--proposal-id",
        "4242",
        "add",
        "--id",
        new_id,
        "--name",
        "福州市市场监督管理局",
        "--region",
        "350100",
        "--key",
        s(&new_key),
        "--role",
        "observer",
        "--admin-key",
        s(&admin(1)),
        "--node",
        &api(0),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let listed = |node: usize| {
        let out = tongban(&["member", "list", "--json", "--node", &api(node)]);
        assert!(out.status.success(), "{}", text(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("members json");
        v["members"]
            .as_array()
            .expect("members")
            .iter()
            .any(|m| m["id"] == new_id)
    };
    assert!(!listed(0), "added before the approvals");
    for (i, node) in [(2, 1), (3, 2)] {
        let out = tongban(&[
            "member",
            "approve",
            "--proposal-id",
            "4242",
            "--admin-key",
            s(&admin(i)),
            "--node",
            &api(node),
        ]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while !listed(3) {
        assert!(Instant::now() < deadline, "member not added on node 4");
        std::thread::sleep(Duration::from_millis(300));
    }
    // An approval from a key that is not an admin is refused with a code.
    let out = tongban(&[
        "member",
        "approve",
        "--proposal-id",
        "4242",
        "--admin-key",
        s(&new_key),
        "--node",
        &api(0),
    ]);
    assert!(!out.status.success(), "{}", text(&out));

    // 5. Ctrl-C stops every node.
    let status = devnet.interrupt().expect("devnet status");
    assert!(status.success(), "devnet exit {status}:\n{}", devnet.log());
    assert!(
        devnet.log().contains("all nodes stopped"),
        "{}",
        devnet.log()
    );
    for n in &nodes {
        let pid = n["pid"].as_u64().expect("pid");
        assert!(!pid_alive(pid), "node pid {pid} still running");
    }

    // 6. Running again on the same directory resumes the chain; the demo is not repeated.
    let again = tongban(&[
        "devnet",
        "--nodes",
        "4",
        "--dir",
        s(&net),
        "--exit-after-demo",
    ]);
    let out = text(&again);
    let status = again.status;
    assert!(status.success(), "{out}");
    assert!(out.contains("resuming"), "{out}");
    assert!(out.contains("already issued"), "{out}");
    assert!(!out.contains("published licence type"), "{out}");
    assert!(out.contains("VALID"), "{out}");
}

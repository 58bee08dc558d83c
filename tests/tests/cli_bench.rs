//! `tongban bench` end to end with real `tongban-node` processes on 127.0.0.1: a small
//! run commits every record it submits, writes the JSON the issue names, and removes
//! the network it started (each run's RocksDB data is about 200 MB); a network in
//! `--dir` is kept.
//!
//! Run after `cargo build --release --bins`: the binaries are found next to this test's
//! executable.

use std::path::Path;
use std::process::Command;

use tongban_tests::binaries::{binary, text};

/// Runs a small bench with `TMPDIR` set to `tmp`; returns the parsed JSON result.
fn bench(tmp: &Path, extra: &[&str]) -> serde_json::Value {
    let json = tmp.join("result.json");
    let out = Command::new(binary("tongban"))
        .env("TMPDIR", tmp)
        .args([
            "bench",
            "--nodes",
            "4",
            "--records",
            "400",
            "--concurrency",
            "2",
            "--batch",
            "50",
            "--json",
            json.to_str().expect("utf-8 path"),
        ])
        .args(extra)
        .output()
        .expect("run tongban bench");
    assert!(out.status.success(), "bench failed:\n{}", text(&out));
    let result: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("result file")).expect("json");
    assert_eq!(result["nodes"], 4, "{result}");
    assert_eq!(result["records_submitted"], 400, "{result}");
    assert_eq!(result["records_committed"], 400, "{result}");
    assert_eq!(result["records_lost"], 0, "{result}");
    for field in [
        "records_per_second",
        "latency_ms_p50",
        "latency_ms_p95",
        "latency_ms_p99",
    ] {
        let value = result[field].as_f64().unwrap_or(-1.0);
        assert!(value > 0.0, "{field} = {value} in {result}");
    }
    assert!(result["cpu_cores"].as_u64().unwrap_or(0) >= 1, "{result}");
    result
}

/// What `tmp` holds besides the result file.
fn left_behind(tmp: &Path) -> Vec<String> {
    std::fs::read_dir(tmp)
        .expect("read tmp")
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name != "result.json")
        .collect()
}

#[test]
fn bench_commits_everything_and_removes_its_network() {
    let tmp = tempfile::tempdir().expect("tempdir");
    bench(tmp.path(), &[]);
    assert_eq!(left_behind(tmp.path()), Vec::<String>::new());

    // A network the caller placed is the caller's to keep.
    let kept = tmp.path().join("kept");
    bench(tmp.path(), &["--dir", kept.to_str().expect("utf-8 path")]);
    assert!(
        kept.join("devnet.json").is_file(),
        "{:?}",
        left_behind(&kept)
    );
}

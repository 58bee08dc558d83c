//! The release binaries the process tests start, and small helpers to run them.
//!
//! Tests run from `target/<profile>/deps/<test>-HASH`; the binaries built by
//! `cargo build --release --bins` sit two levels up, in `target/<profile>/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary `name` next to the test executable; fails the test with the command to
/// run when it has not been built.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable in target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} not found: run `cargo build --release --bins` before the tests",
        path.display()
    );
    path
}

/// Runs `tongban` with `args` to completion.
pub fn tongban(args: &[&str]) -> Output {
    Command::new(binary("tongban"))
        .args(args)
        .output()
        .expect("run tongban")
}

/// Standard output followed by standard error, for assertions and failure messages.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: set-up, release build of the
# binaries the process tests start, then every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
# Process tests start the real binaries from the release target directory.
cargo build --release --locked --bins
cargo test --release --locked --workspace

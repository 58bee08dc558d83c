#!/usr/bin/env bash
# The main job, from a fresh Debian machine: set-up, release build, then a local
# network of four validators with demo data and a licence verified with a proof.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
exec cargo run --release --locked --quiet --bin tongban -- devnet --nodes 4 --dir ./devnet "$@"

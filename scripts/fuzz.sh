#!/usr/bin/env bash
# Fuzzes configuration keys/values and object names through the C ABI with libFuzzer.
#
#   bash scripts/fuzz.sh [seconds]     (default 60)
#
# cargo-fuzz needs nightly compiler flags; RUSTC_BOOTSTRAP lets the stable toolchain accept them.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
mkdir -p fuzz/corpus/config_and_names
RUSTC_BOOTSTRAP=1 cargo fuzz run --release config_and_names -- -max_total_time="$seconds"

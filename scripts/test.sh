#!/usr/bin/env bash
# Every check: formatting, lints, unit and integration tests (real S3 server on loopback,
# C programs compiled against include/s3os.h, header freshness), the Python binding's tests.
# One release build serves all.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo fmt --check
# Scratch files of earlier runs (servers' data, multi-GiB test objects) would pile up.
rm -rf target/tmp
cargo test --release
bash bindings/python/test.sh
bash bindings/java/test.sh
cargo clippy --release --all-targets -- -D warnings

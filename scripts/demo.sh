#!/usr/bin/env bash
# The demo: starts a local S3-compatible server on loopback (no AWS account needed), uploads a
# generated file with the C example, downloads it back, verifies it and prints the throughput.
#
#   bash scripts/demo.sh [size-in-MiB]      (default 300)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
size_mib="${1:-300}"

echo "== building libs3os and the local S3 server (release; the first build takes a few minutes)"
cargo build --release --lib --example local_s3_server
# Installed as users install it, and built with what pkg-config says.
bash scripts/install.sh --from target/release target/demo/prefix
export PKG_CONFIG_PATH="$PWD/target/demo/prefix/lib/pkgconfig"
cc -std=c11 -D_POSIX_C_SOURCE=200809L -O2 -Wall examples/c/roundtrip.c \
   $(pkg-config --cflags --libs s3os) -Wl,-rpath,"$(pkg-config --variable=libdir s3os)" \
   -o target/demo/roundtrip

work="$(mktemp -d "${TMPDIR:-/tmp}/s3os-demo.XXXXXX")"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "== starting a local S3 server on 127.0.0.1 (data in $work/server)"
mkfifo "$work/server.out"
target/release/examples/local_s3_server "$work/server" < /dev/null > "$work/server.out" &
server_pid=$!
exec 3< "$work/server.out"
declare -A server
for _ in 1 2 3 4; do
    IFS='=' read -r key value <&3
    server[$key]="$value"
done
echo "   endpoint ${server[endpoint]}, bucket ${server[bucket]}"

echo "== generating a ${size_mib} MiB file of random bytes"
head -c "$((size_mib * 1024 * 1024))" /dev/urandom > "$work/checkpoint.bin"

echo "== upload, download, verify"
target/demo/roundtrip "${server[bucket]}" "$work/checkpoint.bin" demo/checkpoint.bin \
    "endpoint_url=${server[endpoint]}" region_name=us-east-1 \
    "aws_access_key_id=${server[aws_access_key_id]}" \
    "aws_secret_access_key=${server[aws_secret_access_key]}"

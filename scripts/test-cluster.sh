#!/usr/bin/env bash
# Many ranks against a real cluster: a 3-node Garage cluster on loopback with replication 3,
# 8 processes ("ranks") each uploading its shard folder with s3os_upload_dir while one storage
# node is killed mid-way, then every shard downloaded back with s3os_download_prefix and
# compared byte for byte. Fails if any byte differs, any rank fails, or a multipart upload is
# left unfinished. Prints the figures. Not part of scripts/test.sh: building Garage takes about
# half an hour on two cores the first time.
#
#   bash scripts/test-cluster.sh            # RANKS=8 FILES=6 BIG_MIB=24 change the shards
#
# Garage comes from crates.io (cargo install, version pinned below, into $GARAGE_ROOT, default
# ~/.cache/s3os-garage, with its build in a target directory of its own outside the
# repository). Each rank talks to one of the two nodes that stay up; the third node, killed
# while the ranks upload, stands for a storage server lost mid-checkpoint: with replication 3
# every write still reaches a quorum of two.
set -euo pipefail
cd "$(dirname "$0")/.."

# 2.5.0 builds with rustc 1.95; the features leave out LMDB, metrics and K2V (sqlite metadata).
GARAGE_VERSION=2.5.0
GARAGE_ROOT="${GARAGE_ROOT:-$HOME/.cache/s3os-garage}"
RANKS="${RANKS:-8}"
FILES="${FILES:-6}"
BIG_MIB="${BIG_MIB:-24}"

garage="$GARAGE_ROOT/bin/garage"
if ! "$garage" --version 2>/dev/null | grep -q "$GARAGE_VERSION"; then
    echo "== installing Garage $GARAGE_VERSION from crates.io into $GARAGE_ROOT (slow the first time)"
    CARGO_TARGET_DIR="$GARAGE_ROOT/target" cargo install garage --version "$GARAGE_VERSION" \
        --locked --no-default-features --features bundled-libs,sqlite --root "$GARAGE_ROOT"
fi

echo "== building libs3os and the rank program"
cargo build --release --lib --quiet
work="$(mktemp -d "${TMPDIR:-/tmp}/s3os-cluster.XXXXXX")"
cc -std=c11 -D_POSIX_C_SOURCE=200809L -O2 -Wall -Wextra -Werror -I include scripts/cluster_rank.c -o "$work/rank" \
    -L target/release -ls3os -Wl,-rpath,"$PWD/target/release"
soname="$(readelf -d target/release/libs3os.so | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"
[ -z "$soname" ] || [ -e "target/release/$soname" ] || ln -sf libs3os.so "target/release/$soname"

pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

secret="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
declare -a s3_port rpc_port node_pid
for n in 1 2 3; do
    s3_port[n]="$(free_port)"
    rpc_port[n]="$(free_port)"
    mkdir -p "$work/node$n"
    cat >"$work/node$n/garage.toml" <<EOF
metadata_dir = "$work/node$n/meta"
data_dir = "$work/node$n/data"
db_engine = "sqlite"
replication_factor = 3
rpc_secret = "$secret"
rpc_bind_addr = "127.0.0.1:${rpc_port[n]}"
rpc_public_addr = "127.0.0.1:${rpc_port[n]}"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:${s3_port[n]}"
root_domain = ".s3.garage.localhost"
EOF
    RUST_LOG=warn "$garage" -c "$work/node$n/garage.toml" server >"$work/node$n/log" 2>&1 &
    node_pid[n]=$!
    pids+=("${node_pid[n]}")
done
g() { "$garage" -c "$work/node1/garage.toml" "$@"; }

echo "== starting 3 Garage nodes on loopback (replication 3)"
for n in 1 2 3; do
    for _ in $(seq 100); do
        "$garage" -c "$work/node$n/garage.toml" node id -q >"$work/node$n/id" 2>/dev/null && break
        sleep 0.2
    done
    [ -s "$work/node$n/id" ] || { cat "$work/node$n/log" >&2; exit 1; }
done
for n in 2 3; do
    g node connect "$(cat "$work/node$n/id")" >/dev/null
done
for n in 1 2 3; do
    g layout assign -z dc1 -c 1G "$(cut -d@ -f1 "$work/node$n/id")" >/dev/null
done
g layout apply --version 1 >/dev/null
g bucket create checkpoints >/dev/null
g key create ranks >"$work/key"
key_id="$(sed -n 's/^Key ID: *//p' "$work/key")"
key_secret="$(sed -n 's/^Secret key: *//p' "$work/key")"
g bucket allow --read --write --owner checkpoints --key ranks >/dev/null
g status | sed 's/^/   /'

endpoint() { echo "http://127.0.0.1:${s3_port[$1]}"; }
settings() {
    # Ranks alternate between the two nodes that stay up.
    echo "endpoint_url=$(endpoint $(( $1 % 2 + 1 )))" region_name=garage \
        aws_access_key_id="$key_id" aws_secret_access_key="$key_secret" \
        multipart_chunksize=5MiB max_attempts=5 connect_timeout=5 read_timeout=30
}

echo "== writing $RANKS shard folders ($FILES files each, one of $BIG_MIB MiB)"
for r in $(seq 0 $((RANKS - 1))); do
    shard="$work/shards/rank-$r"
    mkdir -p "$shard/optim"
    head -c $((BIG_MIB * 1024 * 1024 + r)) /dev/urandom >"$shard/model.bin"
    for f in $(seq 2 "$FILES"); do
        head -c $(( (f * 977 + r * 131) * 1024 )) /dev/urandom >"$shard/optim/part-$f.bin"
    done
done
total_bytes="$(du -sb "$work/shards" | cut -f1)"

echo "== $RANKS ranks upload their shards; node 3 is killed mid-way"
started=$(date +%s.%N)
rank_pids=()
for r in $(seq 0 $((RANKS - 1))); do
    # shellcheck disable=SC2046
    "$work/rank" upload "$work/shards/rank-$r" "step-100/rank-$r" checkpoints $(settings "$r") \
        >"$work/up-$r.out" 2>&1 &
    rank_pids+=("$!")
done
sleep 1.5
kill -9 "${node_pid[3]}"
wait "${node_pid[3]}" 2>/dev/null || true
echo "   killed node 3 (pid ${node_pid[3]}) at $(python3 -c "print(f'{$(date +%s.%N) - $started:.1f}')") s"
failed=0
for r in $(seq 0 $((RANKS - 1))); do
    if ! wait "${rank_pids[r]}"; then
        failed=1
    fi
    sed 's/^/   /' "$work/up-$r.out"
done
upload_seconds="$(python3 -c "print(f'{$(date +%s.%N) - $started:.2f}')")"
[ "$failed" = 0 ] || { echo "a rank failed to upload" >&2; exit 1; }

echo "== every shard downloaded back and compared"
started=$(date +%s.%N)
rank_pids=()
for r in $(seq 0 $((RANKS - 1))); do
    # shellcheck disable=SC2046
    "$work/rank" download "step-100/rank-$r" "$work/restored/rank-$r" checkpoints $(settings "$r") \
        >"$work/down-$r.out" 2>&1 &
    rank_pids+=("$!")
done
for r in $(seq 0 $((RANKS - 1))); do
    wait "${rank_pids[r]}" || failed=1
    sed 's/^/   /' "$work/down-$r.out"
done
download_seconds="$(python3 -c "print(f'{$(date +%s.%N) - $started:.2f}')")"
[ "$failed" = 0 ] || { echo "a rank failed to download" >&2; exit 1; }
diff -r "$work/shards" "$work/restored" >/dev/null || { echo "restored shards differ" >&2; exit 1; }

# Unfinished multipart uploads: ListMultipartUploads through boto3 (installed with moto by
# scripts/install-deps.sh).
unfinished="$(python3 - "$(endpoint 1)" "$key_id" "$key_secret" <<'PY'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="garage",
                  aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3])
print(len(s3.list_multipart_uploads(Bucket="checkpoints").get("Uploads", [])))
PY
)"
[ "$unfinished" = 0 ] || { echo "$unfinished multipart uploads left unfinished" >&2; exit 1; }
objects=$(( RANKS * FILES ))
python3 - "$total_bytes" "$upload_seconds" "$download_seconds" "$objects" "$RANKS" <<'PY'
import sys
total, up, down, objects, ranks = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
mib = total / 2**20
print(f"== {ranks} ranks, {objects} objects, {mib:.0f} MiB: every byte verified, no multipart upload left")
print(f"   upload   {up:6.2f} s  {mib / up:7.1f} MiB/s  {objects / up:6.1f} objects/s  (node 3 killed mid-way)")
print(f"   download {down:6.2f} s  {mib / down:7.1f} MiB/s  {objects / down:6.1f} objects/s  (2 of 3 nodes)")
PY

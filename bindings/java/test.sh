#!/usr/bin/env bash
# The Java binding's tests: builds it, starts the local S3 server on a free port, and runs the
# test program (under -Xcheck:jni, which reports JNI misuse) and the example against it.
# The server is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."

# Nothing to do after `cargo test --release`; the local server is one of the examples.
cargo build --release --lib --examples --quiet
bash scripts/build-java.sh
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
javac="${JAVA_HOME:+$JAVA_HOME/bin/}javac"

work=target/tmp/java
rm -rf "$work"
mkdir -p "$work"
server_pid=""
stop_server() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
}
trap stop_server EXIT

target/release/examples/local_s3_server "$work/server" 0 --tls "$work/tls" </dev/null \
    >"$work/server.out" 2>&1 &
server_pid=$!
for _ in $(seq 300); do
    [ "$(grep -c '=' "$work/server.out" || true)" -ge 6 ] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        cat "$work/server.out" >&2
        exit 1
    fi
    sleep 0.1
done
if [ "$(grep -c '=' "$work/server.out" || true)" -lt 6 ]; then
    echo "the local S3 server did not announce itself:" >&2
    cat "$work/server.out" >&2
    exit 1
fi
server() { sed -n "s/^$1=//p" "$work/server.out"; }
bucket="$(server bucket)"
settings=(
    "endpoint_url=$(server endpoint)" region_name=us-east-1
    "aws_access_key_id=$(server aws_access_key_id)"
    "aws_secret_access_key=$(server aws_secret_access_key)"
)
echo "== local S3 server at $(server endpoint)"

# Names and paths outside ASCII must reach the file system as UTF-8 whatever the caller's locale.
export LC_ALL=C.UTF-8

echo "== Java test program"
"$javac" --release 17 -Xlint:all -Werror -encoding UTF-8 \
    -cp target/java/s3os.jar -d target/java/test-classes bindings/java/src/test/java/s3os/*.java
# -Xcheck:jni reports misuse (a JNI call with an exception pending, local references piling
# up) as warnings on stdout and stderr without failing, so its output is searched as well.
timeout 300 "$java" -Xcheck:jni -Djava.library.path=target/release \
    -Ds3os.test.httpsEndpoint="$(server https_endpoint)" -Ds3os.test.caBundle="$(server ca_bundle)" \
    -cp target/java/s3os.jar:target/java/test-classes \
    s3os.S3ObjectStoreTest "$work/server" "$work/scratch" "${settings[@]}" 2>&1 |
    tee "$work/test.out"
if grep -q 'WARNING' "$work/test.out"; then
    echo "-Xcheck:jni reported JNI misuse (above)" >&2
    exit 1
fi

echo "== Java batch and background test program"
timeout 300 "$java" -Xcheck:jni -Djava.library.path=target/release \
    -cp target/java/s3os.jar:target/java/test-classes \
    s3os.BatchAndTransferTest "$work/scratch-batch" bucket="$bucket" "${settings[@]}" 2>&1 |
    tee "$work/batch.out"
grep -q ' 0 failed$' "$work/batch.out"
if grep -q 'WARNING' "$work/batch.out"; then
    echo "-Xcheck:jni reported JNI misuse (above)" >&2
    exit 1
fi

echo "== examples/java/Checkpoint.java (library named by S3OS_JNI_LIBRARY)"
head -c $((12 * 1024 * 1024 + 3)) /dev/urandom >"$work/checkpoint.bin"
S3OS_JNI_LIBRARY=target/release/libs3os_jni.so timeout 300 "$java" -cp target/java/s3os.jar \
    examples/java/Checkpoint.java "$bucket" "$work/checkpoint.bin" ckpt/checkpoint.bin \
    prefix=examples/java "${settings[@]}" | tee "$work/example.out"
grep -q "^verified 12582915 bytes" "$work/example.out"
grep -q "^read back through openInputStream: identical" "$work/example.out"
cmp "$work/checkpoint.bin" "$work/server/$bucket/examples/java/ckpt/checkpoint.bin"

rm -rf "$work/scratch" "$work/scratch-batch" "$work/server" "$work/checkpoint.bin"
echo "== Java binding: all tests passed"

#!/usr/bin/env bash
# Installs what building and testing need beyond a Rust toolchain: a C compiler for the C
# programs, valgrind for checking them, g++ and clang++ for the C++ header, pkg-config and
# cmake for building against an installed s3os, a JDK for the Java binding, Python's venv for
# the Python binding's tests (which install pytest and boto3 into that venv themselves), and
# moto's S3 server (Python) as a second server implementation. Safe to run repeatedly;
# installs only what is missing.
set -euo pipefail
missing=()
command -v cc >/dev/null || missing+=(gcc libc6-dev)
command -v g++ >/dev/null || missing+=(g++)
command -v clang++ >/dev/null || missing+=(clang)
command -v cmake >/dev/null || missing+=(cmake)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v readelf >/dev/null || missing+=(binutils)
command -v valgrind >/dev/null || missing+=(valgrind)
command -v python3 >/dev/null || missing+=(python3 python3-pip)
# The Java binding needs javac, jar and jni.h, which Debian's headless JDK provides.
javac_path="$(readlink -f "$(command -v javac)" 2>/dev/null || true)"
if [ -z "$javac_path" ] || ! command -v jar >/dev/null ||
    [ ! -f "$(dirname "$(dirname "$javac_path")")/include/jni.h" ]; then
    missing+=(openjdk-17-jdk-headless)
    # Slim images leave out the manual directories, where the JDK's setup links its pages.
    mkdir -p /usr/share/man/man1
fi
# bindings/python/test.sh installs the Python binding into a venv (Debian packages venv apart).
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    rustup component add rustfmt clippy
fi
if [ "${#missing[@]}" -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

# tests/second_server.rs: moto 5.2 keeps full-object checksums of multipart uploads (and
# computes CRC32C only with the crc32c package; without it, silently a plain CRC32).
moto_ready() {
    python3 - <<'PY' 2>/dev/null
import sys, crc32c, flask, flask_cors, moto.server
sys.exit(tuple(int(x) for x in moto.__version__.split(".")[:2]) != (5, 2))
PY
}
if ! moto_ready; then
    specs=('moto[server]>=5.2.1,<5.3' 'crc32c>=2,<3')
    python3 -m pip install --quiet "${specs[@]}" ||
        python3 -m pip install --quiet --break-system-packages "${specs[@]}"
fi

#!/usr/bin/env bash
# The Python binding's tests: installs the package with pip into a venv under target/ (pip's
# cargo build reuses the release build in target/), builds a wheel, and runs the pytest suite
# against the local S3 server and moto (the suite also runs the example and installs the
# wheel into a fresh venv). Expects `cargo test --release` (or `cargo build --release --lib
# --examples`) to have run first.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="$PWD/target"
work=target/python
python=$work/venv/bin/python

[ -x "$python" ] || python3 -m venv "$work/venv"
"$python" -m pip install --quiet --disable-pip-version-check 'pytest>=7,<9' 'boto3>=1.28,<2' 'numpy>=1.21'

echo "pip install ./bindings/python"
"$python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps ./bindings/python
echo "pip wheel ./bindings/python"
rm -rf "$work/wheel"
"$python" -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$work/wheel" ./bindings/python

S3OS_TEST_WHEEL_DIR="$PWD/$work/wheel" "$python" -m pytest bindings/python/tests \
    --basetemp=target/tmp/python-tests -p no:cacheprovider -rs "$@"

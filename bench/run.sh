#!/usr/bin/env bash
# Side-by-side benchmark of s3os and other S3 clients (boto3, awscrt, s5cmd,
# s3torchconnectorclient, curl) against one light S3 server on 127.0.0.1.
#
# Usage: bash bench/run.sh [options]
#   --runs N            runs per client and workload, tables show medians (default 3)
#   --quick             smaller sizes and 1 run, for quick iteration
#   --big               add the 4 GiB object workload (peak RSS vs object size)
#   --workloads LIST    large,small,big (default large,small)
#   --clients LIST      s3os,boto3,awscrt,s5cmd,s3torch,curl (default all)
#   --concurrency N     requests in flight in the small-object workload (default 16)
#   --s3os-config K=V   extra s3os config key, repeatable (e.g. max_concurrency=16)
#   --no-build          reuse the existing builds
#   --server-cpu N / --client-cpus LIST   CPU pinning (default: server on the last core,
#                                         clients on the others)
#   --https / --https-only                also / only over HTTPS (TLS terminated by the server)
#
# Builds libs3os.so, the server (bench/server) and bench/s3os_bench.c, pip-installs missing
# Python peers (skipping any that cannot install or run), prints one table per workload and
# direction, and writes bench/results/<timestamp>.json and bench/results/latest.json.
# See bench/README.md. The server is stopped when the run ends or is interrupted.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
command -v python3 >/dev/null || { echo "run.sh: python3 is needed" >&2; exit 1; }

python3 "$here/run.py" "$@" &
runner=$!
# The runner stops the server and removes its data on SIGTERM (and its children get SIGTERM
# if it dies); forward interruptions to it and wait until it has cleaned up.
trap 'kill -TERM "$runner" 2>/dev/null' INT TERM HUP
status=0
while :; do
    wait "$runner"
    status=$?
    kill -0 "$runner" 2>/dev/null || break
done
exit "$status"

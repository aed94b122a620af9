#!/usr/bin/env python3
"""Measures s3os alone under different settings, to choose its defaults from figures.

Usage: python3 bench/sweep.py [--runs N] [--quick] [--only NAME,...] [--latency-ms MS --conn-mibps R]

Each setting is one `bench/run.py --clients s3os --no-build` run (medians of --runs, default 3)
with extra `--s3os-config` keys or environment; run `bash bench/run.sh --clients s3os --quick`
once first so that the builds exist. Prints one table and writes bench/results/sweep-<time>.json.
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"

# name -> (workload, s3os config keys, environment)
SETTINGS = {
    "default": ("large", [], {}),
    "parts 8MiB x4": ("large", ["max_concurrency=4"], {}),
    "parts 8MiB x8": ("large", ["max_concurrency=8"], {}),
    "parts 8MiB x16": ("large", ["max_concurrency=16"], {}),
    "parts 16MiB x10": ("large", ["multipart_chunksize=16MiB"], {}),
    "parts 16MiB x4": ("large", ["multipart_chunksize=16MiB", "max_concurrency=4"], {}),
    "parts 16MiB x16": ("large", ["multipart_chunksize=16MiB", "max_concurrency=16"], {}),
    "parts 32MiB x10": ("large", ["multipart_chunksize=32MiB"], {}),
    "1 worker thread": ("large", [], {"S3OS_WORKER_THREADS": "1"}),
    "4 worker threads": ("large", [], {"S3OS_WORKER_THREADS": "4"}),
    "24MiB: threshold 8MiB": ("medium", [], {}),
    "24MiB: threshold 32MiB": ("medium", ["multipart_threshold=32MiB"], {}),
    "small: 1 worker thread": ("small", [], {"S3OS_WORKER_THREADS": "1"}),
    "small: default": ("small", [], {}),
    # Objects in flight in the many-object calls: 256 x 256 KiB and 4,096 x 16 KiB.
    **{f"batch: {n} objects": ("batch-small", [f"max_objects_in_flight={n}"], {})
       for n in (8, 16, 32, 64, 128)},
    **{f"tiny: {n} objects": ("batch-tiny", [f"max_objects_in_flight={n}"], {})
       for n in (8, 16, 32, 64, 128)},
}


def measure(workload, keys, env, runs, quick, shaping):
    argv = [sys.executable, str(BENCH / "run.py"), "--clients", "s3os", "--no-build",
            "--workloads", workload, "--runs", str(runs), *shaping]
    if quick:
        argv.append("--quick")
    for key in keys:
        argv += ["--s3os-config", key]
    done = subprocess.run(argv, env={**os.environ, **env}, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"run.py failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    summary = json.loads((RESULTS / "latest.json").read_text())["summary"]
    out = {}
    for table in summary:
        row = next(r for r in table["rows"] if r["client"] == "s3os")
        if row["valid_runs"] != row["runs"]:
            sys.exit(f"invalid runs under {keys} {env}: {row['errors']}")
        out[table["direction"]] = {k: row[k] for k in (
            "mib_per_s", "objects_per_s", "client_cpu_s_per_gib", "server_cpu_s_per_gib",
            "peak_rss_mib")}
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--only", default="")
    p.add_argument("--latency-ms", type=int, default=0)
    p.add_argument("--conn-mibps", type=float, default=0)
    args = p.parse_args()
    shaping = ["--latency-ms", str(args.latency_ms), "--conn-mibps", str(args.conn_mibps)]
    names = [n for n in SETTINGS if not args.only or n in args.only.split(",")]
    results = {}
    print(f"{'setting':<24}{'up MiB/s':>9}{'obj/s':>7}{'cpu':>6}{'rss':>6}   "
          f"{'down MiB/s':>10}{'obj/s':>7}{'cpu':>6}{'rss':>6}")
    for name in names:
        workload, keys, env = SETTINGS[name]
        got = measure(workload, keys, env, args.runs, args.quick, shaping)
        results[name] = {"workload": workload, "config": keys, "env": env, **got}
        up, down = got["upload"], got["download"]
        print(f"{name:<24}{up['mib_per_s']:9.0f}{up['objects_per_s']:7.0f}"
              f"{up['client_cpu_s_per_gib']:6.2f}{up['peak_rss_mib']:6.0f}   "
              f"{down['mib_per_s']:10.0f}{down['objects_per_s']:7.0f}"
              f"{down['client_cpu_s_per_gib']:6.2f}{down['peak_rss_mib']:6.0f}", flush=True)
    print("MiB/s and client CPU s/GiB are medians; rss = peak RSS of the client in MiB.")
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = RESULTS / f"sweep-{stamp}.json"
    path.write_text(json.dumps({"runs": args.runs, "quick": args.quick, "latency_ms": args.latency_ms,
                                "conn_mibps": args.conn_mibps, "results": results}, indent=1))
    print(f"results: {path}")


if __name__ == "__main__":
    main()

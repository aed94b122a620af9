"""Real S3 servers on loopback for the tests: the project's local server (s3s-fs with SigV4)
for every test, and moto's server where a second implementation adds something (ACLs)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator

import pytest

import s3os

REPO = Path(__file__).resolve().parents[3]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
LOCAL_SERVER = TARGET / "release" / "examples" / "local_s3_server"


@dataclass
class Server:
    """A running S3 server: where it listens, its bucket and credentials."""

    endpoint: str
    bucket: str
    access_key: str
    secret_key: str
    data_dir: Path
    #: The same server over HTTPS, with a certificate from a private CA ...
    https_endpoint: str = ""
    #: ... whose certificate is in this file.
    ca_bundle: str = ""

    def store(self, prefix: str = "", **kwargs) -> s3os.S3ObjectStore:
        kwargs.setdefault("aws_access_key_id", self.access_key)
        kwargs.setdefault("aws_secret_access_key", self.secret_key)
        kwargs.setdefault("endpoint_url", self.endpoint)
        kwargs.setdefault("region_name", "us-east-1")
        return s3os.S3ObjectStore(self.bucket, prefix, **kwargs)

    def stored_file(self, key: str) -> Path:
        """Where s3s-fs keeps the bytes of ``key``."""
        return self.data_dir / self.bucket / key

    def env(self) -> Dict[str, str]:
        """Environment for a program that reads the server from it (the example)."""
        return {
            "S3_ENDPOINT_URL": self.endpoint,
            "S3OS_BUCKET": self.bucket,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": "us-east-1",
        }


def _stop(process: subprocess.Popen) -> None:
    process.kill()
    process.wait(timeout=30)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The project's local S3 server, started once for the session on a free port, also over
    HTTPS (a TLS front with a certificate from a CA made at start)."""
    if not LOCAL_SERVER.exists():
        pytest.fail(
            f"{LOCAL_SERVER} is missing: run `cargo build --release --examples` first",
            pytrace=False,
        )
    data_dir = tmp_path_factory.mktemp("s3-data")
    tls_dir = tmp_path_factory.mktemp("s3-tls")
    process = subprocess.Popen(
        [str(LOCAL_SERVER), str(data_dir), "0", "--tls", str(tls_dir)],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        announced: Dict[str, str] = {}
        assert process.stdout is not None
        while "aws_secret_access_key" not in announced:
            line = process.stdout.readline()
            if not line:
                pytest.fail(f"local_s3_server exited at start ({process.wait()})", pytrace=False)
            key, _, value = line.strip().partition("=")
            announced[key] = value
        yield Server(
            endpoint=announced["endpoint"],
            bucket=announced["bucket"],
            access_key=announced["aws_access_key_id"],
            secret_key=announced["aws_secret_access_key"],
            data_dir=data_dir,
            https_endpoint=announced["https_endpoint"],
            ca_bundle=announced["ca_bundle"],
        )
    finally:
        _stop(process)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _launch_moto(data_dir: Path) -> "tuple[subprocess.Popen, str] | None":
    port = _free_port()
    python = os.environ.get("S3OS_PYTHON", "python3")
    launcher = REPO / "tests" / "support" / "moto_s3.py"
    process = subprocess.Popen(
        [python, str(launcher), "-H", "127.0.0.1", "-p", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=data_dir,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return None  # the port was taken meanwhile
        try:
            # moto does not check signatures: an unsigned PUT creates the bucket.
            request = urllib.request.Request(f"{endpoint}/moto-bucket", method="PUT")
            with urllib.request.urlopen(request, timeout=5) as answer:
                assert answer.status == 200, answer.status
            return process, endpoint
        except OSError:
            time.sleep(0.1)
    _stop(process)
    pytest.fail("moto's server did not answer within 60 s", pytrace=False)


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """moto's S3 server (scripts/install-deps.sh installs it for python3) with a bucket."""
    for _ in range(3):
        launched = _launch_moto(tmp_path_factory.mktemp("moto"))
        if launched is not None:
            break
    else:
        pytest.fail("moto's server exited at start three times; is moto[server] installed?")
    process, endpoint = launched
    try:
        yield Server(endpoint, "moto-bucket", "moto-key", "moto-secret", Path())
    finally:
        _stop(process)


@pytest.fixture
def prefix() -> str:
    """A prefix of its own for each test, so tests never see each other's objects."""
    return f"t/{uuid.uuid4().hex[:12]}"


@pytest.fixture
def store(server: Server, prefix: str) -> Iterator[s3os.S3ObjectStore]:
    with server.store(prefix) as opened:
        yield opened


def write_file(path: Path, size: int, seed: int = 0) -> bytes:
    """Writes ``size`` bytes that differ from position to position and from seed to seed."""
    block = bytes((i * 31 + seed * 17 + i // 251) % 256 for i in range(1 << 16))
    data = (block * (size // len(block) + 1))[:size]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def run_python(
    code: str, *, env: Dict[str, str] = None, cwd: Path = None
) -> subprocess.CompletedProcess:
    """Runs ``code`` in a fresh interpreter (this one's), for import-time behaviour."""
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )

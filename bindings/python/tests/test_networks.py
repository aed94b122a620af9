"""HTTPS with a private CA (``ca_bundle``, ``AWS_CA_BUNDLE`` as boto3 reads it, ``verify_tls``)
and the library's log routed to :mod:`logging`."""

from __future__ import annotations

import logging

import pytest

import s3os
from conftest import Server, run_python, write_file

MIB = 1024 * 1024


@pytest.fixture
def forwarding():
    """Forwards the library's log to ``logging`` for one test, whatever S3OS_LOG says, then
    hands the lines back to where they went before."""
    yield
    s3os._logging._install(0)


def https_store(server: Server, prefix: str, **s3os_config) -> s3os.S3ObjectStore:
    return server.store(prefix, endpoint_url=server.https_endpoint, s3os_config=s3os_config)


def round_trip(store: s3os.S3ObjectStore, tmp_path) -> None:
    for name, size in [("small", 1000), ("parts", 9 * MIB + 1)]:
        data = write_file(tmp_path / name, size, seed=size)
        store.upload_object(f"{name}.bin", tmp_path / name)
        assert store.get_object_size(f"{name}.bin") == size
        store.download_object(f"{name}.bin", tmp_path / "back" / name)
        assert (tmp_path / "back" / name).read_bytes() == data


def test_https_with_the_private_ca_as_ca_bundle(server, prefix, tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)
    with https_store(server, prefix, ca_bundle=server.ca_bundle) as store:
        round_trip(store, tmp_path)
        assert store.list_objects() == [f"{prefix}/parts.bin", f"{prefix}/small.bin"]


def test_aws_ca_bundle_is_read_as_boto3_reads_it(server, prefix, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_CA_BUNDLE", server.ca_bundle)
    with https_store(server, prefix) as store:
        round_trip(store, tmp_path)
    # The variable also serves a Composer-style constructor with no s3os settings at all.
    monkeypatch.setenv("S3_ENDPOINT_URL", server.https_endpoint)
    with s3os.S3ObjectStore(
        server.bucket,
        prefix,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name="us-east-1",
    ) as store:
        assert store.get_object_size("small.bin") == 1000


def test_an_untrusted_certificate_is_a_tls_error_naming_the_problem(server, prefix, monkeypatch):
    monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)
    with https_store(server, prefix, max_attempts="3") as store:
        with pytest.raises(s3os.TLSError) as raised:
            store.get_object_size("anything")
    assert "unknown issuer" in raised.value.message
    assert raised.value.status_name == "S3OS_TLS"


def test_verify_tls_false_accepts_the_certificate_without_its_ca(
    server, prefix, tmp_path, monkeypatch
):
    monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)
    with https_store(server, prefix, verify_tls="false") as store:
        round_trip(store, tmp_path)


def test_an_unusable_ca_bundle_is_a_value_error(server, prefix, tmp_path):
    with pytest.raises(ValueError, match="missing.pem"):
        https_store(server, prefix, ca_bundle=str(tmp_path / "missing.pem"))


def test_log_lines_go_to_the_s3os_logger(server, prefix, tmp_path, caplog, forwarding):
    caplog.set_level(logging.DEBUG, logger="s3os")
    s3os.sync_log_level()
    with https_store(server, prefix, ca_bundle=server.ca_bundle) as store:
        data = write_file(tmp_path / "logged", 6 * MIB)
        store.upload_object("logged.bin", tmp_path / "logged")
        store.download_object("logged.bin", tmp_path / "back", overwrite=True)
        assert (tmp_path / "back").read_bytes() == data
    s3os.sync_log_level()  # returns once every line logged so far was handed over
    records = [r for r in caplog.records if r.name == "s3os"]
    messages = [r.getMessage() for r in records]
    assert any("store s3://" in m and "trusting only the certificates of" in m for m in messages)
    assert any(r.levelno == logging.DEBUG and " attempt 1: HTTP 200 in " in r.getMessage()
               for r in records)
    assert any(r.levelno == logging.INFO and m.startswith("upload to s3://") for r, m in
               zip(records, messages))
    assert all(r.threadName != "MainThread" for r in records), "lines came on the caller"
    assert all(server.secret_key not in m for m in messages)
    assert all(r.levelno >= logging.DEBUG for r in records), "trace lines below the level"


def test_the_logger_level_is_followed_down_to_trace(
    server, prefix, tmp_path, caplog, forwarding
):
    caplog.set_level(s3os.TRACE, logger="s3os")
    s3os.sync_log_level()
    with server.store(prefix) as store:
        write_file(tmp_path / "f", 9 * MIB)  # above the multipart threshold: parts are traced
        store.upload_object("traced.bin", tmp_path / "f")
    s3os.sync_log_level()
    assert any(r.levelno == s3os.TRACE and "stored in" in r.getMessage() for r in caplog.records)
    caplog.set_level(logging.ERROR, logger="s3os")
    s3os.sync_log_level()
    caplog.clear()
    with server.store(prefix) as store:
        store.upload_object("quiet.bin", tmp_path / "f")
    s3os.sync_log_level()
    assert [r for r in caplog.records if r.name == "s3os"] == []


def test_s3os_log_in_the_environment_writes_to_stderr_instead(server, prefix, tmp_path):
    code = f"""
import logging, s3os
logging.basicConfig(level=logging.DEBUG)
with s3os.S3ObjectStore({server.bucket!r}, {prefix!r}, endpoint_url={server.endpoint!r},
        aws_access_key_id={server.access_key!r}, aws_secret_access_key={server.secret_key!r},
        region_name="us-east-1") as store:
    store.get_uri("x")
"""
    done = run_python(code, env={"S3OS_LOG": "info", "S3OS_LOG_FILE": ""})
    assert done.returncode == 0, done.stderr
    assert " s3os[" in done.stderr and "INFO  store s3://" in done.stderr, done.stderr
    assert "INFO:s3os:" not in done.stderr, done.stderr

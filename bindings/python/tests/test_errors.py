"""Every error: the builtin Composer raises, s3os's class, status and message."""

from __future__ import annotations

import socket

import pytest

import s3os
from conftest import Server, write_file
from s3os import errors


def _dead_endpoint() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def test_missing_objects_raise_file_not_found(store, tmp_path):
    with pytest.raises(FileNotFoundError) as raised:
        store.get_object_size("missing")
    error = raised.value
    assert isinstance(error, s3os.NotFoundError) and isinstance(error, s3os.S3osError)
    assert (error.status, error.status_name) == (2, "S3OS_NOT_FOUND")
    assert "missing" in error.message and str(error) == error.message

    target = tmp_path / "target"
    with pytest.raises(FileNotFoundError):
        store.download_object("missing", target)
    assert list(tmp_path.iterdir()) == []  # no target, no temporary file


def test_a_missing_bucket_is_not_found(server: Server, tmp_path):
    with s3os.S3ObjectStore(
        "no-such-bucket",
        endpoint_url=server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
    ) as store:
        with pytest.raises(FileNotFoundError):
            store.get_object_size("x")
        with pytest.raises(FileNotFoundError):
            store.list_objects()
        with pytest.raises(FileNotFoundError):
            store.download_object("x", tmp_path / "down")


def test_rejected_credentials(server: Server, prefix, tmp_path):
    write_file(tmp_path / "f", 10)
    with server.store(prefix) as good:
        good.upload_object("exists", tmp_path / "f")
    with server.store(prefix, aws_secret_access_key="wrong-secret") as store:
        # Writes: PermissionError, and not a missing file.
        with pytest.raises(PermissionError) as raised:
            store.upload_object("x", tmp_path / "f")
        assert type(raised.value) is s3os.PermissionDeniedError
        assert not isinstance(raised.value, FileNotFoundError)
        assert raised.value.status == 4
        with pytest.raises(PermissionError):
            store.remove_object("exists")
        with pytest.raises(PermissionError):
            store.list_objects()
        # Reads: FileNotFoundError, as Composer maps a 403, and still a PermissionError.
        with pytest.raises(FileNotFoundError) as raised:
            store.get_object_size("exists")
        assert isinstance(raised.value, s3os.ReadPermissionDeniedError)
        assert isinstance(raised.value, PermissionError)
        with pytest.raises(FileNotFoundError):
            store.download_object("exists", tmp_path / "down")
        assert not (tmp_path / "down").exists()


def test_transient_failures_raise_object_store_transient_error(server: Server, tmp_path):
    write_file(tmp_path / "f", 10)
    with s3os.S3ObjectStore(
        server.bucket,
        endpoint_url=_dead_endpoint(),
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        client_config={"retries": {"max_attempts": 0}, "connect_timeout": 2},
    ) as store:
        for call in (
            lambda: store.get_object_size("x"),
            lambda: store.upload_object("x", tmp_path / "f"),
            lambda: store.download_object("x", tmp_path / "down"),
            lambda: store.list_objects(),
        ):
            with pytest.raises(s3os.ObjectStoreTransientError) as raised:
                call()
            assert isinstance(raised.value, s3os.TransientError)
            assert raised.value.status == 5 and raised.value.status_name == "S3OS_TRANSIENT"
            assert raised.value.message


def test_https_to_a_plain_http_server_fails_with_tls_or_transient(server: Server):
    port = server.endpoint.rsplit(":", 1)[1]
    # The library reports S3OS_TLS once it has that status; earlier builds call it transient.
    expected = (
        s3os.TLSError if errors._library.status_name(10) == "S3OS_TLS" else s3os.TransientError
    )
    with server.store(
        endpoint_url=f"https://127.0.0.1:{port}",
        client_config={
            "retries": {"total_max_attempts": 1},
            "connect_timeout": 5,
            "read_timeout": 5,
        },
    ) as store:
        with pytest.raises(expected):
            store.get_object_size("x")


def test_local_file_errors_are_os_errors(store, tmp_path):
    with pytest.raises(OSError) as raised:
        store.upload_object("x", tmp_path / "does-not-exist")
    assert isinstance(raised.value, s3os.LocalIOError) and raised.value.status == 7
    write_file(tmp_path / "f", 10)
    store.upload_object("x", tmp_path / "f")
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    with pytest.raises(OSError) as raised:
        store.download_object("x", blocker / "below-a-file")
    assert isinstance(raised.value, s3os.LocalIOError)


def test_corrupted_stored_bytes_raise_integrity_error(server: Server, store, tmp_path):
    write_file(tmp_path / "f", 100_000)
    store.upload_object("fragile", tmp_path / "f")
    stored = server.stored_file(store.prefix + "fragile")
    damaged = bytearray(stored.read_bytes())
    damaged[5000] ^= 0x40  # same length, same stored checksum: only the checksum can tell
    stored.write_bytes(bytes(damaged))
    with pytest.raises(s3os.IntegrityError) as raised:
        store.download_object("fragile", tmp_path / "down")
    assert raised.value.status == 8 and "checksum" in raised.value.message.lower()
    assert not (tmp_path / "down").exists()


def test_invalid_arguments_raise_value_error(server: Server, store, tmp_path):
    write_file(tmp_path / "f", 1)
    # Rejected by the library: InvalidArgumentError, a ValueError with status 1.
    with pytest.raises(ValueError) as raised:
        store.upload_object("k" * 1100, tmp_path / "f")
    assert isinstance(raised.value, s3os.InvalidArgumentError) and raised.value.status == 1
    assert "1024" in raised.value.message
    with pytest.raises(s3os.InvalidArgumentError, match="max_concurrency"):
        server.store(s3os_config={"max_concurrency": 0})
    with pytest.raises(s3os.InvalidArgumentError, match="no_such_key"):
        server.store(s3os_config={"no_such_key": "1"})
    with pytest.raises(s3os.InvalidArgumentError, match=r"client_config\['retries'\]\['mode'\]"):
        server.store(client_config={"retries": {"mode": "sometimes"}})
    with pytest.raises(s3os.InvalidArgumentError, match="bucket"):
        s3os.S3ObjectStore("//")
    with pytest.raises(s3os.InvalidArgumentError, match="canned_acl"):
        store.upload_object("x", tmp_path / "f", ExtraArgs={"ACL": "everyone-may-write"})


def test_unsupported_keys_raise_value_error_naming_them(server: Server, store, tmp_path):
    cases = [
        ({"client_config": {"user_agent": "x"}}, "user_agent"),
        ({"client_config": {"retries": {"max_retries": 3}}}, "max_retries"),
        ({"client_config": {"s3": {"use_accelerate_endpoint": True}}}, "use_accelerate_endpoint"),
        ({"transfer_config": {"use_threads": False}}, "use_threads"),
    ]
    for kwargs, key in cases:
        with pytest.raises(ValueError, match=key):
            server.store(**kwargs)
    write_file(tmp_path / "f", 1)
    with pytest.raises(ValueError, match="ServerSideEncryption"):
        store.upload_object(
            "x", tmp_path / "f", ExtraArgs={"ACL": "private", "ServerSideEncryption": "AES256"}
        )
    with pytest.raises(ValueError, match="Callback"):
        store.upload_object("x", tmp_path / "f", Callback=print)
    with pytest.raises(ValueError, match="dict"):
        store.upload_object("x", tmp_path / "f", ExtraArgs=[("ACL", "private")])
    assert store.list_objects() == []


def test_wrong_python_types_raise_type_error_before_any_call(server: Server, store, tmp_path):
    write_file(tmp_path / "f", 1)
    for call in (
        lambda: store.get_object_size(b"name"),
        lambda: store.get_uri(None),
        lambda: store.upload_object(1, tmp_path / "f"),
        lambda: store.upload_object("x", 42),
        lambda: store.upload_object("x", tmp_path / "f", callback="not callable"),
        lambda: store.download_object("x", object()),
        lambda: store.list_objects(prefix=3),
        lambda: store.remove_object(["x"]),
        lambda: s3os.S3ObjectStore(b"bucket"),
        lambda: server.store(prefix=None),
        lambda: server.store(region_name=1),
        lambda: server.store(client_config=[("retries", 1)]),
        lambda: server.store(client_config={"connect_timeout": "5"}),
        lambda: server.store(client_config={"retries": {"max_attempts": 2.5}}),
        lambda: server.store(transfer_config=42),
        lambda: server.store(transfer_config={"max_concurrency": "many"}),
        lambda: server.store(s3os_config={"max_concurrency": True}),
    ):
        with pytest.raises(TypeError):
            call()
    assert store.list_objects() == []


def test_unencodable_text_raises_value_error_before_any_call(store, tmp_path):
    write_file(tmp_path / "f", 1)
    for call in (
        lambda: store.upload_object("nul\0inside", tmp_path / "f"),
        lambda: store.upload_object("x", str(tmp_path / "f") + "\0"),
        lambda: store.get_object_size("lone surrogate \udc80"),
        lambda: store.download_object("x", str(tmp_path / "bad\udcff")),
        lambda: store.list_objects("\0"),
    ):
        with pytest.raises(ValueError) as raised:
            call()
        assert not isinstance(raised.value, s3os.S3osError)  # caught before the library
    assert store.list_objects() == []


def test_statuses_map_to_their_classes():
    expected = {
        1: (s3os.InvalidArgumentError, ValueError),
        2: (s3os.NotFoundError, FileNotFoundError),
        3: (s3os.AlreadyExistsError, FileExistsError),
        4: (s3os.PermissionDeniedError, PermissionError),
        5: (s3os.TransientError, s3os.ObjectStoreTransientError),
        6: (s3os.TransferCancelledError, s3os.S3osError),
        7: (s3os.LocalIOError, OSError),
        8: (s3os.IntegrityError, s3os.S3osError),
        9: (s3os.InternalError, s3os.S3osError),
        10: (s3os.TLSError, s3os.S3osError),
        11: (s3os.BufferTooSmallError, ValueError),
    }
    for status, (cls, builtin) in expected.items():
        error = errors.error_for(status, f"message {status}")
        assert type(error) is cls and isinstance(error, builtin)
        assert error.status == status and error.message == f"message {status}"
        assert error.status_name.startswith("S3OS_")
        if status <= 9 or status == 11:  # the names the loaded library knows
            assert error.status_name == errors._library.status_name(status)
    assert type(errors.error_for(4, "m", reading=True)) is s3os.ReadPermissionDeniedError
    assert type(errors.error_for(2, "m", reading=True)) is s3os.NotFoundError

    # A status this binding does not know (appended to the library later): the base class
    # with the number and the library's name for it.
    unknown = errors.error_for(4242, "from the future")
    assert type(unknown) is s3os.S3osError
    assert unknown.status == 4242 and unknown.status_name == "S3OS_UNKNOWN_STATUS"
    assert str(unknown) == "from the future"

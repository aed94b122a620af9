"""Every method of S3ObjectStore against the local server, with Composer's semantics."""

from __future__ import annotations

import pathlib

import pytest

import s3os
from conftest import Server, write_file

MIB = 1024 * 1024


def test_round_trip_of_small_and_multipart_objects(store, tmp_path):
    for name, size in [("empty", 0), ("small", 1000), ("parts", 12 * MIB + 5)]:
        data = write_file(tmp_path / name, size, seed=size)
        store.upload_object(f"dir/{name}.bin", str(tmp_path / name))
        assert store.get_object_size(f"dir/{name}.bin") == size
        target = tmp_path / "down" / f"{name}.bin"
        store.download_object(f"dir/{name}.bin", target)
        assert target.read_bytes() == data


def test_filenames_may_be_path_like_and_relative(store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = write_file(tmp_path / "source", 123)
    store.upload_object("obj", pathlib.Path("source"))
    store.download_object("obj", pathlib.PurePosixPath("relative/target"))
    assert (tmp_path / "relative" / "target").read_bytes() == data


def test_download_creates_parent_directories_and_overwrites_only_when_asked(store, tmp_path):
    write_file(tmp_path / "v1", 10, seed=1)
    v2 = write_file(tmp_path / "v2", 20, seed=2)
    store.upload_object("obj", tmp_path / "v1")
    target = tmp_path / "a" / "b" / "c" / "file"
    store.download_object("obj", target)
    store.upload_object("obj", tmp_path / "v2")

    with pytest.raises(FileExistsError) as raised:
        store.download_object("obj", target)
    assert isinstance(raised.value, s3os.AlreadyExistsError)
    assert target.read_bytes() == (tmp_path / "v1").read_bytes()

    store.download_object("obj", target, overwrite=True)
    assert target.read_bytes() == v2
    assert sorted(p.name for p in target.parent.iterdir()) == ["file"]


def test_file_exists_is_raised_before_any_request(store, tmp_path):
    # Composer checks the target first: even a missing object reports the existing file.
    existing = tmp_path / "existing"
    existing.write_bytes(b"keep")
    with pytest.raises(FileExistsError):
        store.download_object("no-such-object", existing)
    assert existing.read_bytes() == b"keep"


def test_prefix_and_bucket_are_normalised_like_composer(server: Server, tmp_path):
    with server.store("//nested/prefix//") as store:
        assert store.prefix == "nested/prefix/"
        assert store.bucket == server.bucket
        assert store.get_uri("a/b.pt") == f"s3://{server.bucket}/nested/prefix/a/b.pt"
        assert store.get_key("a/b.pt") == "nested/prefix/a/b.pt"
        write_file(tmp_path / "f", 5)
        store.upload_object("a/b.pt", tmp_path / "f")
    assert server.stored_file("nested/prefix/a/b.pt").read_bytes() == (tmp_path / "f").read_bytes()

    with s3os.S3ObjectStore(
        f"/{server.bucket}/",
        endpoint_url=server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
    ) as unprefixed:
        assert unprefixed.prefix == ""
        assert unprefixed.bucket == server.bucket
        assert unprefixed.get_uri("x") == f"s3://{server.bucket}/x"
        assert unprefixed.get_key("x") == "x"
        assert unprefixed.get_object_size("nested/prefix/a/b.pt") == 5
        assert "nested/prefix/a/b.pt" in unprefixed.list_objects("nested/")


def test_list_objects_returns_full_keys_with_the_store_prefix(server: Server, prefix, tmp_path):
    write_file(tmp_path / "f", 3)
    with server.store(prefix) as store:
        assert store.list_objects() == []
        for name in ["ckpt/ep1.pt", "ckpt/ep2.pt", "logs/run.txt"]:
            store.upload_object(name, tmp_path / "f")
        everything = [f"{prefix}/ckpt/ep1.pt", f"{prefix}/ckpt/ep2.pt", f"{prefix}/logs/run.txt"]
        assert store.list_objects() == everything
        assert store.list_objects(None) == everything
        assert store.list_objects("") == everything
        assert store.list_objects("ckpt/") == everything[:2]
        assert store.list_objects("ckpt/ep2") == [everything[1]]
        assert store.list_objects("nothing-here") == []
    # Another store's prefix hides these objects.
    with server.store(prefix + "/logs") as narrower:
        assert narrower.list_objects() == [f"{prefix}/logs/run.txt"]


def test_list_objects_pages_through_many_objects(store, tmp_path):
    write_file(tmp_path / "f", 1)
    names = [f"many/{i:04d}" for i in range(1100)]  # more than one 1000-key page
    for name in names:
        store.upload_object(name, tmp_path / "f")
    assert store.list_objects("many/") == [store.prefix + name for name in names]


def test_remove_object_and_removing_a_missing_object(store, tmp_path):
    write_file(tmp_path / "f", 7)
    store.upload_object("doomed", tmp_path / "f")
    store.remove_object("doomed")
    with pytest.raises(FileNotFoundError):
        store.get_object_size("doomed")
    store.remove_object("doomed")  # as in S3: already gone is fine
    assert store.list_objects() == []


def test_unicode_names_round_trip(store, tmp_path):
    data = write_file(tmp_path / "données é", 99)
    store.upload_object("ckpt/époque-①.pt", tmp_path / "données é")
    assert store.list_objects() == [store.prefix + "ckpt/époque-①.pt"]
    store.download_object("ckpt/époque-①.pt", tmp_path / "sortie ✓")
    assert (tmp_path / "sortie ✓").read_bytes() == data


def test_context_manager_and_close(server: Server, tmp_path):
    with server.store("closing") as store:
        assert not store.closed
        assert "closing/" in repr(store)
    assert store.closed
    store.close()  # idempotent
    store.close()
    write_file(tmp_path / "f", 1)
    calls = [
        lambda: store.get_uri("x"),
        lambda: store.get_object_size("x"),
        lambda: store.upload_object("x", tmp_path / "f"),
        lambda: store.download_object("x", tmp_path / "g"),
        lambda: store.list_objects(),
        lambda: store.remove_object("x"),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="closed"):
            call()
    assert "(closed)" in repr(store)


def test_endpoint_from_s3_endpoint_url(server: Server, prefix, tmp_path, monkeypatch):
    monkeypatch.setenv("S3_ENDPOINT_URL", server.endpoint)
    write_file(tmp_path / "f", 11)
    with s3os.S3ObjectStore(
        server.bucket,
        prefix,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name="us-east-1",
    ) as store:
        store.upload_object("via-env", tmp_path / "f")
        assert store.get_object_size("via-env") == 11
    # An explicit endpoint_url wins over the environment.
    monkeypatch.setenv("S3_ENDPOINT_URL", "http://127.0.0.1:1")
    with server.store(prefix) as store:
        assert store.get_object_size("via-env") == 11


def test_transfer_and_client_settings_are_accepted(server: Server, prefix, tmp_path):
    data = write_file(tmp_path / "f", 11 * MIB)
    with server.store(
        prefix,
        client_config={
            "retries": {"max_attempts": 2, "mode": "legacy"},
            "connect_timeout": 5,
            "read_timeout": 30.5,
            "s3": {"addressing_style": "path"},
            "request_checksum_calculation": "when_required",
            "response_checksum_validation": "when_supported",
        },
        transfer_config={
            "multipart_threshold": 5 * MIB,
            "multipart_chunksize": "5MiB",
            "max_concurrency": 2,
        },
        s3os_config={"multipart_checksum_type": "composite", "max_attempts": 4},
    ) as store:
        progress = []
        store.upload_object(
            "tuned", tmp_path / "f", callback=lambda done, total: progress.append(done)
        )
        store.download_object("tuned", tmp_path / "back")
    assert (tmp_path / "back").read_bytes() == data
    # 11 MiB in 5 MiB parts: at least three steps of progress.
    assert len(set(progress)) >= 3, progress


def test_a_real_boto3_transfer_config_is_read(server: Server, prefix, tmp_path):
    transfer = pytest.importorskip("boto3.s3.transfer")
    config = transfer.TransferConfig(
        multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=1
    )
    data = write_file(tmp_path / "f", 6 * MIB)
    with server.store(prefix, transfer_config=config) as store:
        store.upload_object("boto3-config", tmp_path / "f")
        store.download_object("boto3-config", tmp_path / "back")
    assert (tmp_path / "back").read_bytes() == data
    # The values reach the library: a part size below S3's minimum is refused by it.
    with pytest.raises(ValueError, match="multipart_chunksize"):
        server.store(prefix, transfer_config=transfer.TransferConfig(multipart_chunksize=1 * MIB))


def test_acl_from_extra_args_and_s3_canned_acl(moto: Server, prefix, tmp_path, monkeypatch):
    boto3 = pytest.importorskip("boto3")
    inspector = boto3.client(
        "s3",
        endpoint_url=moto.endpoint,
        aws_access_key_id=moto.access_key,
        aws_secret_access_key=moto.secret_key,
        region_name="us-east-1",
    )

    def everyone_may_read(key: str) -> bool:
        grants = inspector.get_object_acl(Bucket=moto.bucket, Key=key)["Grants"]
        return any(
            grant["Grantee"].get("URI", "").endswith("/global/AllUsers")
            and grant["Permission"] == "READ"
            for grant in grants
        )

    write_file(tmp_path / "f", 100)
    monkeypatch.delenv("S3_CANNED_ACL", raising=False)
    with moto.store(prefix) as store:
        store.upload_object("private", tmp_path / "f")
        store.upload_object("public", tmp_path / "f", ExtraArgs={"ACL": "public-read"})
        store.upload_object("public-again", tmp_path / "f", ExtraArgs={"ACL": "public-read"})
        store.upload_object("none-given", tmp_path / "f", ExtraArgs={})
        # One extra store per ACL value, reused.
        assert sorted(k for k in store._stores if k is not None) == ["public-read"]
    assert not everyone_may_read(f"{prefix}/private")
    assert everyone_may_read(f"{prefix}/public")
    assert everyone_may_read(f"{prefix}/public-again")
    assert not everyone_may_read(f"{prefix}/none-given")

    monkeypatch.setenv("S3_CANNED_ACL", "public-read")
    with moto.store(prefix) as store:
        store.upload_object("from-env", tmp_path / "f")
        store.upload_object("explicit-wins", tmp_path / "f", ExtraArgs={"ACL": "private"})
    assert everyone_may_read(f"{prefix}/from-env")
    assert not everyone_may_read(f"{prefix}/explicit-wins")


def test_moto_round_trip(moto: Server, prefix, tmp_path):
    data = write_file(tmp_path / "f", 9 * MIB + 1)
    with moto.store(prefix) as store:
        store.upload_object("obj", tmp_path / "f")
        assert store.get_object_size("obj") == len(data)
        assert store.list_objects() == [f"{prefix}/obj"]
        store.download_object("obj", tmp_path / "back")
        store.remove_object("obj")
        assert store.list_objects() == []
    assert (tmp_path / "back").read_bytes() == data


def _in_forked_child(parent_store, server: Server, prefix: str, results) -> None:
    try:
        parent_store.get_object_size("obj")
        results.put("the parent's store worked in the child")
    except ValueError as error:  # the library refuses a store from before fork()
        results.put(type(error).__name__)
    with server.store(prefix) as own:
        results.put(own.get_object_size("obj"))


def test_a_forked_child_makes_its_own_store_and_leaves_the_parents_alone(
    server: Server, store, prefix, tmp_path
):
    multiprocessing = pytest.importorskip("multiprocessing")
    write_file(tmp_path / "f", 321)
    store.upload_object("obj", tmp_path / "f")
    context = multiprocessing.get_context("fork")  # as PyTorch's data loader workers do
    results = context.Queue()
    child = context.Process(target=_in_forked_child, args=(store, server, prefix, results))
    child.start()
    child.join(timeout=120)
    assert child.exitcode == 0
    assert [results.get(timeout=5), results.get(timeout=5)] == ["InvalidArgumentError", 321]
    assert store.get_object_size("obj") == 321  # still usable in the parent

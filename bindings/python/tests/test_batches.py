"""Many objects per call and background transfers: upload_files, download_files, upload_dir,
download_prefix, delete_objects, delete_prefix, and the futures of the ``_async`` methods."""

from __future__ import annotations

import concurrent.futures
import os
import time

import pytest

import s3os
from conftest import Server, write_file

MIB = 1024 * 1024


def _unfinished_uploads(server: Server) -> list:
    return [p.name for p in server.data_dir.iterdir() if p.name.startswith(".upload")]


def test_files_up_and_down_with_one_progress(store, tmp_path):
    sizes = [0, 1, 70_000, 9 * MIB + 3, 4096]
    paths = [tmp_path / f"src-{i}" for i in range(len(sizes))]
    contents = [write_file(p, n, seed=i) for i, (p, n) in enumerate(zip(paths, sizes))]
    names = [f"files/{i}" for i in range(len(sizes))]
    reports = []
    store.upload_files(names, paths, callback=lambda done, total: reports.append((done, total)))
    assert reports[-1] == (sum(sizes), sum(sizes))
    assert all(a[0] <= b[0] for a, b in zip(reports, reports[1:]))

    targets = [tmp_path / "out" / f"copy-{i}" for i in range(len(sizes))]
    store.download_files(names, [str(t) for t in targets])
    assert [t.read_bytes() for t in targets] == contents
    with pytest.raises(FileExistsError) as raised:
        store.download_files(names, targets)
    assert raised.value.item_statuses == [s3os.AlreadyExistsError.status] * len(sizes)
    store.download_files(names, targets, overwrite=True)


def test_a_failed_item_is_reported_with_every_status(store, tmp_path):
    write_file(tmp_path / "a", 10)
    write_file(tmp_path / "c", 30)
    names = ["p/a", "p/b", "p/c"]
    with pytest.raises(OSError) as raised:
        store.upload_files(names, [tmp_path / "a", tmp_path / "missing", tmp_path / "c"])
    error = raised.value
    assert isinstance(error, s3os.LocalIOError)
    assert error.item_statuses == [0, s3os.LocalIOError.status, 0]
    assert list(error.failures) == ["p/b"]
    assert "1 of 3" in str(error)
    assert sorted(store.list_objects("p/")) == [f"{store.prefix}p/a", f"{store.prefix}p/c"]

    targets = [tmp_path / "down" / n for n in ("a", "b", "c")]
    with pytest.raises(FileNotFoundError) as raised:
        store.download_files(names, targets)
    assert raised.value.item_statuses == [0, s3os.NotFoundError.status, 0]
    assert targets[0].exists() and not targets[1].exists() and targets[2].exists()


def test_bad_arguments_fail_before_anything_moves(store, tmp_path):
    with pytest.raises(TypeError):
        store.upload_files("name", ["path"])
    with pytest.raises(ValueError):
        store.upload_files(["a", "b"], [tmp_path / "x"])
    with pytest.raises(TypeError):
        store.download_files(["a"], [3])
    with pytest.raises(ValueError):
        store.delete_objects(["ok", "nul\0"])
    with pytest.raises(ValueError):
        store.delete_prefix("")


def test_a_callback_exception_cancels_the_whole_batch(server, store, tmp_path):
    paths = [tmp_path / f"f{i}" for i in range(4)]
    for i, path in enumerate(paths):
        write_file(path, 9 * MIB, seed=i)

    def stop(done, total):
        if done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as raised:
        store.upload_files([f"stop/{i}" for i in range(4)], paths, callback=stop)
    assert isinstance(raised.value.__context__, s3os.TransferCancelledError)
    assert s3os.TransferCancelledError.status in raised.value.__context__.item_statuses
    assert not _unfinished_uploads(server)


def test_folders_up_and_down(store, tmp_path):
    src = tmp_path / "ckpt"
    files = {"rank-0/model.pt": 5000, "rank-1/model.pt": 7000, "meta.json": 12}
    for name, size in files.items():
        write_file(src / name, size, seed=size)
    store.upload_dir(src, "step-7")
    assert sorted(store.list_objects("step-7/")) == sorted(
        f"{store.prefix}step-7/{n}" for n in files
    )
    out = tmp_path / "restore"
    store.download_prefix("step-7", out)
    for name in files:
        assert (out / name).read_bytes() == (src / name).read_bytes()


def test_a_symbolic_link_out_of_the_folder_is_refused(store, tmp_path):
    write_file(tmp_path / "data", 100)
    store.upload_object("d/escape/evil", tmp_path / "data")
    store.upload_object("d/fine", tmp_path / "data")
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(outside, out / "escape")
    with pytest.raises(ValueError) as raised:
        store.download_prefix("d", out)
    assert isinstance(raised.value, s3os.InvalidArgumentError)
    assert "symbolic link" in str(raised.value)
    assert (out / "fine").exists() and not list(outside.iterdir())


def test_deleting_many_objects(store, tmp_path):
    write_file(tmp_path / "x", 3)
    names = [f"gone/{i}" for i in range(12)]
    store.upload_files(names, [tmp_path / "x"] * len(names))
    store.delete_objects(names[:4] + ["gone/never-was"])
    assert len(store.list_objects("gone/")) == 8
    assert store.delete_prefix("gone") == 8
    assert store.list_objects("gone/") == []


def test_async_transfers_are_futures(store, tmp_path):
    data = write_file(tmp_path / "src", 3 * MIB + 1)
    futures = [store.upload_object_async(f"async/{i}", tmp_path / "src") for i in range(6)]
    for future in concurrent.futures.as_completed(futures, timeout=120):
        assert future.result() is None
        assert future.progress() == (len(data), len(data))
    down = store.download_object_async("async/0", tmp_path / "down")
    down.result(timeout=120)
    assert (tmp_path / "down").read_bytes() == data
    missing = store.download_object_async("async/none", tmp_path / "none")
    with pytest.raises(FileNotFoundError):
        missing.result(timeout=120)
    exists = store.download_object_async("async/0", tmp_path / "down")
    with pytest.raises(FileExistsError):
        exists.result(timeout=120)


def test_memory_transfers_in_the_background(store):
    data = bytearray(os.urandom(9 * MIB + 7))
    up = store.upload_bytes_async("async/memory", data)
    # The buffer stays exported while the transfer holds it: it cannot be resized under it.
    with pytest.raises(BufferError):
        data.append(0)
    assert up.result(timeout=120) is None
    data.append(0)  # released once the future is done
    del data[-1]
    into = bytearray(len(data) + 100)
    down = store.download_into_async("async/memory", into)
    assert down.result(timeout=120) == len(data)
    assert into[: len(data)] == data and not any(into[len(data):])
    small = bytearray(10)
    too_small = store.download_into_async("async/memory", small)
    with pytest.raises(s3os.BufferTooSmallError) as raised:
        too_small.result(timeout=120)
    assert raised.value.size == len(data) and small == bytearray(10)
    with pytest.raises(FileNotFoundError):
        store.download_into_async("async/none", into).result(timeout=120)
    with pytest.raises(TypeError):
        store.download_into_async("async/memory", b"read-only")
    with pytest.raises(TypeError):
        store.upload_bytes_async("async/memory", "text")


def test_cancelling_a_future_stops_and_cleans_up(server, prefix, tmp_path):
    write_file(tmp_path / "big", 48 * MIB)
    # One part in flight: an upload takes long enough to be cancelled while running.
    store = server.store(prefix, transfer_config={"max_concurrency": 1,
                                                  "multipart_chunksize": 5 * MIB})
    with store:
        for _ in range(3):
            future = store.upload_object_async("cancelled", tmp_path / "big")
            if future.cancel():
                break
        assert future.cancelled()
        with pytest.raises(concurrent.futures.CancelledError):
            future.result()
        future._wait_cleanup()
        assert not _unfinished_uploads(server)
        with pytest.raises(FileNotFoundError):
            store.get_object_size("cancelled")
        # close() cancels what still runs, and returns once it has cleaned up.
        running = store.upload_object_async("closed", tmp_path / "big")
        time.sleep(0.05)
    assert running.done()
    if running.exception() is not None:
        assert isinstance(running.exception(), s3os.TransferCancelledError)
    assert not _unfinished_uploads(server)
    with pytest.raises(ValueError):
        store.upload_object_async("after-close", tmp_path / "big")


def test_the_overlap_example_hides_uploads_behind_compute(server: Server):
    import subprocess
    import sys

    from conftest import REPO

    example = REPO / "examples" / "python" / "overlap.py"
    result = subprocess.run(
        [sys.executable, str(example), "--prefix", "overlap-run", "--mib", "16",
         "--compute-ms", "300"],
        env={**os.environ, **server.env()},
        capture_output=True,
        text=True,
        timeout=300,
    )
    print(result.stdout)
    assert result.returncode == 0, result.stderr
    assert "4 checkpoints verified and deleted (4 objects)" in result.stdout
    summary = result.stdout.splitlines()[-1]
    assert summary.startswith("upload time hidden behind compute:")
    hidden = float(summary.rsplit("(", 1)[1].rstrip("%)"))
    assert hidden > 40, result.stdout

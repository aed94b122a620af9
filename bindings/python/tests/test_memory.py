"""Memory and streams: uploads from any buffer without a copy, downloads into bytes or into a
buffer, ranged reads, and the stream writer and reader with the standard library's and
numpy's file users (pickle, zipfile, numpy.save/load)."""

from __future__ import annotations

import array
import gc
import io
import pickle
import zipfile

import pytest

import s3os

MIB = 1024 * 1024
# Stores below move objects from 5 MiB on in parts of 5 MiB.
PARTS = {"multipart_threshold": 5 * MIB, "multipart_chunksize": 5 * MIB}


def pattern(size: int, seed: int = 0) -> bytes:
    block = bytes((i * 31 + seed * 17 + i // 251) % 256 for i in range(1 << 16))
    return (block * (size // len(block) + 1))[:size]


@pytest.fixture
def parts_store(server, prefix):
    with server.store(prefix, transfer_config=PARTS) as opened:
        yield opened


def test_upload_bytes_takes_any_buffer(parts_store):
    data = pattern(11 * MIB + 3, 1)
    sources = {
        "bytes": data,
        "bytearray": bytearray(data),
        "memoryview-slice": memoryview(data)[3:],
        "array": array.array("B", data[:1000]),
        "empty": b"",
        "one": b"x",
    }
    for name, source in sources.items():
        parts_store.upload_bytes(name, source)
        assert parts_store.download_bytes(name) == bytes(source), name
        assert parts_store.get_object_size(name) == len(bytes(source))


def test_upload_bytes_reports_progress_and_refuses_what_is_not_bytes(parts_store):
    calls = []
    parts_store.upload_bytes("p", pattern(6 * MIB), callback=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (6 * MIB, 6 * MIB)
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:]))
    with pytest.raises(TypeError):
        parts_store.upload_bytes("x", "text")
    with pytest.raises(TypeError):
        parts_store.upload_bytes("x", 12)
    with pytest.raises(ValueError):
        parts_store.upload_bytes("x", memoryview(bytes(100))[::2])  # not contiguous


def test_download_into_fills_the_callers_buffer(parts_store):
    data = pattern(7 * MIB + 1, 2)
    parts_store.upload_bytes("obj", data)
    exact = bytearray(len(data))
    assert parts_store.download_into("obj", exact) == len(data)
    assert exact == data
    roomy = bytearray(len(data) + 10)
    assert parts_store.download_into("obj", memoryview(roomy)) == len(data)
    assert roomy[: len(data)] == data

    small = bytearray(b"\xa5" * (len(data) - 1))
    with pytest.raises(s3os.BufferTooSmallError) as raised:
        parts_store.download_into("obj", small)
    assert isinstance(raised.value, ValueError)
    assert raised.value.size == len(data) and raised.value.status == 11
    assert small == b"\xa5" * (len(data) - 1), "a too-small buffer was written into"
    with pytest.raises(TypeError):
        parts_store.download_into("obj", bytes(len(data)))  # read-only
    with pytest.raises(FileNotFoundError):
        parts_store.download_into("missing", bytearray(10))
    with pytest.raises(FileNotFoundError):
        parts_store.download_bytes("missing")


def test_read_range_reads_what_exists(parts_store):
    data = pattern(12 * MIB + 7, 3)
    parts_store.upload_bytes("obj", data)
    size = len(data)
    for offset, length in [(0, 0), (0, 10), (100, 6 * MIB), (size - 3, 100), (size, 5), (0, size)]:
        assert parts_store.read_range("obj", offset, length) == data[offset : offset + length]
    with pytest.raises(s3os.InvalidArgumentError, match=str(size)):
        parts_store.read_range("obj", size + 1, 1)
    with pytest.raises(ValueError):
        parts_store.read_range("obj", -1, 1)


def test_a_writer_completes_on_a_clean_exit_and_aborts_on_an_exception(parts_store, server):
    data = pattern(13 * MIB + 5, 4)
    with parts_store.open_writer("written") as writer:
        assert writer.writable() and not writer.seekable()
        for at in range(0, len(data), 1_000_003):
            writer.write(memoryview(data)[at : at + 1_000_003])
        assert writer.tell() == len(data)
        with pytest.raises(FileNotFoundError):
            parts_store.get_object_size("written")  # not before the close
    assert writer.closed
    assert parts_store.download_bytes("written") == data

    with pytest.raises(KeyError):
        with parts_store.open_writer("aborted") as writer:
            writer.write(data)
            raise KeyError("stop")
    with pytest.raises(FileNotFoundError):
        parts_store.get_object_size("aborted")
    writer = parts_store.open_writer("aborted-explicitly")
    writer.write(data)
    writer.abort()
    with pytest.raises(ValueError):
        writer.write(b"more")
    with pytest.raises(FileNotFoundError):
        parts_store.get_object_size("aborted-explicitly")
    assert not list(server.data_dir.glob(".upload*")), "unfinished multipart uploads"


def test_a_reader_reads_seeks_and_reads_into(parts_store):
    data = pattern(11 * MIB + 9, 5)
    parts_store.upload_bytes("obj", data)
    with parts_store.open_reader("obj") as reader:
        assert reader.readable() and reader.seekable() and reader.size == len(data)
        assert reader.read(10) == data[:10]
        assert reader.seek(-5, io.SEEK_END) == len(data) - 5
        assert reader.read(100) == data[-5:]
        assert reader.read(100) == b""
        reader.seek(3 * MIB)
        buffer = bytearray(2 * MIB)
        assert reader.readinto(buffer) == 2 * MIB and buffer == data[3 * MIB : 5 * MIB]
        assert reader.tell() == 5 * MIB
        reader.seek(7, io.SEEK_CUR)
        assert reader.readall() == data[5 * MIB + 7 :]
        with pytest.raises(ValueError):
            reader.seek(len(data) + 1)
        with pytest.raises(ValueError):
            reader.seek(-1)
    with pytest.raises(ValueError):
        reader.read(1)
    buffered = io.BufferedReader(parts_store.open_reader("obj"), buffer_size=64 * 1024)
    assert buffered.read() == data
    buffered.close()
    with pytest.raises(FileNotFoundError):
        parts_store.open_reader("missing")


def test_pickle_through_a_writer_and_a_reader(parts_store):
    state = {"epoch": 3, "weights": [float(i) / 7 for i in range(300_000)], "name": "ckpt"}
    with parts_store.open_writer("ckpt/ep3.pkl") as writer:
        pickle.dump(state, writer)
    with parts_store.open_reader("ckpt/ep3.pkl") as reader:
        assert pickle.load(reader) == state


class _FailsHalfWay:
    """Pickles as a large list, then raises: a checkpoint whose saving failed part way."""

    def __reduce__(self):
        raise RuntimeError("this object cannot be pickled")


def test_a_writer_left_unclosed_is_aborted_never_completed(parts_store):
    # 12 MiB of the pickle reach the writer (two parts go up) before pickling fails.
    state = {"weights": pattern(12 * MIB, 3), "broken": _FailsHalfWay()}
    writer = parts_store.open_writer("half.pkl")
    with pytest.raises(RuntimeError, match="cannot be pickled"):
        pickle.dump(state, writer)
    assert writer.tell() > 10 * MIB
    with pytest.warns(ResourceWarning, match="abandoned"):
        del writer
        gc.collect()
    with pytest.raises(FileNotFoundError):
        parts_store.get_object_size("half.pkl")
    assert parts_store.list_objects() == []


def test_a_script_that_dies_while_writing_stores_nothing(server, prefix):
    script = f"""
import pickle, s3os
class FailsHalfWay:
    def __reduce__(self):
        raise RuntimeError("this object cannot be pickled")
store = s3os.S3ObjectStore({server.bucket!r}, {prefix!r}, endpoint_url={server.endpoint!r},
    aws_access_key_id={server.access_key!r}, aws_secret_access_key={server.secret_key!r},
    region_name="us-east-1", transfer_config={PARTS!r})
pickle.dump({{"weights": bytes(12 << 20), "broken": FailsHalfWay()}}, store.open_writer("died.pkl"))
"""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-W", "always::ResourceWarning", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0 and "cannot be pickled" in done.stderr, done.stderr
    with server.store(prefix) as store:
        with pytest.raises(FileNotFoundError):
            store.get_object_size("died.pkl")


def test_a_writer_is_closed_after_a_failed_close():
    # Nothing listens on port 9: the PUT made at close fails.
    with s3os.S3ObjectStore(
        "bucket",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="key",
        aws_secret_access_key="secret",
        region_name="us-east-1",
        client_config={"connect_timeout": 1, "retries": {"total_max_attempts": 1}},
    ) as store:
        writer = store.open_writer("never.bin")
        writer.write(b"some bytes")
        with pytest.raises(s3os.S3osError):
            writer.close()
        assert writer.closed
        with pytest.raises(ValueError):
            writer.write(b"more")
        writer.close()  # idempotent, as for a file


def test_zipfile_through_a_writer_and_a_reader(parts_store):
    # torch.save writes a zip archive to the stream it is given, torch.load reads one back
    # with seeks: zipfile on these streams is that pattern without PyTorch.
    members = {f"archive/data/{i}": pattern(1_500_000 + i, i) for i in range(6)}
    with parts_store.open_writer("model.pt") as writer:
        with zipfile.ZipFile(writer, "w") as archive:
            for name, data in members.items():
                method = zipfile.ZIP_DEFLATED if name.endswith("1") else zipfile.ZIP_STORED
                archive.writestr(name, data, compress_type=method)
    with parts_store.open_reader("model.pt") as reader:
        with zipfile.ZipFile(reader) as archive:
            assert archive.testzip() is None
            for name in reversed(list(members)):
                assert archive.read(name) == members[name]


def test_numpy_save_and_load_through_the_streams(parts_store):
    numpy = pytest.importorskip("numpy")
    weights = numpy.arange(3_000_000, dtype=numpy.float32).reshape(1000, 3000) / 7
    with parts_store.open_writer("weights.npy") as writer:
        numpy.save(writer, weights)
    with parts_store.open_reader("weights.npy") as reader:
        assert numpy.array_equal(numpy.load(reader), weights)
    # Arrays are buffers: up from their memory, down into another array's.
    parts_store.upload_bytes("raw", weights)
    target = numpy.empty_like(weights)
    assert parts_store.download_into("raw", target) == weights.nbytes
    assert numpy.array_equal(target, weights)
    with pytest.raises(ValueError):
        parts_store.upload_bytes("x", weights[:, ::2])  # not C-contiguous


def test_streams_outlive_their_store(server, prefix):
    data = pattern(6 * MIB, 6)
    store = server.store(prefix, transfer_config=PARTS)
    store.upload_bytes("obj", data)
    reader = store.open_reader("obj")
    writer = store.open_writer("copy")
    store.close()
    writer.write(reader.read())
    writer.close()
    reader.close()
    with server.store(prefix) as again:
        assert again.download_bytes("copy") == data

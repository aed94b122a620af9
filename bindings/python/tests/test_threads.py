"""Many Python threads at once: the GIL is released while bytes move, and close() is safe."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import Server, write_file

MIB = 1024 * 1024


def test_100_stores_built_from_100_threads_each_raise_file_not_found(
    server: Server, prefix, tmp_path
):
    # Composer's own test: stores created concurrently, each download of a missing key fails
    # with FileNotFoundError.
    barrier = threading.Barrier(100)

    def one(i: int) -> str:
        barrier.wait()
        with server.store(f"{prefix}/{i}") as store:
            try:
                store.download_object("missing", tmp_path / f"{i}.bin")
            except FileNotFoundError as error:
                return type(error).__name__
        return "no error"

    with ThreadPoolExecutor(100) as pool:
        outcomes = list(pool.map(one, range(100)))
    assert outcomes == ["NotFoundError"] * 100
    assert list(tmp_path.iterdir()) == []


def test_python_threads_run_while_a_transfer_is_in_the_library(store, tmp_path):
    write_file(tmp_path / "f", 64 * MIB)
    ticks = 0
    running = threading.Event()
    done = threading.Event()

    def count() -> None:
        nonlocal ticks
        running.set()
        while not done.is_set():
            ticks += 1

    def ticks_during(call) -> tuple[int, float]:
        before, started = ticks, time.perf_counter()
        call()
        return ticks - before, time.perf_counter() - started

    counter = threading.Thread(target=count)
    counter.start()
    running.wait()
    try:
        free, slept = ticks_during(lambda: time.sleep(0.2))  # the counter's pace with the GIL free
        # No callback: the whole call runs in the library.
        during, elapsed = ticks_during(lambda: store.upload_object("big", tmp_path / "f"))
    finally:
        done.set()
        counter.join()
    rate = free / slept
    # Were the GIL held for the call, the counter would get one switch interval (5 ms) at
    # most; a tenth of its free pace over a call of 0.1 s or more is far above that.
    print(f"counter: {rate:.0f}/s free, {during / elapsed:.0f}/s during a {elapsed:.2f} s upload")
    assert elapsed > 0.05, "the upload was too short to tell"
    assert during > 0.1 * rate * elapsed, (during, rate, elapsed)


def test_8_threads_transfer_at_once_well_below_8_times_one(server: Server, prefix, tmp_path):
    size = 32 * MIB
    names = [f"par-{i}" for i in range(8)]
    # One 5 MiB part in flight per transfer: a download then waits on the server's answers
    # most of the time (s3s-fs answers each GET late) instead of filling this 2-core machine
    # on its own, so only threads running at once can shorten the total.
    settings = {
        "transfer_config": {
            "max_concurrency": 1,
            "multipart_chunksize": 5 * MIB,
            "multipart_threshold": 5 * MIB,
        }
    }
    with server.store(prefix, **settings) as store:
        for i, name in enumerate(names):
            write_file(tmp_path / name, size, seed=i)
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda name: store.upload_object(name, tmp_path / name), names))

        def download(name: str, tag: str) -> None:
            store.download_object(name, tmp_path / tag / name)

        download(names[0], "warm-up")
        started = time.perf_counter()
        for name in names:
            download(name, "sequential")
        sequential = time.perf_counter() - started

        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda name: download(name, "parallel"), names))
        parallel = time.perf_counter() - started

    for name in names:
        assert (tmp_path / "parallel" / name).read_bytes() == (tmp_path / name).read_bytes()
    print(
        f"8 downloads of {size // MIB} MiB: "
        f"one after another {sequential:.2f} s, 8 threads at once {parallel:.2f} s"
    )
    assert parallel < 0.6 * sequential, (sequential, parallel)


def test_many_threads_mixed_operations_on_one_store(store, tmp_path):
    write_file(tmp_path / "f", 100_000)

    def work(i: int) -> None:
        name = f"mixed/{i}"
        store.upload_object(name, tmp_path / "f")
        assert store.get_object_size(name) == 100_000
        assert store.get_uri(name).endswith(name)
        store.download_object(name, tmp_path / "down" / str(i))
        assert store.prefix + name in store.list_objects("mixed/")
        store.remove_object(name)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(work, range(64)))
    assert store.list_objects() == []


def _race_close_with_calls(server: Server, prefix: str, source, tmp_path, delay: float) -> None:
    store = server.store(prefix, transfer_config={"max_concurrency": 2})
    started = threading.Barrier(5)
    outcomes = []

    def work(i: int) -> None:
        started.wait()
        name = f"race-{delay}-{i}"
        try:
            store.upload_object(name, source)
            store.download_object(name, tmp_path / name)
            outcomes.append("done")
        except ValueError as error:
            assert "closed" in str(error)
            outcomes.append("closed")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    started.wait()
    time.sleep(delay)
    store.close()
    for thread in threads:
        thread.join()
    assert len(outcomes) == 4
    with pytest.raises(ValueError):
        store.get_uri("x")


def test_close_while_calls_run_on_other_threads(server: Server, prefix, tmp_path):
    # close() must not free the C store under a running call: calls in flight finish,
    # later ones raise ValueError, and nothing crashes.
    write_file(tmp_path / "f", 16 * MIB)
    for delay in (0.0, 0.02, 0.05, 0.1, 0.2):
        _race_close_with_calls(server, prefix, tmp_path / "f", tmp_path, delay)

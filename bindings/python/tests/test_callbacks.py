"""Progress callbacks: Composer's own checks, and callbacks that raise."""

from __future__ import annotations

import threading

import pytest

import s3os
from conftest import Server, write_file

MIB = 1024 * 1024


class ComposerProgressCheck:
    """The assertions of Composer's object-store tests, applied to every report."""

    def __init__(self, file_size: int) -> None:
        self.file_size = file_size
        self.previous = 0
        self.calls = 0
        self.thread = threading.get_ident()

    def __call__(self, transferred: int, total: int) -> None:
        assert threading.get_ident() == self.thread, "callbacks run on the calling thread"
        assert transferred == 0 or transferred >= self.previous
        assert total == self.file_size
        self.previous = transferred
        self.calls += 1

    def finished(self) -> None:
        assert self.calls > 0
        assert self.previous == self.file_size


@pytest.mark.parametrize("size", [0, 1000, 20 * MIB + 3])
def test_progress_is_cumulative_and_ends_at_the_file_size(store, tmp_path, size):
    write_file(tmp_path / "f", size)
    uploaded = ComposerProgressCheck(size)
    store.upload_object("obj", tmp_path / "f", callback=uploaded)
    uploaded.finished()
    downloaded = ComposerProgressCheck(size)
    store.download_object("obj", tmp_path / "down", callback=downloaded)
    downloaded.finished()
    if size > 8 * MIB:  # in parts: progress is reported along the way
        assert uploaded.calls > 2 and downloaded.calls > 2


class Stop(Exception):
    pass


def _raise_once_moving(done: int, total: int) -> None:
    if done > 0:
        raise Stop(f"stopped at {done} of {total}")


# Reports are snapshots taken while the transfer runs: a small object may be finished by the
# first one. 40 MiB with two 8 MiB parts in flight leaves most of the object to cancel.
SLOW_TRANSFERS = {"transfer_config": {"max_concurrency": 2}}


def test_a_raising_callback_cancels_the_upload_and_is_re_raised(server: Server, prefix, tmp_path):
    write_file(tmp_path / "f", 40 * MIB)
    with server.store(prefix, **SLOW_TRANSFERS) as store:
        with pytest.raises(Stop) as raised:
            store.upload_object("cancelled", tmp_path / "f", callback=_raise_once_moving)
        cancelled = raised.value.__context__
        assert isinstance(cancelled, s3os.TransferCancelledError), repr(cancelled)
        assert cancelled.status == 6 and "cancel" in cancelled.message
        with pytest.raises(FileNotFoundError):
            store.get_object_size("cancelled")
        assert not any(p.name.startswith(".upload") for p in server.data_dir.iterdir())
        # The store keeps working.
        store.upload_object("after", tmp_path / "f")
        assert store.get_object_size("after") == 40 * MIB


def test_a_raising_callback_cancels_the_download_and_is_re_raised(server: Server, prefix, tmp_path):
    write_file(tmp_path / "f", 40 * MIB)
    out = tmp_path / "out"
    with server.store(prefix, **SLOW_TRANSFERS) as store:
        store.upload_object("obj", tmp_path / "f")
        with pytest.raises(Stop) as raised:
            store.download_object("obj", out / "target", callback=_raise_once_moving)
    assert isinstance(raised.value.__context__, s3os.TransferCancelledError)
    assert not (out / "target").exists()
    assert not out.exists() or list(out.iterdir()) == []  # no temporary file either


def test_an_exception_from_the_last_report_is_raised_though_the_upload_finished(store, tmp_path):
    # The final report (done == total) follows the completed upload: nothing is left to
    # cancel, but the callback's exception is not swallowed.
    write_file(tmp_path / "f", 1000)

    def raise_at_the_end(done: int, total: int) -> None:
        if done == total:
            raise Stop

    with pytest.raises(Stop) as raised:
        store.upload_object("finished", tmp_path / "f", callback=raise_at_the_end)
    assert raised.value.__context__ is None
    assert store.get_object_size("finished") == 1000


def test_keyboard_interrupt_in_a_callback_cancels_too(server: Server, prefix, tmp_path):
    write_file(tmp_path / "f", 40 * MIB)

    def interrupt(done: int, total: int) -> None:
        if done > 0:
            raise KeyboardInterrupt

    with server.store(prefix, **SLOW_TRANSFERS) as store:
        with pytest.raises(KeyboardInterrupt):
            store.upload_object("interrupted", tmp_path / "f", callback=interrupt)
        with pytest.raises(FileNotFoundError):
            store.get_object_size("interrupted")


def test_a_callback_is_not_called_again_after_it_raised(store, tmp_path):
    write_file(tmp_path / "f", 20 * MIB)
    calls = []

    def callback(done: int, total: int) -> None:
        calls.append(done)
        raise Stop

    with pytest.raises(Stop):
        store.upload_object("obj", tmp_path / "f", callback=callback)
    assert len(calls) == 1


def test_callbacks_may_call_back_into_the_store(store, tmp_path):
    write_file(tmp_path / "f", 10 * MIB)
    seen = []

    def callback(done: int, total: int) -> None:
        seen.append(store.get_uri(f"at-{done}"))

    store.upload_object("reentrant", tmp_path / "f", callback=callback)
    assert seen and seen[-1] == store.get_uri(f"at-{10 * MIB}")


def test_close_inside_a_callback_finishes_the_call_then_frees(server: Server, prefix, tmp_path):
    write_file(tmp_path / "f", 10 * MIB)
    store = server.store(prefix)
    store.upload_object("first", tmp_path / "f", callback=lambda done, total: store.close())
    assert store.closed
    with pytest.raises(ValueError, match="closed"):
        store.get_object_size("first")
    with server.store(prefix) as other:
        assert other.get_object_size("first") == 10 * MIB

"""Stream writers and readers over objects, as ``io.RawIOBase`` subclasses.

``S3ObjectStore.open_writer(name)`` and ``open_reader(name)`` return them; they work wherever
Python expects a binary file: ``torch.save``, ``pickle``, ``zipfile``, ``numpy.save`` and
``numpy.load``, ``shutil.copyfileobj``.
"""

from __future__ import annotations

import ctypes
import io
import os
import threading
import warnings
from typing import Any, Optional

from ._buffers import lent
from ._library import lib
from . import _library
from .errors import check, error_for

__all__ = ["ObjectWriter", "ObjectReader"]


class ObjectWriter(io.RawIOBase):
    """Writes an object in pieces; it appears, whole, when the writer is closed.

    Full parts (``multipart_chunksize``) go up in the background while writing goes on, at
    most ``max_concurrency`` at once, so memory stays bounded whatever the size. An object
    below ``multipart_threshold`` is sent as one PUT on close.

    - ``close()`` (or leaving a ``with`` block normally) completes the object and raises if
      that fails. Leaving a ``with`` block with an exception calls :meth:`abort` instead.
    - :meth:`abort` abandons the object: nothing of it remains on the server.
    - A failed part is raised by the next ``write`` or by ``close``; the upload is aborted
      then, and the writer is closed.
    - A writer that is garbage-collected (or left at exit) unclosed is **aborted**, with a
      ``ResourceWarning``: an exception that interrupted the writing (a failed pickle, say)
      must never leave a partial object under the final name. Close it, or use ``with``.

    Not seekable; ``tell()`` is the number of bytes written. One thread at a time.
    """

    def __init__(self, handle: int, name: str) -> None:
        super().__init__()
        self._handle: Optional[int] = handle
        self._written = 0
        self._lock = threading.Lock()
        self._owner_pid = os.getpid()
        self.name = name

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:  # type: ignore[override]
        """Appends ``data`` (any bytes-like object, not copied beforehand); returns its length."""
        with self._lock:
            handle = self._open_handle()
            with lent(data, writable=False, what="data") as (address, length):
                status = lib.s3os_writer_write(handle, address, length)
                if status != 0:
                    # Read the message before the abort, which is another s3os call.
                    failure = error_for(status, _library.last_error())
                    self._finish(lib.s3os_writer_abort)
                    super().close()
                    raise failure
            self._written += length
            return length

    def tell(self) -> int:
        """Bytes written so far."""
        self._open_handle()
        return self._written

    def close(self) -> None:
        """Completes the object (idempotent); raises if completing it failed.

        The writer is closed afterwards whatever the outcome, as a file is.
        """
        with self._lock:
            try:
                if self._handle is not None:
                    self._finish(lib.s3os_writer_close, raise_error=True)
            finally:
                super().close()

    def abort(self) -> None:
        """Abandons the object: nothing of it remains on the server. Closes the writer."""
        with self._lock:
            try:
                if self._handle is not None:
                    self._finish(lib.s3os_writer_abort, raise_error=True)
            finally:
                super().close()

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()

    def __del__(self) -> None:
        if os.getpid() != self._owner_pid:
            return  # the parent's writer is not this process's to finish
        if self._handle is None:
            return
        # Unclosed: whatever was written may be a fragment (the exception that stopped the
        # writing is gone by now), so it is abandoned rather than published.
        warnings.warn(
            f"{self!r} was not closed: the object was abandoned, not stored "
            "(close the writer or use it in a with block)",
            ResourceWarning,
            stacklevel=2,
            source=self,
        )
        try:
            self.abort()
        except Exception:  # noqa: BLE001 -- as io.IOBase does at collection
            pass

    def _open_handle(self) -> int:
        if self._handle is None:
            raise ValueError("I/O operation on a closed ObjectWriter")
        return self._handle

    def _finish(self, end: Any, raise_error: bool = False) -> None:
        handle, self._handle = self._handle, None
        status = end(handle)
        if raise_error:
            check(status)

    def __repr__(self) -> str:
        state = " (closed)" if self._handle is None else ""
        return f"<s3os.ObjectWriter {self.name!r}{state}>"


class ObjectReader(io.RawIOBase):
    """Reads an object in pieces: seekable, ``readinto``-capable, pinned to one version.

    Opening it makes one request (the object's size, version and checksum). Reads that
    continue where the last one ended are served from parts fetched ahead in the background;
    a read after a seek fetches exactly the bytes asked for. Every request is pinned to the
    version first seen: if the object is overwritten meanwhile, reads raise ``TransientError``
    rather than mix versions. Bytes read in order from the start are checked against the
    object's CRC, when it has one, by the read that reaches the end (``IntegrityError``).

    A read returns fewer bytes than asked only at the end of the object. One thread at a time.
    """

    def __init__(self, handle: int, name: str) -> None:
        super().__init__()
        self._handle: Optional[int] = handle
        self._lock = threading.Lock()
        self._owner_pid = os.getpid()
        self.name = name
        size = ctypes.c_uint64()
        check(lib.s3os_reader_size(handle, ctypes.byref(size)))
        self._size = size.value
        self._position = 0

    @property
    def size(self) -> int:
        """The object's size in bytes."""
        return self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:  # type: ignore[override]
        """Reads into ``buffer`` (any writable bytes-like object) directly; returns the count."""
        with self._lock:
            handle = self._open_handle()
            with lent(buffer, writable=True, what="buffer") as (address, length):
                read = ctypes.c_size_t()
                check(lib.s3os_reader_read(handle, address, length, ctypes.byref(read)), reading=True)
            self._position += read.value
            return read.value

    def readall(self) -> bytes:
        """The rest of the object, read in one go."""
        left = max(self._size - self.tell(), 0)
        buffer = bytearray(left)
        view = memoryview(buffer)
        got = 0
        while got < left:
            n = self.readinto(view[got:])
            if n == 0:
                break
            got += n
        del view
        return bytes(buffer) if got == left else bytes(buffer[:got])

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Moves to ``offset`` (from the start, the position or the end); no request is made.

        Raises ValueError for a position before the start or past the end of the object.
        """
        with self._lock:
            handle = self._open_handle()
            if whence == io.SEEK_SET:
                target = offset
            elif whence == io.SEEK_CUR:
                target = self._position + offset
            elif whence == io.SEEK_END:
                target = self._size + offset
            else:
                raise ValueError(f"invalid whence ({whence}, should be 0, 1 or 2)")
            if target < 0:
                raise ValueError(f"negative seek position {target}")
            check(lib.s3os_reader_seek(handle, target))
            self._position = target
            return target

    def tell(self) -> int:
        self._open_handle()
        return self._position

    def close(self) -> None:
        """Releases the reader and stops its requests (idempotent)."""
        with self._lock:
            handle, self._handle = self._handle, None
            if handle is not None and os.getpid() == self._owner_pid:
                lib.s3os_reader_free(handle)
        super().close()

    def _open_handle(self) -> int:
        if self._handle is None:
            raise ValueError("I/O operation on a closed ObjectReader")
        return self._handle

    def __repr__(self) -> str:
        state = " (closed)" if self._handle is None else ""
        return f"<s3os.ObjectReader {self.name!r} ({self._size} bytes){state}>"

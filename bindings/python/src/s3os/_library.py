"""Loading libs3os and declaring its C functions for ctypes.

The library is opened with ``ctypes.CDLL``, which releases the GIL for the duration of every
call: bytes move while other Python threads run. Callbacks take the GIL back while they run.
"""

from __future__ import annotations

import ctypes
import importlib.machinery
import os
from ctypes import (
    CFUNCTYPE,
    POINTER,
    c_bool,
    c_char_p,
    c_int,
    c_int64,
    c_size_t,
    c_uint64,
    c_void_p,
)
from pathlib import Path

#: ``int (*)(uint64_t bytes_done, uint64_t bytes_total, void *user_data)``
PROGRESS_FN = CFUNCTYPE(c_int, c_uint64, c_uint64, c_void_p)
#: ``int (*)(const char *object_name, uint64_t size, void *user_data)``
LIST_FN = CFUNCTYPE(c_int, c_char_p, c_uint64, c_void_p)
#: ``void (*)(s3os_log_level level, const char *message, void *user_data)``
LOG_FN = CFUNCTYPE(None, c_int, c_char_p, c_void_p)

_PROTOTYPES = {
    "s3os_config_new": (c_void_p, [c_char_p]),
    "s3os_config_set": (c_int, [c_void_p, c_char_p, c_char_p]),
    "s3os_config_free": (None, [c_void_p]),
    "s3os_store_new": (c_int, [c_void_p, POINTER(c_void_p)]),
    "s3os_store_free": (None, [c_void_p]),
    "s3os_upload_file": (c_int, [c_void_p, c_char_p, c_char_p, PROGRESS_FN, c_void_p]),
    "s3os_download_file": (
        c_int,
        [c_void_p, c_char_p, c_char_p, c_bool, PROGRESS_FN, c_void_p],
    ),
    "s3os_object_size": (c_int, [c_void_p, c_char_p, POINTER(c_uint64)]),
    "s3os_get_uri": (c_int, [c_void_p, c_char_p, POINTER(c_void_p)]),
    "s3os_delete_object": (c_int, [c_void_p, c_char_p]),
    "s3os_list_objects": (c_int, [c_void_p, c_char_p, LIST_FN, c_void_p]),
    "s3os_last_error": (c_char_p, []),
    "s3os_status_name": (c_char_p, [c_int]),
    "s3os_version": (c_char_p, []),
    "s3os_string_free": (None, [c_void_p]),
    # Memory and streams.
    "s3os_upload_buffer": (c_int, [c_void_p, c_char_p, c_void_p, c_size_t, PROGRESS_FN, c_void_p]),
    "s3os_download_buffer": (
        c_int,
        [c_void_p, c_char_p, c_void_p, c_size_t, POINTER(c_size_t), PROGRESS_FN, c_void_p],
    ),
    "s3os_download_alloc": (
        c_int,
        [c_void_p, c_char_p, POINTER(c_void_p), POINTER(c_size_t), PROGRESS_FN, c_void_p],
    ),
    "s3os_buffer_free": (None, [c_void_p, c_size_t]),
    "s3os_read_range": (c_int, [c_void_p, c_char_p, c_uint64, c_void_p, c_size_t, POINTER(c_size_t)]),
    "s3os_writer_open": (c_int, [c_void_p, c_char_p, POINTER(c_void_p)]),
    "s3os_writer_write": (c_int, [c_void_p, c_void_p, c_size_t]),
    "s3os_writer_close": (c_int, [c_void_p]),
    "s3os_writer_abort": (c_int, [c_void_p]),
    "s3os_reader_open": (c_int, [c_void_p, c_char_p, POINTER(c_void_p)]),
    "s3os_reader_size": (c_int, [c_void_p, POINTER(c_uint64)]),
    "s3os_reader_read": (c_int, [c_void_p, c_void_p, c_size_t, POINTER(c_size_t)]),
    "s3os_reader_seek": (c_int, [c_void_p, c_uint64]),
    "s3os_reader_free": (None, [c_void_p]),
    # Many objects per call.
    "s3os_upload_files": (
        c_int,
        [c_void_p, POINTER(c_char_p), POINTER(c_char_p), c_size_t, POINTER(c_int), PROGRESS_FN,
         c_void_p],
    ),
    "s3os_download_files": (
        c_int,
        [c_void_p, POINTER(c_char_p), POINTER(c_char_p), c_size_t, c_bool, POINTER(c_int),
         PROGRESS_FN, c_void_p],
    ),
    "s3os_upload_dir": (c_int, [c_void_p, c_char_p, c_char_p, PROGRESS_FN, c_void_p]),
    "s3os_download_prefix": (c_int, [c_void_p, c_char_p, c_char_p, c_bool, PROGRESS_FN, c_void_p]),
    "s3os_delete_objects": (c_int, [c_void_p, POINTER(c_char_p), c_size_t, POINTER(c_int)]),
    "s3os_delete_prefix": (c_int, [c_void_p, c_char_p, POINTER(c_uint64)]),
    # Background transfers.
    "s3os_upload_file_start": (c_int, [c_void_p, c_char_p, c_char_p, POINTER(c_void_p)]),
    "s3os_download_file_start": (c_int, [c_void_p, c_char_p, c_char_p, c_bool, POINTER(c_void_p)]),
    "s3os_upload_buffer_start": (c_int, [c_void_p, c_char_p, c_void_p, c_size_t, POINTER(c_void_p)]),
    "s3os_download_buffer_start": (
        c_int,
        [c_void_p, c_char_p, c_void_p, c_size_t, POINTER(c_void_p)],
    ),
    "s3os_transfer_object_size": (c_int, [c_void_p, POINTER(c_uint64)]),
    "s3os_transfer_progress": (c_int, [c_void_p, POINTER(c_uint64), POINTER(c_uint64)]),
    "s3os_transfer_wait": (c_int, [c_void_p, c_int64]),
    "s3os_transfer_cancel": (c_int, [c_void_p]),
    "s3os_transfer_free": (None, [c_void_p]),
    "s3os_set_log_callback": (c_int, [LOG_FN, c_int, c_void_p]),
}


def _bundled_library() -> Path:
    # The build installs the library under an extension-module file name
    # (libs3os.abi3.so for the abi3 wheel); any of the interpreter's suffixes is accepted.
    here = Path(__file__).resolve().parent
    candidates = [here / f"libs3os{suffix}" for suffix in importlib.machinery.EXTENSION_SUFFIXES]
    candidates.append(here / "libs3os.so")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ImportError(
        f"s3os: the bundled libs3os is missing from {here}; reinstall the package "
        "(pip install ./bindings/python) or set S3OS_LIBRARY to the path of libs3os.so"
    )


def _open() -> tuple[ctypes.CDLL, str]:
    override = os.environ.get("S3OS_LIBRARY")
    path = override if override else str(_bundled_library())
    try:
        library = ctypes.CDLL(path)
    except OSError as error:
        origin = "S3OS_LIBRARY" if override else "the bundled library"
        raise ImportError(f"s3os: cannot load {origin} {path!r}: {error}") from error
    for name, (restype, argtypes) in _PROTOTYPES.items():
        try:
            function = getattr(library, name)
        except AttributeError:
            raise ImportError(
                f"s3os: {path!r} does not export {name}; is it libs3os.so of a matching version?"
            ) from None
        function.restype = restype
        function.argtypes = argtypes
    return library, path


lib, path = _open()


def text(raw: bytes | None) -> str:
    """Decodes a string the library returned (always UTF-8; NULL only where documented)."""
    return "" if raw is None else raw.decode("utf-8", errors="replace")


def last_error() -> str:
    """This thread's message for the s3os call that just failed on it."""
    return text(lib.s3os_last_error())


def status_name(status: int) -> str:
    """The library's name for a status value ("S3OS_UNKNOWN_STATUS" for one it lacks)."""
    return text(lib.s3os_status_name(status))


def version() -> str:
    """The library's version string."""
    return text(lib.s3os_version())

"""The library's log lines, forwarded to :mod:`logging` under the logger name ``s3os``.

The library logs at the level of the ``s3os`` logger, read when a store is created (and by
:func:`sync_log_level`): configure the logger first, as with any library::

    logging.basicConfig()
    logging.getLogger("s3os").setLevel(logging.DEBUG)

Lines arrive on the library's own log thread, never on the thread of a transfer, so a slow
handler cannot stall one. Trace lines (every part, every proxy exchange) are logged at level
5, below ``DEBUG``. With ``S3OS_LOG`` set in the environment, the library writes to stderr as
that variable asks and nothing is forwarded unless :func:`sync_log_level` is called.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from typing import Any, Optional

from . import _library
from ._library import LOG_FN, lib

__all__ = ["sync_log_level", "TRACE"]

#: The level of the library's most detailed lines (below ``logging.DEBUG``).
TRACE = 5

_logger = logging.getLogger("s3os")

#: s3os_log_level -> logging level.
_PYTHON_LEVELS = {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG, 5: TRACE}

_lock = threading.Lock()
_installed_level: Optional[int] = None


def _forward(level: int, message: Optional[bytes], _user_data: Any) -> None:
    # Runs on the library's log thread: nothing may escape into the C library.
    try:
        text = message.decode("utf-8", errors="replace") if message else ""
        _logger.log(_PYTHON_LEVELS.get(level, logging.ERROR), "%s", text)
    except BaseException:  # noqa: BLE001 -- a failing handler must not reach C
        pass


# Kept for the life of the process: the library may call it until it is unset.
_FORWARD = LOG_FN(_forward)


def _library_level(python_level: int) -> int:
    """The s3os_log_level that delivers what a logger at ``python_level`` shows; 0 for none."""
    if python_level <= TRACE:
        return 5
    if python_level <= logging.DEBUG:
        return 4
    if python_level <= logging.INFO:
        return 3
    if python_level <= logging.WARNING:
        return 2
    if python_level <= logging.CRITICAL:
        return 1
    return 0


def sync_log_level() -> None:
    """Makes the library log at the effective level of the ``s3os`` logger, read now.

    Lines logged before the call have been handed to :mod:`logging` when it returns.
    """
    _install(_library_level(_logger.getEffectiveLevel()))


def _install(level: int) -> None:
    global _installed_level
    with _lock:
        if level == 0:
            status = lib.s3os_set_log_callback(LOG_FN(), 0, None)
        else:
            status = lib.s3os_set_log_callback(_FORWARD, level, None)
        if status != 0:
            raise RuntimeError(f"s3os_set_log_callback: {_library.last_error()}")
        _installed_level = level or None


def _sync_if_forwarding() -> None:
    """What creating a store does: follow the logger's level, unless S3OS_LOG rules."""
    if _installed_level is not None or not os.environ.get("S3OS_LOG"):
        sync_log_level()


def _stop() -> None:
    # Delivers what is queued, then no more calls into an interpreter that is shutting down.
    if _installed_level is not None:
        lib.s3os_set_log_callback(LOG_FN(), 0, None)


def _after_fork_in_child() -> None:
    # A child starts without the parent's callback (the library's rule): forward again.
    global _installed_level, _lock
    _lock = threading.Lock()
    level, _installed_level = _installed_level, None
    if level is not None:
        try:
            _install(level)
        except Exception:  # noqa: BLE001 -- logging must not break the child
            pass


atexit.register(_stop)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

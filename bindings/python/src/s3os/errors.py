"""The exceptions s3os raises, one per status of the C library.

Each inherits from :class:`S3osError` (``status``, ``status_name`` and the library's
``message``) and from the builtin exception Composer's ``S3ObjectStore`` raises for the same
failure, so code written for Composer catches them unchanged.
"""

from __future__ import annotations

from typing import Dict, Type

from . import _library
from ._composer import ObjectStoreTransientError

__all__ = [
    "S3osError",
    "InvalidArgumentError",
    "NotFoundError",
    "AlreadyExistsError",
    "PermissionDeniedError",
    "ReadPermissionDeniedError",
    "TransientError",
    "TransferCancelledError",
    "LocalIOError",
    "IntegrityError",
    "InternalError",
    "TLSError",
    "BufferTooSmallError",
    "InProgressError",
    "ObjectStoreTransientError",
]


class S3osError(Exception):
    """A failed s3os call. Statuses without a class of their own raise this class itself.

    Attributes:
        status: the library's status value (``s3os_status``).
        status_name: its name, such as ``"S3OS_NOT_FOUND"``.
        message: the library's description of what failed and why (never credentials).
    """

    status: int = -1
    status_name: str = "S3OS_UNKNOWN_STATUS"

    def __init__(self, message: str = "") -> None:
        # Only the message is passed on: OSError would read further arguments as errno etc.
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidArgumentError(S3osError, ValueError):
    """S3OS_INVALID_ARGUMENT: an unknown setting, a bad value, or a name S3 cannot hold."""

    status = 1
    status_name = "S3OS_INVALID_ARGUMENT"


class NotFoundError(S3osError, FileNotFoundError):
    """S3OS_NOT_FOUND: the object or the bucket does not exist."""

    status = 2
    status_name = "S3OS_NOT_FOUND"


class AlreadyExistsError(S3osError, FileExistsError):
    """S3OS_ALREADY_EXISTS: the download target exists and ``overwrite`` is false."""

    status = 3
    status_name = "S3OS_ALREADY_EXISTS"


class PermissionDeniedError(S3osError, PermissionError):
    """S3OS_PERMISSION_DENIED: the credentials were rejected or lack permission."""

    status = 4
    status_name = "S3OS_PERMISSION_DENIED"


class ReadPermissionDeniedError(PermissionDeniedError, FileNotFoundError):
    """S3OS_PERMISSION_DENIED on a read (object size, download): also a FileNotFoundError.

    Composer reports a 403 on a read as a missing object, because S3 answers 403 for a
    missing key when the caller may not list the bucket.
    """


class TransientError(S3osError, ObjectStoreTransientError):
    """S3OS_TRANSIENT: throttling, 5xx, timeouts or connection failures outlasted the retries.

    Also an ``ObjectStoreTransientError`` (Composer's when Composer is installed).
    """

    status = 5
    status_name = "S3OS_TRANSIENT"


class TransferCancelledError(S3osError):
    """S3OS_CANCELLED: the progress callback stopped the transfer.

    Raised as the context (``__context__``) of the exception the callback raised.
    """

    status = 6
    status_name = "S3OS_CANCELLED"


class LocalIOError(S3osError, OSError):
    """S3OS_IO: a local file could not be read, created or written."""

    status = 7
    status_name = "S3OS_IO"


class IntegrityError(S3osError):
    """S3OS_INTEGRITY: received bytes did not match their checksum or announced length."""

    status = 8
    status_name = "S3OS_INTEGRITY"


class InternalError(S3osError):
    """S3OS_INTERNAL: a bug in s3os, or an answer it could not interpret."""

    status = 9
    status_name = "S3OS_INTERNAL"


class TLSError(S3osError):
    """S3OS_TLS: no secure connection (certificate not verified, or no TLS on the endpoint).

    Not retried: the fix is configuration (the endpoint URL, or the trusted certificates).
    """

    status = 10
    status_name = "S3OS_TLS"


class BufferTooSmallError(S3osError, ValueError):
    """S3OS_BUFFER_TOO_SMALL: the buffer given to ``download_into`` cannot hold the object.

    Nothing was written into the buffer. ``size`` is the object's size in bytes (``None``
    when the failure came from elsewhere).
    """

    status = 11
    status_name = "S3OS_BUFFER_TOO_SMALL"
    size: "int | None" = None


class InProgressError(S3osError):
    """S3OS_IN_PROGRESS: a background transfer was still running when a wait for it ended.

    The futures of :meth:`S3ObjectStore.upload_object_async` raise
    ``concurrent.futures.TimeoutError`` instead, as every ``Future`` does.
    """

    status = 12
    status_name = "S3OS_IN_PROGRESS"


_BY_STATUS: Dict[int, Type[S3osError]] = {
    cls.status: cls
    for cls in (
        InvalidArgumentError,
        NotFoundError,
        AlreadyExistsError,
        PermissionDeniedError,
        TransientError,
        TransferCancelledError,
        LocalIOError,
        IntegrityError,
        InternalError,
        TLSError,
        BufferTooSmallError,
        InProgressError,
    )
}


def error_for(status: int, message: str, *, reading: bool = False) -> S3osError:
    """The exception for a failed call's status and message.

    ``reading`` marks calls that read an object, where a refusal is also a
    ``FileNotFoundError`` (as in Composer).
    """
    cls = _BY_STATUS.get(status, S3osError)
    if reading and cls is PermissionDeniedError:
        cls = ReadPermissionDeniedError
    error = cls(message)
    if cls is S3osError:
        error.status = status
        error.status_name = _library.status_name(status)
    return error


def check(status: int, *, reading: bool = False) -> None:
    """Raises the exception for ``status`` unless it is S3OS_OK.

    Must run right after the call, on the same thread: it reads that thread's last error.
    """
    if status != 0:
        raise error_for(status, _library.last_error(), reading=reading)

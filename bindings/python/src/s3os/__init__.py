"""s3os: a native S3 object-store client with the interface of Composer's ``S3ObjectStore``.

    import s3os

    with s3os.S3ObjectStore("my-bucket", prefix="runs/exp1") as store:
        store.upload_object("ckpt/ep1.pt", "/tmp/ep1.pt")
        store.download_object("ckpt/ep1.pt", "/tmp/restore/ep1.pt")

The transfers run in the s3os C library (``libs3os``, bundled in this package; the
environment variable ``S3OS_LIBRARY`` names another build to load instead).
"""

from . import _library
from ._composer import COMPOSER_AVAILABLE
from ._logging import TRACE, sync_log_level
from .errors import (
    AlreadyExistsError,
    BufferTooSmallError,
    IntegrityError,
    InternalError,
    InvalidArgumentError,
    LocalIOError,
    NotFoundError,
    ObjectStoreTransientError,
    PermissionDeniedError,
    InProgressError,
    ReadPermissionDeniedError,
    S3osError,
    TLSError,
    TransferCancelledError,
    TransientError,
)
from .store import S3ObjectStore, TransferFuture
from .streams import ObjectReader, ObjectWriter

#: The version of the loaded libs3os (equal to this package's version when bundled).
__version__: str = _library.version()

#: The path of the loaded libs3os.
library_path: str = _library.path

__all__ = [
    "S3ObjectStore",
    "ObjectReader",
    "ObjectWriter",
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
    "TransferFuture",
    "ObjectStoreTransientError",
    "COMPOSER_AVAILABLE",
    "sync_log_level",
    "TRACE",
    "library_path",
    "__version__",
]

"""Composer's base classes when Composer is importable, stand-ins otherwise.

Composer imports PyTorch, so it is only imported when it is installed; s3os never requires
it. With Composer present, ``s3os.S3ObjectStore`` is a ``composer.utils.ObjectStore`` and
transient failures are Composer's own ``ObjectStoreTransientError``, which its retry logic
catches.
"""

from __future__ import annotations

import importlib.util
from typing import Any, Optional, Tuple


def _composer_classes() -> Optional[Tuple[type, type]]:
    if importlib.util.find_spec("composer") is None:
        return None
    try:
        from composer.utils import ObjectStore, ObjectStoreTransientError
    except ImportError:
        return None
    return ObjectStore, ObjectStoreTransientError


_found = _composer_classes()

#: True when ``composer.utils`` was importable when s3os was imported.
COMPOSER_AVAILABLE = _found is not None

if _found is not None:
    ObjectStoreBase: Any = _found[0]
    ObjectStoreTransientError: Any = _found[1]
else:
    ObjectStoreBase = object

    class ObjectStoreTransientError(RuntimeError):  # type: ignore[no-redef]
        """A failure that may go away when the operation is tried again later.

        The same role as ``composer.utils.ObjectStoreTransientError``, which s3os raises
        instead when Composer is installed.
        """

"""``S3ObjectStore``: Composer's S3 object store interface over the s3os C library."""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import os
import threading
from contextlib import contextmanager
from typing import (
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from . import _library, _logging
from ._composer import ObjectStoreBase
from ._library import LIST_FN, PROGRESS_FN, lib
from ._buffers import lent
from ._settings import Setting, store_settings
from .errors import BufferTooSmallError, InvalidArgumentError, S3osError, check, error_for
from .streams import ObjectReader, ObjectWriter

__all__ = ["S3ObjectStore", "TransferFuture"]

#: A progress callback: ``callback(bytes_done, total_bytes)``, bytes cumulative.
ProgressCallback = Callable[[int, int], Any]
PathType = Union[str, "os.PathLike[str]"]


def _c_text(value: Any, what: str) -> bytes:
    """``value`` as the NUL-terminated UTF-8 the library takes, or TypeError / ValueError."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be str, not {type(value).__name__}")
    if "\0" in value:
        raise ValueError(f"{what} must not contain a NUL character: {value!r}")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(
            f"{what} cannot be encoded as UTF-8 ({error.reason} at position {error.start}): "
            f"{value!r}"
        ) from None


def _c_path(filename: Any, what: str = "filename") -> bytes:
    """A ``str`` or ``os.PathLike`` file name as UTF-8 (file names undecodable as such fail)."""
    try:
        path = os.fspath(filename)
    except TypeError:
        raise TypeError(
            f"{what} must be str or os.PathLike, not {type(filename).__name__}"
        ) from None
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    return _c_text(path, what)


def _check_callback(callback: Any) -> None:
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, not {type(callback).__name__}")


class _Progress:
    """Runs the user's callback from the library; an exception in it cancels the transfer."""

    def __init__(self, callback: Optional[ProgressCallback]) -> None:
        self.callback = callback
        self.error: Optional[BaseException] = None
        # A NULL function pointer when there is no callback: the library then reports nothing.
        self.function = PROGRESS_FN(self._report) if callback is not None else PROGRESS_FN()

    def _report(self, bytes_done: int, bytes_total: int, _user_data: Any) -> int:
        if self.error is not None or self.callback is None:
            return 1
        try:
            self.callback(bytes_done, bytes_total)
        except BaseException as error:  # KeyboardInterrupt too: it cancels the transfer.
            self.error = error
            return 1
        return 0

    def finish(self, status: int, *, reading: bool) -> None:
        """Raises the callback's exception (the library's error as its context), or the error."""
        # The message is this thread's last error: read it before anything else calls s3os.
        failure = error_for(status, _library.last_error(), reading=reading) if status else None
        self.function = (
            PROGRESS_FN()
        )  # breaks the cycle through the bound method; never called again
        if self.error is not None:
            error, self.error = self.error, None
            if failure is None:
                raise error
            try:
                raise failure
            except S3osError:
                raise error  # noqa: B904 -- the library's error becomes its __context__
        if failure is not None:
            raise failure


class S3ObjectStore(ObjectStoreBase):  # type: ignore[misc, valid-type]
    """An S3 bucket (and prefix) as Composer's ``S3ObjectStore`` presents it, served by s3os.

    The constructor takes Composer's arguments. ``client_config`` takes the botocore
    ``Config`` keywords s3os has (``retries`` with ``max_attempts``, ``total_max_attempts``,
    ``mode``; ``connect_timeout``, ``read_timeout``; ``s3`` with ``addressing_style``;
    ``request_checksum_calculation``, ``response_checksum_validation``), ``transfer_config``
    a dict or an object (such as boto3's ``TransferConfig``) with ``multipart_threshold``,
    ``multipart_chunksize``, ``max_concurrency``. ``s3os_config`` passes further s3os
    configuration keys (see the README) as they are. An unsupported key raises
    ``ValueError`` naming it.

    Credentials and region not given come from the AWS chain (environment, profile files,
    ``credential_process``, web identity, instance metadata, ...), refreshed before they
    expire; ``endpoint_url`` defaults to ``S3_ENDPOINT_URL`` from the environment, as in
    Composer. As with boto3, ``AWS_CA_BUNDLE`` names a CA bundle to trust and
    ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` the proxies; ``s3os_config`` takes
    ``ca_bundle``, ``verify_tls``, ``proxy_url`` and ``no_proxy`` to set them per store. The
    library's log goes to the ``s3os`` logger (see :func:`s3os.sync_log_level`).

    Any number of threads may use one store at once; no lock is held while bytes move.
    After :meth:`close` every call raises ``ValueError``.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        region_name: Optional[str] = None,
        endpoint_url: Optional[str] = None,
        aws_access_key_id: Optional[str] = None,
        aws_secret_access_key: Optional[str] = None,
        aws_session_token: Optional[str] = None,
        client_config: Optional[Dict[Any, Any]] = None,
        transfer_config: Optional[Any] = None,
        *,
        s3os_config: Optional[Mapping[str, Any]] = None,
    ) -> None:
        # Set first: __del__ and close() must work even if the constructor fails below.
        self._lock = threading.Lock()
        self._stores: Dict[Optional[str], int] = {}
        self._in_flight = 0
        self._closed = False
        self._owner_pid = os.getpid()
        self._transfers: "set[TransferFuture]" = set()

        bucket_c = _c_text(bucket, "bucket")
        settings = store_settings(
            prefix,
            region_name,
            endpoint_url,
            aws_access_key_id,
            aws_secret_access_key,
            aws_session_token,
            client_config,
            transfer_config,
            s3os_config,
        )
        self._bucket_c = bucket_c
        self._settings = [
            (_c_text(s.key, f"the key {s.origin}"), _c_text(s.value, s.origin), s) for s in settings
        ]
        self._stores[None] = self._connect(self._settings)
        # The library normalises bucket and prefix (Composer's rules); read them back from it.
        location = self._uri(self._stores[None], b"")[len("s3://") :]
        self._bucket, _, self._prefix = location.partition("/")

    def _connect(self, settings: Sequence[Tuple[bytes, bytes, Setting]]) -> int:
        _logging._sync_if_forwarding()
        config = lib.s3os_config_new(self._bucket_c)
        if not config:
            raise InvalidArgumentError(_library.last_error())
        try:
            for key, value, setting in settings:
                status = lib.s3os_config_set(config, key, value)
                if status != 0:
                    error = error_for(status, _library.last_error())
                    if setting.origin != setting.key:  # name the argument the user wrote
                        error.message = f"{setting.origin}: {error.message}"
                        error.args = (error.message,)
                    raise error
            store = ctypes.c_void_p()
            check(lib.s3os_store_new(config, ctypes.byref(store)))
        finally:
            lib.s3os_config_free(config)
        assert store.value, "s3os_store_new succeeded without a store"
        return store.value

    @staticmethod
    def _uri(store: int, name: bytes) -> str:
        out = ctypes.c_void_p()
        check(lib.s3os_get_uri(store, name, ctypes.byref(out)))
        assert out.value is not None, "s3os_get_uri succeeded without a string"
        try:
            return _library.text(ctypes.string_at(out.value))
        finally:
            lib.s3os_string_free(out)

    # -- lifetime ------------------------------------------------------------------------

    @contextmanager
    def _store_for_call(self, acl: Optional[str] = None) -> Iterator[int]:
        """The C store for one call; it stays alive until the call ends, even across close()."""
        with self._lock:
            if self._closed:
                raise ValueError("I/O operation on a closed S3ObjectStore")
            self._in_flight += 1
        try:
            yield self._stores[None] if acl is None else self._acl_store(acl)
        finally:
            with self._lock:
                self._in_flight -= 1
                released = self._take_stores_if_unused()
            self._free(released)

    def _acl_store(self, acl: str) -> int:
        # A second C store configured with the ACL serves uploads that ask for it; created
        # on first use, kept for the next upload with the same ACL, freed by close().
        with self._lock:
            store = self._stores.get(acl)
        if store is not None:
            return store
        acl_setting = Setting("canned_acl", acl, "ExtraArgs['ACL']")
        acl_c = _c_text(acl, "ExtraArgs['ACL']")
        store = self._connect([*self._settings, (b"canned_acl", acl_c, acl_setting)])
        with self._lock:
            existing = self._stores.setdefault(acl, store)
        if existing != store:  # another thread made one meanwhile
            self._free([store])
        return existing

    def _take_stores_if_unused(self) -> List[int]:
        # Caller holds self._lock.
        if not self._closed or self._in_flight:
            return []
        stores, self._stores = list(self._stores.values()), {}
        return stores

    def _free(self, stores: List[int]) -> None:
        # A child process after fork() must not free its parent's stores (the library's rule).
        if os.getpid() != self._owner_pid:
            return
        for store in stores:
            lib.s3os_store_free(store)

    def close(self) -> None:
        """Releases the store's connections. Idempotent; later calls raise ``ValueError``.

        Calls still running on other threads finish first: the C store is freed when the last
        of them returns. Transfers started with the ``_async`` methods are cancelled, and
        ``close()`` returns once they have cleaned up.
        """
        lock = getattr(self, "_lock", None)
        if lock is None:  # the constructor failed before anything was allocated
            return
        with lock:
            self._closed = True
            released = self._take_stores_if_unused()
            running = list(getattr(self, "_transfers", ()))
        self._free(released)
        # Background transfers are cancelled; their cleanup is waited for, so that nothing of
        # this store runs once close() returns (their futures end with TransferCancelledError).
        for future in running:
            future._stop()
        for future in running:
            future._wait_cleanup()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def __enter__(self) -> "S3ObjectStore":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 -- at interpreter exit the library may be gone
            pass

    def __repr__(self) -> str:
        state = " (closed)" if self._closed else ""
        return f"<s3os.S3ObjectStore s3://{self._bucket}/{self._prefix}{state}>"

    # -- Composer's interface ------------------------------------------------------------

    @property
    def bucket(self) -> str:
        """The bucket name (without ``/``)."""
        return self._bucket

    @property
    def prefix(self) -> str:
        """The prefix of every key: empty, or with no leading ``/`` and one trailing ``/``."""
        return self._prefix

    def get_uri(self, object_name: str) -> str:
        """``s3://<bucket>/<prefix><object_name>``; the object need not exist."""
        name = _c_text(object_name, "object_name")
        with self._store_for_call() as store:
            return self._uri(store, name)

    def get_key(self, object_name: str) -> str:
        """The full key of ``object_name``: ``<prefix><object_name>``, as Composer's."""
        _c_text(object_name, "object_name")
        return f"{self.prefix}{object_name}"

    def get_object_size(self, object_name: str) -> int:
        """The object's size in bytes.

        Raises:
            FileNotFoundError: the object does not exist, or reading it was refused (403).
        """
        name = _c_text(object_name, "object_name")
        size = ctypes.c_uint64()
        with self._store_for_call() as store:
            check(lib.s3os_object_size(store, name, ctypes.byref(size)), reading=True)
        return size.value

    def upload_object(
        self,
        object_name: str,
        filename: PathType,
        callback: Optional[ProgressCallback] = None,
        **kwargs: Any,
    ) -> None:
        """Uploads the file ``filename`` as ``object_name``.

        ``callback(bytes_done, total)`` reports cumulative progress; an exception raised in it
        cancels the upload (nothing is left on the server) and is re-raised here. The only
        keyword is Composer's ``ExtraArgs``, of which s3os supports ``ACL`` (a canned ACL);
        without one, ``S3_CANNED_ACL`` from the environment applies.

        Raises:
            PermissionError: the credentials may not write the object.
            ValueError: an ``ExtraArgs`` key s3os does not support, or a bad name.
        """
        name = _c_text(object_name, "object_name")
        path = _c_path(filename)
        _check_callback(callback)
        acl = _upload_acl(kwargs)
        progress = _Progress(callback)
        with self._store_for_call(acl) as store:
            status = lib.s3os_upload_file(store, name, path, progress.function, None)
            progress.finish(status, reading=False)

    def download_object(
        self,
        object_name: str,
        filename: PathType,
        overwrite: bool = False,
        callback: Optional[ProgressCallback] = None,
    ) -> None:
        """Downloads ``object_name`` to the file ``filename``, creating parent directories.

        The file appears only complete and verified; on failure nothing is left behind.

        Raises:
            FileExistsError: ``filename`` exists and ``overwrite`` is false (before any request).
            FileNotFoundError: the object does not exist, or reading it was refused (403).
        """
        name = _c_text(object_name, "object_name")
        path = _c_path(filename)
        _check_callback(callback)
        progress = _Progress(callback)
        with self._store_for_call() as store:
            status = lib.s3os_download_file(
                store, name, path, bool(overwrite), progress.function, None
            )
            progress.finish(status, reading=True)

    def list_objects(self, prefix: Optional[str] = None) -> List[str]:
        """Full keys (store prefix included) of the objects whose names start with ``prefix``."""
        name_prefix = None if prefix is None else _c_text(prefix, "prefix")
        keys: List[str] = []
        failure: List[BaseException] = []

        def collect(name: bytes, _size: int, _user_data: Any) -> int:
            try:
                keys.append(self._prefix + name.decode("utf-8"))
            except BaseException as error:  # noqa: BLE001 -- stops the listing, re-raised below
                failure.append(error)
                return 1
            return 0

        with self._store_for_call() as store:
            check(lib.s3os_list_objects(store, name_prefix, LIST_FN(collect), None))
        if failure:
            raise failure[0]
        return keys

    def remove_object(self, object_name: str) -> None:
        """Deletes ``object_name``; deleting a missing object succeeds, as in S3."""
        name = _c_text(object_name, "object_name")
        with self._store_for_call() as store:
            check(lib.s3os_delete_object(store, name))


    # -- memory and streams ----------------------------------------------------------------

    def upload_bytes(
        self, object_name: str, data: Any, callback: Optional[ProgressCallback] = None
    ) -> None:
        """Uploads the bytes of ``data`` (bytes, bytearray, memoryview, a C-contiguous numpy
        array: anything with the buffer protocol) as ``object_name``, straight from its memory:
        parts are sent concurrently from it, never copied. ``data`` must not change during the
        call. ``callback`` as for :meth:`upload_object`.
        """
        name = _c_text(object_name, "object_name")
        _check_callback(callback)
        progress = _Progress(callback)
        with lent(data, writable=False, what="data") as (address, length):
            with self._store_for_call() as store:
                status = lib.s3os_upload_buffer(
                    store, name, address, length, progress.function, None
                )
                progress.finish(status, reading=False)

    def download_bytes(
        self, object_name: str, callback: Optional[ProgressCallback] = None
    ) -> bytes:
        """The whole object as ``bytes``, verified as :meth:`download_object` verifies it.

        The library downloads into memory it allocates; making the ``bytes`` copies it once
        (:meth:`download_into` fills a buffer of the caller's instead).
        """
        name = _c_text(object_name, "object_name")
        _check_callback(callback)
        progress = _Progress(callback)
        data = ctypes.c_void_p()
        length = ctypes.c_size_t()
        with self._store_for_call() as store:
            status = lib.s3os_download_alloc(
                store, name, ctypes.byref(data), ctypes.byref(length), progress.function, None
            )
            progress.finish(status, reading=True)
        if not data.value:
            return b""
        try:
            return ctypes.string_at(data.value, length.value)
        finally:
            lib.s3os_buffer_free(data.value, length.value)

    def download_into(
        self, object_name: str, buffer: Any, callback: Optional[ProgressCallback] = None
    ) -> int:
        """Downloads the whole object into ``buffer`` (any writable, C-contiguous bytes-like
        object: bytearray, memoryview, numpy array, mmap) and returns its size.

        Raises:
            BufferTooSmallError: the object is larger than ``buffer`` (its ``size`` says how
                large); nothing was written into ``buffer``.
            FileNotFoundError: the object does not exist, or reading it was refused (403).
        """
        name = _c_text(object_name, "object_name")
        _check_callback(callback)
        progress = _Progress(callback)
        size = ctypes.c_size_t()
        with lent(buffer, writable=True, what="buffer") as (address, capacity):
            with self._store_for_call() as store:
                status = lib.s3os_download_buffer(
                    store, name, address, capacity, ctypes.byref(size), progress.function, None
                )
                try:
                    progress.finish(status, reading=True)
                except BufferTooSmallError as error:
                    error.size = size.value
                    raise
        return size.value

    def read_range(self, object_name: str, offset: int, length: int) -> bytes:
        """The bytes ``[offset, offset + length)`` of the object; fewer if the object ends
        first, none if ``offset`` is its size. Checked by length and Content-Range (S3 keeps no
        checksum of a range); a read that holds the whole object also against its CRC.

        Raises:
            ValueError: ``offset`` or ``length`` is negative, or ``offset`` is beyond the end
                (the message names the object's size).
        """
        name = _c_text(object_name, "object_name")
        if not isinstance(offset, int) or not isinstance(length, int):
            raise TypeError("offset and length must be int")
        if offset < 0 or length < 0:
            raise ValueError(f"offset and length must not be negative: {offset}, {length}")
        buffer = bytearray(length)
        read = ctypes.c_size_t()
        with lent(buffer, writable=True, what="buffer") as (address, capacity):
            with self._store_for_call() as store:
                check(
                    lib.s3os_read_range(store, name, offset, address, capacity, ctypes.byref(read)),
                    reading=True,
                )
        if read.value == length:
            return bytes(buffer)
        return bytes(memoryview(buffer)[: read.value])

    def open_writer(self, object_name: str) -> ObjectWriter:
        """A binary stream (``io.RawIOBase``) that writes ``object_name``; it appears when the
        writer is closed. Use it in a ``with`` block: a clean exit completes the object, an
        exception aborts it. The writer keeps working after this store is closed.
        """
        name = _c_text(object_name, "object_name")
        handle = ctypes.c_void_p()
        with self._store_for_call() as store:
            check(lib.s3os_writer_open(store, name, ctypes.byref(handle)))
        assert handle.value, "s3os_writer_open succeeded without a writer"
        return ObjectWriter(handle.value, object_name)

    def open_reader(self, object_name: str) -> ObjectReader:
        """A seekable binary stream (``io.RawIOBase``) over ``object_name``, pinned to the
        version it finds. The reader keeps working after this store is closed.

        Raises:
            FileNotFoundError: the object does not exist, or reading it was refused (403).
        """
        name = _c_text(object_name, "object_name")
        handle = ctypes.c_void_p()
        with self._store_for_call() as store:
            check(lib.s3os_reader_open(store, name, ctypes.byref(handle)), reading=True)
        assert handle.value, "s3os_reader_open succeeded without a reader"
        return ObjectReader(handle.value, object_name)


    # -- many objects per call and background transfers ---------------------------------

    def upload_files(
        self,
        object_names: Sequence[str],
        filenames: Sequence[PathType],
        callback: Optional[ProgressCallback] = None,
    ) -> None:
        """Uploads ``filenames[i]`` as ``object_names[i]`` for every ``i``, many at a time
        (``max_objects_in_flight``, see the README), within one bound on memory.

        ``callback(bytes_done, total)`` reports all files together; an exception in it cancels
        every upload (each is cleaned up on the server) and is re-raised.

        Raises:
            S3osError: of the class of the first file (in order) that failed, once all have
                finished; one failure does not stop the others. It carries ``item_statuses``
                (each file's status, 0 for success) and ``failures`` (the failed object names,
                each with an exception of its own class).
        """
        names = _text_array(object_names, "object_names")
        paths = _path_array(filenames, "filenames")
        if len(names) != len(paths):
            raise ValueError(
                f"object_names and filenames differ in length ({len(names)} and {len(paths)})"
            )
        _check_callback(callback)
        statuses = (ctypes.c_int * len(names))()
        progress = _Progress(callback)
        with self._store_for_call() as store:
            status = lib.s3os_upload_files(
                store, names, paths, len(names), statuses, progress.function, None
            )
            _finish_batch(progress, status, list(object_names), statuses, reading=False)

    def download_files(
        self,
        object_names: Sequence[str],
        filenames: Sequence[PathType],
        overwrite: bool = False,
        callback: Optional[ProgressCallback] = None,
    ) -> None:
        """Downloads ``object_names[i]`` to ``filenames[i]`` for every ``i``, many at a time;
        each file as :meth:`download_object` does it (atomic, verified, nothing left behind).

        ``callback(bytes_done, total)`` reports all objects together; the total grows as each
        object's size becomes known. Failures are raised as for :meth:`upload_files`
        (``FileNotFoundError`` for a missing object, ``FileExistsError`` for an existing file).
        """
        names = _text_array(object_names, "object_names")
        paths = _path_array(filenames, "filenames")
        if len(names) != len(paths):
            raise ValueError(
                f"object_names and filenames differ in length ({len(names)} and {len(paths)})"
            )
        _check_callback(callback)
        statuses = (ctypes.c_int * len(names))()
        progress = _Progress(callback)
        with self._store_for_call() as store:
            status = lib.s3os_download_files(
                store, names, paths, len(names), bool(overwrite), statuses, progress.function, None
            )
            _finish_batch(progress, status, list(object_names), statuses, reading=True)

    def upload_dir(
        self,
        local_dir: PathType,
        object_prefix: str,
        callback: Optional[ProgressCallback] = None,
    ) -> None:
        """Uploads every regular file under ``local_dir`` (recursively; symbolic links are not
        followed) as ``<object_prefix>/<relative path>``.

        Raises:
            S3osError: of the class of the first file that failed (the message counts the
                failures), once all have finished.
        """
        path = _c_path(local_dir, "local_dir")
        prefix = _c_text(object_prefix, "object_prefix")
        _check_callback(callback)
        progress = _Progress(callback)
        with self._store_for_call() as store:
            status = lib.s3os_upload_dir(store, path, prefix, progress.function, None)
            progress.finish(status, reading=False)

    def download_prefix(
        self,
        object_prefix: str,
        local_dir: PathType,
        overwrite: bool = False,
        callback: Optional[ProgressCallback] = None,
    ) -> None:
        """Downloads every object under the folder ``object_prefix`` (a ``/`` is added when
        missing) into the same relative paths under ``local_dir``.

        Names that would leave ``local_dir`` (``..``, absolute, through a symbolic link) are
        refused one by one (``ValueError``, nothing written for them); the others go on.
        """
        prefix = _c_text(object_prefix, "object_prefix")
        path = _c_path(local_dir, "local_dir")
        _check_callback(callback)
        progress = _Progress(callback)
        with self._store_for_call() as store:
            status = lib.s3os_download_prefix(
                store, prefix, path, bool(overwrite), progress.function, None
            )
            progress.finish(status, reading=True)

    def delete_objects(self, object_names: Sequence[str]) -> None:
        """Deletes the objects (S3's DeleteObjects, 1,000 per request); missing ones count as
        deleted. Failures are raised as for :meth:`upload_files`."""
        names = _text_array(object_names, "object_names")
        statuses = (ctypes.c_int * len(names))()
        with self._store_for_call() as store:
            status = lib.s3os_delete_objects(store, names, len(names), statuses)
            _finish_batch(_Progress(None), status, list(object_names), statuses, reading=False)

    def delete_prefix(self, object_prefix: str) -> int:
        """Deletes every object under the folder ``object_prefix`` (not empty); the number
        deleted. On failure the exception's ``deleted`` says how many were deleted before."""
        prefix = _c_text(object_prefix, "object_prefix")
        deleted = ctypes.c_uint64()
        with self._store_for_call() as store:
            status = lib.s3os_delete_prefix(store, prefix, ctypes.byref(deleted))
            if status != 0:
                error = error_for(status, _library.last_error())
                error.deleted = deleted.value  # type: ignore[attr-defined]
                raise error
        return deleted.value

    def upload_object_async(
        self, object_name: str, filename: PathType, **kwargs: Any
    ) -> "TransferFuture":
        """Starts uploading ``filename`` as ``object_name`` in the background and returns at
        once a :class:`TransferFuture` (a ``concurrent.futures.Future``): ``result()`` waits
        and raises what :meth:`upload_object` would, ``cancel()`` stops the upload (aborted on
        the server), ``progress()`` gives ``(bytes_done, total)``. ``ExtraArgs`` as in
        :meth:`upload_object`.
        """
        name = _c_text(object_name, "object_name")
        path = _c_path(filename)
        acl = _upload_acl(kwargs)
        return self._start(
            acl,
            reading=False,
            start=lambda store, out: lib.s3os_upload_file_start(store, name, path, out),
        )

    def download_object_async(
        self, object_name: str, filename: PathType, overwrite: bool = False
    ) -> "TransferFuture":
        """Starts downloading ``object_name`` to ``filename`` in the background; see
        :meth:`upload_object_async` for the future and :meth:`download_object` for the rest.
        """
        name = _c_text(object_name, "object_name")
        path = _c_path(filename)
        return self._start(
            None,
            reading=True,
            start=lambda store, out: lib.s3os_download_file_start(
                store, name, path, bool(overwrite), out
            ),
        )

    def upload_bytes_async(self, object_name: str, data: Any) -> "TransferFuture":
        """Starts :meth:`upload_bytes` in the background and returns at once a
        :class:`TransferFuture` (see :meth:`upload_object_async`).

        ``data`` is lent to the transfer, without a copy: the future keeps it (and its buffer
        exported, so that a ``bytearray`` cannot be resized meanwhile) until it is done, and
        its bytes must not change before then.
        """
        name = _c_text(object_name, "object_name")
        with contextlib.ExitStack() as memory:
            address, length = memory.enter_context(lent(data, writable=False, what="data"))
            future = self._start(
                None,
                reading=False,
                start=lambda store, out: lib.s3os_upload_buffer_start(
                    store, name, address, length, out
                ),
                memory=memory.pop_all(),
            )
        return future

    def download_into_async(self, object_name: str, buffer: Any) -> "TransferFuture":
        """Starts :meth:`download_into` in the background and returns at once a
        :class:`TransferFuture` whose ``result()`` is the object's size.

        ``buffer`` is lent to the transfer: nothing else may read or write it until the future
        is done. ``result()`` raises :class:`BufferTooSmallError` (with ``size``) when the
        object does not fit, having written nothing into ``buffer``.
        """
        name = _c_text(object_name, "object_name")
        with contextlib.ExitStack() as memory:
            address, capacity = memory.enter_context(lent(buffer, writable=True, what="buffer"))
            future = self._start(
                None,
                reading=True,
                start=lambda store, out: lib.s3os_download_buffer_start(
                    store, name, address, capacity, out
                ),
                memory=memory.pop_all(),
                sized=True,
            )
        return future

    def _start(
        self,
        acl: Optional[str],
        *,
        reading: bool,
        start: Callable[[int, Any], int],
        memory: Optional[contextlib.ExitStack] = None,
        sized: bool = False,
    ) -> "TransferFuture":
        # The C store, and the memory lent to the transfer, stay alive until the transfer's
        # watcher is done with them, as for a call.
        resources = contextlib.ExitStack()
        if memory is not None:
            resources.push(memory)
        try:
            store = resources.enter_context(self._store_for_call(acl))
            handle = ctypes.c_void_p()
            check(start(store, ctypes.byref(handle)))
            future = TransferFuture(handle.value, reading, self, resources, sized=sized)
        except BaseException:
            resources.close()
            raise
        return future


def _upload_acl(kwargs: Mapping[str, Any]) -> Optional[str]:
    """The canned ACL asked for with Composer's ``ExtraArgs={'ACL': ...}``, if any."""
    unknown = sorted(set(kwargs) - {"ExtraArgs"})
    if unknown:
        raise ValueError(
            f"upload_object takes only the keyword ExtraArgs besides its parameters, not {unknown}"
        )
    extra_args = kwargs.get("ExtraArgs")
    if extra_args is None:
        return None
    if not isinstance(extra_args, Mapping):
        raise ValueError(f"ExtraArgs must be a dict, not {type(extra_args).__name__}")
    unsupported = sorted(str(key) for key in extra_args if key != "ACL")
    if unsupported:
        raise ValueError(
            f"ExtraArgs {unsupported} not supported by s3os: of the upload arguments only 'ACL' is"
        )
    acl = extra_args.get("ACL")
    if acl is None:
        return None
    if not isinstance(acl, str):
        raise TypeError(f"ExtraArgs['ACL'] must be str, not {type(acl).__name__}")
    return acl


# -- many objects per call and background transfers --------------------------------------------


def _text_array(values: Any, what: str) -> "ctypes.Array[ctypes.c_char_p]":
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"{what} must be a sequence (list, tuple) of names, not {type(values).__name__}")
    encoded = [_c_text(value, f"{what}[{i}]") for i, value in enumerate(values)]
    return (ctypes.c_char_p * len(encoded))(*encoded)


def _path_array(values: Any, what: str) -> "ctypes.Array[ctypes.c_char_p]":
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"{what} must be a sequence (list, tuple) of paths, not {type(values).__name__}")
    encoded = [_c_path(value, f"{what}[{i}]") for i, value in enumerate(values)]
    return (ctypes.c_char_p * len(encoded))(*encoded)


def _finish_batch(
    progress: _Progress,
    status: int,
    names: Sequence[str],
    statuses: "Optional[ctypes.Array[ctypes.c_int]]",
    *,
    reading: bool,
) -> None:
    """Raises as :meth:`_Progress.finish` does; the library's error for a batch carries the
    outcome of each item (``item_statuses``, ``failures``)."""
    try:
        progress.finish(status, reading=reading)
    except S3osError as error:
        if error.status == status and statuses is not None:
            _attach_items(error, names, list(statuses), reading=reading)
        raise
    except BaseException as error:
        library_error = error.__context__
        if isinstance(library_error, S3osError) and statuses is not None:
            _attach_items(library_error, names, list(statuses), reading=reading)
        raise


def _attach_items(
    error: S3osError, names: Sequence[str], statuses: List[int], *, reading: bool
) -> None:
    failures: Dict[str, S3osError] = {}
    for name, status in zip(names, statuses):
        if status == 0 or name in failures:
            continue
        if not failures and status == error.status:
            failures[name] = error  # the first failure: the library's message is about it
        else:
            failures[name] = error_for(
                status, f"{name}: {_library.status_name(status)} (one item of a batch)", reading=reading
            )
    error.item_statuses = statuses  # type: ignore[attr-defined]
    error.failures = failures  # type: ignore[attr-defined]


class TransferFuture(concurrent.futures.Future):  # type: ignore[type-arg]
    """A transfer running in the background (from ``upload_object_async``,
    ``download_object_async``, ``upload_bytes_async`` or ``download_into_async``).

    ``result(timeout)`` returns ``None`` once the transfer succeeded (``download_into_async``:
    the object's size), or raises its error;
    ``cancel()`` stops a transfer that has not finished (it is cleaned up in the background:
    a cancelled upload is aborted, a cancelled download leaves no file) and returns ``True``;
    ``progress()`` gives ``(bytes_done, total)`` (``(0, 0)`` until the total is known). A
    cancellation that lands after the bytes were all moved but before the future was resolved
    still reports the future cancelled, though the object or file is then in place. Callbacks
    added with ``add_done_callback`` run on the transfer's watcher thread.
    """

    def __init__(
        self, handle: Optional[int], reading: bool, store: Any, calls: Any, *, sized: bool = False
    ) -> None:
        super().__init__()
        self._handle = handle
        self._reading = reading
        self._sized = sized
        self._handle_lock = threading.Lock()
        self._final_progress = (0, 0)
        self._store = store
        self._calls = calls
        self._cleaned_up = threading.Event()
        with store._lock:
            store._transfers.add(self)
        self._watcher = threading.Thread(
            target=self._watch, name="s3os-transfer", daemon=True
        )
        self._watcher.start()

    def progress(self) -> Tuple[int, int]:
        """``(bytes_done, total)`` so far; never blocks."""
        with self._handle_lock:
            if self._handle is None:
                return self._final_progress
            return self._read_progress()

    def _read_progress(self) -> Tuple[int, int]:
        done, total = ctypes.c_uint64(), ctypes.c_uint64()
        lib.s3os_transfer_progress(self._handle, ctypes.byref(done), ctypes.byref(total))
        return done.value, total.value

    def cancel(self) -> bool:
        """Stops the transfer unless it has finished; ``True`` if the future is cancelled."""
        cancelled = super().cancel()
        if cancelled:
            self._stop()
        return cancelled

    def _stop(self) -> None:
        with self._handle_lock:
            if self._handle is not None:
                lib.s3os_transfer_cancel(self._handle)

    def _wait_cleanup(self) -> None:
        if threading.current_thread() is not self._watcher:
            self._cleaned_up.wait()

    def _watch(self) -> None:
        try:
            status = lib.s3os_transfer_wait(self._handle, -1)
            message = _library.last_error() if status else ""
            size: Optional[int] = None
            if self._sized:
                announced = ctypes.c_uint64()
                if lib.s3os_transfer_object_size(self._handle, ctypes.byref(announced)) == 0:
                    size = announced.value
            with self._handle_lock:
                self._final_progress = self._read_progress()
                lib.s3os_transfer_free(self._handle)
                self._handle = None
            store = self._store
            with store._lock:
                store._transfers.discard(self)
            self._calls.__exit__(None, None, None)
            self._store = self._calls = None
        finally:
            self._cleaned_up.set()
        if not self.set_running_or_notify_cancel():
            return
        if status == 0:
            self.set_result(size)
        else:
            error = error_for(status, message, reading=self._reading)
            if isinstance(error, BufferTooSmallError):
                error.size = size
            self.set_exception(error)

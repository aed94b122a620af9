"""The memory of objects with the buffer protocol (bytes, bytearray, memoryview, mmap, numpy
arrays, ...), lent to the C library for one call without a copy.

``PyObject_GetBuffer`` gives the address of the object's bytes and keeps them in place (a
bytearray cannot be resized, for one) until ``PyBuffer_Release``; the C call happens in
between. Only C-contiguous memory is accepted, as the library takes one run of bytes.
"""

from __future__ import annotations

import ctypes
from contextlib import contextmanager
from ctypes import POINTER, c_char_p, c_int, c_ssize_t, c_void_p, py_object
from typing import Any, Iterator, Tuple

# From CPython's object.h: the flags of PyObject_GetBuffer.
_PYBUF_WRITABLE = 0x0001
_PYBUF_C_CONTIGUOUS = 0x0020 | 0x0008  # PyBUF_STRIDES | C contiguity


class _PyBuffer(ctypes.Structure):
    # Py_buffer, as CPython has laid it out since 3.3.
    _fields_ = [
        ("buf", c_void_p),
        ("obj", c_void_p),
        ("len", c_ssize_t),
        ("itemsize", c_ssize_t),
        ("readonly", c_int),
        ("ndim", c_int),
        ("format", c_char_p),
        ("shape", POINTER(c_ssize_t)),
        ("strides", POINTER(c_ssize_t)),
        ("suboffsets", POINTER(c_ssize_t)),
        ("internal", c_void_p),
    ]


_get_buffer = ctypes.pythonapi.PyObject_GetBuffer
_get_buffer.argtypes = [py_object, POINTER(_PyBuffer), c_int]
_get_buffer.restype = c_int
_release_buffer = ctypes.pythonapi.PyBuffer_Release
_release_buffer.argtypes = [POINTER(_PyBuffer)]
_release_buffer.restype = None


def _readable(data: Any) -> bool:
    """Whether ``data`` lends contiguous bytes for reading."""
    view = _PyBuffer()
    try:
        _get_buffer(data, ctypes.byref(view), _PYBUF_C_CONTIGUOUS)
    except (BufferError, TypeError):
        return False
    _release_buffer(ctypes.byref(view))
    return True


@contextmanager
def lent(data: Any, *, writable: bool, what: str) -> Iterator[Tuple[int, int]]:
    """``(address, length)`` of ``data``'s bytes for the duration of the ``with`` block.

    Raises TypeError for an object without the buffer protocol (or a read-only one where
    ``writable``), and ValueError for memory that is not C-contiguous.
    """
    if isinstance(data, str):
        raise TypeError(f"{what} must be a bytes-like object, not str (encode it first)")
    flags = _PYBUF_C_CONTIGUOUS | (_PYBUF_WRITABLE if writable else 0)
    view = _PyBuffer()
    try:
        _get_buffer(data, ctypes.byref(view), flags)
    except BufferError as error:
        if writable and _readable(data):
            raise TypeError(f"{what} must be writable ({type(data).__name__} is read-only)") from None
        raise ValueError(f"{what}: {error} (a C-contiguous buffer is needed)") from None
    except TypeError:
        kind = "a writable bytes-like object" if writable else "a bytes-like object"
        raise TypeError(f"{what} must be {kind}, not {type(data).__name__}") from None
    try:
        yield (view.buf or 0), view.len
    finally:
        _release_buffer(ctypes.byref(view))

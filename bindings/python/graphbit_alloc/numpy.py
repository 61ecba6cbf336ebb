"""NumPy array data through graphbit-alloc (NEP 49 memory handlers).

    import numpy as np
    import graphbit_alloc.numpy as gbnp

    with gbnp.using():                   # arrays made here: graphbit-alloc
        a = np.ones(1_000_000)
    gbnp.install()                       # from now on, in this thread
    ...
    gbnp.uninstall()                     # back to the handler before install()

NumPy (1.22 and later) allocates the data of every array it creates with the
*current memory handler*, a ``PyCapsule`` named ``"mem_handler"`` holding a
``PyDataMem_Handler`` (name, version 1, and ``ctx``/``malloc``/``calloc``/
``realloc``/``free`` function pointers). This module builds one with ctypes
whose functions are the library's own ``gb_ctx_*`` exports, so NumPy calls
straight into graphbit-alloc: no Python runs per allocation and nothing is
compiled. It is set with ``PyDataMem_SetHandler``, taken from NumPy's C-API
table (the ``_ARRAY_API`` capsule of ``numpy._core._multiarray_umath``, or
``numpy.core._multiarray_umath`` before NumPy 2), slot 304 in NumPy 1.22 to
2.x alike.

What NumPy guarantees, and so what this module does:

* Each array keeps the handler it was created with and is resized and freed
  by it, whatever the current handler is later: arrays made before
  ``install()`` stay NumPy's, arrays made inside stay graphbit-alloc's after
  ``uninstall()`` (the capsule and the handler it points at are never freed).
* The current handler is a context variable: it applies to the calling thread
  (and asyncio task) only. A new thread starts with NumPy's default handler,
  so call ``install()`` or ``using()`` in each thread that should use it.
* Only array *data* goes through the handler; NumPy's small internal blocks
  (shapes, strides) and the array objects themselves do not.

The handler's ``free(ctx, ptr, size)`` is ``gb_ctx_free(ctx, ptr)``, which
ignores the size (an extra argument is harmless in the C calling conventions
of every platform the library supports): NumPy passes the array's *current*
byte count, which is not always what was allocated (``a.resize(0)`` keeps a
block of one item and frees it as 1 byte; tests/test_numpy.py shows it), and
a sized free with a wrong size is undefined behaviour in jemalloc.
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import importlib
import re
import threading
from typing import Iterator, Optional

from . import library

__all__ = [
    "HANDLER_NAME",
    "NEP49Unavailable",
    "available",
    "handler",
    "handler_name",
    "install",
    "uninstall",
    "using",
    "is_installed",
]

#: The name NumPy reports for arrays allocated here (get_handler_name).
HANDLER_NAME = "graphbit_alloc"

# Slots of NumPy's C-API table (numpy/_core/code_generators/numpy_api.py; the
# same in __multiarray_api.h of NumPy 1.22-1.26 and 2.x).
_SLOT_FEATURE_VERSION = 211  # unsigned int PyArray_GetNDArrayCFeatureVersion(void)
_SLOT_SET_HANDLER = 304      # PyObject *PyDataMem_SetHandler(PyObject *handler)
_SLOT_GET_HANDLER = 305      # PyObject *PyDataMem_GetHandler(void)
# NPY_1_22_API_VERSION: the C-API feature version that added the handlers.
_NEP49_FEATURE_VERSION = 0x0F
_NEP49_NUMPY = (1, 22)


class NEP49Unavailable(RuntimeError):
    """The NumPy in use has no memory handlers (NEP 49 came in NumPy 1.22)."""


class _PyDataMemAllocator(ctypes.Structure):
    # numpy/ndarraytypes.h; "the declaration of free differs from PyMemAllocatorEx"
    _fields_ = [
        ("ctx", ctypes.c_void_p),
        ("malloc", ctypes.c_void_p),   # void *(*)(void *ctx, size_t size)
        ("calloc", ctypes.c_void_p),   # void *(*)(void *ctx, size_t nelem, size_t elsize)
        ("realloc", ctypes.c_void_p),  # void *(*)(void *ctx, void *ptr, size_t new_size)
        ("free", ctypes.c_void_p),     # void (*)(void *ctx, void *ptr, size_t size)
    ]


class _PyDataMemHandler(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char * 127),
        ("version", ctypes.c_uint8),
        ("allocator", _PyDataMemAllocator),
    ]


_CAPSULE_NAME = b"mem_handler"

# The C API of the running interpreter, as ctypes.pythonapi but with function
# objects of its own, so that declaring their types here changes nobody else's.
_pythonapi = ctypes.PyDLL(ctypes.pythonapi._name, handle=ctypes.pythonapi._handle)
_PyCapsule_New = _pythonapi.PyCapsule_New
_PyCapsule_New.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
_PyCapsule_New.restype = ctypes.py_object
_PyCapsule_GetPointer = _pythonapi.PyCapsule_GetPointer
_PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
_PyCapsule_GetPointer.restype = ctypes.c_void_p
_PyCapsule_IsValid = _pythonapi.PyCapsule_IsValid
_PyCapsule_IsValid.argtypes = [ctypes.py_object, ctypes.c_char_p]
_PyCapsule_IsValid.restype = ctypes.c_int
_PyMem_RawCalloc = _pythonapi.PyMem_RawCalloc
_PyMem_RawCalloc.argtypes = [ctypes.c_size_t, ctypes.c_size_t]
_PyMem_RawCalloc.restype = ctypes.c_void_p


class _Api:
    """NumPy's handler functions, taken from its C-API table."""

    def __init__(self):
        try:
            np = importlib.import_module("numpy")
        except ImportError as e:
            raise NEP49Unavailable(f"graphbit_alloc.numpy needs NumPy (1.22 or later): {e}") from e
        self.numpy = np
        version = getattr(np, "__version__", "0")
        parts = tuple(int(p) for p in re.findall(r"\d+", version)[:2])
        if parts < _NEP49_NUMPY:
            raise NEP49Unavailable(
                f"NumPy {version} has no memory handlers (NEP 49: PyDataMem_SetHandler "
                f"came in NumPy 1.22): upgrade NumPy to use graphbit_alloc.numpy"
            )
        umath = multiarray = None
        for package in ("numpy._core", "numpy.core"):
            try:
                umath = importlib.import_module(package + "._multiarray_umath")
                multiarray = importlib.import_module(package + ".multiarray")
                break
            except ImportError:
                continue
        table_capsule = getattr(umath, "_ARRAY_API", None)
        if table_capsule is None or not _PyCapsule_IsValid(table_capsule, None):
            raise NEP49Unavailable(
                f"NumPy {version}: no C-API table (_ARRAY_API capsule) in {np.__file__}"
            )
        table = ctypes.cast(_PyCapsule_GetPointer(table_capsule, None),
                            ctypes.POINTER(ctypes.c_void_p))
        # The table's own account of its features, before reading the slots
        # it may not have (a table from before 1.22 is shorter).
        feature = ctypes.CFUNCTYPE(ctypes.c_uint)(table[_SLOT_FEATURE_VERSION])()
        if feature < _NEP49_FEATURE_VERSION:
            raise NEP49Unavailable(
                f"NumPy {version} has C-API feature version {feature:#x}; memory handlers "
                f"(NEP 49) need {_NEP49_FEATURE_VERSION:#x} (NumPy 1.22) or later"
            )
        self.feature_version = feature
        self.table_capsule = table_capsule  # keeps the table alive
        self.multiarray = multiarray
        # PYFUNCTYPE: called with the GIL held, a Python error raised as such.
        self.set_handler = ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.py_object)(
            table[_SLOT_SET_HANDLER])
        self.get_handler = ctypes.PYFUNCTYPE(ctypes.py_object)(table[_SLOT_GET_HANDLER])


_lock = threading.Lock()
_api_instance: Optional[_Api] = None
_capsule = None
# The handlers that install() replaced, innermost last, per context (as
# NumPy's own current handler).
_previous: contextvars.ContextVar = contextvars.ContextVar(
    "graphbit_alloc.numpy.previous", default=())
# How many of those belong to enclosing using() blocks: uninstall() inside a
# block undoes only what was installed inside it.
_floor: contextvars.ContextVar = contextvars.ContextVar("graphbit_alloc.numpy.floor", default=0)


def _api() -> _Api:
    global _api_instance
    with _lock:
        if _api_instance is None:
            _api_instance = _Api()
        return _api_instance


def available() -> bool:
    """Whether the NumPy in use has memory handlers (NumPy 1.22 or later)."""
    try:
        _api()
    except NEP49Unavailable:
        return False
    return True


def handler():
    """The ``"mem_handler"`` capsule for graphbit-alloc (made on first call,
    then always the same object): what install() gives PyDataMem_SetHandler."""
    global _capsule
    _api()  # NumPy with memory handlers, or NEP49Unavailable
    with _lock:
        if _capsule is not None:
            return _capsule
        lib = library()
        # The handler and the capsule's name live in a block that is never
        # freed: every array made with the handler keeps a reference to the
        # capsule and reads the handler when it is freed, which may happen
        # during interpreter shutdown, after this module's globals are gone.
        size = ctypes.sizeof(_PyDataMemHandler)
        block = _PyMem_RawCalloc(1, size + len(_CAPSULE_NAME) + 1)
        if not block:
            raise MemoryError("graphbit_alloc.numpy: no memory for the handler")
        h = _PyDataMemHandler.from_address(block)
        h.name = HANDLER_NAME.encode()
        h.version = 1
        h.allocator.ctx = None
        h.allocator.malloc = lib.function_address("gb_ctx_malloc")
        h.allocator.calloc = lib.function_address("gb_ctx_calloc")
        h.allocator.realloc = lib.function_address("gb_ctx_realloc")
        # Unsized: NumPy's size is not always the allocated one (module doc).
        h.allocator.free = lib.function_address("gb_ctx_free")
        name = block + size
        ctypes.memmove(name, _CAPSULE_NAME, len(_CAPSULE_NAME))
        _capsule = _PyCapsule_New(block, name, None)
        return _capsule


def install() -> None:
    """Arrays this thread (context) creates from now on get their data from
    graphbit-alloc, until the matching uninstall(). Calls nest."""
    api = _api()
    capsule = handler()
    previous = api.set_handler(capsule)
    _previous.set(_previous.get() + (previous,))


def uninstall() -> bool:
    """Undoes the latest install() of this thread (context): the handler that
    was current before it is current again. Arrays already made keep theirs.
    Returns False (and does nothing) when there is no install() to undo."""
    stack = _previous.get()
    if len(stack) <= _floor.get():
        return False
    _api().set_handler(stack[-1])
    _previous.set(stack[:-1])
    return True


@contextlib.contextmanager
def using() -> Iterator[None]:
    """``with using():`` arrays created in the block (in this thread) get their
    data from graphbit-alloc; on leaving, the handler that was current on
    entering is restored and install() calls made inside the block and not
    undone are dropped with it. Inside the block, uninstall() undoes only
    install() calls made inside it. So blocks nest, also with install()."""
    api = _api()
    depth = len(_previous.get())
    floor = _floor.set(depth)
    previous = api.set_handler(handler())
    try:
        yield
    finally:
        api.set_handler(previous)
        _previous.set(_previous.get()[:depth])
        _floor.reset(floor)


def is_installed() -> bool:
    """Whether graphbit-alloc is this thread's (context's) current handler."""
    return _api().get_handler() is handler()


def handler_name(array=None) -> Optional[str]:
    """NumPy's get_handler_name: the current handler's name, or, given an
    array, the name of the handler that owns its data (None for a view)."""
    multiarray = _api().multiarray
    return multiarray.get_handler_name() if array is None else multiarray.get_handler_name(array)

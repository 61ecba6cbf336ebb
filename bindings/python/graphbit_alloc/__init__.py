"""graphbit-alloc from Python: the C API over ctypes (no compiler needed).

The shared library is found, in this order, at: the path given to
``load(path)``, the ``GRAPHBIT_ALLOC_LIB`` environment variable, a
``libgraphbit_alloc_dlopen.so*`` next to this package, or the system's library
path (``ctypes.util.find_library("graphbit_alloc_dlopen")``). It is loaded into
the running interpreter with dlopen, which is why it is the dlopen variant of
the library: the default ``libgraphbit_alloc.so`` uses initial-exec TLS, which
a dlopen into a running interpreter cannot have on jemalloc ("cannot allocate
memory in static TLS block"); a path to it is still tried, and that error is
explained.

    import graphbit_alloc as gb
    with gb.Buffer(4096) as buf:        # freed when the block ends
        buf.view()[:5] = b"hello"
    print(gb.allocator_name(), gb.verify(), gb.stats().allocated)

Functions that allocate raise ``MemoryError`` when the library returns NULL
with ``ENOMEM``, and ``ValueError`` for ``EINVAL`` (a bad alignment).

``graphbit_alloc.numpy`` makes NumPy allocate array data through the library
(NEP 49): ``with graphbit_alloc.numpy.using(): ...``.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import dataclasses
import errno
import json
import os
import operator
import pathlib
import sys
import threading
import weakref
from typing import Optional

__all__ = [
    "Buffer",
    "Heap",
    "HeapStats",
    "Library",
    "Stats",
    "STAT_UNAVAILABLE",
    "load",
    "library",
    "allocator_name",
    "allocator_version",
    "version",
    "version_number",
    "verify",
    "verify_report",
    "stats",
    "trim",
    "thread_idle",
    "owns",
    "backend_stats_text",
    "profile",
]

ENV_VAR = "GRAPHBIT_ALLOC_LIB"
#: Value of a gb_stats_t field the backend does not keep (UINT64_MAX).
STAT_UNAVAILABLE = 2**64 - 1

_c_size = ctypes.c_size_t
_c_void_p = ctypes.c_void_p
#: The largest size_t: ctypes would cut a larger int modulo 2**64.
SIZE_MAX = 2 ** (8 * ctypes.sizeof(ctypes.c_size_t)) - 1


def _size(value, what: str = "size") -> int:
    """A size or count as C takes it, as bytearray() checks one: an int (or
    anything with __index__; TypeError otherwise), >= 0 (ValueError), at most
    SIZE_MAX (OverflowError: it does not fit a size_t)."""
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an int, not {type(value).__name__}") from None
    if number < 0:
        raise ValueError(f"{what} must be >= 0, not {number}")
    if number > SIZE_MAX:
        raise OverflowError(f"{what} {number} does not fit a size_t (at most {SIZE_MAX})")
    return number


class _GbStats(ctypes.Structure):
    """gb_stats_t, field for field."""

    _fields_ = [
        ("size", ctypes.c_size_t),
        ("allocated", ctypes.c_uint64),
        ("active", ctypes.c_uint64),
        ("resident", ctypes.c_uint64),
        ("mapped", ctypes.c_uint64),
        ("retained", ctypes.c_uint64),
        ("peak_resident", ctypes.c_uint64),
    ]


class _GbHeapStats(ctypes.Structure):
    _fields_ = [
        ("size", _c_size),
        ("limit_bytes", ctypes.c_uint64),
        ("allocated_bytes", ctypes.c_uint64),
        ("peak_allocated_bytes", ctypes.c_uint64),
        ("blocks", ctypes.c_uint64),
        ("refused", ctypes.c_uint64),
    ]


# Every function of include/graphbit_alloc.h: name -> (argtypes, restype).
# tests/test_binding.py checks that this covers the header.
SIGNATURES = {
    "gb_alloc": ([_c_size], _c_void_p),
    "gb_calloc": ([_c_size, _c_size], _c_void_p),
    "gb_realloc": ([_c_void_p, _c_size], _c_void_p),
    "gb_aligned_alloc": ([_c_size, _c_size], _c_void_p),
    "gb_free": ([_c_void_p], None),
    "gb_free_sized": ([_c_void_p, _c_size], None),
    "gb_free_aligned_sized": ([_c_void_p, _c_size, _c_size], None),
    "gb_usable_size": ([_c_void_p], _c_size),
    "gb_allocator_name": ([], ctypes.c_char_p),
    "gb_allocator_version": ([], ctypes.c_char_p),
    "gb_version": ([], ctypes.c_char_p),
    "gb_version_number": ([], ctypes.c_uint32),
    "gb_verify": ([], ctypes.c_bool),
    "gb_verify_report": ([ctypes.c_char_p, _c_size], _c_size),
    "gb_stats": ([ctypes.POINTER(_GbStats)], ctypes.c_int),
    "gb_trim": ([], ctypes.c_int),
    "gb_thread_idle": ([], ctypes.c_int),
    "gb_owns": ([_c_void_p], ctypes.c_bool),
    "gb_backend_stats_text": ([ctypes.c_char_p, _c_size], _c_size),
    # Heap profiles (ENOTSUP unless the library was built with profiling).
    "gb_profile_start": ([_c_size], ctypes.c_int),
    "gb_profile_stop": ([], ctypes.c_int),
    "gb_profile_dump": ([ctypes.c_char_p], ctypes.c_int),
    "gb_profile_dump_peak": ([ctypes.c_char_p], ctypes.c_int),
    # Adapters for other libraries' allocator hooks (src/ffi/adapters.rs);
    # graphbit_alloc.numpy hands NumPy the addresses of the gb_ctx_* ones.
    "gb_lua_alloc": ([_c_void_p, _c_void_p, _c_size, _c_size], _c_void_p),
    "gb_ctx_malloc": ([_c_void_p, _c_size], _c_void_p),
    "gb_ctx_calloc": ([_c_void_p, _c_size, _c_size], _c_void_p),
    "gb_ctx_realloc": ([_c_void_p, _c_void_p, _c_size], _c_void_p),
    "gb_ctx_free": ([_c_void_p, _c_void_p], None),
    "gb_ctx_free_sized": ([_c_void_p, _c_void_p, _c_size], None),
    # Heaps (src/ffi/heap.rs): graphbit_alloc.Heap.
    "gb_heap_new": ([_c_size], _c_void_p),
    "gb_heap_alloc": ([_c_void_p, _c_size], _c_void_p),
    "gb_heap_calloc": ([_c_void_p, _c_size, _c_size], _c_void_p),
    "gb_heap_realloc": ([_c_void_p, _c_void_p, _c_size], _c_void_p),
    "gb_heap_aligned_alloc": ([_c_void_p, _c_size, _c_size], _c_void_p),
    "gb_heap_destroy": ([_c_void_p], None),
    "gb_heap_stats": ([_c_void_p, ctypes.POINTER(_GbHeapStats)], ctypes.c_int),
}


@dataclasses.dataclass(frozen=True)
class Stats:
    """gb_stats() in bytes; None where the backend does not keep a figure."""

    allocated: Optional[int]
    active: Optional[int]
    resident: Optional[int]
    mapped: Optional[int]
    retained: Optional[int]
    peak_resident: Optional[int]


def _candidates(path):
    """Where to look for the library, in order, with what each came from."""
    if path is not None:
        yield os.fspath(path), "the path argument"
        return
    env = os.environ.get(ENV_VAR)
    if env:
        yield env, f"${ENV_VAR}"
        return
    here = pathlib.Path(__file__).resolve().parent
    for found in sorted(here.glob("libgraphbit_alloc_dlopen.so*")):
        yield str(found), "next to the package"
    system = ctypes.util.find_library("graphbit_alloc_dlopen")
    if system:
        yield system, "the system library path"


def _explain(error):
    """The loader's message, with what to do when it is the TLS limit."""
    text = str(error)
    if "static TLS" in text:
        text += (
            " (this is the initial-exec build, for programs that link it at start-up;"
            " load libgraphbit_alloc_dlopen.so instead)"
        )
    return text


class Library:
    """The loaded shared library, with every function declared."""

    def __init__(self, path=None):
        tried = []
        for candidate, origin in _candidates(path):
            try:
                self.cdll = ctypes.CDLL(candidate, use_errno=True)
            except OSError as e:
                tried.append(f"{candidate} ({origin}): {_explain(e)}")
                continue
            self.path = candidate
            break
        else:
            where = "; ".join(tried) or (
                f"nothing: pass a path, set {ENV_VAR}, or install libgraphbit_alloc_dlopen.so"
            )
            raise OSError(f"graphbit_alloc: cannot load the library, tried {where}")
        for name, (argtypes, restype) in SIGNATURES.items():
            function = getattr(self.cdll, name)
            function.argtypes, function.restype = argtypes, restype

    def __getattr__(self, name):
        # lib.gb_alloc(...) and friends: the declared ctypes functions.
        if name.startswith("gb_"):
            return getattr(self.cdll, name)
        raise AttributeError(name)

    def function_address(self, name: str) -> int:
        """The address of one of the library's functions (e.g. "gb_ctx_malloc"),
        for C hooks that take a function pointer (graphbit_alloc.numpy)."""
        if name not in SIGNATURES:
            raise AttributeError(f"{name} is not a function of graphbit_alloc.h")
        return ctypes.cast(getattr(self.cdll, name), _c_void_p).value

    def _check(self, pointer, what):
        if pointer is not None:
            return pointer
        code = ctypes.get_errno()
        if code == errno.EINVAL:
            raise ValueError(f"{what}: invalid argument (EINVAL)")
        raise MemoryError(f"{what}: out of memory ({errno.errorcode.get(code, code)})")

    # --- allocation (raw addresses; prefer Buffer) ---
    def alloc(self, size: int) -> int:
        """gb_alloc: the block's address; MemoryError on failure."""
        size = _size(size)
        ctypes.set_errno(0)
        return self._check(self.cdll.gb_alloc(size), f"gb_alloc({size})")

    def calloc(self, count: int, size: int) -> int:
        count, size = _size(count, "count"), _size(size)
        ctypes.set_errno(0)
        return self._check(self.cdll.gb_calloc(count, size), f"gb_calloc({count}, {size})")

    def realloc(self, address: Optional[int], size: int) -> int:
        """gb_realloc; on failure the old block is untouched and still owned."""
        size = _size(size)
        ctypes.set_errno(0)
        return self._check(self.cdll.gb_realloc(address, size), f"gb_realloc(..., {size})")

    def aligned_alloc(self, alignment: int, size: int) -> int:
        alignment, size = _size(alignment, "alignment"), _size(size)
        ctypes.set_errno(0)
        return self._check(
            self.cdll.gb_aligned_alloc(alignment, size),
            f"gb_aligned_alloc({alignment}, {size})",
        )

    def free(self, address: Optional[int], size: Optional[int] = None,
             alignment: Optional[int] = None) -> None:
        """gb_free, or gb_free_sized / gb_free_aligned_sized when given the size."""
        if size is not None:
            size = _size(size)
        if alignment is not None:
            alignment = _size(alignment, "alignment")
        if size is None:
            self.cdll.gb_free(address)
        elif alignment is None:
            self.cdll.gb_free_sized(address, size)
        else:
            self.cdll.gb_free_aligned_sized(address, alignment, size)

    def usable_size(self, address: Optional[int]) -> int:
        return self.cdll.gb_usable_size(address)

    # --- information ---
    def allocator_name(self) -> str:
        return self.cdll.gb_allocator_name().decode()

    def allocator_version(self) -> str:
        return self.cdll.gb_allocator_version().decode()

    def version(self) -> str:
        return self.cdll.gb_version().decode()

    def version_number(self) -> int:
        return self.cdll.gb_version_number()

    def verify(self) -> bool:
        return bool(self.cdll.gb_verify())

    def _text(self, function) -> str:
        # snprintf-style: ask for the length, then fill; retry if it grew.
        while True:
            needed = function(None, 0)
            buf = ctypes.create_string_buffer(needed + 1)
            if function(buf, len(buf)) <= needed:
                return buf.value.decode()

    def verify_report(self) -> dict:
        """gb_verify_report, parsed from JSON."""
        return json.loads(self._text(self.cdll.gb_verify_report))

    def backend_stats_text(self) -> str:
        """gb_backend_stats_text: the backend's own statistics report."""
        return self._text(self.cdll.gb_backend_stats_text)

    def stats(self) -> Stats:
        raw = _GbStats(size=ctypes.sizeof(_GbStats))
        code = self.cdll.gb_stats(ctypes.byref(raw))
        if code != 0:
            raise OSError(code, f"gb_stats failed: {os.strerror(code)}")
        values = {}
        for field in dataclasses.fields(Stats):
            value = getattr(raw, field.name)
            values[field.name] = None if value == STAT_UNAVAILABLE else value
        return Stats(**values)

    def trim(self) -> None:
        """gb_trim: give unused memory back to the OS now (slow)."""
        code = self.cdll.gb_trim()
        if code != 0:
            raise OSError(code, f"gb_trim failed: {os.strerror(code)}")

    def thread_idle(self) -> None:
        """gb_thread_idle: the calling thread is going idle; its cached blocks
        go back to the shared heap (a hint; cheap)."""
        code = self.cdll.gb_thread_idle()
        if code != 0:
            raise OSError(code, f"gb_thread_idle failed: {os.strerror(code)}")

    def _profile_call(self, name, *args) -> None:
        code = getattr(self.cdll, name)(*args)
        if code != 0:
            raise OSError(code, f"{name} failed: {os.strerror(code)}")

    def profile_start(self, sample_bytes: int = 0) -> None:
        """gb_profile_start: sample every sample_bytes bytes on average (0: 512 KiB).
        OSError ENOTSUP unless the library was built with profiling."""
        self._profile_call("gb_profile_start", sample_bytes)

    def profile_stop(self) -> None:
        """gb_profile_stop."""
        self._profile_call("gb_profile_stop")

    def profile_dump(self, path, peak: bool = False) -> None:
        """gb_profile_dump (gb_profile_dump_peak with peak=True): a gzipped pprof file."""
        name = "gb_profile_dump_peak" if peak else "gb_profile_dump"
        self._profile_call(name, os.fsencode(path))

    def owns(self, address) -> bool:
        """gb_owns for an address (int), a Buffer, or None."""
        if isinstance(address, Buffer):
            address = address.address
        return bool(self.cdll.gb_owns(address))


def _release(lib, address, size, alignment):
    lib.free(address, size, alignment)


class Buffer:
    """A block of graphbit-alloc memory, freed (sized) by free() or at the end
    of a ``with`` block. ``view()`` (and ``memoryview(buf)`` on Python 3.12 or
    later) is a writable memoryview over it, without a copy.

    Like ``bytearray`` and ``mmap``, a Buffer whose memory is exported (a
    memoryview from ``view()``, a slice of one, a NumPy array made from one,
    still reachable) refuses ``free()`` and ``resize()`` with ``BufferError``:
    release the views first (``del`` them, or ``view.release()``). A Buffer
    collected while views of it live leaves its memory to them: the block is
    freed when the last view goes. Exports are counted through the reference
    count of the one ctypes array the views are made from (CPython).

    Methods are safe to call from several threads: ``free()`` frees once."""

    def __init__(self, size: int, *, zeroed: bool = False, alignment: Optional[int] = None,
                 lib: Optional[Library] = None, heap: Optional["Heap"] = None):
        size = _size(size)
        self._lock = threading.Lock()
        self._array = None  # the ctypes array every view is made from
        self._baseline = 0  # its reference count with no view alive
        self._lib = heap.lib if heap is not None else (lib or library())
        self._alignment = alignment
        self._heap = heap  # a heap lives while its buffers do (unless destroyed)
        if heap is not None:
            self.address = heap._alloc(self, size, zeroed, alignment)
        elif alignment is not None:
            self.address = self._lib.aligned_alloc(alignment, size)
            if zeroed:
                ctypes.memset(self.address, 0, size)
        elif zeroed:
            self.address = self._lib.calloc(1, size)
        else:
            self.address = self._lib.alloc(size)
        self.size = size

    @property
    def closed(self) -> bool:
        return self.address is None

    def _live(self) -> int:
        if self.address is None:
            raise ValueError("buffer already freed")
        return self.address

    def _exports(self) -> int:
        """How many views of the block are alive (each holds the array)."""
        if self._array is None:
            return 0
        return sys.getrefcount(self._array) - self._baseline

    def _unexported(self, what: str) -> None:
        exports = self._exports()
        if exports:
            raise BufferError(
                f"cannot {what} a Buffer with {exports} exported view(s) alive:"
                " release them first (del, or memoryview.release())")
        self._array = None

    def _view(self) -> memoryview:
        with self._lock:
            address = self._live()
            if self._array is None:
                self._array = (ctypes.c_char * self.size).from_address(address)
                self._baseline = sys.getrefcount(self._array)
            return memoryview(self._array).cast("B")

    def view(self) -> memoryview:
        """Writable bytes of the block; while it is alive, free() and resize()
        raise BufferError."""
        return self._view()

    def __buffer__(self, flags: int) -> memoryview:
        # PEP 688 (Python 3.12): memoryview(buf), numpy.frombuffer(buf).
        return self._view()

    def __bytes__(self) -> bytes:
        with self._lock:
            return ctypes.string_at(self._live(), self.size)

    def __len__(self) -> int:
        return self.size

    def usable_size(self) -> int:
        with self._lock:
            return self._lib.usable_size(self._live())

    def resize(self, size: int) -> None:
        """gb_realloc: keeps the contents up to the smaller size. BufferError
        while a view is alive; MemoryError (the block unchanged) when the
        memory cannot be had."""
        size = _size(size)
        if self._alignment is not None:
            raise ValueError("an aligned buffer cannot be resized (gb_realloc keeps no alignment)")
        with self._lock:
            address = self._live()
            self._unexported("resize")
            self.address = self._lib.realloc(address, size)
            self.size = size

    def free(self) -> None:
        """Frees the block (sized); a second call does nothing. BufferError
        while a view is alive."""
        with self._lock:
            if self.address is None:
                return
            self._unexported("free")
            address, self.address = self.address, None
            self._lib.free(address, self.size, self._alignment)

    def __enter__(self) -> "Buffer":
        return self

    def __exit__(self, *exc) -> None:
        self.free()

    def __del__(self):
        try:
            address = self.address
            if address is None:
                return
            self.address = None
            if self._exports():
                # Views outlive the Buffer: the last of them frees the block.
                weakref.finalize(self._array, _release, self._lib, address, self.size,
                                 self._alignment)
            else:
                self._lib.free(address, self.size, self._alignment)
        except Exception:  # interpreter shutdown
            pass


@dataclasses.dataclass(frozen=True)
class HeapStats:
    """gb_heap_stats(): usable bytes (what the limit counts) and blocks."""

    limit_bytes: int  # 0: no limit
    allocated_bytes: int
    peak_allocated_bytes: int
    blocks: int
    refused: int


class Heap:
    """A gb_heap: Buffers allocated in it (``heap.buffer(size)``), capped at
    ``limit`` usable bytes (0: no limit; a buffer that would pass it raises
    MemoryError), all freed at once by ``destroy()`` or at the end of a
    ``with`` block. A Buffer of the heap may still be freed on its own.

    ``destroy()`` refuses with BufferError while a buffer of the heap has an
    exported view alive (its memory is about to go); the heap's other buffers
    become freed (``closed``). Methods are safe to call from several threads."""

    def __init__(self, limit: int = 0, *, lib: Optional[Library] = None):
        self.lib = lib or library()
        limit = _size(limit, "limit")
        ctypes.set_errno(0)
        self._handle = self.lib.cdll.gb_heap_new(limit)
        if self._handle is None:
            code = ctypes.get_errno()
            raise MemoryError(f"gb_heap_new({limit}): {errno.errorcode.get(code, code)}")
        self._lock = threading.Lock()
        self._buffers = weakref.WeakSet()

    @property
    def closed(self) -> bool:
        return self._handle is None

    def _live(self) -> int:
        if self._handle is None:
            raise ValueError("heap already destroyed")
        return self._handle

    def _alloc(self, buffer, size, zeroed, alignment) -> int:
        with self._lock:
            handle = self._live()
            ctypes.set_errno(0)
            if alignment is not None:
                alignment = _size(alignment, "alignment")
                address = self.lib.cdll.gb_heap_aligned_alloc(handle, alignment, size)
                if address is not None and zeroed:
                    ctypes.memset(address, 0, size)
            elif zeroed:
                address = self.lib.cdll.gb_heap_calloc(handle, 1, size)
            else:
                address = self.lib.cdll.gb_heap_alloc(handle, size)
            address = self.lib._check(address, f"gb_heap_alloc({size})")
            self._buffers.add(buffer)
            return address

    def buffer(self, size: int, *, zeroed: bool = False,
               alignment: Optional[int] = None) -> Buffer:
        """A Buffer of ``size`` bytes in this heap."""
        return Buffer(size, zeroed=zeroed, alignment=alignment, heap=self)

    def stats(self) -> HeapStats:
        raw = _GbHeapStats(size=ctypes.sizeof(_GbHeapStats))
        with self._lock:
            code = self.lib.cdll.gb_heap_stats(self._live(), ctypes.byref(raw))
        if code != 0:
            raise OSError(code, f"gb_heap_stats failed: {os.strerror(code)}")
        return HeapStats(**{f.name: getattr(raw, f.name) for f in dataclasses.fields(HeapStats)})

    def destroy(self) -> None:
        """gb_heap_destroy: frees every buffer of the heap at once; a second
        call does nothing."""
        with self._lock:
            if self._handle is None:
                return
            buffers = list(self._buffers)
            for buffer in buffers:
                buffer._lock.acquire()
            try:
                for buffer in buffers:
                    if buffer.address is not None:
                        exports = buffer._exports()
                        if exports:
                            raise BufferError(
                                f"cannot destroy a Heap whose Buffer has {exports} exported"
                                " view(s) alive: release them first")
                for buffer in buffers:
                    buffer.address = None
                    buffer._array = None
                handle, self._handle = self._handle, None
                self.lib.cdll.gb_heap_destroy(handle)
            finally:
                for buffer in buffers:
                    buffer._lock.release()

    def __enter__(self) -> "Heap":
        return self

    def __exit__(self, *exc) -> None:
        self.destroy()

    def __del__(self):
        try:
            self.destroy()
        except Exception:  # views alive, or interpreter shutdown: leave it
            pass


_default: Optional[Library] = None
_default_lock = threading.Lock()


def load(path=None) -> Library:
    """Loads the library (see the module doc for where it looks). With a path,
    always that one; without, the one library() returns."""
    if path is not None:
        return Library(path)
    return library()


def library() -> Library:
    """The library the module-level functions use, loaded on first call."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Library()
        return _default


def allocator_name() -> str:
    return library().allocator_name()


def allocator_version() -> str:
    return library().allocator_version()


def version() -> str:
    return library().version()


def version_number() -> int:
    return library().version_number()


def verify() -> bool:
    return library().verify()


def verify_report() -> dict:
    return library().verify_report()


def stats() -> Stats:
    return library().stats()


def trim() -> None:
    library().trim()


def thread_idle() -> None:
    library().thread_idle()


def owns(address) -> bool:
    return library().owns(address)


@contextlib.contextmanager
def profile(path, sample_bytes: int = 0, peak_path=None):
    """Samples allocations inside the block and writes the live heap at its
    end to path (a gzipped pprof profile; `go tool pprof path`), and the peak
    heap to peak_path when given. Needs the profiling build of the library
    (OSError ENOTSUP otherwise)."""
    lib = library()
    lib.profile_start(sample_bytes)
    try:
        yield
        lib.profile_dump(path)
        if peak_path is not None:
            lib.profile_dump(peak_path, peak=True)
    finally:
        lib.profile_stop()


def backend_stats_text() -> str:
    return library().backend_stats_text()

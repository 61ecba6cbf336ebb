"""Tests of the graphbit_alloc Python package against a real libgraphbit_alloc.so.

The library comes from $GRAPHBIT_ALLOC_LIB (ctest sets it to the one it
built) or, for an installed package, the one inside it (conftest.py says
which package is tested); $GB_EXPECT_BACKEND, when set, is the backend it
must report.
"""

import ctypes
import errno
import gc
import os
import pathlib
import re
import shutil
import subprocess
import sys
import threading

import pytest

import graphbit_alloc as gb

REPO = pathlib.Path(__file__).resolve().parents[3]
HEADER = REPO / "include" / "graphbit_alloc.h"
SOURCE = pathlib.Path(__file__).resolve().parents[1]  # bindings/python
PACKAGE_DIR = pathlib.Path(gb.__file__).resolve().parent  # the package tested
BACKEND = os.environ.get("GB_EXPECT_BACKEND")
MiB = 1 << 20


def header_functions():
    """name -> number of parameters, for every function the C header declares."""
    text = re.sub(r"/\*.*?\*/", "", HEADER.read_text(), flags=re.S)
    found = {}
    for ret, name, params in re.findall(
        # (optional GB_NODISCARD) return type, name, parameters, optional
        # trailing attribute macros (GB_MALLOC GB_ALLOC_SIZE(1) ...), ";"
        r"^(?:GB_NODISCARD\s+)?([A-Za-z_][\w\s\*]*?)\b(gb_\w+)\(([^)]*)\)"
        r"(?:\s*GB_[A-Z0-9_]+(?:\([^)]*\))?)*\s*;",
        text,
        flags=re.M,
    ):
        params = params.strip()
        found[name] = 0 if params in ("", "void") else params.count(",") + 1
    return found


@pytest.fixture(scope="module")
def lib():
    return gb.library()


def test_every_header_function_is_declared():
    declared = header_functions()
    assert len(declared) >= 13, declared
    assert set(gb.SIGNATURES) == set(declared)
    for name, count in declared.items():
        assert len(gb.SIGNATURES[name][0]) == count, name


def test_stats_struct_matches_header():
    text = HEADER.read_text()
    body = re.search(r"typedef struct gb_stats_t \{(.*?)\} gb_stats_t;", text, flags=re.S).group(1)
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    fields = re.findall(r"(\w+)\s+(\w+);", body)
    assert [(n) for _, n in fields] == [n for n, _ in gb._GbStats._fields_]


def test_identity(lib):
    name = gb.allocator_name()
    assert name in ("jemalloc", "mimalloc", "system")
    if BACKEND:
        assert name == BACKEND
    assert gb.allocator_version()
    header_version = re.search(r'#define GB_VERSION_STRING "([^"]+)"', HEADER.read_text()).group(1)
    assert gb.version() == header_version
    major, minor, patch = map(int, header_version.split("."))
    assert gb.version_number() == major * 10000 + minor * 100 + patch
    assert lib.path


def test_verify_and_report():
    assert gb.verify() is True
    report = gb.verify_report()
    assert report["passed"] is True
    assert report["backend"] == gb.allocator_name()
    assert report["version"] == gb.version()
    assert report["checks"] and all(check["passed"] for check in report["checks"])


def test_buffer_context_manager():
    with gb.Buffer(1000) as buf:
        assert len(buf) == 1000 and not buf.closed
        buf.view()[:] = b"\x5a" * 1000
        assert bytes(buf) == b"\x5a" * 1000
        assert buf.usable_size() >= 1000
    assert buf.closed
    buf.free()  # a second free does nothing
    with pytest.raises(ValueError):
        buf.view()


def test_buffer_zeroed_resized_aligned():
    with gb.Buffer(4096, zeroed=True) as zero:
        assert bytes(zero) == bytes(4096)
    with gb.Buffer(100) as buf:
        buf.view()[:] = bytes(range(100))
        buf.resize(100000)
        assert bytes(buf)[:100] == bytes(range(100))
        buf.resize(10)
        assert bytes(buf) == bytes(range(10))
    for alignment in (64, 4096, 1 << 16):
        with gb.Buffer(1000, alignment=alignment, zeroed=True) as aligned:
            assert aligned.address % alignment == 0
            assert bytes(aligned) == bytes(1000)
            with pytest.raises(ValueError):
                aligned.resize(2000)
    with gb.Buffer(0) as empty:
        assert bytes(empty) == b""


def test_errors_map_to_exceptions(lib):
    with pytest.raises(MemoryError):
        gb.Buffer(2**63)  # above PTRDIFF_MAX: ENOMEM
    with pytest.raises(MemoryError):
        lib.calloc(2**40, 2**40)  # overflows
    with pytest.raises(ValueError):
        gb.Buffer(8, alignment=3)  # EINVAL
    with pytest.raises(ValueError):
        gb.Buffer(-1)
    # A failed resize leaves the block as it was.
    with gb.Buffer(16) as buf:
        buf.view()[:] = b"k" * 16
        with pytest.raises(MemoryError):
            buf.resize(2**63)
        assert bytes(buf) == b"k" * 16 and len(buf) == 16


def test_sizes_that_do_not_fit_a_size_t_are_refused(lib):
    # ctypes cuts an int modulo 2**64: Buffer(2**64 + 64) was a 64-byte block
    # whose size said 2**64 + 64.
    for size in (2**64, 2**64 + 64, 2**70):
        with pytest.raises(OverflowError):
            gb.Buffer(size)
        with pytest.raises(OverflowError):
            lib.alloc(size)
        with pytest.raises(OverflowError):
            lib.calloc(1, size)
        with pytest.raises(OverflowError):
            lib.aligned_alloc(size, 8)
    # Negative sizes are ValueError everywhere, as bytearray(-1) is.
    with pytest.raises(ValueError):
        lib.alloc(-1)
    with pytest.raises(ValueError):
        lib.calloc(-1, 8)
    with gb.Buffer(16) as buf:
        with pytest.raises(ValueError):
            buf.resize(-1)
        with pytest.raises(OverflowError):
            buf.resize(2**64 + 1)
        assert len(buf) == 16 and buf.usable_size() >= 16
    # Not an integer: TypeError, not ctypes.ArgumentError.
    for bad in (1.5, "64", None, 2.0):
        with pytest.raises(TypeError):
            gb.Buffer(bad)
        with pytest.raises(TypeError):
            lib.alloc(bad)
    assert len(gb.Buffer(True)) == 1  # an int, as for bytearray


def test_views_keep_free_and_resize_from_leaving_them_dangling():
    buf = gb.Buffer(64)
    view = buf.view()
    part = view[8:16]
    del view
    with pytest.raises(BufferError):
        buf.free()
    with pytest.raises(BufferError):
        buf.resize(128)
    assert not buf.closed and len(buf) == 64
    part[:] = b"12345678"  # still the block's memory
    assert bytes(buf)[8:16] == b"12345678"
    part.release()
    buf.free()
    assert buf.closed

    # Released views (or a with-block) let it go at once.
    buf = gb.Buffer(32)
    with buf.view() as view:
        view[:4] = b"abcd"
    buf.resize(64)
    assert bytes(buf)[:4] == b"abcd"
    if sys.version_info >= (3, 12):  # PEP 688: the buffer protocol itself
        view = memoryview(buf)
        with pytest.raises(BufferError):
            buf.free()
        view.release()
    buf.free()


def test_a_view_outliving_its_buffer_keeps_the_memory(lib):
    # gb.Buffer(64).view() was dangling at once: the Buffer was collected.
    view = gb.Buffer(64).view()
    gc.collect()
    address = ctypes.addressof(ctypes.c_char.from_buffer(view))
    others = [gb.Buffer(64) for _ in range(64)]
    for i, other in enumerate(others):
        other.view()[:] = bytes([i]) * 64
    view[:] = b"\xee" * 64  # must not land in any other buffer
    for i, other in enumerate(others):
        assert bytes(other) == bytes([i]) * 64
        assert other.address != address
        other.free()
    assert bytes(view) == b"\xee" * 64
    del view
    gc.collect()


def test_free_from_two_threads_frees_once():
    # The check and the free were separate, and ctypes releases the GIL
    # between them: two threads freed one block (a deadlock in jemalloc, an
    # abort in checked mode).
    for _ in range(200):
        bufs = [gb.Buffer(64) for _ in range(16)]
        start = threading.Barrier(4)

        def free_all():
            start.wait()
            for buf in bufs:
                buf.free()

        threads = [threading.Thread(target=free_all) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert all(buf.closed for buf in bufs)


def test_raw_functions(lib):
    p = lib.alloc(100)
    ctypes.memset(p, 0x41, 100)
    assert lib.usable_size(p) >= 100
    p = lib.realloc(p, 5000)
    assert ctypes.string_at(p, 100) == b"A" * 100
    lib.free(p, 5000)
    a = lib.aligned_alloc(256, 10)
    assert a % 256 == 0
    lib.free(a, 10, 256)
    lib.free(lib.alloc(1))
    lib.free(None)
    assert lib.usable_size(None) == 0
    # The declared ctypes functions are reachable too.
    assert lib.gb_version_number() == gb.version_number()


def test_stats_follow_a_large_allocation():
    before = gb.stats()
    for field in ("allocated", "active", "resident", "mapped", "retained", "peak_resident"):
        value = getattr(before, field)
        assert value is None or value >= 0
    assert before.allocated is not None
    with gb.Buffer(64 * MiB) as big:
        big.view()[:: 4096] = b"x" * (64 * MiB // 4096)  # touch every page
        during = gb.stats()
        assert during.allocated >= 64 * MiB
    assert gb.stats().peak_resident >= 64 * MiB


def resident_bytes():
    """Resident set of this process, from /proc/self/statm (as c_tests/introspection.c)."""
    with open("/proc/self/statm") as f:
        resident = int(f.read().split()[1])
    return resident * os.sysconf("SC_PAGESIZE")


def test_trim_returns_memory():
    # As c_tests/introspection.c: free a large working set of medium blocks,
    # trim, and resident memory falls back to near where it started.
    blocks, block = 4096, 64 * 1024  # 256 MiB in all
    gb.trim()  # raises OSError on a non-zero result
    base = resident_bytes()
    buffers = [gb.Buffer(block) for _ in range(blocks)]
    for b in buffers:
        ctypes.memset(b.address, 0x3C, block)
    loaded = resident_bytes()
    for b in buffers:
        b.free()
    freed = resident_bytes()
    gb.trim()
    trimmed = resident_bytes()
    report = (f"resident {base // MiB} MiB, loaded {loaded // MiB} MiB, "
              f"after free {freed // MiB} MiB, after trim {trimmed // MiB} MiB")
    print(report)
    assert loaded >= base + 200 * MiB, report
    # After trimming, at most a quarter of the working set stays resident.
    assert trimmed <= base + 64 * MiB, report
    gb.trim()  # idempotent


def test_thread_idle_returns_the_thread_cache(lib):
    # As c_tests/introspection.c: in a new thread, freed small blocks wait in
    # jemalloc's thread cache (still counted as allocated) until the thread
    # says it is going idle.
    seen = {}

    def worker():
        blocks = [(lib.alloc(16 << s), 16 << s) for s in range(8) for _ in range(100)]
        for address, size in blocks:
            lib.free(address, size)
        seen["cached"] = gb.stats().allocated
        gb.thread_idle()  # raises OSError on a non-zero result
        seen["flushed"] = gb.stats().allocated
        gb.thread_idle()  # nothing left: still fine
        lib.free(lib.alloc(1024))  # a hint only: the thread allocates on

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert "flushed" in seen, "the worker thread failed"
    if gb.allocator_name() == "jemalloc":
        assert seen["flushed"] + 16 * 1024 <= seen["cached"], seen


def test_owns():
    with gb.Buffer(100) as buf:
        owned = gb.owns(buf)
        # The system backend shares the host's malloc and cannot tell.
        assert owned is (gb.allocator_name() != "system")
        assert gb.owns(buf.address) is owned
    python_object = ctypes.create_string_buffer(100)
    assert gb.owns(ctypes.addressof(python_object)) is False
    assert gb.owns(None) is False


def test_backend_stats_text():
    text = gb.backend_stats_text()
    assert isinstance(text, str) and len(text) > 20


def test_threads_allocate_and_free():
    errors = []

    def work(seed):
        try:
            held = []
            for i in range(2000):
                size = (seed * 7919 + i * 104729) % 20000
                buf = gb.Buffer(size)
                buf.view()[: min(size, 8)] = bytes([seed]) * min(size, 8)
                held.append(buf)
                if len(held) > 50:
                    old = held.pop(0)
                    assert bytes(old)[: min(old.size, 8)] == bytes([seed]) * min(old.size, 8)
                    old.free()
            for buf in held:
                buf.free()
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_explicit_path_and_bad_path():
    path = gb.library().path
    assert gb.load(path).allocator_name() == gb.allocator_name()
    with pytest.raises(OSError, match="cannot load"):
        gb.load("/nonexistent/libgraphbit_alloc.so")


def run_python(code, env, cwd):
    return subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_finds_library_next_to_package(tmp_path):
    # A copy of the package with the library beside it, and no $GRAPHBIT_ALLOC_LIB.
    copy = tmp_path / "graphbit_alloc"
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "*.so*"))
    shutil.copy(gb.library().path, copy / "libgraphbit_alloc_dlopen.so")
    env = {k: v for k, v in os.environ.items() if k not in ("GRAPHBIT_ALLOC_LIB", "PYTHONPATH")}
    result = run_python(
        "import graphbit_alloc as gb; print(gb.library().path); print(gb.allocator_name())",
        env,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    path, name = result.stdout.split()
    assert path == str(copy / "libgraphbit_alloc_dlopen.so")
    assert name == gb.allocator_name()


def test_missing_library_is_a_clear_error(tmp_path):
    copy = tmp_path / "graphbit_alloc"
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if k not in ("GRAPHBIT_ALLOC_LIB", "PYTHONPATH")}
    env["GRAPHBIT_ALLOC_LIB"] = str(tmp_path / "missing.so")
    result = run_python("import graphbit_alloc as gb; gb.verify()", env, tmp_path)
    assert result.returncode != 0 and "cannot load" in result.stderr


def test_pip_installs_the_package_without_the_library(tmp_path):
    # GRAPHBIT_ALLOC_BUILD_LIB=none: a py3-none-any wheel of the Python code
    # alone (for a system that has the library installed). The package's own
    # build backend (bindings/python/gb_build_backend.py, standard library
    # only) needs pip and nothing else: no cargo, no compiler, no network (no
    # build isolation), no setuptools and no wheel. To prove it here, where
    # they may be installed, both are shadowed by modules that fail to import.
    # (test_install.py installs the package with its library, built by cargo.)
    pip = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True, text=True)
    assert pip.returncode == 0, (
        f"pip is missing for {sys.executable} (apt-get install python3-pip): {pip.stderr}"
    )
    source = tmp_path / "source"
    shutil.copytree(SOURCE, source,
                    ignore=shutil.ignore_patterns("__pycache__", "tests", "*.so*"))
    shadow = tmp_path / "shadow"
    for module in ("setuptools", "wheel"):
        (shadow / module).mkdir(parents=True)
        (shadow / module / "__init__.py").write_text(
            f"raise ImportError('the build must not need {module}')\n")
    target = tmp_path / "site"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(shadow)
    env["GRAPHBIT_ALLOC_BUILD_LIB"] = "none"
    env["CARGO"] = "/nonexistent/cargo"  # not run
    env.setdefault("GRAPHBIT_ALLOC_LIB", gb.library().path)
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    installed = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert "graphbit_alloc/__init__.py" in installed, installed
    assert "graphbit_alloc-0.1.0.dist-info/METADATA" in installed, installed
    assert not any(name.startswith("gb_build_backend") for name in installed), installed
    assert not any(".so" in name for name in installed), installed
    wheel = (target / "graphbit_alloc-0.1.0.dist-info" / "WHEEL").read_text()
    assert "Tag: py3-none-any" in wheel and "Root-Is-Purelib: true" in wheel, wheel
    env["PYTHONPATH"] = str(target)
    result = run_python(
        "import graphbit_alloc as gb; print(gb.__file__); print(gb.verify())", env, tmp_path
    )
    assert result.returncode == 0, result.stderr
    where, ok = result.stdout.split()
    assert where.startswith(str(target)) and ok == "True"


def test_heap_buffers_limit_and_destroy():
    with gb.Heap(limit=MiB) as heap:
        a = heap.buffer(1000)
        a.view()[:3] = b"abc"
        b = heap.buffer(64, zeroed=True)
        assert bytes(b) == bytes(64)
        c = heap.buffer(100, alignment=4096)
        assert c.address % 4096 == 0
        assert gb.owns(a)
        s = heap.stats()
        assert s.limit_bytes == MiB and s.blocks == 3
        assert s.allocated_bytes == sum(x.usable_size() for x in (a, b, c))
        with pytest.raises(MemoryError):
            heap.buffer(2 * MiB)
        assert heap.stats().refused == 1
        a.resize(5000)  # gb_realloc stays in the heap
        assert bytes(a)[:3] == b"abc" and heap.stats().blocks == 3
        b.free()
        assert heap.stats().blocks == 2
        view = c.view()
        with pytest.raises(BufferError):
            heap.destroy()
        assert not heap.closed
        del view
    assert heap.closed and a.closed and c.closed
    a.free()  # a no-op: the heap freed it
    with pytest.raises(ValueError):
        heap.buffer(8)


def test_heap_buffer_keeps_its_heap_alive():
    buf = gb.Heap().buffer(32)
    gc.collect()
    buf.view()[:] = bytes(range(32))
    assert bytes(buf) == bytes(range(32))
    buf.free()


def test_heap_buffers_freed_in_other_threads():
    with gb.Heap() as heap:
        buffers = [heap.buffer(256) for _ in range(200)]
        threads = [threading.Thread(target=lambda part: [b.free() for b in part], args=(buffers[i::4],))
                   for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert heap.stats().blocks == 0 and heap.stats().allocated_bytes == 0

def test_profile_needs_the_profiling_build(tmp_path):
    # The dlopen library the tests load is built without profiling: every
    # gb_profile_* call answers ENOTSUP, which the wrappers raise, and the
    # context manager writes nothing.
    path = tmp_path / "heap.pb.gz"
    with pytest.raises(OSError) as raised:
        with gb.profile(path):
            pass
    assert raised.value.errno == errno.ENOTSUP
    assert not path.exists()
    with pytest.raises(OSError) as raised:
        gb.library().profile_dump(path, peak=True)
    assert raised.value.errno == errno.ENOTSUP

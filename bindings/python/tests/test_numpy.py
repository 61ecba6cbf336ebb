"""graphbit_alloc.numpy: NumPy's array data through graphbit-alloc (NEP 49).

Needs NumPy 1.22 or later (requirements-test.txt).
"""

import collections
import ctypes
import gc
import os
import pathlib
import re
import subprocess
import sys
import textwrap
import threading

import pytest

try:
    import numpy as np
except ImportError as e:  # a missing tool fails, as everywhere in ctest
    raise ImportError(f"{e}: pip install -r bindings/python/requirements-test.txt") from e

import graphbit_alloc as gb
import graphbit_alloc.numpy as gbnp

MiB = 1 << 20
# The system backend shares the host's malloc: gb_owns cannot tell.
OWNS = gb.allocator_name() != "system"
# gb.stats().allocated counts live bytes, which a free lowers; mimalloc's is
# its committed memory (src/backend/mimalloc.rs), which a free may not lower.
LIVE_BYTES = gb.allocator_name() != "mimalloc"
DEFAULT = "default_allocator"


def owned(array):
    return gb.owns(array.ctypes.data)


@pytest.fixture(autouse=True)
def default_handler_around_each_test():
    assert gbnp.handler_name() == DEFAULT
    yield
    while gbnp.uninstall():
        pass
    assert gbnp.handler_name() == DEFAULT, "a test left a handler installed"


def test_the_handler_is_the_librarys_functions():
    capsule = gbnp.handler()
    assert capsule is gbnp.handler()
    get_name = gbnp._pythonapi.PyCapsule_GetName
    get_name.argtypes, get_name.restype = [ctypes.py_object], ctypes.c_char_p
    assert get_name(capsule) == b"mem_handler"
    address = gbnp._PyCapsule_GetPointer(capsule, b"mem_handler")
    handler = gbnp._PyDataMemHandler.from_address(address)
    assert handler.name == b"graphbit_alloc" and handler.version == 1
    assert ctypes.sizeof(gbnp._PyDataMemHandler) == 128 + 5 * ctypes.sizeof(ctypes.c_void_p)
    lib = gb.library()
    allocator = handler.allocator
    assert allocator.ctx is None
    assert allocator.malloc == lib.function_address("gb_ctx_malloc")
    assert allocator.calloc == lib.function_address("gb_ctx_calloc")
    assert allocator.realloc == lib.function_address("gb_ctx_realloc")
    # Unsized: see test_numpy_frees_with_a_size_other_than_allocated.
    assert allocator.free == lib.function_address("gb_ctx_free")
    assert gbnp.available()


def test_arrays_made_inside_are_graphbit_allocs():
    before = gb.stats().allocated
    with gbnp.using():
        assert gbnp.handler_name() == gbnp.HANDLER_NAME and gbnp.is_installed()
        arrays = {
            "empty": np.empty(1000),
            "zeros (calloc)": np.zeros((300, 300)),
            "ones": np.ones(10, dtype=np.int8),
            "arange": np.arange(12345),
            "from a list": np.array([1.5, 2.5, 3.5]),
            "ufunc result": np.sqrt(np.arange(1000.0)),
            "copy": np.ones(100).copy(),
            "astype": np.arange(100).astype(np.float32),
            "concatenate": np.concatenate([np.ones(10), np.zeros(10)]),
            "zero-size": np.empty((0, 3)),
            "strings": np.array(["graphbit"] * 10),
            "objects": np.array([object(), None, 3], dtype=object),
            "large (64 MiB)": np.zeros(8 * MiB),
        }
        arrays["large (64 MiB)"][::512] = 1.0
        during = gb.stats().allocated
    assert gbnp.handler_name() == DEFAULT and not gbnp.is_installed()
    for what, array in arrays.items():
        assert gbnp.handler_name(array) == gbnp.HANDLER_NAME, what
        # numpy's own function says the same (numpy.core.multiarray in 1.x)
        assert gbnp._api().multiarray.get_handler_name(array) == "graphbit_alloc", what
        assert owned(array) is OWNS, what
    if LIVE_BYTES:
        assert during >= before + 64 * MiB
    assert arrays["zeros (calloc)"].sum() == 0
    del arrays, array
    gc.collect()
    if LIVE_BYTES:
        assert gb.stats().allocated < during - 60 * MiB  # freed by graphbit-alloc


def test_arrays_made_before_keep_their_handler():
    a = np.arange(1000.0)
    big = np.ones(4 * MiB)
    with gbnp.using():
        b = a * 2  # new: graphbit-alloc's
        a.resize(100_000, refcheck=False)  # realloc by a's own handler
        a[:1000] = b
        view = a[10:20]
        assert gbnp.handler_name(view) is None  # a view owns nothing
    assert gbnp.handler_name(a) == DEFAULT and gbnp.handler_name(big) == DEFAULT
    assert not owned(a) and not owned(big)
    assert gbnp.handler_name(b) == gbnp.HANDLER_NAME and owned(b) is OWNS
    with gbnp.using():
        del a, big, view  # freed by NumPy's handler, inside the block
        gc.collect()
    assert b[999] == 1998.0


def test_arrays_made_inside_are_freed_after_uninstall():
    gbnp.install()
    assert gbnp.is_installed()
    big = np.full(8 * MiB, 3.0)  # 64 MiB
    small = [np.arange(n) for n in range(1, 200)]
    grown = np.arange(10.0)
    assert gbnp.uninstall() is True
    assert not gbnp.is_installed() and gbnp.uninstall() is False
    after = np.arange(10.0)
    assert gbnp.handler_name(after) == DEFAULT and not owned(after)
    # A resize after uninstall() is still the array's handler's (gb_ctx_realloc).
    grown.resize(1_000_000, refcheck=False)
    assert gbnp.handler_name(grown) == gbnp.HANDLER_NAME and owned(grown) is OWNS
    assert all(owned(a) is OWNS for a in small)
    during = gb.stats().allocated
    del big, small, grown
    gc.collect()
    if LIVE_BYTES:
        assert gb.stats().allocated < during - 60 * MiB


def test_resize_to_zero_and_other_odd_frees():
    # a.resize(0) keeps a block of one item and NumPy frees it as 1 byte: the
    # reason free is gb_ctx_free. With a sized free, these would free blocks
    # of 8, 16 and 400 bytes as 1-byte blocks.
    with gbnp.using():
        for dtype in ("f8", "c16", "U100", "i1", "V3"):
            a = np.ones(10, dtype=dtype) if dtype != "V3" else np.zeros(10, dtype=dtype)
            a.resize(0, refcheck=False)
            a.resize(5, refcheck=False)
            a.resize(0, refcheck=False)
            del a
        b = np.zeros(12)
        b.dtype = np.float32  # same bytes, other shape
        b.shape = (4, 6)
        del b
        c = np.empty((0, 5))
        c.shape = (5, 0)
        del c
        d = np.fromiter(range(100_000), dtype=np.int64)  # grown by realloc
        assert d[-1] == 99_999
        del d
    gc.collect()
    assert gb.verify()


class _Recorder:
    """A NEP 49 handler whose functions are Python callbacks (slow): it
    allocates with graphbit-alloc, remembers each block's size, and records
    each free whose size is not the block's."""

    def __init__(self):
        lib = gb.library()
        self.sizes, self.mismatches = {}, collections.Counter()
        self.what = None

        def malloc(ctx, n):
            p = lib.gb_ctx_malloc(None, n)
            self.sizes[p] = n
            return p

        def calloc(ctx, n, size):
            p = lib.gb_ctx_calloc(None, n, size)
            self.sizes[p] = n * size
            return p

        def realloc(ctx, p, n):
            q = lib.gb_ctx_realloc(None, p, n)
            if q:
                self.sizes.pop(p, None)
                self.sizes[q] = n
            return q

        def free(ctx, p, n):
            if p:
                allocated = self.sizes.pop(p, None)
                if allocated != n:
                    self.mismatches[(self.what, allocated, n)] += 1
            lib.gb_ctx_free(None, p)

        vp, size = ctypes.c_void_p, ctypes.c_size_t
        self.functions = [
            ctypes.CFUNCTYPE(vp, vp, size)(malloc),
            ctypes.CFUNCTYPE(vp, vp, size, size)(calloc),
            ctypes.CFUNCTYPE(vp, vp, vp, size)(realloc),
            ctypes.CFUNCTYPE(None, vp, vp, size)(free),
        ]
        self.handler = gbnp._PyDataMemHandler(b"recorder", 1, gbnp._PyDataMemAllocator(
            None, *[ctypes.cast(f, vp).value for f in self.functions]))
        self.name = ctypes.create_string_buffer(b"mem_handler")
        self.capsule = gbnp._PyCapsule_New(ctypes.addressof(self.handler),
                                           ctypes.addressof(self.name), None)

    def run(self, what, function):
        self.what = what
        api = gbnp._api()
        previous = api.set_handler(self.capsule)
        try:
            function()
        finally:
            api.set_handler(previous)
            gc.collect()


def test_numpy_frees_with_a_size_other_than_allocated():
    # The evidence for gb_ctx_free: NumPy's free(ctx, ptr, size) passes the
    # array's byte count when it is freed (at least 1), which is not always
    # what it allocated. a.resize(0) reallocates the block to one item and
    # the free says 1 byte, in NumPy 1.22 to 2.3 (2.4 reallocates to 1 byte).
    # NumPy's array_dealloc says as much ("In theory PyArray_NBYTES_ALLOCATED,
    # but differs somewhere?"), and its own test handler (test_mem_policy.py)
    # only prints "unmatched shift_free" ("This happens in some places").
    recorder = _Recorder()

    def resize_to_zero(dtype):
        a = np.ones(10, dtype=dtype)
        a.resize(0, refcheck=False)
        del a

    for dtype in ("f8", "c16", "U100"):
        recorder.run(f"resize(0) {dtype}", lambda: resize_to_zero(dtype))

    def ordinary():
        x = np.arange(10_000.0)
        y = (x * 2 + 1).reshape(100, 100)
        z = np.concatenate([y, y.T]).astype(np.float32)
        w = np.fromiter(range(5000), dtype=np.int32)
        v = np.array(["a", "bb"] * 100)
        x.resize(20_000, refcheck=False)
        del x, y, z, w, v

    recorder.run("ordinary", ordinary)
    assert not recorder.sizes, "every block was freed"
    found = dict(recorder.mismatches)
    # allocated one item (8, 16, 400 bytes), freed as 1 byte
    expected = {("resize(0) f8", 8, 1): 1, ("resize(0) c16", 16, 1): 1,
                ("resize(0) U100", 400, 1): 1}
    version = tuple(int(p) for p in np.__version__.split(".")[:2])
    if version < (2, 4):
        assert found == expected, found
    else:
        assert set(found) <= set(expected), found


def test_threads():
    # NumPy's current handler is a context variable: a new thread starts with
    # NumPy's default, whatever the creating thread installed.
    seen = {}
    with gbnp.using():
        t = threading.Thread(target=lambda: seen.update(
            name=gbnp.handler_name(), array=gbnp.handler_name(np.ones(10))))
        t.start()
        t.join()
    assert seen == {"name": DEFAULT, "array": DEFAULT}

    # Threads that use it allocate and free at once, also each other's arrays.
    errors, handoff, lock = [], [], threading.Lock()

    def work(seed):
        try:
            rng = np.random.default_rng(seed)
            with gbnp.using():
                kept = []
                for i in range(300):
                    a = rng.random(int(rng.integers(1, 50_000)))
                    b = np.sort(a) * 2 + a
                    kept.append(b)
                    if len(kept) > 20:
                        kept.pop(0)
                    if i % 10 == 0:
                        with lock:
                            handoff.append(b)
                            if len(handoff) > 8:
                                handoff.pop(0)  # freed here, maybe another thread's
                assert all(gbnp.handler_name(k) == gbnp.HANDLER_NAME for k in kept)
                assert all(owned(k) is OWNS for k in kept)
            assert gbnp.handler_name() == DEFAULT
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    mine = [np.arange(1000) for _ in range(100)]  # the main thread: NumPy's own
    for t in threads:
        t.join()
    assert not errors, errors
    assert all(gbnp.handler_name(a) == DEFAULT for a in mine)
    assert handoff and all(gbnp.handler_name(a) == gbnp.HANDLER_NAME for a in handoff)
    handoff.clear()
    del mine
    gc.collect()


def test_nesting():
    with gbnp.using():
        with gbnp.using():
            assert gbnp.is_installed()
        assert gbnp.is_installed(), "the inner block restores the outer's handler"
        gbnp.install()
        gbnp.install()
        assert gbnp.uninstall() and gbnp.is_installed()
        assert gbnp.uninstall() and gbnp.is_installed()
        assert not gbnp.uninstall()
    assert not gbnp.is_installed()

    gbnp.install()
    with gbnp.using():
        pass
    assert gbnp.is_installed(), "using() restores what install() set"
    assert gbnp.uninstall() and not gbnp.is_installed()

    with pytest.raises(ZeroDivisionError):
        with gbnp.using():
            a = np.ones(3)
            1 / 0
    assert not gbnp.is_installed() and gbnp.handler_name(a) == gbnp.HANDLER_NAME


def test_install_inside_using_is_undone_with_the_block():
    # install() inside using(), not undone: leaving the block restores the
    # handler from before it, and no install() is left for uninstall().
    with gbnp.using():
        gbnp.install()
    assert not gbnp.is_installed()
    assert gbnp.uninstall() is False
    assert not gbnp.is_installed()

    # uninstall() inside a block cannot undo an install() from outside it.
    gbnp.install()
    with gbnp.using():
        assert gbnp.uninstall() is False
        assert gbnp.is_installed()
    assert gbnp.is_installed()
    assert gbnp.uninstall() is True and not gbnp.is_installed()


def test_context_locality():
    import asyncio
    import contextvars

    # Another context (as an asyncio task has) keeps its own handler.
    def inside():
        gbnp.install()
        return gbnp.handler_name(np.ones(5))

    assert contextvars.copy_context().run(inside) == gbnp.HANDLER_NAME
    assert not gbnp.is_installed()

    async def task():
        return gbnp.handler_name(np.ones(5))

    async def main():
        with gbnp.using():
            inherited = await asyncio.create_task(task())  # tasks copy the context
        return inherited, await asyncio.create_task(task())

    assert asyncio.run(main()) == (gbnp.HANDLER_NAME, DEFAULT)


def run_python(code, tmp_path, **env):
    full = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    package_root = str(pathlib.Path(gb.__file__).resolve().parents[1])
    full["PYTHONPATH"] = os.pathsep.join([*env.pop("prepend", []), package_root])
    full.setdefault("GRAPHBIT_ALLOC_LIB", gb.library().path)
    full.update(env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=full, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


def test_arrays_outlive_the_module_at_exit(tmp_path):
    # Arrays still alive at interpreter exit are freed through the handler
    # after the module's globals are gone: its memory is never freed.
    result = run_python("""
        import numpy as np, graphbit_alloc.numpy as gbnp
        gbnp.install()
        kept = [np.ones(n) for n in range(1, 500)]
        class Holder: pass
        Holder.big = np.zeros(1 << 22)
        import graphbit_alloc.numpy
        print("ok")
    """, tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


FAKE_NUMPY_TABLE = """
import ctypes
# A C-API table of 212 slots whose feature-version function says {feature:#x}.
_feature = ctypes.CFUNCTYPE(ctypes.c_uint)(lambda: {feature})
_table = (ctypes.c_void_p * 212)()
_table[211] = ctypes.cast(_feature, ctypes.c_void_p).value
_new = ctypes.pythonapi.PyCapsule_New
_new.argtypes, _new.restype = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p], ctypes.py_object
_ARRAY_API = _new(ctypes.addressof(_table), None, None)
"""


def fake_numpy(root, version, table=None):
    package = root / "numpy"
    (package / "core").mkdir(parents=True)
    (package / "__init__.py").write_text(f"__version__ = {version!r}\n")
    (package / "core" / "__init__.py").write_text("")
    (package / "core" / "multiarray.py").write_text("")
    (package / "core" / "_multiarray_umath.py").write_text(table or "")
    return root


@pytest.mark.parametrize("case", ["1.21", "no table", "old table", "no numpy"])
def test_numpy_without_nep49_is_a_clear_error(tmp_path, case):
    # Simulated: a numpy package that is too old in each way the module checks.
    if case == "1.21":
        root, expect = fake_numpy(tmp_path / "fake", "1.21.6"), "NumPy 1.21.6 has no memory handlers"
    elif case == "no table":
        root, expect = fake_numpy(tmp_path / "fake", "1.22.0"), "no C-API table"
    elif case == "old table":
        root = fake_numpy(tmp_path / "fake", "1.22.0", FAKE_NUMPY_TABLE.format(feature=0x0E))
        expect = "C-API feature version 0xe"
    else:
        root = tmp_path / "fake"
        (root / "numpy").mkdir(parents=True)
        (root / "numpy" / "__init__.py").write_text("raise ImportError('No module named numpy')\n")
        expect = "needs NumPy"
    result = run_python("""
        import graphbit_alloc.numpy as gbnp
        assert gbnp.available() is False
        for call in (gbnp.install, gbnp.handler, lambda: gbnp.using().__enter__()):
            try:
                call()
            except gbnp.NEP49Unavailable as e:
                assert isinstance(e, RuntimeError)
                message = str(e)
            else:
                raise SystemExit("no error")
        print(message)
    """, tmp_path, prepend=[str(root)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert expect in result.stdout, result.stdout
    if case != "no numpy":
        assert "1.22" in result.stdout, result.stdout


MEM_POLICY_PLUGIN = """
import graphbit_alloc.numpy as gbnp

def pytest_configure(config):
    gbnp.install()

def pytest_unconfigure(config):
    assert gbnp.is_installed(), "NumPy's tests left another handler current"
    print("graphbit_alloc handler still current")
"""


def build_tools(bin_dir):
    """Directories with `meson` and `ninja` as pip installs them, found from
    their distributions (their scripts may not be on PATH, e.g. in a venv
    that borrows this interpreter's packages)."""
    import importlib.metadata
    import shutil

    try:
        import mesonbuild  # noqa: F401
    except ImportError as e:
        pytest.fail(f"{e}: pip install -r bindings/python/requirements-test.txt")
    try:  # pip's ninja; else one on PATH (Debian's ninja-build)
        ninja = next((f for f in importlib.metadata.distribution("ninja").files or []
                      if f.name == "ninja" and f.parent.name == "bin"), None)
    except importlib.metadata.PackageNotFoundError:
        ninja = None
    bin_dir.mkdir()
    meson = bin_dir / "meson"
    meson.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m mesonbuild.mesonmain "$@"\n')
    meson.chmod(0o755)
    ninja = ninja.locate() if ninja else shutil.which("ninja")
    assert ninja and os.access(ninja, os.X_OK), (
        "no ninja: pip install -r bindings/python/requirements-test.txt")
    os.symlink(ninja, bin_dir / "ninja")
    return [str(bin_dir)]


def test_numpys_own_handler_tests_pass_with_ours_current(tmp_path):
    # NumPy's test_mem_policy.py, run with graphbit-alloc's handler as the
    # current one (its tests take the branches for a non-default policy). It
    # builds a C extension with meson and ninja (requirements-test.txt) and the
    # C compiler, as NumPy's test suite does.
    found = sorted(pathlib.Path(np.__file__).parent.glob("*core/tests/test_mem_policy.py"))
    assert found, f"NumPy {np.__version__} at {np.__file__} was installed without its tests"
    (tmp_path / "gb_policy_plugin.py").write_text(MEM_POLICY_PLUGIN)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    package_root = str(pathlib.Path(gb.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), package_root])
    env.setdefault("GRAPHBIT_ALLOC_LIB", gb.library().path)
    env["PATH"] = os.pathsep.join([*build_tools(tmp_path / "bin"), env.get("PATH", "")])
    (tmp_path / "root").mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "gb_policy_plugin",
         "-p", "no:cacheprovider", "--noconftest", "--rootdir", str(tmp_path / "root"),
         "-W", "ignore::pytest.PytestUnknownMarkWarning", str(found[0])],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-6000:]
    assert re.search(r"\b[5-9] passed|\b\d\d+ passed", out) and "failed" not in out, out[-3000:]
    assert "graphbit_alloc handler still current" in out, out[-3000:]

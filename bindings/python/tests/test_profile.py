"""graphbit_alloc.profile() against the profiling library: its success path
(test_binding.py checks the ENOTSUP answer of the dlopen library the other
tests load). The profiling library, $GB_PROFILING_LIB (default
libgraphbit_alloc_profiling.so beside $GRAPHBIT_ALLOC_LIB; "skip" skips), is
the initial-exec build, which a running interpreter cannot dlopen: the test
runs in a child python that preloads it, so ctypes finds it already loaded.
With NumPy, the arrays are made under graphbit_alloc.numpy.using(), so they
are in the profile (tests/profile.sh shows `gb-bench profile` naming NumPy's
functions in such a profile)."""

import gzip
import os
import pathlib
import subprocess
import sys

import pytest

CHILD = r"""
import errno, sys
import graphbit_alloc as gb
path, peak = sys.argv[1], sys.argv[2]
try:
    import numpy as np
    import graphbit_alloc.numpy as gbnp
except ImportError:
    np = None
with gb.profile(path, 4096, peak_path=peak):
    if np is not None:
        with gbnp.using():
            kept = [np.ones(1 << 16) for _ in range(64)]   # 32 MiB
        # The system backend cannot tell its blocks from the host's (gb_owns
        # is false there for all but heap blocks: README, Limitations).
        if gb.allocator_name() != "system":
            assert all(gb.owns(a.ctypes.data) for a in kept)
    else:
        kept = [gb.Buffer(1 << 19) for _ in range(64)]
    try:
        gb.library().profile_start(0)
        raise SystemExit("a second profile_start did not raise EBUSY")
    except OSError as e:
        assert e.errno == errno.EBUSY, e
try:
    gb.library().profile_stop()
    raise SystemExit("profile_stop after the block did not raise EINVAL")
except OSError as e:
    assert e.errno == errno.EINVAL, e
print("profile ok", "numpy" if np is not None else "buffers")
"""


def profiling_library():
    given = os.environ.get("GB_PROFILING_LIB")
    if given == "skip":
        pytest.skip("GB_PROFILING_LIB=skip")
    if given:
        return pathlib.Path(given).resolve()
    beside = os.environ.get("GRAPHBIT_ALLOC_LIB")
    if not beside:
        pytest.skip("no $GRAPHBIT_ALLOC_LIB to find libgraphbit_alloc_profiling.so beside "
                    "(set GB_PROFILING_LIB)")
    return pathlib.Path(beside).resolve().parent / "libgraphbit_alloc_profiling.so"


def test_profile_with_the_profiling_library(tmp_path):
    lib = profiling_library()
    assert lib.is_file(), (f"no profiling library at {lib} "
                           "(cmake --build --preset default, or set GB_PROFILING_LIB)")
    path, peak = tmp_path / "heap.pb.gz", tmp_path / "heap.pb.gz.peak"
    binding = pathlib.Path(__file__).resolve().parents[1]
    env = dict(os.environ, LD_PRELOAD=str(lib), GRAPHBIT_ALLOC_LIB=str(lib),
               PYTHONPATH=os.pathsep.join([str(binding), os.environ.get("PYTHONPATH", "")]))
    child = subprocess.run([sys.executable, "-c", CHILD, str(path), str(peak)],
                           env=env, capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stdout + child.stderr
    assert "profile ok" in child.stdout
    for file in (path, peak):
        raw = gzip.decompress(file.read_bytes())
        # profile.proto's string table holds the sample types.
        assert b"inuse_space" in raw and b"alloc_space" in raw, file

"""Which graphbit_alloc the tests import.

By default the source tree's (bindings/python, put first on sys.path), with
the library from $GRAPHBIT_ALLOC_LIB (ctest sets it to the one it built):

    GRAPHBIT_ALLOC_LIB=target/release/libgraphbit_alloc.so python3 -m pytest -q bindings/python/tests

With GB_TEST_INSTALLED=1, the installed one, as `import graphbit_alloc` finds
it (sys.path is left alone), and its bundled library unless
$GRAPHBIT_ALLOC_LIB is set: test_install.py runs the tests that way in a
fresh venv after `pip install bindings/python`.
"""

import os
import pathlib
import sys

SOURCE = pathlib.Path(__file__).resolve().parents[1]
INSTALLED = os.environ.get("GB_TEST_INSTALLED") == "1"

if not INSTALLED:
    sys.path.insert(0, str(SOURCE))

import graphbit_alloc  # noqa: E402

_where = pathlib.Path(graphbit_alloc.__file__).resolve().parent
if INSTALLED and _where == SOURCE / "graphbit_alloc":
    raise RuntimeError(f"GB_TEST_INSTALLED=1, but graphbit_alloc comes from the source tree ({_where})")
if not INSTALLED and _where != SOURCE / "graphbit_alloc":
    raise RuntimeError(f"graphbit_alloc comes from {_where}, not the source tree {SOURCE}")


def pytest_report_header(config):
    lib = os.environ.get("GRAPHBIT_ALLOC_LIB") or "the bundled or system library"
    return f"graphbit_alloc from {_where} ({'installed' if INSTALLED else 'source tree'}), library: {lib}"

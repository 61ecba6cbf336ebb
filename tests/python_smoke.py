"""Loads libgraphbit_alloc.so into a running python3 with ctypes (dlopen) and
calls every exported function. Usage: python_smoke.py LIB BACKEND"""
import ctypes
import ctypes.util
import sys

path, backend = sys.argv[1], sys.argv[2]
lib = ctypes.CDLL(path, use_errno=True)

c_size = ctypes.c_size_t
lib.gb_alloc.argtypes, lib.gb_alloc.restype = [c_size], ctypes.c_void_p
lib.gb_calloc.argtypes, lib.gb_calloc.restype = [c_size, c_size], ctypes.c_void_p
lib.gb_realloc.argtypes, lib.gb_realloc.restype = [ctypes.c_void_p, c_size], ctypes.c_void_p
lib.gb_aligned_alloc.argtypes, lib.gb_aligned_alloc.restype = [c_size, c_size], ctypes.c_void_p
lib.gb_free.argtypes, lib.gb_free.restype = [ctypes.c_void_p], None
lib.gb_free_sized.argtypes, lib.gb_free_sized.restype = [ctypes.c_void_p, c_size], None
lib.gb_free_aligned_sized.argtypes = [ctypes.c_void_p, c_size, c_size]
lib.gb_free_aligned_sized.restype = None
lib.gb_usable_size.argtypes, lib.gb_usable_size.restype = [ctypes.c_void_p], c_size
for name in ("gb_allocator_name", "gb_allocator_version", "gb_version"):
    getattr(lib, name).argtypes, getattr(lib, name).restype = [], ctypes.c_char_p
lib.gb_version_number.argtypes, lib.gb_version_number.restype = [], ctypes.c_uint32
lib.gb_verify.argtypes, lib.gb_verify.restype = [], ctypes.c_bool

lib.gb_verify_report.argtypes = [ctypes.c_char_p, c_size]
lib.gb_verify_report.restype = c_size
lib.gb_backend_stats_text.argtypes = [ctypes.c_char_p, c_size]
lib.gb_backend_stats_text.restype = c_size
lib.gb_trim.argtypes, lib.gb_trim.restype = [], ctypes.c_int
lib.gb_owns.argtypes, lib.gb_owns.restype = [ctypes.c_void_p], ctypes.c_bool


class Stats(ctypes.Structure):
    _fields_ = [("size", c_size)] + [
        (name, ctypes.c_uint64)
        for name in ("allocated", "active", "resident", "mapped", "retained", "peak_resident")
    ]


lib.gb_stats.argtypes, lib.gb_stats.restype = [ctypes.POINTER(Stats)], ctypes.c_int

ENOMEM, EINVAL = 12, 22
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)


check(lib.gb_allocator_name().decode() == backend, "gb_allocator_name")
check(len(lib.gb_allocator_version()) > 0, "gb_allocator_version")
version = lib.gb_version().decode()
major, minor, patch = (int(x) for x in version.split("."))
check(lib.gb_version_number() == major * 10000 + minor * 100 + patch, "gb_version_number")
check(lib.gb_verify(), "gb_verify")

p = lib.gb_alloc(100)
check(p is not None, "gb_alloc")
ctypes.memset(p, 0x41, 100)
check(lib.gb_usable_size(p) >= 100, "gb_usable_size")
p = lib.gb_realloc(p, 10000)
check(p is not None and ctypes.string_at(p, 100) == b"A" * 100, "gb_realloc keeps contents")
lib.gb_free_sized(p, 10000)

z = lib.gb_calloc(10, 10)
check(z is not None and ctypes.string_at(z, 100) == bytes(100), "gb_calloc zeroes")
lib.gb_free(z)

a = lib.gb_aligned_alloc(4096, 10)
check(a is not None and a % 4096 == 0, "gb_aligned_alloc")
lib.gb_free_aligned_sized(a, 4096, 10)

ctypes.set_errno(0)
check(lib.gb_alloc(2**64 - 1) is None and ctypes.get_errno() == ENOMEM, "SIZE_MAX -> ENOMEM")
ctypes.set_errno(0)
check(lib.gb_aligned_alloc(3, 8) is None and ctypes.get_errno() == EINVAL, "alignment 3 -> EINVAL")
check(lib.gb_usable_size(None) == 0, "gb_usable_size(NULL)")
lib.gb_free(None)

import json

needed = lib.gb_verify_report(None, 0)
buf = ctypes.create_string_buffer(needed + 1)
check(lib.gb_verify_report(buf, needed + 1) == needed, "gb_verify_report length")
report = json.loads(buf.value.decode())
check(report["passed"] is True and report["backend"] == backend, "report passed")
check({c["name"] for c in report["checks"]} >= {"gb_alloc_served_by_backend",
      "rust_global_allocator_served_by_backend", "host_malloc_not_captured"}, "report checks")
stats = Stats(size=ctypes.sizeof(Stats))
check(lib.gb_stats(ctypes.byref(stats)) == 0 and stats.size == ctypes.sizeof(Stats), "gb_stats")
check(lib.gb_stats(None) == EINVAL, "gb_stats(NULL)")
check(lib.gb_trim() == 0, "gb_trim")
q = lib.gb_alloc(64)
check(lib.gb_owns(q) == (backend != "system"), "gb_owns own block")
lib.gb_free(q)
check(not lib.gb_owns(None), "gb_owns(NULL)")
check(lib.gb_backend_stats_text(None, 0) > 0, "gb_backend_stats_text")

if failures:
    print("python_smoke: FAILED:", ", ".join(failures))
    sys.exit(1)
print(f"python_smoke: ok ({lib.gb_allocator_name().decode()} {lib.gb_allocator_version().decode()})")

#!/usr/bin/env bash
# The one setup step of the README: installs, when missing, what
# `cmake --workflow --preset test*` and `cargo test` need -- cmake (>= 3.25),
# pkg-config, a C and C++ compiler, clang-format (.ci/run's format check),
# python3 with pip (apt) and pytest (pip,
# or apt where pip may not install: PEP 668), the programs tests/override.sh
# runs under the preload (perl, git, sqlite3, lua5.4), the libraries the
# c_tests/hooks/ programs run with graphbit-alloc installed in them (Lua,
# SQLite, zlib, OpenSSL, libcurl, libxml2, Jansson: their -dev packages) --
# and gb-bench's optional contenders, Debian's jemalloc, mimalloc and tcmalloc, and
# the server of its real programs, redis (redis-server, redis-tools: apt; its
# other real programs need only what the tests need: jansson, Lua and SQLite
# among the libraries above, python3, perl, sqlite3, lua5.4). The tests pass
# without the optional ones (they report them as not installed);
# `--no-bench` leaves them out. Run as root (CI is); Debian/Ubuntu.
#
#   bash tests/cmake/install-deps.sh [--no-bench]
set -euo pipefail
cd "$(dirname "$0")/../.."
bench=1
for arg in "$@"; do
    case $arg in
        --no-bench) bench=0 ;;
        *) echo "usage: $0 [--no-bench]" >&2; exit 2 ;;
    esac
done

missing=()
# Installed, not only known to dpkg: `dpkg -s` also succeeds for a package
# that was removed but left its configuration files (redis-server).
installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]; }
command -v cmake >/dev/null || missing+=(cmake)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v cc >/dev/null || missing+=(gcc)
command -v c++ >/dev/null || missing+=(g++)
command -v readelf >/dev/null || missing+=(binutils)
# .ci/run's C and C++ format check (.clang-format)
command -v clang-format >/dev/null || missing+=(clang-format)
command -v python3 >/dev/null || missing+=(python3)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
# The whole-process tests (tests/override.sh) run Debian's own programs
# under the preload: its python3, perl, git, sqlite3 and lua5.4.
[ -x /usr/bin/python3 ] || missing+=(python3)
for tool in perl git sqlite3 lua5.4; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
# tests/profile.sh reads the heap profiler's output with Go's pprof; the
# profiler takes its stacks with libunwind where libunwind.so.8 loads
# (optional at run time; the test checks both unwinders when it is there).
command -v go >/dev/null || missing+=(golang-go)
installed libunwind8 || missing+=(libunwind8)
# c_tests/hooks/ (the manifest's pkg-config column names their modules)
for package in liblua5.4-dev libsqlite3-dev zlib1g-dev libssl-dev libcurl4-openssl-dev \
    libxml2-dev libjansson-dev; do
    installed "$package" || missing+=("$package")
done
if ((bench)); then
    # gb-bench's contenders, and the server its `redis` program runs
    # (optional for the tests; gb-bench starts and stops its own redis-server)
    for package in libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4 redis-server redis-tools; do
        installed "$package" || missing+=("$package")
    done
fi
if ((${#missing[@]})); then
    echo "install-deps: apt-get install ${missing[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi
version=$(cmake --version | sed -n 's/^cmake version \([0-9]*\.[0-9]*\).*/\1/p')
if [ "$(printf '%s\n' 3.25 "$version" | sort -V | head -1)" != 3.25 ]; then
    echo "cmake $version is too old: 3.25 or newer is needed" >&2
    exit 1
fi

# The Python binding's tests (bindings/python/requirements-test.txt): pytest,
# numpy, auditwheel, meson and ninja (NumPy's test_mem_policy.py builds a C
# extension). Installing the package runs cargo through its own build backend.
if ! python3 -c 'import pytest, numpy, auditwheel, mesonbuild' 2>/dev/null; then
    if ! python3 -m pip install --quiet -r bindings/python/requirements-test.txt; then
        echo "install-deps: pip could not install bindings/python/requirements-test.txt (an externally managed python?): apt-get install"
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y python3-pytest python3-numpy meson ninja-build
    fi
fi
python3 -c 'import pytest, numpy, auditwheel, mesonbuild' || { echo "install-deps: the Python test requirements are still missing for $(command -v python3)" >&2; exit 1; }

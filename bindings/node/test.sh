#!/usr/bin/env bash
# Tests of the Node.js binding: installs what it needs when missing (Node.js
# and npm from apt, koffi from npm by package-lock.json), then runs node's
# test runner against the dlopen library. Exits non-zero on any failure.
#   GRAPHBIT_ALLOC_LIB   the dlopen library (default: build/default/lib/ of
#                        this repository, as `cmake --build --preset default` makes it)
#   GB_INITIAL_EXEC_LIB  the initial-exec library, for the static TLS test
#                        (default: libgraphbit_alloc.so beside the dlopen one)
#   GB_EXPECT_BACKEND    the backend the library must report (optional)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

. "$here/../apt_install.sh"

command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
echo "test.sh: node $(node --version), npm $(npm --version)"

cd "$here"
if ! node -e 'require("koffi")' 2>/dev/null; then
  echo "test.sh: installing koffi (npm ci)"
  npm ci --no-audit --no-fund
fi

lib="${GRAPHBIT_ALLOC_LIB:-$repo/build/default/lib/libgraphbit_alloc_dlopen.so}"
if [ ! -f "$lib" ]; then
  echo "test.sh: no library at $lib: build it (cmake --preset default && cmake --build --preset default) or set GRAPHBIT_ALLOC_LIB" >&2
  exit 1
fi
export GRAPHBIT_ALLOC_LIB="$lib"
export GB_INITIAL_EXEC_LIB="${GB_INITIAL_EXEC_LIB:-$(dirname "$lib")/libgraphbit_alloc.so}"
echo "test.sh: GRAPHBIT_ALLOC_LIB=$GRAPHBIT_ALLOC_LIB"

exec node --expose-gc --test test/*.test.js

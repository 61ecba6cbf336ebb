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

. "$here/../test-common.sh"

command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
echo "test.sh: node $(node --version), npm $(npm --version)"

cd "$here"
if ! node -e 'require("koffi")' 2>/dev/null; then
  echo "test.sh: installing koffi (npm ci)"
  npm ci --no-audit --no-fund
fi
# test/package.test.js installs the packed tarballs with `npm install
# --offline`, which resolves their dependency koffi from npm's cache: `npm
# ci` caches koffi's tarball but not its registry metadata, so on a machine
# whose cache has never seen koffi that install fails (ENOTCACHED). Cache it.
koffi_version=$(node -p 'JSON.parse(require("fs").readFileSync("node_modules/koffi/package.json")).version')
npm cache add "koffi@$koffi_version" >/dev/null

use_dlopen_lib

exec node --expose-gc --test test/*.test.js

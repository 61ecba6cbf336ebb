#!/usr/bin/env bash
# The mimalloc build ignores MIMALLOC_* in a set-user-ID (AT_SECURE) process
# (src/backend/mimalloc_environ.c), as the jemalloc build ignores
# _RJEM_MALLOC_CONF there. A program linked with the mimalloc override (RPATH
# to a copy of it) runs twice with MIMALLOC_VERBOSE=1: as itself, where
# mimalloc must print its options, and as a set-user-ID copy owned by nobody,
# run by root (so AT_SECURE is 1), where it must print nothing.
#
# Usage: tests/mimalloc-at-secure.sh [LIB]
#   LIB: the mimalloc override (default: built with cargo into
#   target/variants/override-mimalloc). Needs root (chown) and a file system
#   that honours set-user-ID; otherwise it exits 77 (skipped), saying why.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
lib=${1:-}
if [[ -z $lib ]]; then
    (cd "$repo" && cargo build --release --no-default-features \
        --features backend-mimalloc,global-allocator,override \
        --target-dir target/variants/override-mimalloc)
    lib=$repo/target/variants/override-mimalloc/release/libgraphbit_alloc.so
fi
if (($(id -u) != 0)); then
    echo "skipped: needs root (a set-user-ID copy owned by nobody)" >&2
    exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
soname=$(readelf -dW "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
cp "$lib" "$work/$soname"
cat >"$work/prog.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <sys/auxv.h>
void *volatile sink;
int main(void) {
    sink = malloc(100);
    printf("AT_SECURE=%lu\n", getauxval(AT_SECURE));
    free(sink);
    return 0;
}
EOF
cc -O1 "$work/prog.c" -o "$work/prog" "$work/$soname" -Wl,-rpath,"$work"
cp "$work/prog" "$work/prog-suid"
chown nobody "$work/prog-suid"
chmod 4755 "$work/prog-suid"

fail=0
MIMALLOC_VERBOSE=1 "$work/prog" >"$work/out" 2>"$work/err"
if grep -qx AT_SECURE=0 "$work/out" && grep -q "^option '" "$work/err"; then
    echo "ok: not set-user-ID: MIMALLOC_VERBOSE=1 honoured ($(grep -c "^option '" "$work/err") option lines)"
else
    echo "FAIL: not set-user-ID: expected AT_SECURE=0 and mimalloc's option lines: $(head -c 300 "$work/out" "$work/err")"
    fail=1
fi
MIMALLOC_VERBOSE=1 "$work/prog-suid" >"$work/out" 2>"$work/err"
if ! grep -qx AT_SECURE=1 "$work/out"; then
    echo "skipped: the set-user-ID copy did not run with AT_SECURE=1 (nosuid file system?): $(head -c 200 "$work/out")" >&2
    exit 77
fi
if [[ -s $work/err ]]; then
    echo "FAIL: set-user-ID: mimalloc read MIMALLOC_VERBOSE: $(head -c 300 "$work/err")"
    fail=1
else
    echo "ok: set-user-ID (AT_SECURE=1): MIMALLOC_VERBOSE=1 ignored, nothing on stderr"
fi
exit $fail

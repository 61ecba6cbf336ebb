#!/usr/bin/env bash
# The per-CPU cache experiment (src/percpu/, docs/memory.md): builds its
# soundness test against the release static library and runs it with rseq,
# without (GLIBC_TUNABLES=glibc.pthread.rseq=0) and under valgrind; then
# counts instructions per alloc+free pair of 16-79 B blocks (callgrind, as
# gb-bench/scripts/instructions.sh: (1,100,000 pairs - 100,000 pairs) / 1,000,000) for
# the cache (sized and unsized free) and for gb_alloc/gb_free.
#
# Usage: gb-bench/scripts/percpu.sh | tee docs/runs/percpu.txt
#        PERCPU_SOUNDNESS_ONLY=1 gb-bench/scripts/percpu.sh   (the tests alone)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
cargo build --release --lib --features global-allocator >/dev/null 2>&1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
lib=target/release/libgraphbit_alloc.a
native="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"
cc=${CC:-cc}
$cc -O2 -Wall -Wextra -Werror -Iinclude src/percpu/percpu.c src/percpu/percpu_test.c $lib $native -o "$work/test"
# A debug build of the library compiles it without optimisation, where the
# critical sections' operands must still find registers.
$cc -O0 -fno-omit-frame-pointer -fPIC -Wall -Wextra -Werror -c src/percpu/percpu.c -o "$work/percpu-O0.o"
$cc -O2 -Wall -Wextra -Werror -Iinclude -DPERCPU_LOOP src/percpu/percpu.c gb-bench/scripts/percpu_loop.c $lib $native -o "$work/loop"
echo "# gb-bench/scripts/percpu.sh, graphbit-alloc $(git describe --always --dirty), $(date -u +%FT%RZ), $(nproc) CPUs, $(uname -r)"
echo "== soundness (src/percpu/percpu_test.c)"
"$work/test"
echo "== the same, GLIBC_TUNABLES=glibc.pthread.rseq=0 (the fallback)"
GLIBC_TUNABLES=glibc.pthread.rseq=0 "$work/test"
echo "== the same, under valgrind (no rseq: the fallback)"
valgrind -q --error-exitcode=9 "$work/test"
# CI runs the soundness part only (PERCPU_SOUNDNESS_ONLY=1).
[ "${PERCPU_SOUNDNESS_ONLY:-}" = 1 ] && exit 0
echo "== instructions per alloc+free pair, 16-79 B (callgrind; the loop's own instructions included)"
echo "   gb: gb_alloc/gb_free (jemalloc's thread cache); percpu-*: the cache's uncontended path"
echo "   (valgrind has no rseq: gb-bench/scripts/percpu_loop.c writes cpu_id 0 into its rseq area)"
count() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null | awk '/Collected/ { print $4 }'
}
for mode in gb percpu-sized percpu-unsized; do
    small=$(count "$work/loop" 100000 $mode)
    large=$(count "$work/loop" 1100000 $mode)
    printf '  %-60s %5d\n' "$mode" $(((large - small) / 1000000))
done

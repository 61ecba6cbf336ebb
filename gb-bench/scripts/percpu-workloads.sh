#!/usr/bin/env bash
# Instructions of gb-bench's single-threaded workloads (driver.c), the
# per-CPU cache experiment (src/percpu/, docs/memory.md) against the default
# library: callgrind's total per run, and the ratio. Instruction counts repeat
# from run to run where wall times on this 2-core machine do not.
#
# Valgrind has no rseq: gb-bench/scripts/fake_cpu.c (preloaded into both)
# puts every thread on CPU 0, which is sound only where one thread at a time
# allocates, so only the single-threaded workloads are counted; jemalloc's
# background thread is off in both (_RJEM_MALLOC_CONF=background_thread:false).
# burst-idle is left out: its quiet phase runs for a wall-clock time, so its
# count depends on how fast valgrind ran. "churn" is gb-bench's churn-1t.
#
# Usage: gb-bench/scripts/percpu-workloads.sh [SCALE]   (default 0.06, gb-bench --quick's)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
scale=${1:-0.06}
cargo build --release --lib >/dev/null 2>&1
GB_PERCPU=1 cargo build --release --lib --features global-allocator --target-dir target/percpu >/dev/null 2>&1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc=${CC:-cc}
$cc -O2 -shared -fPIC -Wall -Wextra -Werror gb-bench/scripts/fake_cpu.c -o "$work/fake_cpu.so" -ldl
jansson=()
if echo 'int main(void){return 0;}' | $cc -x c - -ljansson -o "$work/probe" 2>/dev/null; then
    jansson=(-DWITH_JANSSON -ljansson)
fi
for build in default percpu; do
    lib=target/release
    [ $build = percpu ] && lib=target/percpu/release
    mkdir -p "$work/$build"
    cp "$lib/libgraphbit_alloc.so" "$work/$build/libgraphbit_alloc.so"
    soname=$(readelf -d "$lib/libgraphbit_alloc.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
    cp "$lib/libgraphbit_alloc.so" "$work/$build/$soname"
    $cc -O2 -g -std=gnu11 -pthread -Iinclude -DGB_HAVE_TRIM -DGB_HAVE_HEAP -DCONTENDER_GB_LINKED \
        gb-bench/driver.c -o "$work/driver-$build" "${jansson[@]}" \
        -L"$work/$build" -lgraphbit_alloc -Wl,-rpath,"$work/$build" -ldl
done
count() {
    if ! _RJEM_MALLOC_CONF=background_thread:false LD_PRELOAD="$work/fake_cpu.so" \
        valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" >"$work/out" 2>"$work/err"; then
        echo "percpu-workloads.sh: $* failed:" >&2
        cat "$work/err" >&2
        exit 1
    fi
    awk '/Collected/ { print $4 }' "$work/err"
}
echo "# gb-bench/scripts/percpu-workloads.sh $scale, graphbit-alloc $(git describe --always --dirty), $(date -u +%FT%RZ)"
echo "# instructions per run of driver WORKLOAD $scale 1 1 (callgrind), the per-CPU build against the default"
printf '%-14s %15s %15s %7s\n' workload default percpu ratio
workloads="pair churn realloc large aligned fragmentation leak request"
[ ${#jansson[@]} -gt 0 ] && workloads="$workloads jansson"
for w in $workloads; do
    a=$(count "$work/driver-default" "$w" "$scale" 1 1)
    b=$(count "$work/driver-percpu" "$w" "$scale" 1 1)
    printf '%-14s %15d %15d %7.3f\n' "$w" "$a" "$b" "$(echo "$b / $a" | bc -l)"
done

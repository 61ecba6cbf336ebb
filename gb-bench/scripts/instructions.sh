#!/usr/bin/env bash
# Instructions per malloc+free pair of a 16-79 B block (valgrind callgrind:
# repeatable on a noisy machine), for graphbit-alloc linked statically, linked
# at start-up and dlopen-ed, and its whole-process override (preloaded,
# linked whole), against glibc and Debian's preloadable
# allocators, in one run: the figure is (instructions for 1,100,000 pairs -
# instructions for 100,000 pairs) / 1,000,000, so start-up cancels out. The
# loop (gb-bench/pair_loop.c) calls the functions through pointers and adds a
# few instructions of its own per pair, the same for every row. Then the same
# loop with calloc(1, n) in place of malloc, and with large blocks, for glibc,
# Debian's jemalloc, the override and the shared library.
#
# Usage: gb-bench/scripts/instructions.sh [LIB_DIR] | tee docs/runs/instructions.txt
#   LIB_DIR: where CMake staged the libraries, in its build tree (default build/default/lib,
#   built with `cmake --preset default && cmake --build --preset default`
#   when missing). Debian's libjemalloc2, libmimalloc2.0 and
#   libtcmalloc-minimal4 are measured when installed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
lib=${1:-$repo/build/default/lib}
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
if [ ! -e "$lib/libgraphbit_alloc.so" ]; then
    (cd "$repo" && cmake --preset default >/dev/null && cmake --build --preset default --target graphbit_alloc_cargo)
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc=${CC:-cc}
flags=(-O2 -I"$repo/include" "$repo/gb-bench/pair_loop.c")
$cc "${flags[@]}" -o "$work/plain" -ldl
native_libs=$(head -1 "$lib/../native-static-libs.txt") # rustc --print native-static-libs
$cc "${flags[@]}" -DPAIR_LOOP_GB -o "$work/static" "$lib/libgraphbit_alloc.a" $native_libs
$cc "${flags[@]}" -DPAIR_LOOP_GB -o "$work/static-dlopen-variant" "$lib/libgraphbit_alloc_dlopen.a" $native_libs
$cc "${flags[@]}" -DPAIR_LOOP_GB -o "$work/shared" -L"$lib" -lgraphbit_alloc -Wl,-rpath,"$lib" -ldl
$cc "${flags[@]}" -DPAIR_LOOP_GB -o "$work/shared-dlopen-variant" -L"$lib" -lgraphbit_alloc_dlopen -Wl,-rpath,"$lib" -ldl
# Whole-process mode, where CMake built it: the plain loop (malloc/free),
# with the override preloaded, and with its archive linked whole.
override=
if [ -e "$lib/libgraphbit_alloc_override.so" ]; then
    override=$lib/libgraphbit_alloc_override.so
    $cc "${flags[@]}" -o "$work/static-override" -Wl,--whole-archive "$lib/libgraphbit_alloc_override.a" \
        -Wl,--no-whole-archive $(head -1 "$lib/../native-static-libs-override.txt" 2>/dev/null || echo "$native_libs -lstdc++")
fi

count() { # pairs, then the command; prints the instruction total, or nothing
    local pairs=$1 log
    shift
    log=$(env "${PRELOAD[@]}" valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null) || return 0
    awk '/Collected/ { print $4 }' <<<"$log"
}
row() { # label, then the command without PAIRS (PAIRS goes after the program)
    local label=$1 small large
    shift
    local prog=$1
    shift
    small=$(count $((PAIRS / 10)) "$prog" $((PAIRS / 10)) "$@")
    large=$(count $((PAIRS * 11 / 10)) "$prog" $((PAIRS * 11 / 10)) "$@")
    if [ -z "$small" ] || [ -z "$large" ]; then
        printf '  %-76s does not run: %s\n' "$label" \
            "$(env "${PRELOAD[@]}" "$prog" 1 "$@" 2>&1 >/dev/null | head -1)"
        return
    fi
    printf '  %-76s %5d\n' "$label" $(((large - small) / PAIRS))
}
PAIRS=1000000 # the difference of PAIRS * 1.1 and PAIRS / 10 pairs
backend=$(sed -n 's/^GraphBitAlloc_ALLOCATOR:INTERNAL=//p' "$lib/../CMakeCache.txt")
echo "instructions per malloc+free pair, 16-79 B (callgrind; gb-bench/scripts/instructions.sh)"
echo "graphbit-alloc $(git -C "$repo" describe --always --dirty 2>/dev/null), backend $backend, $lib"
# The path of an installed library (Debian's preloads), or nothing. awk
# reads to the end: exiting early would end ldconfig on SIGPIPE (pipefail).
installed() { ldconfig -p | awk -v n="$1" '$1 == n && !p { p = $NF } END { print p }'; }
glibc=$(ldd --version | awk 'NR == 1 { print $NF }')
jemalloc=$(installed libjemalloc.so.2)
PRELOAD=()
row "glibc $glibc malloc/free" "$work/plain"
for so in libjemalloc.so.2 libmimalloc.so.2 libtcmalloc_minimal.so.4; do
    path=$(installed "$so")
    if [ -z "$path" ]; then
        printf '  %-76s not installed\n' "Debian $so, preloaded"
        continue
    fi
    PRELOAD=("LD_PRELOAD=$path")
    row "Debian $so, preloaded" "$work/plain"
done
PRELOAD=()
if [ -n "$override" ]; then
    PRELOAD=("LD_PRELOAD=$override")
    row "graphbit-alloc override, preloaded (libgraphbit_alloc_override.so)" "$work/plain"
    PRELOAD=()
    row "graphbit-alloc override, linked whole (libgraphbit_alloc_override.a)" "$work/static-override"
fi
row "graphbit-alloc static (libgraphbit_alloc.a)" "$work/static" gb
row "graphbit-alloc dlopen variant, static (libgraphbit_alloc_dlopen.a)" "$work/static-dlopen-variant" gb
row "graphbit-alloc shared, linked (libgraphbit_alloc.so)" "$work/shared" gb
row "graphbit-alloc dlopen variant, linked (libgraphbit_alloc_dlopen.so)" "$work/shared-dlopen-variant" gb
row "graphbit-alloc dlopen variant, dlopen-ed" "$work/plain" "$lib/libgraphbit_alloc_dlopen.so"
row "graphbit-alloc shared (initial-exec), dlopen-ed" "$work/plain" "$lib/libgraphbit_alloc.so"
# glibc keeps a small reserve of static TLS for libraries loaded later; a
# dlopen-ed library whose thread-local data fits it gets the fast path of TLS
# descriptors. jemalloc's (about 2 KiB) does not fit the default reserve; the
# tunable below, set when the process starts, makes room.
PRELOAD=("GLIBC_TUNABLES=glibc.rtld.optional_static_tls=4096")
row "graphbit-alloc dlopen variant, dlopen-ed, optional_static_tls=4096" "$work/plain" "$lib/libgraphbit_alloc_dlopen.so"
row "graphbit-alloc shared (initial-exec), dlopen-ed, optional_static_tls=4096" "$work/plain" "$lib/libgraphbit_alloc.so"
# glibc, Debian's jemalloc, the override and the shared library on another
# mode of the loop: the mode, then the labels' words for the C functions and
# for graphbit-alloc's.
four_rows() {
    local mode=$1 c_names=$2 gb_names=$3
    PRELOAD=()
    row "glibc $glibc $c_names" "$work/plain" libc "$mode"
    if [ -n "$jemalloc" ]; then
        PRELOAD=("LD_PRELOAD=$jemalloc")
        row "Debian libjemalloc.so.2 $c_names, preloaded" "$work/plain" libc "$mode"
    fi
    if [ -n "$override" ]; then
        PRELOAD=("LD_PRELOAD=$override")
        row "graphbit-alloc override $c_names, preloaded" "$work/plain" libc "$mode"
    fi
    PRELOAD=()
    row "graphbit-alloc shared $gb_names, linked (libgraphbit_alloc.so)" "$work/shared" gb "$mode"
}
# The same loop with calloc(1, n) (gb_calloc) in place of malloc.
echo "calloc(1, n)+free pairs, 16-79 B, the same loop:"
four_rows calloc calloc/free gb_calloc/gb_free
# Large blocks (20000 B, 64 KiB, 256 KiB, 1 MiB in turn: above jemalloc's
# thread cache), a hundredth of the pairs (each costs thousands).
echo "malloc+free pairs of large blocks (20000 B - 1 MiB), the same loop:"
PAIRS=10000
four_rows large malloc/free gb_alloc/gb_free
PAIRS=1000000
# Where a pair's instructions go, per function (callgrind_annotate's totals
# per function name, the same difference of two runs), for the override
# and Debian's jemalloc: the functions above 0.05 per pair.
by_function() { # label, program, its arguments after PAIRS (as row)
    local label=$1 prog=$2 small=$work/cg.small large=$work/cg.large
    shift 2
    env "${PRELOAD[@]}" valgrind --tool=callgrind --callgrind-out-file="$small" "$prog" 100000 "$@" >/dev/null 2>&1 || return 0
    env "${PRELOAD[@]}" valgrind --tool=callgrind --callgrind-out-file="$large" "$prog" 1100000 "$@" >/dev/null 2>&1 || return 0
    echo "  $label:"
    # callgrind_annotate's lines "1,234 (5.6%)  file:function [object]"; the
    # totals per function name, large run minus small run.
    for f in "$small" "$large"; do
        callgrind_annotate --auto=no --threshold=100 "$f" | sed -n '/PROGRAM TOTALS/d; s/,//g; s/^ *\([0-9][0-9]*\) ([^)]*) *\(.*\)$/\1 \2/p'
        echo "--"
    done | awk '$0 == "--" { run++; next }
        { n = $1; f = $0; sub(/^[0-9]+ /, "", f); sub(/ \[.*/, "", f); sub(/^[^ ]*:/, "", f)
          t[f] += run ? n : -n }
        END { for (f in t) if (t[f] / 1e6 >= 0.05) printf "    %7.2f  %s\n", t[f] / 1e6, f }' | sort -rn
}
echo "per function, instructions per pair:"
if [ -n "$jemalloc" ]; then
    PRELOAD=("LD_PRELOAD=$jemalloc")
    by_function "Debian libjemalloc.so.2, preloaded" "$work/plain"
fi
if [ -n "$override" ]; then
    PRELOAD=("LD_PRELOAD=$override")
    by_function "graphbit-alloc override, preloaded" "$work/plain"
fi
PRELOAD=()
by_function "graphbit-alloc shared, linked" "$work/shared" gb
echo "PT_TLS (thread-local data) of each library, bytes:"
for so in "$lib/libgraphbit_alloc.so" "$lib/libgraphbit_alloc_dlopen.so"; do
    printf '  %-76s %5d\n' "$(basename "$so")" "$(($(readelf -lW "$so" | awk '$1 == "TLS" { print $6 }')))"
done

#!/usr/bin/env bash
# What the heap profiler (Cargo feature `profiling`) costs a malloc+free pair
# of a 16-79 B block, in instructions (valgrind callgrind, the method of
# gb-bench/scripts/instructions.sh: (instructions for 1,100,000 pairs - for
# 100,000) / 1,000,000, through gb-bench/pair_loop.c), with the library built without the
# feature, with it but profiling off, and with it on (GB_PROFILE, default
# 512 KiB interval: the countdown on every allocation, a sample about every
# 512 KiB / 48 B = 11,000 pairs).
#
# Usage: gb-bench/scripts/profile_cost.sh [extra cargo args] | tee docs/runs/profile-cost.txt
# Builds the four libraries with cargo in one target directory,
# target/variants/profile-cost (so the backend's C code is built once), and
# copies each out before the next build.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
target=target/variants/profile-cost
build() { # features name: $work/name/libgraphbit_alloc.{a,so}
    cargo build --release --lib --features "global-allocator,$1" --target-dir "$target" "${@:3}" >/dev/null 2>&1 \
        || { echo "build $1 failed" >&2; exit 1; }
    mkdir -p "$work/$2"
    cp "$target/release/libgraphbit_alloc.a" "$target/release/libgraphbit_alloc.so" "$work/$2/"
}
build "" plain-lib "$@"
build profiling profiling "$@"
build override override "$@"
build override,profiling override-profiling "$@"
native="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"
flags=(-O2 -Iinclude gb-bench/pair_loop.c)
cc "${flags[@]}" -o "$work/plain" -ldl
cc "${flags[@]}" -DPAIR_LOOP_GB -o "$work/static" "$work/plain-lib/libgraphbit_alloc.a" $native
cc "${flags[@]}" -DPAIR_LOOP_GB -o "$work/static-profiling" "$work/profiling/libgraphbit_alloc.a" $native
count() { # pairs, then env assignments and the command
    local pairs=$1 log
    shift
    log=$(env "$@" 2>&1 >/dev/null | cat) || true
    awk '/Collected/ { print $4 }' <<<"$log"
}
row() { # label, then env assignments (KEY=VALUE ...) -- command (PAIRS goes after the program) args
    local label=$1 small large envs=()
    shift
    while [[ $1 != -- ]]; do envs+=("$1"); shift; done
    shift
    local prog=$1
    shift
    small=$(count 100000 "${envs[@]}" valgrind --tool=callgrind --callgrind-out-file=/dev/null "$prog" 100000 "$@")
    large=$(count 1100000 "${envs[@]}" valgrind --tool=callgrind --callgrind-out-file=/dev/null "$prog" 1100000 "$@")
    printf '  %-72s %5d\n' "$label" $(((large - small) / 1000000))
}
echo "instructions per malloc+free pair, 16-79 B (callgrind; gb-bench/scripts/profile_cost.sh)"
echo "graphbit-alloc $(git describe --always --dirty 2>/dev/null), cargo args: ${*:-(default backend)}"
row "gb_alloc/gb_free, libgraphbit_alloc.a" -- "$work/static" gb
row "gb_alloc/gb_free, libgraphbit_alloc_profiling.a, profiling off" -- "$work/static-profiling" gb
row "malloc/free, override preloaded" LD_PRELOAD="$work/override/libgraphbit_alloc.so" -- "$work/plain"
row "malloc/free, override_profiling preloaded, profiling off" \
    LD_PRELOAD="$work/override-profiling/libgraphbit_alloc.so" -- "$work/plain"
row "malloc/free, override_profiling preloaded, GB_PROFILE on (512 KiB)" \
    LD_PRELOAD="$work/override-profiling/libgraphbit_alloc.so" \
    GB_PROFILE="$work/profile.pb.gz" -- "$work/plain"

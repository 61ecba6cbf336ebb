#!/usr/bin/env bash
# The hardened override's cost against the default override, both preloaded
# under gb-bench/pair_loop.c (malloc+free pairs of 16-79 B blocks):
#  1. instructions per pair (valgrind callgrind, repeatable): (instructions
#     for 1,100,000 pairs - for 100,000 pairs) / 1,000,000, for the default
#     override, the hardened one at its default rate (1 in 5000), at 1 in
#     100, and with sampling off (GB_HARDENED_SAMPLE=0);
#  2. wall time of 20,000,000 pairs, ROUNDS interleaved runs (default 11):
#     each round runs the default override then the hardened one; prints
#     the median of the per-round ratios hardened/default and their range.
#
# Usage: gb-bench/scripts/hardened-cost.sh OVERRIDE.so HARDENED.so [ROUNDS]
#   OVERRIDE.so   libgraphbit_alloc_override.so (cargo build --release --features override)
#   HARDENED.so   libgraphbit_alloc_override_hardened.so (--features override-hardened)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
override=$(realpath "$1")
hardened=$(realpath "$2")
rounds=${3:-11}
command -v valgrind >/dev/null || { echo "needs valgrind" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
${CC:-cc} -O2 "$repo/gb-bench/pair_loop.c" -o "$work/pair_loop" -ldl

count() { # pairs, then env assignments: prints the instruction total
    local pairs=$1
    shift
    env "$@" valgrind --tool=callgrind --callgrind-out-file=/dev/null "$work/pair_loop" "$pairs" 2>&1 >/dev/null |
        awk '/Collected/ { print $4 }'
}
per_pair() { # label, env assignments
    local label=$1 small large
    shift
    small=$(count 100000 "$@")
    large=$(count 1100000 "$@")
    printf '  %-58s %7.2f\n' "$label" "$(echo "($large - $small) / 1000000" | bc -l)"
}
echo "instructions per malloc+free pair, 16-79 B (callgrind; gb-bench/scripts/hardened-cost.sh)"
echo "graphbit-alloc $(git -C "$repo" describe --always --dirty 2>/dev/null), $(uname -m)"
per_pair "default override (libgraphbit_alloc_override.so)" LD_PRELOAD="$override"
per_pair "hardened override, 1 in 5000 (the default)" LD_PRELOAD="$hardened"
per_pair "hardened override, 1 in 100" LD_PRELOAD="$hardened" GB_HARDENED_SAMPLE=100
per_pair "hardened override, sampling off (GB_HARDENED_SAMPLE=0)" LD_PRELOAD="$hardened" GB_HARDENED_SAMPLE=0

now() { date +%s%N; }
run() { # env assignments: prints nanoseconds for 20,000,000 pairs
    local t0 t1
    t0=$(now)
    env "$@" "$work/pair_loop" 20000000 >/dev/null
    t1=$(now)
    echo $((t1 - t0))
}
echo "wall time, 20,000,000 pairs, $rounds interleaved rounds (hardened at 1 in 5000 / default)"
ratios=()
for ((r = 0; r < rounds; r++)); do
    a=$(run LD_PRELOAD="$override")
    b=$(run LD_PRELOAD="$hardened")
    ratios+=("$(echo "$b / $a" | bc -l)")
    printf '  round %2d: default %6.1f ms, hardened %6.1f ms, ratio %.3f\n' "$r" \
        "$(echo "$a / 1000000" | bc -l)" "$(echo "$b / 1000000" | bc -l)" "${ratios[-1]}"
done
printf '%s\n' "${ratios[@]}" | sort -g | awk '{ v[NR] = $1 } END {
    printf "  median ratio %.3f (range %.3f .. %.3f over %d rounds)\n", v[int((NR + 1) / 2)], v[1], v[NR], NR }'

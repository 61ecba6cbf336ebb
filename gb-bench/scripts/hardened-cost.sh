#!/usr/bin/env bash
# The hardened override's cost against the default override, both preloaded
# under gb-bench/pair_loop.c (malloc+free pairs of 16-79 B blocks):
#  1. instructions per pair (valgrind callgrind, repeatable): (instructions
#     for 1,100,000 pairs - for 100,000 pairs) / 1,000,000, for the default
#     override, the hardened one at its default rate (1 in 5000), at 1 in
#     100, and with sampling off (GB_HARDENED_SAMPLE=0);
#  2. CPU time (user + system) of 20,000,000 pairs, ROUNDS interleaved runs
#     (default 11): each round runs the default override, the hardened one
#     at its default rate and with sampling off; prints the median of the
#     per-round ratios to the default and their range;
#  3. the CPU time of one sampled pair (every allocation sampled, less
#     sampling off), which callgrind does not see (it is mostly the two
#     mprotect system calls).
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

# CPU time (user + system) of a run, in ns: less disturbed than wall time by
# other processes on a shared machine.
cpu_ns() { # env assignments, then the program's arguments after --
    local envs=() t
    while [[ $1 != -- ]]; do envs+=("$1"); shift; done
    shift
    t=$(env "${envs[@]}" /usr/bin/time -f '%U %S' "$work/pair_loop" "$@" 2>&1 >/dev/null | tail -1)
    awk '{ printf "%d\n", ($1 + $2) * 1e9 }' <<<"$t"
}
median_and_range() { # prints "median (range min .. max over N)" of its stdin
    sort -g | awk '{ v[NR] = $1 } END {
        printf "%.3f (range %.3f .. %.3f over %d rounds)", v[int((NR + 1) / 2)], v[1], v[NR], NR }'
}
pairs=20000000
echo "CPU time (user + system, /usr/bin/time) of $pairs pairs, $rounds interleaved rounds:"
echo "each round runs the default override, then the hardened one at 1 in 5000, then off"
ratios=() offs=()
for ((r = 0; r < rounds; r++)); do
    a=$(cpu_ns LD_PRELOAD="$override" -- $pairs)
    b=$(cpu_ns LD_PRELOAD="$hardened" -- $pairs)
    c=$(cpu_ns LD_PRELOAD="$hardened" GB_HARDENED_SAMPLE=0 -- $pairs)
    ((a > 0)) || { echo "  round $r: no time measured" >&2; continue; }
    ratios+=("$(echo "$b / $a" | bc -l)")
    offs+=("$(echo "$c / $a" | bc -l)")
    printf '  round %2d: default %5.0f ms, hardened %5.0f ms (%.3f), off %5.0f ms (%.3f)\n' "$r" \
        "$(echo "$a / 1000000" | bc -l)" "$(echo "$b / 1000000" | bc -l)" "${ratios[-1]}" \
        "$(echo "$c / 1000000" | bc -l)" "${offs[-1]}"
done
echo "  hardened (1 in 5000) / default: median $(printf '%s\n' "${ratios[@]}" | median_and_range)"
echo "  hardened (off) / default:       median $(printf '%s\n' "${offs[@]}" | median_and_range)"

# The sampled path alone: 20,000 pairs with every allocation sampled, less
# the same run with sampling off, per pair (two mprotect calls, the fault-
# free bookkeeping); rounds interleaved, the median.
echo "CPU time of one sampled malloc+free pair (20,000 pairs at GB_HARDENED_SAMPLE=1 less =0, per pair):"
per=()
for ((r = 0; r < rounds; r++)); do
    on=$(cpu_ns LD_PRELOAD="$hardened" GB_HARDENED_SAMPLE=1 -- 20000)
    off=$(cpu_ns LD_PRELOAD="$hardened" GB_HARDENED_SAMPLE=0 -- 20000)
    per+=("$(echo "($on - $off) / 20000 / 1000" | bc -l)")
done
echo "  median $(printf '%s\n' "${per[@]}" | median_and_range) microseconds"

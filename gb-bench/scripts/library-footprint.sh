#!/usr/bin/env bash
# Peak RSS of a small C program that uses the prefixed shared library:
# gb-bench/pair_loop.c linked to LIB.so (through a copy under its SONAME, found by
# rpath), making PAIRS gb_alloc/gb_free pairs: start-up, the library's code and first
# slabs, no workload to speak of. One run of each library per round, interleaved; per
# library the median, min and max peak RSS (GNU time's %M, KiB) over the rounds.
#
# Usage: gb-bench/scripts/library-footprint.sh [-r ROUNDS] [-p PAIRS] LABEL=LIB.so ...
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
rounds=9 pairs=1000000
while getopts r:p: opt; do
    case $opt in
    r) rounds=$OPTARG ;;
    p) pairs=$OPTARG ;;
    *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
(($# > 0)) || { echo "usage: $0 [-r ROUNDS] [-p PAIRS] LABEL=LIB.so ..." >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for spec in "$@"; do
    label=${spec%%=*} lib=${spec#*=}
    mkdir -p "$work/$label"
    soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
    cp "$lib" "$work/$label/${soname:-$(basename "$lib")}"
    cc -O2 -I"$repo/include" -DPAIR_LOOP_GB "$repo/gb-bench/pair_loop.c" -o "$work/$label/pair_loop" \
        "$work/$label/${soname:-$(basename "$lib")}" -Wl,-rpath,"$work/$label" -ldl
done
declare -A peaks
for ((round = 0; round < rounds; round++)); do
    for spec in "$@"; do
        label=${spec%%=*} lib=${spec#*=}
        /usr/bin/time -f %M -o "$work/rss" "$work/$label/pair_loop" "$pairs" gb >/dev/null
        peaks[$label]+="$(cat "$work/rss") "
    done
done
echo "peak RSS (KiB) of pair_loop $pairs gb, linked to each library; $rounds interleaved rounds: median [min - max]"
for spec in "$@"; do
    label=${spec%%=*}
    tr ' ' '\n' <<<"${peaks[$label]}" | sed '/^$/d' | sort -n | awk -v label="$label" -v lib="${spec#*=}" '
        { v[NR] = $1 } END { printf "  %-12s %6d [%d - %d]  %s\n", label, v[int((NR + 1) / 2)], v[1], v[NR], lib }'
done

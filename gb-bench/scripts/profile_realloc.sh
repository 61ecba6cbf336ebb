#!/usr/bin/env bash
# Instructions per realloc of gb-bench's realloc driver under callgrind,
# computed as gb-bench/scripts/profile_cost.sh computes them ((instructions
# at scale 0.1 - at 0.02) / (ops at 0.1 - at 0.02)), for several shared
# libraries in turn, REPS times: the realloc workload's figure varies from
# run to run by up to 2x (with the library unchanged), so one run of
# profile_cost.sh cannot tell a change from noise; the medians of several
# can.
#
# Usage: gb-bench/scripts/profile_realloc.sh REPS LABEL=DIR [LABEL=DIR ...]
# DIR holds a libgraphbit_alloc.so: LABEL `off` is run with the plain
# driver (driver-gb@off-shared), any other label with the profiling one
# (driver-gb@on-shared) under GB_PROFILE (512 KiB). The drivers are those
# profile_cost.sh's gb-bench run staged in target/release/gb-bench-work.
set -euo pipefail
cd "$(dirname "$0")/../.."
(($# >= 2)) || { sed -n '2,/^set/p' "$0" | sed '$d'; exit 2; }
reps=$1
shift
drivers=target/release/gb-bench-work
[[ -x $drivers/driver-gb@on-shared ]] || { echo "run profile_cost.sh with PROFILE_COST_BENCH first" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cg() { # dir driver scale: "instructions ops"
    local out
    out=$(GB_PROFILE="$work/cg.pb.gz" LD_LIBRARY_PATH="$1" valgrind --tool=callgrind \
        --callgrind-out-file=/dev/null "$drivers/$2" realloc "$3" 1 1 2>"$work/cg.log")
    echo "$(awk '/Collected/ { print $4 }' "$work/cg.log") $(sed -n 's/^{"ops":\([0-9]*\),.*/\1/p' <<<"$out")"
}
echo "instructions per realloc, gb-bench's realloc driver under callgrind (scales 0.02 and 0.1, difference)"
for spec in "$@"; do
    label=${spec%%=*} dir=${spec#*=}
    mkdir -p "$work/$label"
    cp "$dir/libgraphbit_alloc.so" "$work/$label/"
    ln -sf libgraphbit_alloc.so "$work/$label/libgraphbit_alloc.so.0.1"
    ln -sf libgraphbit_alloc.so "$work/$label/libgraphbit_alloc_profiling.so.0.1"
done
for ((run = 1; run <= reps; run++)); do
    for spec in "$@"; do
        label=${spec%%=*} driver=driver-gb@on-shared
        [[ $label == off ]] && driver=driver-gb@off-shared
        read -r i1 o1 <<<"$(cg "$work/$label" "$driver" 0.02)"
        read -r i2 o2 <<<"$(cg "$work/$label" "$driver" 0.1)"
        awk -v l="$label" -v r="$run" -v a="$i1" -v b="$i2" -v c="$o1" -v d="$o2" \
            'BEGIN { printf "  run %-3d %-10s %8.1f\n", r, l, (b - a) / (d - c) }' | tee -a "$work/all"
    done
done
echo "medians:"
for spec in "$@"; do
    label=${spec%%=*}
    awk -v l="$label" '$3 == l { print $4 }' "$work/all" | sort -n |
        awk -v l="$label" '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
            printf "  %-10s %8.1f  (min %.1f, max %.1f, %d runs)\n", l, m, v[1], v[NR], NR }'
done

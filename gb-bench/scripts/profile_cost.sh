#!/usr/bin/env bash
# What the heap profiler (Cargo feature `profiling`) costs a malloc+free pair
# of a 16-79 B block, in instructions (valgrind callgrind, the method of
# gb-bench/scripts/instructions.sh: (instructions for 1,100,000 pairs - for
# 100,000) / 1,000,000, through gb-bench/pair_loop.c), with the library built without the
# feature, with it but profiling off, and with it on (GB_PROFILE, default
# 512 KiB interval: the countdown on every allocation, a sample about every
# 512 KiB / 48 B = 11,000 pairs).
#
# Then, when PROFILE_COST_BENCH names gb-bench workloads (e.g.
# pair,churn-1t,aligned), gb-bench with the shared library without the
# feature (off) against the profiling one under GB_PROFILE (on, 512 KiB),
# interleaved, PROFILE_COST_REPS repetitions (default 5): its table, and per
# workload the ratio of the medians on / off (speed) and of the peak RSS.
#
# Usage: [PROFILE_COST_BENCH=W1,W2] gb-bench/scripts/profile_cost.sh [extra cargo args] | tee docs/runs/profile-cost.txt
# Builds the four libraries with cargo in one target directory,
# target/variants/profile-cost or $PROFILE_COST_TARGET (so the backend's C
# code is built once; give another backend its own), and copies each out
# before the next build.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
target=${PROFILE_COST_TARGET:-target/variants/profile-cost}
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
row "gb_alloc/gb_free, libgraphbit_alloc_profiling.a, GB_PROFILE on (512 KiB)" \
    GB_PROFILE="$work/profile-gb.pb.gz" -- "$work/static-profiling" gb
row "malloc/free, override preloaded" LD_PRELOAD="$work/override/libgraphbit_alloc.so" -- "$work/plain"
row "malloc/free, override_profiling preloaded, profiling off" \
    LD_PRELOAD="$work/override-profiling/libgraphbit_alloc.so" -- "$work/plain"
row "malloc/free, override_profiling preloaded, GB_PROFILE on (512 KiB)" \
    LD_PRELOAD="$work/override-profiling/libgraphbit_alloc.so" \
    GB_PROFILE="$work/profile.pb.gz" -- "$work/plain"
[[ -n ${PROFILE_COST_BENCH:-} ]] || exit 0
reps=${PROFILE_COST_REPS:-5}
bench=target/release/gb-bench
[[ -x $bench ]] || cargo build --release -p gb-bench "$@" >/dev/null 2>&1 || { echo "build gb-bench failed" >&2; exit 1; }
# Each variant directory holds libgraphbit_alloc.so and its SONAME link;
# gb-bench stages a variant's library under gb-bench-work/lib-LABEL with
# the default SONAME only, so the profiling one's link goes there first.
mkdir -p "$work/var-off" "$work/var-on" target/release/gb-bench-work/lib-on
cp "$work/plain-lib/libgraphbit_alloc.so" "$work/var-off/"
cp "$work/profiling/libgraphbit_alloc.so" "$work/var-on/"
ln -sf libgraphbit_alloc.so "$work/var-off/libgraphbit_alloc.so.0.1"
ln -sf libgraphbit_alloc.so "$work/var-on/libgraphbit_alloc_profiling.so.0.1"
ln -sf libgraphbit_alloc.so target/release/gb-bench-work/lib-on/libgraphbit_alloc_profiling.so.0.1
echo
echo "gb-bench, off = libgraphbit_alloc.so, on = libgraphbit_alloc_profiling.so under GB_PROFILE (512 KiB), $reps repetitions, interleaved;"
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the start; command:"
echo "  GB_PROFILE=FILE $bench --quick --reps $reps --no-progress --variant off=DIR --variant on=DIR \\"
echo "    --contenders gb@off-shared,gb@on-shared --workloads $PROFILE_COST_BENCH"
GB_PROFILE="$work/bench.pb.gz" "$bench" --quick --reps "$reps" --no-progress --variant off="$work/var-off" \
    --variant on="$work/var-on" --contenders gb@off-shared,gb@on-shared --workloads "$PROFILE_COST_BENCH" \
    >"$work/bench.txt" 2>&1 || { cat "$work/bench.txt"; echo "gb-bench failed" >&2; exit 1; }
sed -n '/^Throughput/,/^Verdicts/p' "$work/bench.txt" | grep -v '^Verdicts'
# The ratios: speed = median on / median off; RSS = peak on / peak off.
echo "on / off: speed (median [min/max .. max/min]), peak RSS"
awk '
    function value(text) {
        if (text ~ /k$/) return substr(text, 1, length(text) - 1) * 1e3
        if (text ~ /M$/) return substr(text, 1, length(text) - 1) * 1e6
        if (text ~ /G$/) return substr(text, 1, length(text) - 1) * 1e9
        return text + 0
    }
    /^[a-z0-9-]+ — / { workload = $1 }
    ($1 == "gb@off-shared" || $1 == "gb@on-shared") && $3 ~ /^\[/ {
        median = value($2); low = value(substr($3, 2)); high = value(substr($5, 1, length($5) - 1)); rss = $6
        if ($1 == "gb@off-shared") { off = median; offlow = low; offhigh = high; offrss = rss }
        else printf "  %-20s %.2fx [%.2f .. %.2f]   %.2fx (%.1f -> %.1f MiB)\n", workload, median / off,
            low / offhigh, high / offlow, rss / offrss, offrss, rss
    }' "$work/bench.txt"
# The same workloads' instructions per operation (callgrind, repeatable
# where the wall times above are not): gb-bench's drivers, off and on, each
# at two scales; (instructions at the larger - at the smaller) / (ops at
# the larger - at the smaller), so start-up and the dump at exit cancel.
# Three runs: off (the library without the feature), idle (the profiling
# library, profiling not started) and on (it under GB_PROFILE: jemalloc's
# sampler on jemalloc, the entry points' one elsewhere). (The entry points'
# sampler on jemalloc is the static library's: the pair rows above. The
# shared one answers ENOTSUP with jemalloc's profiler off, since its
# gb_alloc is jemalloc's malloc itself.)
echo "instructions per operation, gb-bench's drivers under callgrind (scales 0.02 and 0.1, difference);"
echo "off: libgraphbit_alloc.so; idle: libgraphbit_alloc_profiling.so, not started; on: it under GB_PROFILE"
echo "(jemalloc's sampler on jemalloc):"
drivers=target/release/gb-bench-work
cg() { # off|idle|on workload threads scale: "instructions ops"
    local out instructions library=on profile=()
    [[ $1 == off ]] && library=off
    [[ $1 == on ]] && profile=(GB_PROFILE="$work/cg.pb.gz")
    out=$(env "${profile[@]}" LD_LIBRARY_PATH="$work/var-$library" valgrind --tool=callgrind \
        --callgrind-out-file=/dev/null "$drivers/driver-gb@$library-shared" "$2" "$4" "$3" 1 2>"$work/cg.log")
    instructions=$(awk '/Collected/ { print $4 }' "$work/cg.log")
    if [[ $1 == on ]]; then
        [[ -s $work/cg.pb.gz ]] || echo "GB_PROFILE wrote no profile ($2): not profiled" >&2
        rm -f "$work/cg.pb.gz"
    fi
    sed -n 's/^{"ops":\([0-9]*\),.*/\1/p' <<<"$out" | sed "s/^/$instructions /"
}
IFS=, read -ra workloads <<<"$PROFILE_COST_BENCH"
for name in "${workloads[@]}"; do
    workload=$name threads=1
    if [[ $name =~ ^(.*)-([0-9]+)t$ ]]; then workload=${BASH_REMATCH[1]} threads=${BASH_REMATCH[2]}; fi
    per_op=()
    for variant in off idle on; do
        read -r i1 o1 <<<"$(cg "$variant" "$workload" "$threads" 0.02)"
        read -r i2 o2 <<<"$(cg "$variant" "$workload" "$threads" 0.1)"
        per_op+=("$(awk -v a="$i1" -v b="$i2" -v c="$o1" -v d="$o2" 'BEGIN { printf "%.1f", (b - a) / (d - c) }')")
    done
    awk -v n="$name" -v off="${per_op[0]}" -v idle="${per_op[1]}" -v on="${per_op[2]}" \
        'BEGIN { printf "  %-18s off %8.1f  idle %8.1f  on %8.1f  on/off %.3f  on/idle %.3f\n",
            n, off, idle, on, on / off, on / idle }'
done

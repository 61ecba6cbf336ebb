#!/usr/bin/env bash
# An experiment for issue 22's cost target: what jemalloc's own sampler
# (`--enable-prof`, tikv-jemalloc-sys's `profiling` feature) costs, beside
# graphbit-alloc's sampler (docs/profiling.md, Cost), in one run. The
# override is built three times: as shipped; with graphbit-alloc's profiler
# (`override,profiling`), off and under GB_PROFILE (512 KiB); and with
# jemalloc's profiler compiled in instead, run with
# `prof:true,prof_active:false` (compiled in, off) and
# `prof:true,prof_active:true,lg_prof_sample:19` (on, 512 KiB) through
# `_RJEM_MALLOC_CONF`, with jemalloc's own stacks (libgcc's unwinder) and,
# built again with GB_JEPROF_EXPERIMENT=1
# (src/profile/jemalloc_prof_experiment.c), with libunwind's
# `unw_backtrace` as its backtrace hook: jemalloc's samples go to its own
# tables, which nothing reads here.
#
# Instructions (valgrind callgrind): per malloc+free pair of
# gb-bench/pair_loop.c ((1,100,000 pairs - 100,000) / 10^6), and per
# operation of gb-bench's drivers (driver-system, the override preloaded;
# scales 0.1 and 0.02, difference), as gb-bench/scripts/profile_cost.sh
# counts them.
#
# Usage: bash gb-bench/scripts/profile_jemalloc.sh | tee docs/runs/profile-jemalloc.txt
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
target=${PROFILE_JEMALLOC_TARGET:-target/variants/jemalloc-prof}
build() { # extra features, name
    cargo build --release --lib --features "override$1" --target-dir "$target" >/dev/null 2>&1 \
        || { echo "build override$1 failed" >&2; exit 1; }
    cp "$target/release/libgraphbit_alloc.so" "$work/$2.so"
}
build "" override
build ",profiling" override-profiling
build ",tikv-jemalloc-sys/profiling" override-jeprof
GB_JEPROF_EXPERIMENT=1 build ",tikv-jemalloc-sys/profiling" override-jeprof-unwind
bench=target/release/gb-bench
[[ -x $bench ]] || cargo build --release -p gb-bench >/dev/null 2>&1 || { echo "build gb-bench failed" >&2; exit 1; }
driver=target/release/gb-bench-work/driver-system
[[ -x $driver ]] || "$bench" --quick --reps 1 --no-progress --workloads pair --contenders system >/dev/null 2>&1
cc -O2 -Iinclude gb-bench/pair_loop.c -o "$work/pair_loop" -ldl
# Since 2026-12-07 the profiling feature builds jemalloc's profiler in and
# its shared libraries use it; prof:false turns it off, so that "gb" stays
# the entry points' sampler this script compares jemalloc's with.
entry="_RJEM_MALLOC_CONF=prof:false"
off="_RJEM_MALLOC_CONF=prof:true,prof_active:false"
on="_RJEM_MALLOC_CONF=prof:true,prof_active:true,lg_prof_sample:19"
collected() { awk '/Collected/ { print $4 }' "$work/cg.log"; }
pair() { # env assignments
    local small large
    env "$@" valgrind --tool=callgrind --callgrind-out-file=/dev/null "$work/pair_loop" 100000 >/dev/null 2>"$work/cg.log"
    small=$(collected)
    env "$@" valgrind --tool=callgrind --callgrind-out-file=/dev/null "$work/pair_loop" 1100000 >/dev/null 2>"$work/cg.log"
    large=$(collected)
    awk -v a="$small" -v b="$large" 'BEGIN { printf "%.2f", (b - a) / 1e6 }'
}
driver_run() { # workload scale, then env assignments: "instructions ops"
    local workload=$1 scale=$2 out
    shift 2
    out=$(env "$@" valgrind --tool=callgrind --callgrind-out-file=/dev/null "$driver" "$workload" "$scale" 1 1 2>"$work/cg.log")
    echo "$(collected) $(sed -n 's/^{"ops":\([0-9]*\),.*/\1/p' <<<"$out")"
}
per_op() { # workload, then env assignments
    local workload=$1 i1 o1 i2 o2
    shift
    read -r i1 o1 <<<"$(driver_run "$workload" 0.02 "$@")"
    read -r i2 o2 <<<"$(driver_run "$workload" 0.1 "$@")"
    awk -v a="$i1" -v b="$i2" -v c="$o1" -v d="$o2" 'BEGIN { printf "%.1f", (b - a) / (d - c) }'
}
echo "jemalloc's own profiler in the override: instructions (callgrind; gb-bench/scripts/profile_jemalloc.sh)"
echo "graphbit-alloc $(git describe --always --dirty 2>/dev/null); override = --features override;"
echo "gb = --features override,profiling with $entry, on: GB_PROFILE=FILE (512 KiB, libunwind where it loads)"
echo "jeprof = --features override,tikv-jemalloc-sys/profiling; off: $off; on: $on"
echo "jeprof-on-unw: jeprof-on with libunwind's stacks (GB_JEPROF_EXPERIMENT=1 build)"
echo "off/ovr: compiled in but off against the override; on/off: on against off"
printf '  %-16s %9s %9s %9s %9s %9s %9s %8s %8s %8s %8s %8s\n' workload override gb-off gb-on jeprof-off \
    jeprof-on jeprof-on-unw gb-off/ovr gb-on/off je-off/ovr je-on/off je-unw/off
row() { # label, then the command printing one figure given env assignments
    local label=$1 a b c d e f
    shift
    a=$("$@" LD_PRELOAD="$work/override.so")
    b=$("$@" LD_PRELOAD="$work/override-profiling.so" "$entry")
    c=$("$@" LD_PRELOAD="$work/override-profiling.so" "$entry" GB_PROFILE="$work/profile.pb.gz")
    d=$("$@" LD_PRELOAD="$work/override-jeprof.so" "$off")
    e=$("$@" LD_PRELOAD="$work/override-jeprof.so" "$on")
    f=$("$@" LD_PRELOAD="$work/override-jeprof-unwind.so" "$on")
    awk -v l="$label" -v a="$a" -v b="$b" -v c="$c" -v d="$d" -v e="$e" -v f="$f" \
        'BEGIN { printf "  %-16s %9s %9s %9s %9s %9s %9s %8.3f %8.3f %8.3f %8.3f %8.3f\n", l, a, b, c, d, e, f,
                 b / a, c / b, d / a, e / d, f / d }'
}
row "pair (per pair)" pair
for workload in ${PROFILE_JEMALLOC_BENCH:-churn leak aligned realloc}; do
    row "$workload" per_op "$workload"
done

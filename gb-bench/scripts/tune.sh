#!/usr/bin/env bash
# Measures a backend's run-time settings with gb-bench (issue 7): one gb-bench
# run per setting, graphbit-alloc (shared library) against the system
# allocator, which ignores the settings and is the reference in every run.
# Prints per setting and workload the graphbit-alloc/system speed and peak-RSS
# ratios (and end/trimmed RSS ratios on the footprint workloads).
#
# Usage: gb-bench/scripts/tune.sh jemalloc|mimalloc [OUT_DIR] [-- extra gb-bench options]
#   SETTINGS  one setting per line (an empty line: the library as built):
#             jemalloc: a malloc_conf string, passed as _RJEM_MALLOC_CONF
#                       (read after the built-in one, so it overrides it);
#             mimalloc: MIMALLOC_NAME=VALUE assignments separated by spaces.
#   REPS, SCALE, WORKLOADS  gb-bench's --reps, --scale, --workloads
#             [3, 0.5, every workload but the aligned and multi-thread churn].
# Default OUT_DIR: /tmp/gb-tune-<backend>. Outputs: one JSON and one text
# report per setting (setNN.json/.txt, setNN.setting) and the summary on stdout.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
backend=${1:?usage: gb-bench/scripts/tune.sh jemalloc|mimalloc [OUT_DIR] [-- gb-bench options]}
shift
out=${1:-/tmp/gb-tune-$backend}
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
mkdir -p "$out"
cd "$repo"
target=${CARGO_TARGET_DIR:-$repo/target}

case "$backend" in
jemalloc)
    # As built; jemalloc's own defaults; the built-in without its
    # background thread; decay off; a shorter decay; with the oversize arena.
    SETTINGS=${SETTINGS-"
background_thread:false,oversize_threshold:8388608,disable_large_size_classes:true
background_thread:false
background_thread:false,dirty_decay_ms:-1,muzzy_decay_ms:-1
dirty_decay_ms:1000
oversize_threshold:8388608"}
    ;;
mimalloc)
    # As built; never purge; purge sooner; arenas committed on demand.
    SETTINGS=${SETTINGS-"
MIMALLOC_PURGE_DELAY=-1
MIMALLOC_PURGE_DELAY=10
MIMALLOC_ARENA_EAGER_COMMIT=0"}
    ;;
*)
    echo "gb-bench/scripts/tune.sh: unknown backend $backend (jemalloc or mimalloc)" >&2
    exit 2
    ;;
esac

cargo build --release -p gb-bench
gb="$target/release/gb-bench"
# The library under test, built for this backend in its own directory.
CARGO_TARGET_DIR="$target/tune-$backend" cargo build --release --lib \
    --features "backend-$backend,global-allocator"
lib_dir="$target/tune-$backend/release"

i=0
while IFS= read -r setting; do
    name=$(printf 'set%02d' "$i")
    i=$((i + 1))
    printf '%s\n' "$setting" >"$out/$name.setting"
    echo "=== $name: ${setting:-(as built)}" >&2
    if [ "$backend" = jemalloc ]; then
        vars=("_RJEM_MALLOC_CONF=$setting")
    else
        read -r -a vars <<<"$setting"
    fi
    env ${vars[@]+"${vars[@]}"} "$gb" --no-progress --lib-dir "$lib_dir" \
        --reps "${REPS:-3}" --scale "${SCALE:-0.5}" --contenders gb-shared,system \
        --workloads "${WORKLOADS:-pair,churn-1t,producer-consumer,realloc,large,fragmentation,leak,burst-idle,jansson}" \
        --json "$out/$name.json" "$@" >"$out/$name.txt"
done <<<"$SETTINGS"

python3 - "$out" "$i" <<'EOF'
import json, pathlib, sys
out, count = pathlib.Path(sys.argv[1]), int(sys.argv[2])
def f(x):
    return "-" if x is None else f"{x:.2f}"
print("gb-shared / system: speed (above 1 = faster) | peak RSS (below 1 = smaller)")
for n in range(count):
    doc = json.loads((out / f"set{n:02d}.json").read_text())
    assert doc["schema"] == "gb-bench/3", doc["schema"]
    setting = (out / f"set{n:02d}.setting").read_text().strip() or "(as built)"
    print(f"\n{setting}   [{doc['library']['backend']}; load at start {doc['load_average_at_start']}]")
    for r in doc["ratios"]:
        if r["contender"] != "gb-shared" or r["baseline"] != "system":
            continue
        extra = ""
        if r.get("rss_end") is not None:
            extra = f"  end RSS {f(r['rss_end'])}  trimmed {f(r.get('rss_trimmed'))}"
        print(f"  {r['workload']:<18} speed {f(r['speed']):>5}  peak RSS {f(r['peak_rss']):>5}{extra}")
EOF

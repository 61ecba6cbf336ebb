#!/usr/bin/env bash
# The server workload (gb-bench --workloads server: 64 threads, bursts of
# mixed sizes, a ~40 MiB cache whose entries other threads free) under
# jemalloc settings that act on memory held per thread (tcache), per arena
# (arena count, decay, the background thread), against glibc and Debian's
# jemalloc in the same gb-bench run for each setting. Per setting: medians of
# requests/s, requests per CPU second (user+sys of the whole process: steadier
# than requests/s when other work shares the cores), peak and end RSS (MiB).
#
# Usage: gb-bench/scripts/tune-server.sh [SETTING ...] | tee docs/tune-server.txt
#   each SETTING is an _RJEM_MALLOC_CONF string ("" is the built-in one);
#   GB_TUNE_ARGS (default "--quick --reps 3 --time-scale 0.12": 3 runs of
#   7.2 s each per contender) goes to gb-bench; GB_TUNE_WORKLOADS (default
#   server) names the workloads, e.g. server,burst-idle.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p gb-bench >/dev/null 2>&1
settings=("$@")
[ ${#settings[@]} -gt 0 ] || settings=(
    ""                                   # built in
    "dirty_decay_ms:1000"                # decay: dirty pages kept 1 s, not 10 s
    "background_thread:false"            # the allocating threads purge
    "tcache_max:16384"                   # no thread cache above 16 KiB
    "tcache_nslots_small_max:20,tcache_nslots_large:4" # fewer cached blocks per size
    "narenas:2"                          # one arena per core, not four
    "percpu_arena:percpu"                # threads use the arena of their CPU
    "tcache:false"                       # no thread caches at all
    "narenas:1,tcache:false"
    "narenas:1,tcache:false,dirty_decay_ms:0" # the floor: nothing cached anywhere
)
args=${GB_TUNE_ARGS:---quick --reps 3 --time-scale 0.12}
workloads=${GB_TUNE_WORKLOADS:-server}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "# gb-bench/scripts/tune-server.sh, graphbit-alloc $(git describe --always --dirty), $(date -u +%FT%RZ), $(nproc) CPUs"
echo "# gb-bench $args --workloads $workloads --contenders gb-shared,system,jemalloc (one run per setting); medians"
i=0
for conf in "${settings[@]}"; do
    printf '%s\n' "$conf" >"$work/$i.setting"
    _RJEM_MALLOC_CONF=$conf ./target/release/gb-bench $args --no-progress --workloads "$workloads" \
        --contenders gb-shared,system,jemalloc --json "$work/$i.json" >/dev/null 2>&1
    i=$((i + 1))
done
python3 - "$work" "$i" <<'EOF'
import json, pathlib, statistics, sys
work, count = pathlib.Path(sys.argv[1]), int(sys.argv[2])
def row(label, runs):
    ok = [r for r in runs if r["error"] is None]
    if not ok:
        return f"{label:<44} FAILED"
    med = lambda f: statistics.median(f(r) for r in ok)
    return (f"{label:<44} {med(lambda r: r['ops'] / r['seconds']) / 1e3:8.0f}k {med(lambda r: r['ops'] / r['cpu_seconds']) / 1e3:8.0f}k"
            f" {med(lambda r: r['peak_rss_kib']) / 1024:8.1f} {med(lambda r: r['rss_end_kib']) / 1024:8.1f}")
print(f"{'':<44} {'req/s':>9} {'req/CPU-s':>9} {'peak MiB':>8} {'end MiB':>8}")
for n in range(count):
    doc = json.loads((work / f"{n}.json").read_text())
    setting = (work / f"{n}.setting").read_text().strip() or "(built in)"
    runs = {}
    for r in doc["runs"]:
        runs.setdefault((r["workload"], r["contender"]), []).append(r)
    print(f"\n_RJEM_MALLOC_CONF={setting}   [load at start {doc['load_average_at_start']}]")
    for workload in dict.fromkeys(w for w, _ in runs):
        if len(runs) > 3:
            print(f" {workload}")
        print(row("  gb-shared (graphbit-alloc, this setting)", runs.get((workload, "gb-shared"), [])))
        print(row("  system (glibc)", runs.get((workload, "system"), [])))
        print(row("  jemalloc (Debian's, its defaults)", runs.get((workload, "jemalloc"), [])))
EOF

#!/usr/bin/env bash
# Issue 7: measures jemalloc malloc_conf settings for graphbit-alloc with
# gb-bench, one run per setting, through _RJEM_MALLOC_CONF (read at start-up
# by graphbit-alloc's prefixed jemalloc; the system allocator ignores it and
# serves as the reference in every run). Prints, per setting and workload,
# graphbit-alloc/system speed and peak-RSS ratios (and end/trimmed RSS
# ratios on fragmentation).
#
# Usage: bench/jemalloc-conf.sh [OUT_DIR] [-- extra gb-bench options]
#        (default OUT_DIR /tmp/gb-jemalloc-conf; CONFS overrides the list,
#        one setting per line, an empty line meaning jemalloc's defaults)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/tmp/gb-jemalloc-conf}
shift || true
[ "${1:-}" = "--" ] && shift
mkdir -p "$out"
cd "$repo"
cargo build --release --bin gb-bench
gb="${CARGO_TARGET_DIR:-$repo/target}/release/gb-bench"

CONFS=${CONFS:-"
oversize_threshold:0
dirty_decay_ms:30000
disable_large_size_classes:false
oversize_threshold:0,dirty_decay_ms:-1,muzzy_decay_ms:-1
oversize_threshold:0,disable_large_size_classes:false
oversize_threshold:0,disable_large_size_classes:false,dirty_decay_ms:30000
background_thread:true"}

i=0
while IFS= read -r conf; do
    name=$(printf 'conf%02d' "$i")
    i=$((i + 1))
    echo "=== $name: _RJEM_MALLOC_CONF='$conf'" >&2
    _RJEM_MALLOC_CONF="$conf" "$gb" --no-progress --reps "${REPS:-3}" --scale "${SCALE:-0.5}" \
        --contenders gb-shared,system \
        --workloads pair,churn-1t,churn-4t,producer-consumer,realloc,large,fragmentation,leak,jansson \
        --json "$out/$name.json" "$@" >"$out/$name.txt"
done <<<"$CONFS"

python3 - "$out" <<'EOF'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
rows = []
for path in sorted(out.glob("conf*.json")):
    doc = json.loads(path.read_text())
    conf = doc["environment"].get("_RJEM_MALLOC_CONF", "") or "(jemalloc defaults)"
    ratios = {r["workload"]: r for r in doc["ratios"]
              if r["contender"] == "gb-shared" and r["baseline"] == "system"}
    rows.append((conf, ratios, doc["load_average_at_start"]))
workloads = list(rows[0][1]) if rows else []
def f(x):
    return "-" if x is None else f"{x:.2f}"
print("gb-shared / system: speed (above 1 = faster) | peak RSS (below 1 = smaller)")
for conf, ratios, load in rows:
    print(f"\n{conf}   [load at start {load}]")
    for w in workloads:
        r = ratios[w]
        extra = ""
        if w == "fragmentation":
            extra = f"  end RSS {f(r['rss_end'])}  trimmed {f(r['rss_trimmed'])}"
        print(f"  {w:<18} speed {f(r['speed']):>5}  peak RSS {f(r['peak_rss']):>5}{extra}")
EOF

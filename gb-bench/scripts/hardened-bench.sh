#!/usr/bin/env bash
# gb-bench --quick with the hardened override as the gb-override contender,
# against the default override: ROUNDS (default 2) alternating runs of each
# (`--contenders system,gb-override`), then per workload the median ops/s of
# gb-override under each library, speed = hardened / default, and CPU seconds
# per operation hardened / default, with their geometric means.
#
# Usage: gb-bench/scripts/hardened-bench.sh LIB_DIR OVERRIDE.so HARDENED.so [ROUNDS]
#   LIB_DIR       holds libgraphbit_alloc.so and libgraphbit_alloc.a (e.g. build/default/lib)
#   OVERRIDE.so   libgraphbit_alloc_override.so (cargo build --release --features override)
#   HARDENED.so   libgraphbit_alloc_override_hardened.so (--features override-hardened)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
lib=$(realpath "$1")
rounds=${4:-2}
bench=${GB_BENCH:-$repo/target/release/gb-bench}
[[ -x $bench ]] || (cd "$repo" && cargo build --release -p gb-bench)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for side in default hardened; do
    mkdir -p "$work/$side"
    ln -s "$lib/libgraphbit_alloc.so" "$lib/libgraphbit_alloc.a" "$work/$side/"
done
cp "$2" "$work/default/libgraphbit_alloc_override.so"
cp "$3" "$work/hardened/libgraphbit_alloc_override.so"
for ((r = 0; r < rounds; r++)); do
    for side in default hardened; do
        "$bench" --quick --no-progress --lib-dir "$work/$side" --contenders system,gb-override \
            --json "$work/$side-$r.json" >/dev/null
    done
done
python3 - "$work" <<'PY'
import glob, json, statistics, sys
work = sys.argv[1]
def load(side):
    runs, loads = {}, []
    for f in sorted(glob.glob(f"{work}/{side}-*.json")):
        d = json.load(open(f))
        loads.append(d["load_average_at_start"])
        for r in d["runs"]:
            if r["contender"] == "gb-override" and not r.get("error"):
                runs.setdefault(r["workload"], []).append(r)
    return runs, loads
a, la = load("default")
b, lb = load("hardened")
print("load average at the start of each run: default %s; hardened %s" % (la, lb))
print("%-20s %14s %14s %8s %8s %8s" % ("workload", "default ops/s", "hardened ops/s", "speed", "cpu/op", "samples"))
speed, cpu = [], []
for w in a:
    if w not in b:
        continue
    ops = lambda rs: statistics.median(x["ops"] / x["seconds"] for x in rs)
    per = lambda rs: statistics.median(x["cpu_seconds"] / x["ops"] for x in rs if x["cpu_seconds"])
    s, c = ops(b[w]) / ops(a[w]), per(b[w]) / per(a[w])
    speed.append(s)
    cpu.append(c)
    print("%-20s %14.0f %14.0f %7.3fx %7.3fx %8d" % (w, ops(a[w]), ops(b[w]), s, c, min(len(a[w]), len(b[w]))))
g = statistics.geometric_mean
print("geometric mean: speed %.3fx (hardened / default), CPU per operation %.3fx" % (g(speed), g(cpu)))
PY

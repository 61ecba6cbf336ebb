#!/usr/bin/env python3
"""Compare contenders of ONE gb-bench --json report side by side (e.g.
gb-shared against --variant builds with other built-in settings): per
workload, each contender's ops per CPU-second relative to the first one
named, and its median peak RSS (MiB); then each one's geometric means of
ops/CPU-s and peak RSS against glibc (`system`) of the same run, and its
worst workload against the first.

Usage: gb-bench/scripts/variant-compare.py REPORT.json CONTENDER ...
   e.g. variant-compare.py cand.json gb-shared gb@X-shared gb@Y-shared
"""
import json
import math
import statistics as st
import sys

doc = json.load(open(sys.argv[1]))
names = sys.argv[2:]
runs = {}
for r in doc["runs"]:
    if r.get("error") is None:
        runs.setdefault((r["contender"], r["workload"]), []).append(r)
med = {
    k: (st.median(r["ops"] / r["cpu_seconds"] for r in rs), st.median(r["peak_rss_kib"] for r in rs) / 1024)
    for k, rs in runs.items()
}
workloads = sorted({w for _, w in med})
print(f"# {sys.argv[1]}: ops/CPU-s relative to {names[0]}, peak RSS MiB (medians)")
print(f"{'workload':<18}" + "".join(f"{n:>24}" for n in names + ["system"]))
for w in workloads:
    base = med.get((names[0], w))
    row = f"{w:<18}"
    for n in names + ["system"]:
        m = med.get((n, w))
        row += f"{'-':>24}" if not m or not base else f"{m[0] / base[0]:>14.2f}x {m[1]:7.1f}"
    print(row)
geo = lambda xs: math.exp(sum(map(math.log, xs)) / len(xs))
for n in names:
    ws = [w for w in workloads if (n, w) in med and ("system", w) in med and (names[0], w) in med]
    speed = geo([med[(n, w)][0] / med[("system", w)][0] for w in ws])
    peak = geo([med[(n, w)][1] / med[("system", w)][1] for w in ws])
    worst = min(ws, key=lambda w: med[(n, w)][0] / med[(names[0], w)][0])
    print(f"{n}: geomean vs glibc {speed:.2f}x ops/CPU-s, {peak:.2f}x peak RSS over {len(ws)} workloads;"
          f" worst against {names[0]}: {worst} {med[(n, worst)][0] / med[(names[0], worst)][0]:.2f}x")

#!/usr/bin/env python3
"""Compare gb-bench --json reports of the same workloads under different
settings (docs/memory.md): per contender and workload, ops per CPU-second
relative to the first report, and median peak RSS; then each report's
geometric means against glibc (`system`) of the same run.

Usage: bench/memory-compare.py LABEL=REPORT.json ...
"""
import json
import math
import statistics as st
import sys


def medians(doc):
    runs = {}
    for r in doc["runs"]:
        if r.get("error") is None:
            runs.setdefault((r["contender"], r["workload"]), []).append(r)
    return {
        k: dict(
            cpu=st.median(r["ops"] / r["cpu_seconds"] for r in rs),
            peak=st.median(r["peak_rss_kib"] for r in rs) / 1024,
        )
        for k, rs in runs.items()
    }


def geomean(xs):
    return math.exp(sum(map(math.log, xs)) / len(xs))


labels, reports = [], []
for arg in sys.argv[1:]:
    label, path = arg.split("=", 1)
    labels.append(label)
    reports.append(medians(json.load(open(path))))
base = reports[0]
for contender in sorted({c for c, _ in base if c != "system"}):
    print(f"\n{contender}: ops per CPU-second relative to '{labels[0]}', and peak RSS (MiB)")
    workloads = sorted(w for c, w in base if c == contender)
    for w in workloads:
        cells = []
        for rep in reports:
            a, b = rep.get((contender, w)), base[(contender, w)]
            cells.append(f"{a['cpu'] / b['cpu']:5.2f}x {a['peak']:7.1f}" if a else f"{'-':>14}")
        print(f"  {w:<18} " + " | ".join(cells))
    for label, rep in zip(labels, reports):
        ws = [w for w in workloads if (contender, w) in rep and ("system", w) in rep]
        speed = geomean([rep[(contender, w)]["cpu"] / rep[("system", w)]["cpu"] for w in ws])
        mem = geomean([rep[(contender, w)]["peak"] / rep[("system", w)]["peak"] for w in ws])
        print(f"  {label:<40} vs glibc, same run: ops per CPU-s {speed:.2f}x, peak RSS {mem:.2f}x (geomeans)")

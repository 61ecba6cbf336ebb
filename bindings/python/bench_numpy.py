#!/usr/bin/env python3
"""NumPy allocation-heavy workloads, with NumPy's own allocator and with
graphbit_alloc.numpy's handler: the median of interleaved runs, each in a
fresh process (so neither allocator inherits the other's heap).

    python3 bindings/python/bench_numpy.py [--reps 7] [--quick] [--json FILE]

It needs numpy and graphbit_alloc importable (installed, or with
PYTHONPATH=bindings/python and GRAPHBIT_ALLOC_LIB set). Contenders:

  numpy        NumPy's default handler (the C library's malloc, NumPy's cache
               of blocks under 1 KiB, madvise(MADV_HUGEPAGE) from 4 MiB)
  gb           graphbit_alloc.numpy.install(): gb_ctx_* with an unsized free
  gb-sized     the same with gb_ctx_free_sized as free: for comparison only,
               to price the sized free this module does not use (NumPy's
               size is not always the allocated one); these workloads never
               hit such a case

Workloads:

  medium-temporaries  expressions over 16-512 KiB arrays: each operator makes
                      a temporary of that size, freed right after
  small-arrays        many arrays of 1-512 items (8 B - 4 KiB): made,
                      combined, kept in a rolling window, dropped
  mixed               sort, unique, boolean masks, fancy indexing,
                      concatenate, reshape copies on 10^5-item arrays
  large               32 MiB arrays: zeros, fill, a temporary, freed
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CONTENDERS = ["numpy", "gb", "gb-sized"]

# Python puts this script's directory, which holds the source tree's
# graphbit_alloc (without its library), first on sys.path: the installed
# package is meant, unless PYTHONPATH names the source tree.
if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]


def medium_temporaries(np, scale):
    rng = np.random.default_rng(1)
    sizes = [2_048, 8_192, 16_384, 65_536]  # float64: 16, 64, 128, 512 KiB
    arrays = [(rng.random(n), rng.random(n)) for n in sizes]
    total = 0.0
    for _ in range(int(400 * scale)):
        for a, b in arrays:
            y = (a * 2.0 + b) * (a - 0.5) - b / 3.0
            z = np.maximum(y, a) + np.minimum(y, b)
            total += z[-1]
    return total


def small_arrays(np, scale):
    kept, total = [], 0.0
    for i in range(int(120_000 * scale)):
        n = 1 + (i * 7919) % 512
        a = np.arange(n, dtype=np.float64)
        b = a * 0.5 + 1.0
        kept.append(b)
        if len(kept) > 256:
            total += np.concatenate(kept[:64]).sum()
            del kept[:64]
    return total


def mixed(np, scale):
    rng = np.random.default_rng(2)
    base = rng.integers(0, 1000, size=100_000)
    total = 0
    for _ in range(int(60 * scale)):
        s = np.sort(base)
        u = np.unique(s)
        m = base[base > 500]
        f = base[rng.integers(0, base.size, size=20_000)]
        c = np.concatenate([s, m, f])
        r = c[: c.size // 10 * 10].reshape(-1, 10).T.copy()
        total += int(u.size + r[0, 0])
    return total


def large(np, scale):
    total = 0.0
    for _ in range(int(24 * scale)):
        a = np.zeros(4 << 20)  # 32 MiB
        a += 1.0
        b = a * 2.0
        total += b[-1]
        del a, b
    return total


WORKLOADS = {
    "medium-temporaries": medium_temporaries,
    "small-arrays": small_arrays,
    "mixed": mixed,
    "large": large,
}


def child(contender, workload, scale):
    """One run, in this process: prints {seconds, maxrss_kib}."""
    import resource

    import numpy as np

    if contender != "numpy":
        import graphbit_alloc.numpy as gbnp

        capsule = gbnp.handler()
        if contender == "gb-sized":
            address = gbnp._PyCapsule_GetPointer(capsule, b"mem_handler")
            handler = gbnp._PyDataMemHandler.from_address(address)
            handler.allocator.free = gbnp.library().function_address("gb_ctx_free_sized")
        gbnp.install()
        assert gbnp.handler_name(np.ones(3)) == "graphbit_alloc"
    function = WORKLOADS[workload]
    function(np, scale / 10)  # warm-up
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    start = time.perf_counter()
    function(np, scale)
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"seconds": seconds, "maxrss_kib": usage.ru_maxrss,
                      "minflt": usage.ru_minflt - faults}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=7, help="runs of each contender (default 7)")
    parser.add_argument("--quick", action="store_true", help="a quarter of the work, 3 reps")
    parser.add_argument("--workload", action="append", choices=list(WORKLOADS),
                        help="only these (repeatable)")
    parser.add_argument("--contender", action="append", choices=CONTENDERS, help="only these")
    parser.add_argument("--json", help="write the results here too")
    parser.add_argument("--child", nargs=3, metavar=("CONTENDER", "WORKLOAD", "SCALE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child[0], args.child[1], float(args.child[2]))

    import numpy
    import graphbit_alloc as gb

    reps, scale = (3, 0.25) if args.quick else (args.reps, 1.0)
    workloads = args.workload or list(WORKLOADS)
    contenders = args.contender or CONTENDERS
    print(f"NumPy {numpy.__version__}, Python {sys.version.split()[0]}, graphbit-alloc "
          f"{gb.version()} ({gb.allocator_name()} {gb.allocator_version()}, {gb.library().path}); "
          f"{reps} interleaved runs of each, fresh process each, scale {scale}")
    results = {}
    for workload in workloads:
        times = {c: [] for c in contenders}
        rss = {c: [] for c in contenders}
        faults = {c: [] for c in contenders}
        for rep in range(reps):
            # Interleaved, the order turned round every other rep (ABC CBA ...).
            order = contenders if rep % 2 == 0 else contenders[::-1]
            for contender in order:
                out = subprocess.run(
                    [sys.executable, os.path.abspath(__file__), "--child", contender, workload,
                     str(scale)], capture_output=True, text=True, check=True)
                run = json.loads(out.stdout.strip().splitlines()[-1])
                times[contender].append(run["seconds"])
                rss[contender].append(run["maxrss_kib"])
                faults[contender].append(run["minflt"])
        base = statistics.median(times["numpy"]) if "numpy" in times else None
        results[workload] = {}
        line = [f"{workload:20}"]
        for contender in contenders:
            median = statistics.median(times[contender])
            spread = (max(times[contender]) - min(times[contender])) / median
            peak = statistics.median(rss[contender]) / 1024
            fault = statistics.median(faults[contender])
            results[workload][contender] = {
                "median_s": median, "runs_s": times[contender], "peak_rss_mib": peak,
                "page_faults": fault}
            ratio = f" {base / median:4.2f}x" if base else ""
            line.append(f"{contender} {median * 1000:7.1f} ms{ratio} (±{spread * 50:2.0f}%, "
                        f"{peak:4.0f} MiB, {fault:6.0f} flt)")
        print("  ".join(line), flush=True)
    print("(x: NumPy's median time / the contender's, above 1 is faster; ±: half the "
          "range of the runs over the median; MiB: median peak RSS of the process; flt: "
          "median page faults during the timed part)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"numpy": numpy.__version__, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Peak RSS of small programs with and without preloaded libraries,
interleaved (one run of each library per round), medians over the rounds.

Usage: footprint.py [--reps N] [--scale X] LABEL=LIB.so ...   (LABEL=- : no preload)
The programs are gb-bench's real programs (gb-bench/programs/) at gb-bench's
sizes times --scale (0.06 = --quick), plus `cat /dev/null` (start-up only).
Peak RSS is the child's ru_maxrss (GNU time's %M); CPU is its user+sys time.
"""
import argparse, os, statistics, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
P = os.path.join(ROOT, "programs")


def programs(scale):
    n = lambda x: str(max(1, round(x * scale)))
    return [
        ("cat", ["cat", "/dev/null"]),
        ("lua", ["lua5.4", f"{P}/churn.lua", n(1000)]),
        ("sqlite3", ["sqlite3", ":memory:", "-cmd", f".parameter set @n {n(150000)}", f".read {P}/churn.sql"]),
        ("python3", ["/usr/bin/python3", f"{P}/churn.py", n(4000)]),
        ("perl", ["perl", f"{P}/churn.pl", n(2500)]),
    ]


def run(argv, lib):
    """Runs argv under GNU time (a small parent, so the child's ru_maxrss
    is its own and not a copy of this Python process's)."""
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if lib != "-":
        env["LD_PRELOAD"] = lib
    r, w = os.pipe()
    out = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", f"/dev/fd/{w}"] + argv,
                         env=env, stdout=subprocess.DEVNULL, pass_fds=(w,))
    os.close(w)
    text = os.read(r, 4096).decode().split()
    os.close(r)
    if out.returncode != 0:
        sys.exit(f"{argv[0]} under {lib}: status {out.returncode}")
    return int(text[-3]) / 1024.0, float(text[-2]) + float(text[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--scale", type=float, default=0.06)
    ap.add_argument("libs", nargs="+")
    a = ap.parse_args()
    libs = [x.split("=", 1) for x in a.libs]
    progs = programs(a.scale)
    res = {(p, l): [] for p, _ in progs for l, _ in libs}
    for _ in range(a.reps):
        for p, argv in progs:
            for label, lib in libs:
                res[(p, label)].append(run(argv, lib))
    print(f"# footprint.py --reps {a.reps} --scale {a.scale} " + " ".join(a.libs))
    print("# peak RSS MiB median [min-max] over reps; ratio to the first label's median; CPU s median")
    print(f"{'program':10}" + "".join(f"{l:>30}" for l, _ in libs))
    for p, _ in progs:
        base = statistics.median(r[0] for r in res[(p, libs[0][0])])
        row = f"{p:10}"
        for l, _ in libs:
            rss = [r[0] for r in res[(p, l)]]
            cpu = statistics.median(r[1] for r in res[(p, l)])
            m = statistics.median(rss)
            row += f"{m:8.2f} [{min(rss):.2f}-{max(rss):.2f}] {m / base:5.2f}x {cpu:5.2f}s"
        print(row)


main()

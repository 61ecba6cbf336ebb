#!/usr/bin/env bash
# Writes src/startup-order.ld: the functions of the override library
# that small programs run (start-up, the malloc family, exit), placed together
# at the start of its code by the linker (build.rs passes the script to every
# shared library's link on Linux). Each fault on the library's code maps 64-128 KiB
# of it; with these ~170 KiB scattered over 840 KiB, every page of the code
# ended up resident in every process (docs/memory.md, "Small programs").
#
# Usage: gb-bench/scripts/startup-order.sh [path/to/libgraphbit_alloc_override.so]
#   (default: target/variants/override-jemalloc/release/libgraphbit_alloc.so)
# Needs valgrind, lua5.4, python3, perl, sqlite3. The list is by function
# name, so it stays valid across builds; Rust names are matched without their
# hash. Re-run it when the start-up path changes.
set -euo pipefail
cd "$(dirname "$0")/../.."
lib=$(realpath "${1:-target/variants/override-jemalloc/release/libgraphbit_alloc.so}")
P=$PWD/gb-bench/programs
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
n=0
profile() {
    n=$((n + 1))
    LD_PRELOAD=$lib valgrind --tool=callgrind --callgrind-out-file="$work/cg.$n" "$@" \
        </dev/null >/dev/null 2>"$work/log.$n"
}
profile cat /dev/null
profile ls /
profile lua5.4 "$P/churn.lua" 20
profile /usr/bin/python3 "$P/churn.py" 20
profile perl "$P/churn.pl" 20
profile sqlite3 :memory: -cmd ".parameter set @n 500" ".read $P/churn.sql"
nm "$lib" | awk '$2 ~ /[tTwW]/ {print $3}' >"$work/mangled"
nm -C "$lib" | awk '$2 ~ /[tTwW]/ {$1 = ""; $2 = ""; sub(/^  /, ""); print}' >"$work/demangled"
python3 - "$work" "$(basename "$lib")" >src/startup-order.ld <<'PY'
import collections, glob, re, sys
work, libname = sys.argv[1], sys.argv[2]
ran = set()
for path in sorted(glob.glob(f"{work}/cg.*")):
    obj, objs, names = None, {}, {}
    for line in open(path):
        m = re.match(r"^(c?ob)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
        if m:
            if m[3]: objs[m[2]] = m[3]
            if m[1] == "ob": obj = objs.get(m[2])
            continue
        m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
        if m:
            if m[3]: names[m[2]] = m[3]
            if m[1] == "fn" and obj and obj.endswith(libname): ran.add(names[m[2]])
mangled = open(f"{work}/mangled").read().split("\n")
demangled = open(f"{work}/demangled").read().split("\n")
by_name = collections.defaultdict(set)
for a, b in zip(mangled, demangled):
    by_name[b].add(a)
    by_name[re.sub(r"::h[0-9a-f]{16}$", "", b)].add(a)
patterns = set()
for name in ran:
    for sym in by_name.get(name, ()):
        # Rust's legacy mangling ends in a hash that changes with the code.
        patterns.add(re.sub(r"17h[0-9a-f]{16}E$", "17h*", sym))
print("/* The override library's functions that small programs run, first in its")
print(" * code (build.rs; written by gb-bench/scripts/startup-order.sh, which says")
print(" * why). A name that no longer exists matches nothing. */")
print("SECTIONS\n{\n  .text.gb_startup :\n  {")
for p in sorted(patterns):
    print(f"    *(.text.{p})")
print("  }\n}\nINSERT BEFORE .text;")
PY
echo "src/startup-order.ld: $(grep -c '^    \*' src/startup-order.ld) functions"

#!/usr/bin/env bash
# Long run of the whole-process stress program (c_tests/override/override_stress.c:
# the plain malloc family from many threads, re-created in rounds, with
# cross-thread frees and every block's contents checked) under
# libgraphbit_alloc_override.so preloaded, built for jemalloc and for mimalloc,
# and under glibc without a preload for comparison. Each run under
# /usr/bin/time -v; writes the commands, the git revision, the date, the
# machine, each run's summary line, exit status, wall/CPU time and max RSS.
#
# Usage: gb-bench/scripts/override-stress.sh [OUT]   (default docs/override-stress.txt)
#   GB_STRESS_OPS      malloc-family calls per run [100000000]
#   GB_STRESS_THREADS  worker threads per round [8]
#   GB_STRESS_ROUNDS   rounds: the threads exit and are re-created this many times [100]
# The libraries are built with cargo in target/variants/override and
# target/variants/override-mimalloc (as tests/override.sh does). On a 2-core
# machine (shared) a run of the default 10^8 operations took 46-51 s per
# preload and 89 s under glibc. Exits non-zero if a build or a run failed
# (the file is written all the same, with the run's stderr).
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
out=${1:-$repo/docs/override-stress.txt}
ops=${GB_STRESS_OPS:-100000000}
threads=${GB_STRESS_THREADS:-8}
rounds=${GB_STRESS_ROUNDS:-100}
[ -x /usr/bin/time ] || { echo "needs GNU time as /usr/bin/time (apt-get install time)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0

build() { # name, target dir, cargo feature args...
    local name=$1 dir=$2
    shift 2
    echo "== build $name: cargo build --release $* --target-dir ${dir#"$repo"/}" >&2
    if ! cargo build --release "$@" --target-dir "$dir" >/dev/null 2>"$work/$name.build.log"; then
        cat "$work/$name.build.log" >&2
        echo "FAIL: build $name" >&2
        exit 1
    fi
    # A copy: another build in the same target directory may replace the file mid-run.
    cp "$dir/release/libgraphbit_alloc.so" "$work/libgraphbit_alloc_override-$name.so"
}
build jemalloc "$repo/target/variants/override" --features override
build mimalloc "$repo/target/variants/override-mimalloc" --no-default-features --features backend-mimalloc,global-allocator,override

cc=${CC:-gcc}
cflags=(-O2 -std=c11 -Wall -Wextra -pthread -I"$repo/c_tests")
compile="$cc -O2 -std=c11 -Wall -Wextra -pthread -Ic_tests -o override_stress c_tests/override/override_stress.c -ldl"
echo "== compile: $compile" >&2
$cc "${cflags[@]}" -o "$work/override_stress" c_tests/override/override_stress.c -ldl || exit 1

rev=$(git rev-parse --short HEAD)
built_from="git $rev"
changed=$(git diff --shortstat HEAD -- src Cargo.toml Cargo.lock build.rs c_tests/override 2>/dev/null)
untracked=$(git ls-files --others --exclude-standard -- src c_tests/override | wc -l)
if [ -n "$changed" ] || [ "$untracked" != 0 ]; then
    built_from="$built_from + the working tree's uncommitted changes (src, Cargo.*, build.rs, c_tests/override:${changed:- no tracked file changed,} $untracked untracked file(s))"
fi
{
    echo "# Output of: gb-bench/scripts/override-stress.sh (GB_STRESS_OPS=$ops GB_STRESS_THREADS=$threads GB_STRESS_ROUNDS=$rounds)"
    echo "# $built_from"
    echo "# $(date -u +%Y-%m-%dT%H:%MZ), nproc $(nproc), $(uname -m), $(uname -sr)"
    echo "# $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //'), $(ldd --version | head -1 | sed 's/.* //' | sed 's/^/glibc /')"
    echo "# Load average (1/5/15 min) at start: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared: other work adds noise)"
    echo "# Libraries: cargo build --release --features override --target-dir target/variants/override"
    echo "#            cargo build --release --no-default-features --features backend-mimalloc,global-allocator,override --target-dir target/variants/override-mimalloc"
    for name in jemalloc mimalloc; do
        echo "#            $name: sha256 $(sha256sum "$work/libgraphbit_alloc_override-$name.so" | cut -c1-16)"
    done
    echo "# Program:   $compile"
    echo "# ops counts malloc-family calls; what the threads and then the main thread free at the end comes on top of OPS_TOTAL."
    echo
} >"$work/report"

run() { # name, preload (empty: none)
    local name=$1 lib=$2 cmd
    if [ -n "$lib" ]; then
        cmd="LD_PRELOAD=libgraphbit_alloc_override-$name.so ./override_stress $threads $ops $rounds"
    else
        cmd="./override_stress $threads $ops $rounds"
    fi
    echo "== run $name: $cmd" >&2
    (cd "$work" && /usr/bin/time -v -o "$work/$name.time" env ${lib:+LD_PRELOAD=$lib} \
        ./override_stress "$threads" "$ops" "$rounds" >"$work/$name.out" 2>"$work/$name.err")
    local rc=$?
    local rss wall cpu_user cpu_sys
    rss=$(sed -n 's/^\s*Maximum resident set size (kbytes): //p' "$work/$name.time")
    wall=$(sed -n 's/^\s*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/$name.time")
    cpu_user=$(sed -n 's/^\s*User time (seconds): //p' "$work/$name.time")
    cpu_sys=$(sed -n 's/^\s*System time (seconds): //p' "$work/$name.time")
    {
        echo "== $name"
        echo "\$ $cmd"
        cat "$work/$name.out"
        echo "exit status $rc; /usr/bin/time -v: max RSS ${rss:-?} kB, wall ${wall:-?}, user ${cpu_user:-?} s, system ${cpu_sys:-?} s"
        if [ -s "$work/$name.err" ]; then
            echo "stderr:"
            sed 's/^/  /' "$work/$name.err"
        fi
        echo
    } >>"$work/report"
    cat "$work/$name.out" "$work/$name.err" >&2
    if [ "$rc" != 0 ] || ! grep -q ' ok allocator=' "$work/$name.out"; then
        echo "FAIL: $name (exit status $rc)" >&2
        fail=1
    fi
}
run jemalloc "$work/libgraphbit_alloc_override-jemalloc.so"
run mimalloc "$work/libgraphbit_alloc_override-mimalloc.so"
run glibc ""
echo "# Load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$work/report"

mkdir -p "$(dirname "$out")"
cp "$work/report" "$out"
echo "wrote $out" >&2
exit $fail

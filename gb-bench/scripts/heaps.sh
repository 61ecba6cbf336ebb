#!/usr/bin/env bash
# Heaps measured (docs/heaps.md): gb-bench/scripts/heap_bench.c linked
# against a static libgraphbit_alloc.a of each backend (release builds):
# - footprint: resident and mapped bytes per heap holding one 16-byte block;
# - request: the per-request arena workload (a heap destroyed per request,
#   against gb_alloc + gb_free of each block, against glibc malloc + free),
#   interleaved rounds, ns per request;
# - the same requests in callgrind (instructions per request, each way:
#   1100 requests less 100; of 20 and 5000 blocks too), every backend;
# - what gb_free costs with and without a heap alive (instructions per
#   gb_alloc + gb_free pair, 1,100,000 pairs less 100,000), jemalloc only.
#
# Usage: bash gb-bench/scripts/heaps.sh | tee docs/runs/heaps.txt
# Builds (or brings up to date) target/heaps-bench/<backend> with cargo.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc=${CC:-cc}
echo "heaps (gb-bench/scripts/heaps.sh), graphbit-alloc $(git -C "$repo" rev-parse --short HEAD)"
for backend in jemalloc mimalloc system; do
    dir=$repo/target/heaps-bench/$backend
    (cd "$repo" && cargo build --release --lib --no-default-features --features "backend-$backend" \
        --target-dir "$dir" >/dev/null 2>&1)
    libs="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc" # rustc --print native-static-libs, Linux
    $cc -O2 -I"$repo/include" "$repo/gb-bench/scripts/heap_bench.c" "$dir/release/libgraphbit_alloc.a" $libs \
        -o "$work/heap_bench-$backend"
    "$work/heap_bench-$backend" footprint 1000
    "$work/heap_bench-$backend" request 2000 200 5
    if command -v valgrind >/dev/null; then
        count() {
            valgrind --tool=callgrind --callgrind-out-file=/dev/null "$work/heap_bench-$backend" "$@" 2>&1 |
                awk '/Collected/ { print $4 }'
        }
        # R1 and R2 requests of B blocks: (R2 - R1) requests' instructions.
        for run in "200 100 1100" "20 100 1100" "5000 20 120"; do
            read -r blocks r1 r2 <<<"$run"
            for way in heap gb malloc; do
                small=$(count one $way "$r1" "$blocks")
                large=$(count one $way "$r2" "$blocks")
                printf '%s: instructions per request of %d blocks (16-512 B), %-6s %d\n' \
                    "$backend" "$blocks" "$way" $(((large - small) / (r2 - r1)))
            done
        done
    fi
    if [ "$backend" = jemalloc ] && command -v valgrind >/dev/null; then
        for mode in none live; do
            small=$(count pairs 100000 $mode)
            large=$(count pairs 1100000 $mode)
            printf 'jemalloc: instructions per gb_alloc+gb_free pair (16-79 B), heap alive: %-4s %d\n' \
                "$mode" $(((large - small) / 1000000))
        done
    fi
done

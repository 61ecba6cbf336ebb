#!/usr/bin/env bash
# Measures what jemalloc's TLS model costs graphbit-alloc (issue 5), with
# gb-bench and with instruction counts (valgrind/callgrind, deterministic,
# immune to a noisy machine). Builds the committed sources (HEAD) three ways
# in a scratch directory; the repository's own build is not touched:
#   base  jemalloc configured --disable-initial-exec-tls, so its
#         thread-local data uses the global-dynamic model (__tls_get_addr);
#         what graphbit-alloc shipped before 68f662f
#   gnu2  the same, with jemalloc compiled with -mtls-dialect=gnu2 (TLS
#         descriptors), as .cargo/config.toml sets it since 68f662f
#   ie    initial-exec TLS (tikv-jemalloc-sys without the
#         disable_initial_exec_tls feature), as Debian's libjemalloc.so.2
#
# Usage: bench/tls-variants.sh [SCRATCH_DIR]   (default /tmp/gb-tls-variants)
# Needs: cargo, a C compiler, valgrind, libjemalloc2 (for the raw baseline).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/tmp/gb-tls-variants}
command -v valgrind >/dev/null || { apt-get update && apt-get install -y valgrind; }

mkdir -p "$out"
rm -rf "$out/src" "$out/src-ie"
mkdir -p "$out/src"
git -C "$repo" archive HEAD | tar -x -C "$out/src"
# The repository's .cargo/config.toml may choose a TLS dialect itself: drop
# it, so that each variant gets exactly the flags given here.
rm -f "$out/src/.cargo/config.toml"
cp -r "$out/src" "$out/src-ie"
sed -i 's/, "disable_initial_exec_tls"//g' "$out/src-ie/Cargo.toml"
unset CFLAGS CFLAGS_x86_64_unknown_linux_gnu
(cd "$out/src" && CARGO_TARGET_DIR="$out/base" cargo build --release --lib)
(cd "$out/src" && CFLAGS_x86_64_unknown_linux_gnu=-mtls-dialect=gnu2 \
    CARGO_TARGET_DIR="$out/gnu2" cargo build --release --lib)
(cd "$out/src-ie" && CARGO_TARGET_DIR="$out/ie" cargo build --release --lib)

cd "$repo"
cargo build --release --bin gb-bench
target=${CARGO_TARGET_DIR:-$repo/target}
gb="$target/release/gb-bench"
contenders=jemalloc,system
for v in base gnu2 ie; do
    for mode in static shared dlopen; do contenders+=",gb@$v-$mode"; done
done
"$gb" --no-progress --reps 5 --scale 0.5 --workloads pair,churn-1t,churn-4t,jansson \
    --variant base="$out/base/release/deps" --variant gnu2="$out/gnu2/release/deps" \
    --variant ie="$out/ie/release/deps" --contenders "$contenders" \
    --json "$out/tls.json" | tee "$out/tls.txt"

# Instructions per malloc+free pair: the difference between runs of 2M and
# 1M pairs, so start-up cancels out. Includes the driver loop's own work
# (about 35 instructions: random number, tag, check), the same for all.
work="$target/release/gb-bench-work"
count() { # driver, library to dlopen (or empty), scale; nothing if it fails
    local log
    log=$(GB_BENCH_LIB=$2 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        "$work/$1" pair "$3" 1 1 2>&1 >/dev/null) || return 0
    awk '/Collected/ { print $4 }' <<<"$log"
}
echo
echo "instructions per malloc+free pair (callgrind):"
for spec in driver-jemalloc: driver-system: driver-mimalloc: \
    driver-gb@base-static: driver-gb@base-shared: "driver-gb@base-dlopen:$out/base/release/deps/libgraphbit_alloc.so" \
    driver-gb@gnu2-static: driver-gb@gnu2-shared: "driver-gb@gnu2-dlopen:$out/gnu2/release/deps/libgraphbit_alloc.so" \
    driver-gb@ie-static: driver-gb@ie-shared: "driver-gb@ie-dlopen:$out/ie/release/deps/libgraphbit_alloc.so"; do
    driver=${spec%%:*}
    lib=${spec#*:}
    if [ ! -x "$work/$driver" ]; then
        printf '  %-24s not built\n' "$driver"
        continue
    fi
    small=$(count "$driver" "$lib" 0.025)
    large=$(count "$driver" "$lib" 0.05)
    if [ -z "$small" ] || [ -z "$large" ]; then
        printf '  %-24s does not run (see gb-bench above)\n' "$driver"
        continue
    fi
    printf '  %-24s %d\n' "$driver" $(((large - small) / 1000000))
done

# A dlopen-ed library gets static TLS (the fast path of TLS descriptors, and
# room for initial-exec TLS at all) only when glibc has static TLS to spare:
# 512 bytes by default, jemalloc needs 2 KiB. glibc's tunable raises it.
echo
echo "dlopen-ed, with GLIBC_TUNABLES=glibc.rtld.optional_static_tls=4096:"
for v in base gnu2 ie; do
    lib="$out/$v/release/deps/libgraphbit_alloc.so"
    small=$(GLIBC_TUNABLES=glibc.rtld.optional_static_tls=4096 count "driver-gb@$v-dlopen" "$lib" 0.025)
    large=$(GLIBC_TUNABLES=glibc.rtld.optional_static_tls=4096 count "driver-gb@$v-dlopen" "$lib" 0.05)
    if [ -z "$small" ] || [ -z "$large" ]; then
        printf '  %-24s does not run\n' "driver-gb@$v-dlopen"
    else
        printf '  %-24s %d\n' "driver-gb@$v-dlopen" $(((large - small) / 1000000))
    fi
done
echo "PT_TLS (thread-local data) size of the library:"
readelf -lW "$out/base/release/deps/libgraphbit_alloc.so" | awk '/TLS/ { print "  " $6 " bytes (hex)" }'

# Where the instructions go for the shipped build, linked at start-up.
echo
echo "top functions, driver-gb@base-shared, 2M pairs:"
valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.base-shared" \
    "$work/driver-gb@base-shared" pair 0.05 1 1 >/dev/null 2>&1
callgrind_annotate "$out/callgrind.base-shared" 2>/dev/null | grep -E '^ *[0-9,]+ \(' | head -12

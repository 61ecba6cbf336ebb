#!/usr/bin/env bash
# The server workload (gb-bench --workloads server) under jemalloc settings
# that act on memory held per thread and per arena, against glibc, in one
# run: peak and end RSS (MiB) and requests per second for each setting.
#
# Usage: bench/tune-server.sh [SETTING ...] | tee docs/tune-server.txt
#   each SETTING is an _RJEM_MALLOC_CONF string ("" is the built-in one);
#   GB_TUNE_ARGS (default "--quick --reps 3 --time-scale 0.12": 3 runs of
#   7.2 s each) goes to gb-bench.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p gb-bench >/dev/null 2>&1
settings=("$@")
[ ${#settings[@]} -gt 0 ] || settings=("" "narenas:2" "percpu_arena:percpu" "dirty_decay_ms:1000"
    "tcache_max:4096" "tcache_nslots_small_max:32,tcache_nslots_large:8" "lg_tcache_nslots_mul:-2")
echo "# bench/tune-server.sh, graphbit-alloc $(git describe --always --dirty), $(date -u +%FT%RZ), $(nproc) CPUs"
args=${GB_TUNE_ARGS:---quick --reps 3 --time-scale 0.12}
echo "# gb-bench $args --workloads server --contenders gb-shared,system; load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-52s %12s %10s %9s %12s %10s %9s\n' "_RJEM_MALLOC_CONF" "gb req/s" "gb peak" "gb end" "glibc req/s" "glibc peak" "glibc end"
for conf in "${settings[@]}"; do
    out=$(_RJEM_MALLOC_CONF=$conf ./target/release/gb-bench $args --no-progress \
        --workloads server --contenders gb-shared,system 2>/dev/null)
    row() { grep -E "^  $1 +[0-9]" <<<"$out" | awk '{print $2, $6, $7}'; }
    read -r gq gp ge <<<"$(row gb-shared)"
    read -r sq sp se <<<"$(row system)"
    printf '%-52s %12s %10s %9s %12s %10s %9s\n' "${conf:-(built in)}" "$gq" "$gp" "$ge" "$sq" "$sp" "$se"
done

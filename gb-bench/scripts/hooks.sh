#!/usr/bin/env bash
# Lua 5.4 and SQLite with their own allocator and with graphbit-alloc
# installed through its adapters (gb_lua_alloc; graphbit_alloc_hooks.h's
# gb_sqlite3_install, and for SQLite the other xSize strategy, gb_usable_size,
# measured against it): gb-bench/hooks_bench.c's workloads, one process per run,
# against the shared library (libgraphbit_alloc.so).
#   - instructions (valgrind callgrind, repeatable on a noisy machine): the
#     whole process at the workload's size, and at size 0 (start-up, the
#     library's loading and the allocator's first use included), measured
#     twice each; "workload" is the difference;
#   - wall time, CPU time and peak RSS: medians of ROUNDS interleaved runs
#     (every mode once per round, in turn), at a larger size; on a shared
#     machine the CPU time is the steadier of the two.
#
# Usage: bash gb-bench/scripts/hooks.sh [LIB_DIR] | tee docs/hooks.txt
#   LIB_DIR: where CMake staged the libraries (default build/default/lib,
#   built with `cmake --preset default && cmake --build --preset default`
#   when missing). Needs valgrind, pkg-config, liblua5.4-dev, libsqlite3-dev
#   (tests/cmake/install-deps.sh installs the libraries).
#   GB_HOOKS_ROUNDS (default 11): wall-time rounds.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
lib=${1:-$repo/build/default/lib}
rounds=${GB_HOOKS_ROUNDS:-11}
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
if [ ! -e "$lib/libgraphbit_alloc.so" ]; then
    (cd "$repo" && cmake --preset default >/dev/null && cmake --build --preset default --target graphbit_alloc_cargo)
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc=${CC:-cc}
# shellcheck disable=SC2046 # pkg-config's flags are words
$cc -O2 -std=c11 -Wall -Wextra -Werror -I"$repo/include" "$repo/gb-bench/hooks_bench.c" \
    $(pkg-config --cflags --libs lua5.4 sqlite3) -L"$lib" -lgraphbit_alloc -Wl,-rpath,"$lib" -o "$work/hooks_bench"
bench=$work/hooks_bench

# workload mode callgrind-size wall-size
runs=(
    "lua default 300 1000"
    "lua gb 300 1000"
    "sqlite default 30000 100000"
    "sqlite gb 30000 100000"
    "sqlite gb-usable 30000 100000"
)
label() {
    case "$1 $2" in
        "lua default") echo "Lua, its own allocator (luaL_newstate: realloc/free)" ;;
        "lua gb") echo "Lua, lua_newstate(gb_lua_alloc, NULL)" ;;
        "sqlite default") echo "SQLite, its own allocator (malloc)" ;;
        "sqlite gb") echo "SQLite, gb_sqlite3_install (size prefix, sized free)" ;;
        "sqlite gb-usable") echo "SQLite, xSize = gb_usable_size (no prefix)" ;;
    esac
}

echo "# Output of: bash gb-bench/scripts/hooks.sh${*:+ $*}"
echo "# git $(git -C "$repo" describe --always --dirty 2>/dev/null), $(date -u +%Y-%m-%dT%H:%MZ), nproc $(nproc), $(uname -m)"
changed=$(git -C "$repo" status --short -- include bench src 2>/dev/null | awk '{ print $2 }' | paste -sd ' ' -)
[ -z "$changed" ] || echo "# not committed yet (include, bench, src): $changed"
echo "# $("$bench" info), glibc $(ldd --version | head -1 | awk '{print $NF}') (Debian's packages)"
echo "# library: $lib/libgraphbit_alloc.so"
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared: wall times are noisy)"
echo "# program: $cc -O2 gb-bench/hooks_bench.c \$(pkg-config --cflags --libs lua5.4 sqlite3) -lgraphbit_alloc"
echo

count() { # args...: one run under callgrind with its cache simulation:
    # "instructions D1-misses LL-misses" (data reads and writes)
    valgrind --tool=callgrind --cache-sim=yes --callgrind-out-file=/dev/null "$bench" "$@" 2>&1 >/dev/null |
        awk '/Collected/ { print $4, $8 + $9, $11 + $12 }'
}
declare -A base_workload
echo "== instructions (callgrind), millions: workload = total - start-up (size 0)"
echo "  total: the mean of two runs, which differ by the spread (jemalloc's background thread wakes"
echo "  on its own clock); D1, LL: data cache misses of the first run, in thousands (callgrind's"
echo "  simulated caches)"
printf '  %-54s %7s %8s %7s %8s %9s %7s %7s %s\n' "" size total spread start-up workload D1 LL "workload vs own allocator"
for run in "${runs[@]}"; do
    read -r workload mode size _ <<<"$run"
    read -r a d1 ll <<<"$(count "$workload" "$mode" "$size")"
    read -r b _ <<<"$(count "$workload" "$mode" "$size")"
    read -r z _ <<<"$(count "$workload" "$mode" 0)"
    total=$(((a + b) / 2))
    diff=$((total - z))
    [ "$mode" = default ] && base_workload[$workload]=$diff
    printf '  %-54s %7s %8.1f %6.2f%% %8.1f %9.1f %7d %7d %.3fx\n' "$(label "$workload" "$mode")" "$size" \
        "$(bc -l <<<"$total / 1000000")" "$(bc -l <<<"($a - $b) / $total * 100" | tr -d -)" \
        "$(bc -l <<<"$z / 1000000")" "$(bc -l <<<"$diff / 1000000")" $((d1 / 1000)) $((ll / 1000)) \
        "$(bc -l <<<"$diff / ${base_workload[$workload]}")"
done
echo

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "== wall time, CPU time (user + system) and peak RSS: medians of $rounds interleaved runs"
declare -A seconds cpus rss checksum
for ((r = 0; r < rounds; r++)); do
    for run in "${runs[@]}"; do
        read -r workload mode _ size <<<"$run"
        read -r _ _ _ sum _ s _ kb _ cpu <<<"$("$bench" "$workload" "$mode" "$size")"
        seconds[$workload $mode]+="$s "
        cpus[$workload $mode]+="$cpu "
        rss[$workload $mode]+="$kb "
        if [ -n "${checksum[$workload]:-}" ] && [ "${checksum[$workload]}" != "$sum" ]; then
            echo "checksum differs: $workload $mode: $sum, not ${checksum[$workload]}" >&2
            exit 1
        fi
        checksum[$workload]=$sum
    done
done
printf '  %-54s %7s %7s %13s %7s %8s %s\n' "" size "wall s" "(min-max)" "CPU s" "peak RSS" "vs own: wall CPU RSS"
declare -A base_time base_cpu base_rss
for run in "${runs[@]}"; do
    read -r workload mode _ size <<<"$run"
    values() { tr ' ' '\n' <<<"$1" | grep .; }
    med=$(values "${seconds[$workload $mode]}" | median)
    lo=$(values "${seconds[$workload $mode]}" | sort -g | head -1)
    hi=$(values "${seconds[$workload $mode]}" | sort -g | tail -1)
    cpu=$(values "${cpus[$workload $mode]}" | median)
    kb=$(values "${rss[$workload $mode]}" | median)
    if [ "$mode" = default ]; then
        base_time[$workload]=$med base_cpu[$workload]=$cpu base_rss[$workload]=$kb
    fi
    printf '  %-54s %7s %7.3f %6.3f-%-6.3f %7.3f %5.1f MB %.3fx %.3fx %.3fx\n' "$(label "$workload" "$mode")" "$size" \
        "$med" "$lo" "$hi" "$cpu" "$(bc -l <<<"$kb / 1024")" "$(bc -l <<<"$med / ${base_time[$workload]}")" \
        "$(bc -l <<<"$cpu / ${base_cpu[$workload]}")" "$(bc -l <<<"$kb / ${base_rss[$workload]}")"
done
echo "  (every mode computed the same checksums: lua ${checksum[lua]}, sqlite ${checksum[sqlite]})"

#!/usr/bin/env bash
# The hardened override's cost on real work, against the default override,
# both preloaded and both at their defaults (GB_HARDENED_SAMPLE unset: one
# allocation in 5000 sampled):
#  1. instructions per operation (valgrind callgrind, repeatable) of
#     gb-bench's driver workloads (pair, churn with 1 and 4 threads,
#     producer-consumer, realloc, aligned, leak, jansson; -DCONTENDER_PRELOAD,
#     as gb-bench's gb-override contender) and of the real programs gb-bench
#     runs (lua5.4, sqlite3, python3 and perl on gb-bench/programs' scripts):
#     (instructions at size 3N - at size N) / (operations at 3N - at N), so
#     that start-up cancels out; the median of REPEAT runs of each (default
#     3: the sampled count varies with the random countdown);
#  2. sampled blocks per 1000 operations: mprotect calls under the hardened
#     override less under the default (strace -f -c, between 10N and 30N),
#     halved (each sampled block makes one mprotect when allocated, one when
#     freed), and what they would add at the CPU time of one sampled
#     malloc+free pair (measured first: gb-bench/pair_loop.c, every
#     allocation sampled less none, perf stat's task-clock), as a share of the CPU time per operation under the default (perf stat's
#     task-clock between 10N and 30N): callgrind does not count the kernel's
#     side of sampling (mprotect, page faults).
# Workloads whose tool is missing (jansson's header, an interpreter) are
# skipped with a line that says so.
#
# Usage: gb-bench/scripts/hardened-work.sh OVERRIDE.so HARDENED.so [REPEAT]
#   OVERRIDE.so   libgraphbit_alloc_override.so (cargo build --release --features override)
#   HARDENED.so   libgraphbit_alloc_override_hardened.so (--features override-hardened)
#   ROWS="pair lua5.4"   only these rows
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
override=$(realpath "$1")
hardened=$(realpath "$2")
repeat=${3:-3}
cpu_factor=10 # strace's and perf stat's runs are this many times larger (N and 3N)
command -v valgrind >/dev/null || { echo "needs valgrind" >&2; exit 1; }
command -v strace >/dev/null || { echo "needs strace" >&2; exit 1; }
command -v perf >/dev/null || { echo "needs perf (linux-perf)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
jansson=()
if echo '#include <jansson.h>
int main(void) { json_decref(json_object()); return 0; }' | ${CC:-cc} -x c - -o "$work/probe" -ljansson 2>/dev/null; then
    jansson=(-DWITH_JANSSON -ljansson)
fi
${CC:-cc} -O2 -g -std=gnu11 -pthread -DCONTENDER_PRELOAD "$repo/gb-bench/driver.c" -o "$work/driver" \
    "${jansson[@]}" -ldl
programs=$repo/gb-bench/programs
${CC:-cc} -O2 "$repo/gb-bench/pair_loop.c" -o "$work/pair_loop" -ldl

# The CPU time of one sampled malloc+free pair, which callgrind does not see
# (mostly the two mprotect calls): 20,000 pairs with every allocation
# sampled less 20,000 with sampling off (perf stat's task-clock), median of
# 11, in microseconds.
sampled_pair_us=$(for i in $(seq 11); do
    for rate in 1 0; do
        GB_HARDENED_SAMPLE=$rate LD_PRELOAD="$hardened" perf stat -x, -e task-clock "$work/pair_loop" 20000 \
            2>&1 >/dev/null | awk -F, '$3 == "task-clock" { print $1 }'
    done | paste -sd' ' | awk '{ printf "%.3f\n", ($1 - $2) * 1000 / 20000 }'
done | sort -g | awk '{ v[NR] = $1 } END { print v[6] }')

# The command of a row at size N: driver workloads take a scale (N is a
# multiple of it), programs their own size.
command_of() { # row, N
    case $1 in
    pair) echo "$work/driver pair $2 1 1" ;;
    churn-1t) echo "$work/driver churn $2 1 1" ;;
    churn-4t) echo "$work/driver churn $2 4 1" ;;
    producer-consumer) echo "$work/driver producer-consumer $2 1 1" ;;
    realloc) echo "$work/driver realloc $2 1 1" ;;
    aligned) echo "$work/driver aligned $2 1 1" ;;
    leak) echo "$work/driver leak $2 1 1" ;;
    jansson) echo "$work/driver jansson $2 1 1" ;;
    lua5.4) echo "lua5.4 $programs/churn.lua $2" ;;
    python3) echo "/usr/bin/python3 $programs/churn.py $2" ;;
    perl) echo "perl $programs/churn.pl $2" ;;
    sqlite3) echo "sqlite3 :memory: -cmd .parameter\ set\ @n\ $2 .read\ $programs/churn.sql" ;;
    esac
}
# Operations at size N: the driver's "ops"; a program's size.
ops_of() { # row, N, stdout of the run
    case $1 in
    lua5.4 | python3 | perl | sqlite3) echo "$2" ;;
    *) sed -n 's/^{"ops":\([0-9.]*\),.*/\1/p' <<<"$3" ;;
    esac
}
run() { # library, row, N, then the tool before the command; prints stdout, tool's log in $work/log
    local lib=$1 row=$2 n=$3
    shift 3
    eval "set -- \"\$@\" $(command_of "$row" "$n")"
    # Fixed hash seeds: python3's and perl's hash tables, and so their
    # allocations, are the same from run to run.
    env -u GB_HARDENED_SAMPLE PYTHONHASHSEED=0 PERL_HASH_SEED=0 PERL_PERTURB_KEYS=0 LD_PRELOAD="$lib" "$@" \
        2>"$work/log"
}
instructions() { # library, row, N: "instructions operations"
    local out
    out=$(run "$1" "$2" "$3" valgrind --tool=callgrind --callgrind-out-file=/dev/null) || return 1
    echo "$(awk '/Collected/ { print $4 }' "$work/log") $(ops_of "$2" "$3" "$out")"
}
per_op() { # library, row, N, 3N: instructions per operation between N and 3N
    local small large
    small=$(instructions "$1" "$2" "$3") || return 1
    large=$(instructions "$1" "$2" "$4") || return 1
    awk -v s="$small" -v l="$large" 'BEGIN { split(s, a, " "); split(l, b, " ");
        printf "%.3f\n", (b[1] - a[1]) / (b[2] - a[2]) }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
mprotects() { # library, row, N: mprotect calls of one run
    run "$1" "$2" "$3" strace -f -c -e trace=mprotect -o "$work/strace" >/dev/null || return 1
    awk '$NF == "mprotect" { n = $4 } END { print n + 0 }' "$work/strace"
}
cpu_ms() { # library, row, N: "task-clock-ms operations" of one run (perf stat)
    local out
    out=$(run "$1" "$2" "$3" perf stat -x, -e task-clock) || return 1
    echo "$(awk -F, '$3 == "task-clock" { print $1 }' "$work/log") $(ops_of "$2" "$3" "$out")"
}
cpu_per_op() { # library, row, N, 3N: CPU seconds per operation between N and 3N, median of 3
    local i
    for i in 1 2 3; do
        awk -v s="$(cpu_ms "$1" "$2" "$3")" -v l="$(cpu_ms "$1" "$2" "$4")" 'BEGIN {
            split(s, a, " "); split(l, b, " "); print (b[1] - a[1]) * 1e-3 / (b[2] - a[2]) }'
    done | median
}

scaled() { echo "$1 * $cpu_factor" | bc -l | sed 's/^\./0./; s/\.0*$//'; } # N for perf stat's runs
echo "hardened override vs default override on real work, both at their defaults"
echo "(gb-bench/scripts/hardened-work.sh; GB_HARDENED_SAMPLE unset: 1 in 5000)"
echo "graphbit-alloc $(git -C "$repo" describe --always --dirty 2>/dev/null), $(uname -m)"
echo "instructions per operation: callgrind, (I(3N) - I(N)) / (ops(3N) - ops(N)), median of $repeat runs"
echo "  (jansson: one run at N, start-up included: its document size depends on the scale below 1/3)"
echo "sampled/k: sampled blocks per 1000 operations, (mprotect calls at ${cpu_factor}x3N - at ${cpu_factor}N,"
echo "  hardened less default) / 2 / (ops(${cpu_factor}x3N) - ops(${cpu_factor}N)), strace -f"
echo "kernel: what they would add, at $sampled_pair_us us each (one sampled malloc+free pair, every"
echo "  allocation sampled less none, 20000 pairs, median of 11), to the CPU time per operation under"
echo "  the default (perf stat task-clock at ${cpu_factor}N and ${cpu_factor}x3N, the difference per operation,"
echo "  median of 3): an estimate"
printf '%-18s %-10s %5s %5s %11s %11s %8s %9s %8s\n' workload unit N 3N default hardened ratio sampled/k kernel
rows=(# row, unit, N, 3N
    "pair malloc+free 0.02 0.06"
    "churn-1t allocs 0.02 0.06"
    "churn-4t allocs 0.01 0.03"
    "producer-consumer blocks 0.02 0.06"
    "realloc reallocs 0.02 0.06"
    "aligned allocs 0.02 0.06"
    "leak allocs 0.02 0.06"
    "jansson documents 0.1 -"
    "lua5.4 rounds 10 30"
    "sqlite3 rows 1000 3000"
    "python3 rounds 10 30"
    "perl rounds 10 30"
)
for entry in "${rows[@]}"; do
    read -r row unit n big <<<"$entry"
    [[ -z ${ROWS:-} || " $ROWS " == *" $row "* ]] || continue
    case $row in
    jansson) [[ ${#jansson[@]} -gt 0 ]] || { echo "$row: skipped (jansson not installed)"; continue; } ;;
    lua5.4 | sqlite3 | perl) command -v "$row" >/dev/null || { echo "$row: skipped (not installed)"; continue; } ;;
    python3) [[ -x /usr/bin/python3 ]] || { echo "$row: skipped (no /usr/bin/python3)"; continue; } ;;
    esac
    a=() b=()
    for ((r = 0; r < repeat; r++)); do
        if [[ $big == - ]]; then
            a+=("$(instructions "$override" "$row" "$n" | awk '{ print $1 / $2 }')")
            b+=("$(instructions "$hardened" "$row" "$n" | awk '{ print $1 / $2 }')")
        else
            a+=("$(per_op "$override" "$row" "$n" "$big")")
            b+=("$(per_op "$hardened" "$row" "$n" "$big")")
        fi
    done
    da=$(printf '%s\n' "${a[@]}" | median)
    db=$(printf '%s\n' "${b[@]}" | median)
    [[ -n $da && -n $db ]] || { echo "$row: does not run"; continue; }
    if [[ $big == - ]]; then
        sampled=$(awk -v a="$(mprotects "$override" "$row" "$n")" -v b="$(mprotects "$hardened" "$row" "$n")" \
            -v o="$(instructions "$override" "$row" "$n" | cut -d' ' -f2)" 'BEGIN { print (b - a) / 2 / o }')
        cpu=$(for i in 1 2 3; do cpu_ms "$override" "$row" "$n" | awk '{ print $1 * 1e-3 / $2 }'; done | median)
    else
        n10=$(scaled "$n") big10=$(scaled "$big")
        out_small=$(run "$override" "$row" "$n10")
        out_big=$(run "$override" "$row" "$big10")
        ops=$(($(ops_of "$row" "$big10" "$out_big" | cut -d. -f1) - $(ops_of "$row" "$n10" "$out_small" | cut -d. -f1)))
        sampled=$(awk -v a1="$(mprotects "$override" "$row" "$n10")" -v a3="$(mprotects "$override" "$row" "$big10")" \
            -v b1="$(mprotects "$hardened" "$row" "$n10")" -v b3="$(mprotects "$hardened" "$row" "$big10")" \
            -v o="$ops" 'BEGIN { print ((b3 - b1) - (a3 - a1)) / 2 / o }')
        cpu=$(cpu_per_op "$override" "$row" "$n10" "$big10")
    fi
    awk -v row="$row" -v unit="$unit" -v n="$n" -v big="$big" -v da="$da" -v db="$db" -v sampled="$sampled" \
        -v cpu="$cpu" -v us="$sampled_pair_us" 'BEGIN {
        kernel = cpu > 0 ? sampled * us * 1e-6 / cpu : 0
        printf "%-18s %-10s %5s %5s %11.1f %11.1f %+7.2f%% %9.3f %+7.2f%%\n", row, unit, n, big, da, db,
            (db / da - 1) * 100, sampled * 1000, kernel * 100 }'
done

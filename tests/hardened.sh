#!/usr/bin/env bash
# The hardened override (Cargo feature `override-hardened`,
# libgraphbit_alloc_override_hardened.so) from the outside, preloaded as a
# user would: c_tests/hardened/hardened.c and hardened_new.cpp.
#  1. with every allocation sampled (GB_HARDENED_SAMPLE=1): an overflow by
#     one byte past a page-end block (write and read), use after free (read,
#     write, the old block of a realloc), an overflow into the slot's slack,
#     an underflow, a double free, operator new[] overflow and use after
#     delete are each stopped (SIGABRT) with the expected one line; the API,
#     8 threads, fork with a thread allocating, every new/delete form run to
#     the end with nothing on stderr; a NULL dereference still dies of
#     SIGSEGV (the fault is passed on) with no hardened line;
#  2. at the default rate (GB_HARDENED_SAMPLE unset), a loop that reads and
#     writes one byte past every malloc(64) is stopped, and the loop counts
#     how long it ran;
#  3. GB_HARDENED_SAMPLE=0 turns sampling off: the API case passes and a
#     use after free goes unseen (the program reports "not caught").
# Exits non-zero on any difference.
#
# Usage: tests/hardened.sh [extra cargo args]
#   GB_OVERRIDE_HARDENED_LIB=path/to/libgraphbit_alloc_override_hardened.so tests/hardened.sh
#                                   checks that library instead of building one
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
fail=0
failed() { echo "FAIL: $*"; fail=1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
LIB=$WORK/libgraphbit_alloc_override_hardened.so
if [[ -n ${GB_OVERRIDE_HARDENED_LIB:-} ]]; then
    echo "== library: $GB_OVERRIDE_HARDENED_LIB"
    cp "$GB_OVERRIDE_HARDENED_LIB" "$LIB" || exit 1
else
    TARGET_DIR=${GB_OVERRIDE_TARGET_DIR:-$ROOT/target/variants/override-hardened}
    echo "== build"
    mkdir -p "$TARGET_DIR"
    cargo build --release --features override-hardened --target-dir "$TARGET_DIR" "$@" >/dev/null 2>"$TARGET_DIR.build.log" \
        || { cat "$TARGET_DIR.build.log"; echo "FAIL: build"; exit 1; }
    cp "$TARGET_DIR/release/libgraphbit_alloc.so" "$LIB"
fi
soname=$(readelf -d "$LIB" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[[ $soname == libgraphbit_alloc_override_hardened.so.0.* ]] || failed "SONAME is '$soname'"

gcc -O1 -g -Wall -Wno-use-after-free -pthread -o "$WORK/hardened" c_tests/hardened/hardened.c || exit 1
g++ -O1 -g -Wall -Wno-use-after-free -fsized-deallocation -faligned-new -o "$WORK/hardened_new" \
    c_tests/hardened/hardened_new.cpp || exit 1

# expect RATE PROGRAM CASE STATUS PATTERN: the case ends with STATUS (134:
# SIGABRT, 139: SIGSEGV, 0 or 1: that exit code) and stderr is exactly one
# line matching the extended regex PATTERN (empty: nothing on stderr).
expect() {
    local rate=$1 prog=$2 case=$3 want=$4 pattern=$5 status lines
    local run=(env "GB_HARDENED_SAMPLE=$rate")
    [[ $rate == default ]] && run=(env -u GB_HARDENED_SAMPLE)
    # In a command substitution, so that the shell's own "Aborted" notice
    # goes to /dev/null.
    status=$( { "${run[@]}" LD_PRELOAD="$LIB" "$WORK/$prog" "$case" >"$WORK/out" 2>"$WORK/err"; } 2>/dev/null
        echo $?)
    lines=$(wc -l <"$WORK/err")
    if [[ $status != "$want" ]]; then
        failed "$case (rate $rate): exit status $status, expected $want; stdout: $(tail -1 "$WORK/out"); stderr: $(head -2 "$WORK/err")"
    elif [[ -z $pattern && $lines != 0 ]]; then
        failed "$case (rate $rate): stderr not empty: $(head -2 "$WORK/err")"
    elif [[ -n $pattern ]] && { [[ $lines != 1 ]] || ! grep -qE "$pattern" "$WORK/err"; }; then
        failed "$case (rate $rate): stderr is not the one line /$pattern/: $(head -3 "$WORK/err")"
    else
        printf '  ok  %-14s rate %-8s %s\n' "$case" "$rate" "$(head -1 "$WORK/err")"
    fi
}
H='^graphbit-alloc: hardened: '
P='0x[0-9a-f]+'
echo "== every allocation sampled (GB_HARDENED_SAMPLE=1)"
expect 1 hardened overflow 134 "${H}heap overflow: write at $P is 0 bytes past the end of the sampled block $P of size 4096 \(allocated by thread [0-9]+\)$"
expect 1 hardened overflow-read 134 "${H}heap overflow: read at $P is 0 bytes past the end of the sampled block $P of size 4096 "
expect 1 hardened uaf-read 134 "${H}use after free: read at $P is byte 10 of the freed sampled block $P of size 64 \(allocated by thread [0-9]+, freed by thread [0-9]+\)$"
expect 1 hardened uaf-write 134 "${H}use after free: write at $P is byte 10 of the freed sampled block $P of size 64 "
expect 1 hardened uaf-realloc 134 "${H}use after free: write at $P is byte 0 of the freed sampled block $P of size 64 "
expect 1 hardened slack 134 "${H}free\($P\): heap overflow: written past its end \(byte 1 after it\): the sampled block of size 13 "
expect 1 hardened underflow 134 "${H}free\($P\): heap underflow: written before its start \(byte 1 before it\): the sampled block of size 64 "
expect 1 hardened double-free 134 "${H}free\($P\): double free: the sampled block of size 64 was freed already "
expect 1 hardened_new new-overflow 134 "${H}heap overflow: write at $P is 0 bytes past the end of the sampled block $P of size 256 "
expect 1 hardened_new new-uaf 134 "${H}use after free: read at $P is byte 0 of the freed sampled block $P of size 4 "
expect 1 hardened api 0 ""
expect 1 hardened threads 0 ""
expect 1 hardened fork 0 ""
expect 1 hardened_new new-forms 0 ""
expect 1 hardened null 139 ""
echo "== one allocation in 100 and in 5000 (the default)"
expect 100 hardened api 0 ""
expect 100 hardened threads 0 ""
expect 100 hardened fork 0 ""
expect default hardened threads 0 ""
expect default hardened eventually 134 "${H}heap overflow: read at $P is 0 bytes past the end of the sampled block $P of size 64 "
echo "     caught after $(tail -1 "$WORK/out" 2>/dev/null | grep -E '^[0-9]+$' || echo 0) to $(($(tail -1 "$WORK/out" 2>/dev/null | grep -E '^[0-9]+$' || echo 0) + 10000)) overflows"
echo "== sampling off (GB_HARDENED_SAMPLE=0)"
expect 0 hardened api 0 ""
# Not caught: the program says "not caught" and exits 1.
expect 0 hardened uaf-write 1 ""
grep -qx "not caught" "$WORK/out" || failed "uaf-write (rate 0): no 'not caught' on stdout"
if ((fail)); then
    echo "hardened.sh: FAILED"
    exit 1
fi
echo "hardened.sh: all passed"

#!/usr/bin/env bash
# ThreadSanitizer over the checked library (Cargo feature `checked`), which
# holds the crate's only lock code (src/checked/record.rs: sharded spin locks, the
# record's tables, the fork handlers' lock_all/unlock_all).
#
#   bash tests/tsan-checked.sh                 # from anywhere in the repository
#   GB_TSAN_OPS=2000000 bash tests/tsan-checked.sh   # a longer run
#                                              (default 400000 operations)
#
# The library is built with the `system` backend (TSan intercepts malloc and
# free, so it sees every block) and, where the compiler allows it, with the
# crate's Rust code itself instrumented: RUSTFLAGS=-Zsanitizer=thread, through
# RUSTC_BOOTSTRAP on a stable toolchain. The standard library is not rebuilt
# (-Zbuild-std needs the rust-src component; not installed here, and it is
# not fetched), so the prebuilt std stays uninstrumented and rustc's check
# that every crate was built with the same sanitizer is waived with
# -Cunsafe-allow-abi-mismatch=sanitizer. Our code (the locks, the tables, the
# atomics) is what is instrumented; std's parts we call are thread_local
# (per thread) and yield_now. If that build fails, the script falls back to
# a plain build and instruments the C side only (TSan still intercepts the
# allocations, but then sees nothing of the locks) and says so.
#
# The C programs, compiled with -fsanitize=thread against the library:
#   checked_threads.c THREADS OPS SEED  (every function, correct checked-mode
#                               usage, blocks freed and resized across threads)
#   misuse.c ok                (every function used correctly, 4 threads)
#   first_call_free.c          (a thread's first call frees another's block)
# Any ThreadSanitizer report, or a non-zero exit, fails the script.
# Installs gcc and libtsan with apt-get only if they are missing. Builds into
# ${CARGO_TARGET_DIR:-target}/variants/tsan.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
start_all=$SECONDS
ops=${GB_TSAN_OPS:-400000}

need=()
command -v gcc >/dev/null || need+=(gcc)
command -v readelf >/dev/null || need+=(binutils)
[ -e "$(gcc -print-file-name=libtsan.so 2>/dev/null || echo none)" ] || need+=(libtsan2)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing: ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

target_dir="${CARGO_TARGET_DIR:-$root/target}/variants/tsan"
host=$(rustc -vV | sed -n 's/^host: //p')
features=checked,backend-system,global-allocator
build_log="$target_dir/build.log"
mkdir -p "$target_dir"
instrumented=yes
echo "building the checked library (system backend) with -Zsanitizer=thread ..."
if RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zsanitizer=thread -Cunsafe-allow-abi-mismatch=sanitizer -Cforce-frame-pointers=yes" \
    cargo build --release --lib --features "$features" --no-default-features \
    --target "$host" --target-dir "$target_dir" >"$build_log" 2>&1; then
    lib="$target_dir/$host/release/libgraphbit_alloc.so"
else
    echo "  the instrumented build failed (last lines below); instrumenting the C side only"
    tail -5 "$build_log" | sed 's/^/    /'
    instrumented=no
    cargo build --release --lib --features "$features" --no-default-features \
        --target-dir "$target_dir/plain" >"$build_log" 2>&1 || { cat "$build_log"; exit 1; }
    lib="$target_dir/plain/release/libgraphbit_alloc.so"
fi
echo "  built in $((SECONDS - start_all))s: $lib (Rust instrumented: $instrumented)"
# (nm's list read whole first: grep -q leaving early would make nm die of
# SIGPIPE, and pipefail would call that "no __tsan_ function".)
undefined=$(nm -D --undefined-only "$lib")
if [ $instrumented = yes ] && ! grep -q '__tsan_' <<<"$undefined"; then
    echo "tsan-checked: $lib calls no __tsan_ function: the Rust code is not instrumented"
    exit 1
fi

out="$target_dir/c"
mkdir -p "$out"
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
case $soname in libgraphbit_alloc_checked.so.*) ;; *)
    echo "tsan-checked: $lib has SONAME '$soname', not the checked library's"; exit 1 ;;
esac
ln -sf "$lib" "$out/$soname"
ln -sf "$lib" "$out/libgraphbit_alloc.so"

# rustc's LLVM emits calls to __tsan_memcpy, __tsan_memmove and __tsan_memset, which gcc 12's
# libtsan does not have (its other __tsan_ entry points are the same ABI):
# where they are missing, the programs carry forwarders to memcpy, memmove
# and memset, which libtsan intercepts and checks. Compiled without
# instrumentation, and without builtins (a call, not an inlined copy).
shim=()
libtsan=$(gcc -print-file-name=libtsan.so)
if [ $instrumented = yes ]; then
    missing=$(comm -23 <(nm -D --undefined-only "$lib" | awk '/__tsan_/{print $2}' | sort) \
        <(nm -D --defined-only "$libtsan" | awk '{print $3}' | sort))
    for sym in $missing; do
        case $sym in __tsan_memcpy | __tsan_memmove | __tsan_memset) ;; *)
            echo "tsan-checked: $libtsan lacks $sym, which the library calls"; exit 1 ;;
        esac
    done
    if [ -n "$missing" ]; then
        cat >"$out/tsan_shim.c" <<'C'
#include <string.h>
void *__tsan_memcpy(void *d, const void *s, size_t n) { return memcpy(d, s, n); }
void *__tsan_memmove(void *d, const void *s, size_t n) { return memmove(d, s, n); }
void *__tsan_memset(void *d, int c, size_t n) { return memset(d, c, n); }
C
        gcc -O1 -fno-builtin -c "$out/tsan_shim.c" -o "$out/tsan_shim.o"
        shim=("$out/tsan_shim.o")
        echo "  forwarding $(echo $missing) to libtsan's memcpy/memmove/memset"
    fi
fi

export TSAN_OPTIONS=halt_on_error=1:exitcode=97:second_deadlock_stack=1:allocator_may_return_null=1
# stress.c is not run: its release() frees gb_aligned_alloc blocks with
# gb_free_sized, which checked mode rightly reports as misuse.
runs=(
    "checked_threads.c|4 $((ops / 4)) 1"
    "checked_threads.c|8 $((ops / 16)) 7"
    "misuse.c|ok"
    "first_call_free.c|"
)
failures=0
for run in "${runs[@]}"; do
    src=${run%%|*} args=${run#*|}
    exe="$out/${src%.c}-tsan"
    # -Wno-...: misuse.c misuses on purpose in the cases not run here.
    gcc -O1 -g -fno-omit-frame-pointer -fsanitize=thread -std=c11 -Wall -Wextra -D_GNU_SOURCE \
        -Wno-mismatched-dealloc -Wno-use-after-free -Wno-free-nonheap-object \
        -DGB_EXPECT_BACKEND='"system"' -Iinclude "c_tests/$src" "${shim[@]}" -o "$exe" \
        -L"$out" -lgraphbit_alloc -Wl,-rpath,"$out" -lpthread
    log="$out/${src%.c}-tsan.log"
    start=$SECONDS
    set +e
    # shellcheck disable=SC2086
    "$exe" $args >"$log" 2>&1
    rc=$?
    set -e
    found=$(grep -c '^WARNING: ThreadSanitizer' "$log" || true)
    printf 'tsan  %-18s %-16s exit %-3s reports %s  (%ss)\n' "$src" "$args" "$rc" "$found" $((SECONDS - start))
    if [ $rc -ne 0 ] || [ "$found" -ne 0 ]; then
        failures=$((failures + 1))
        sed 's/^/    /' "$log" | head -80
    fi
done
echo "tsan-checked: Rust code instrumented: $instrumented; $((SECONDS - start_all))s in all"
if [ $failures -ne 0 ]; then
    echo "tsan-checked: $failures run(s) failed"
    exit 1
fi
echo "tsan-checked: all runs clean"

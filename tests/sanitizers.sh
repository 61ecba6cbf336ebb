#!/usr/bin/env bash
# The C tests and the stress under AddressSanitizer (with LeakSanitizer) and
# valgrind memcheck, and the threaded programs under ThreadSanitizer, against
# the library built with the `system` backend: the tools see the C library's
# malloc, not the inside of jemalloc or mimalloc. Any report fails the script.
#
#   bash tests/sanitizers.sh            # from the repository root
#   GB_SAN_STRESS_OPS=2000000 bash tests/sanitizers.sh   # a longer stress
#
# Installs what it needs with apt-get (gcc, g++, libasan, libtsan, valgrind).
# Builds into ${CARGO_TARGET_DIR:-target}/sanitizers.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
stress_ops=${GB_SAN_STRESS_OPS:-400000}

need=()
command -v gcc >/dev/null || need+=(gcc)
command -v g++ >/dev/null || need+=(g++)
command -v valgrind >/dev/null || need+=(valgrind)
command -v readelf >/dev/null || need+=(binutils)
[ -e "$(gcc -print-file-name=libasan.so)" ] || need+=(libasan8)
[ -e "$(gcc -print-file-name=libtsan.so)" ] || need+=(libtsan2)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing: ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}/sanitizers"
cargo build --release --features backend-system --lib
lib="$CARGO_TARGET_DIR/release/libgraphbit_alloc.so"
out="$CARGO_TARGET_DIR/c"
mkdir -p "$out"
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
ln -sf "$lib" "$out/$soname"
ln -sf "$lib" "$out/libgraphbit_alloc.so"

# program arguments (a program may appear with several argument lists)
runs=(
    "api_contract.c|"
    "threads.c|"
    "fork.c|"
    "first_call_free.c|"
    "misuse.c|ok"
    "stress.c|4 $stress_ops 1"
    "stress.c|1 $((stress_ops / 4)) 2"
    "cpp_use.cpp|"
    "dlopen.c|$lib"
    "rlimit.c|"
)
# fork.c is left out of TSan: TSan does not support fork() in a process with
# running threads (the child hangs), and fork.c's stop flag is a plain
# volatile int, which TSan reports as a race. threads.c is left out too: it
# took 525 s under TSan here, and stress.c does the same cross-thread frees
# with more checks in seconds.
threaded="first_call_free.c stress.c misuse.c"

build() { # tool source exe
    local tool=$1 src=$2 exe=$3 cc=gcc std=-std=c11 flags=(-O1 -g -fno-omit-frame-pointer)
    case $src in *.cpp) cc=g++ std=-std=c++17 ;; esac
    case $tool in
        asan) flags+=(-fsanitize=address,undefined -fno-sanitize-recover=all) ;;
        tsan) flags+=(-fsanitize=thread) ;;
    esac
    if [ "$src" = dlopen.c ]; then
        $cc "${flags[@]}" $std -Wall -Wextra -D_GNU_SOURCE "c_tests/$src" -o "$exe" -ldl -lpthread
    else
        $cc "${flags[@]}" $std -Wall -Wextra -D_GNU_SOURCE -DGB_EXPECT_BACKEND='"system"' -Iinclude \
            "c_tests/$src" -o "$exe" -L"$out" -lgraphbit_alloc -Wl,-rpath,"$out" -lpthread
    fi
}

# ASan: allocator_may_return_null because the contract is "NULL and ENOMEM"
# for sizes malloc cannot serve (ASan would abort by default).
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1:abort_on_error=0:exitcode=97
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=97
export TSAN_OPTIONS=halt_on_error=1:exitcode=97:second_deadlock_stack=1:allocator_may_return_null=1
failures=0
summary=()
for tool in asan valgrind tsan; do
    count=0 reports=0
    for run in "${runs[@]}"; do
        src=${run%%|*} args=${run#*|}
        if [ $tool = tsan ] && [[ " $threaded " != *" $src "* ]]; then continue; fi
        # RLIMIT_AS cannot be combined with ASan's and TSan's terabytes of
        # reserved shadow memory, nor with valgrind's own address-space layout.
        if [ "$src" = rlimit.c ]; then continue; fi
        # gcc 12's ASan runtime has no fork handlers for its own allocator: a
        # child forked while another thread is inside malloc can hang in it.
        if [ $tool = asan ] && [ "$src" = fork.c ]; then continue; fi
        exe="$out/${src%.*}-$tool"
        build $tool "$src" "$exe"
        log="$out/${src%.*}-$tool.log"
        start=$SECONDS
        set +e
        case $tool in
            # A forked child _exits holding blocks of threads it does not
            # have: no leak check there, memory errors still count.
            valgrind) leaks=full; [ "$src" = fork.c ] && leaks=no
                valgrind -q --error-exitcode=97 --leak-check=$leaks --errors-for-leak-kinds=definite \
                --show-leak-kinds=definite "$exe" $args >"$log" 2>&1 ;;
            *) "$exe" $args >"$log" 2>&1 ;;
        esac
        rc=$?
        set -e
        # gb_verify on the system backend looks for evidence in glibc's
        # malloc counters (mallinfo2); under ASan and valgrind malloc is the
        # tool's, so that one check fails by construction. Any other failed
        # check still fails the run.
        if [ $rc -eq 1 ] && grep -qE 'CHECK failed: (gb_)?verify' "$log" &&
            ! grep 'CHECK failed' "$log" | grep -qvE 'CHECK failed: (gb_)?verify'; then
            echo "          ($src: gb_verify() is false under $tool: glibc's counters do not see the tool's malloc)"
            rc=0
        fi
        found=$(grep -cE '^==[0-9]+==ERROR|^WARNING: ThreadSanitizer|runtime error:|ERROR SUMMARY: [1-9]|definitely lost: [1-9]' "$log" || true)
        count=$((count + 1))
        reports=$((reports + found))
        printf '%-9s %-18s %-22s exit %-3s reports %s  (%ss)\n' "$tool" "$src" "$args" "$rc" "$found" $((SECONDS - start))
        if [ $rc -ne 0 ] || [ "$found" -ne 0 ]; then
            failures=$((failures + 1))
            sed 's/^/    /' "$log" | head -60
        fi
    done
    summary+=("$tool: $count runs, $reports reports")
done
printf '%s\n' "${summary[@]}"
if [ $failures -ne 0 ]; then
    echo "sanitizers: $failures run(s) failed"
    exit 1
fi
echo "sanitizers: all runs clean"

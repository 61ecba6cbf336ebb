#!/usr/bin/env bash
# The runs of c_tests/programs.txt (the one list of the C/C++ test programs)
# that name asan (AddressSanitizer + UBSan + LeakSanitizer), valgrind
# (memcheck) or tsan (ThreadSanitizer), against the shared library built with
# the `system` backend: the tools see the C library's malloc, not the inside
# of jemalloc or mimalloc. Any report fails the script. Why a run is not made
# under a tool is in the manifest's last column.
#
#   bash tests/sanitizers.sh            # from the repository root
#   GB_SAN_STRESS_OPS=2000000 bash tests/sanitizers.sh   # a longer stress
#                        (the 4-thread run's operations; the others scale alike)
#
# Installs what it needs with apt-get (gcc, g++, libasan, libtsan, valgrind,
# pkg-config); the libraries of the manifest's pkg-config column come from
# tests/cmake/install-deps.sh.
# Builds into ${CARGO_TARGET_DIR:-target}/sanitizers.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
stress_ops=${GB_SAN_STRESS_OPS:-400000}
# --print-manifest: print the manifest's rows as this script reads them
# (name|source|link|pkg-config|args|env|harnesses) and stop.
print_manifest=0
[ "${1:-}" = --print-manifest ] && print_manifest=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}/sanitizers"
lib="$CARGO_TARGET_DIR/release/libgraphbit_alloc.so"

# The manifest's runs: name|source|link|pkg-config|args|env|harnesses|why not.
manifest=c_tests/programs.txt
trim() { local v=$1; v=${v#"${v%%[![:space:]]*}"}; v=${v%"${v##*[![:space:]]}"}; printf '%s' "$v"; }
runs=()
while IFS= read -r line; do
    case $(trim "$line") in '#'* | '') continue ;; esac
    IFS='|' read -r name source link pkg args env harnesses _ <<<"$line"
    name=$(trim "$name") source=$(trim "$source") pkg=$(trim "$pkg") args=$(trim "$args") env=$(trim "$env")
    if [ "$print_manifest" = 1 ]; then
        # Lists as words joined by one space (tests/manifest_parsers.rs).
        # shellcheck disable=SC2086 # word splitting is the point
        printf '%s|%s|%s|%s|%s|%s|%s\n' "$name" "$source" "$(echo $link)" "$(echo $pkg)" \
            "$(echo $args)" "$(echo $env)" "$(echo $harnesses)"
        continue
    fi
    args=${args//@LIB@/$lib}
    # GB_SAN_STRESS_OPS: stress THREADS OPS SEED, OPS scaled from the 4-thread run's 400000.
    if [ "$source" = stress.c ] && [ -n "${GB_SAN_STRESS_OPS:-}" ]; then
        read -r t o seed <<<"$args"
        args="$t $((o * GB_SAN_STRESS_OPS / 400000)) $seed"
    fi
    runs+=("$name|$source|$(trim "$link")|$pkg|$args|$env| $(trim "$harnesses") ")
done <"$manifest"
[ "$print_manifest" = 1 ] && exit 0
[ ${#runs[@]} -gt 0 ] || { echo "sanitizers: no runs in $manifest" >&2; exit 1; }

need=()
command -v gcc >/dev/null || need+=(gcc)
command -v g++ >/dev/null || need+=(g++)
command -v valgrind >/dev/null || need+=(valgrind)
command -v readelf >/dev/null || need+=(binutils)
command -v pkg-config >/dev/null || need+=(pkg-config)
[ -e "$(gcc -print-file-name=libasan.so)" ] || need+=(libasan8)
[ -e "$(gcc -print-file-name=libtsan.so)" ] || need+=(libtsan2)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing: ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

cargo build --release --no-default-features --features backend-system,global-allocator --lib
out="$CARGO_TARGET_DIR/c"
mkdir -p "$out"
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
ln -sf "$lib" "$out/$soname"
ln -sf "$lib" "$out/libgraphbit_alloc.so"

# Each program against the shared library (the tools run one library; the
# static one is the same code), or, for link "none", loading it itself.
build() { # tool source exe link pkg-config-modules
    local tool=$1 src=$2 exe=$3 link=$4 cc=gcc std=-std=c11 flags=(-O1 -g -fno-omit-frame-pointer) libs=()
    case $src in *.cpp) cc=g++ std=-std=c++17 ;; esac
    # shellcheck disable=SC2207 # pkg-config's flags are words
    [ -z "$5" ] || libs=($(pkg-config --cflags --libs $5))
    case $tool in
        asan) flags+=(-fsanitize=address,undefined -fno-sanitize-recover=all) ;;
        tsan) flags+=(-fsanitize=thread) ;;
    esac
    if [ "$link" = none ]; then
        $cc "${flags[@]}" $std -Wall -Wextra -D_GNU_SOURCE "c_tests/$src" "${libs[@]}" -o "$exe" -ldl -lpthread
    else
        $cc "${flags[@]}" $std -Wall -Wextra -D_GNU_SOURCE -DGB_EXPECT_BACKEND='"system"' -Iinclude \
            "c_tests/$src" "${libs[@]}" -o "$exe" -L"$out" -lgraphbit_alloc -Wl,-rpath,"$out" -lpthread
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
    built=" "
    for run in "${runs[@]}"; do
        IFS='|' read -r name src link pkg args env harnesses <<<"$run"
        [[ $harnesses == *" $tool "* ]] || continue
        stem=${src%.*}
        exe="$out/${stem//\//_}-$tool" # hooks/lua.c: hooks_lua-asan
        if [[ $built != *" $exe "* ]]; then
            build $tool "$src" "$exe" "$link" "$pkg"
            built+="$exe "
        fi
        log="$out/$name-$tool.log"
        start=$SECONDS
        set +e
        case $tool in
            # A forked child _exits holding blocks of threads it does not
            # have: no leak check there, memory errors still count.
            # --fair-sched=yes: valgrind runs one thread at a time, and with
            # its default lock three busy threads starved fork.c's forking
            # thread (20 forks: over 240 s; fair: 5 s).
            valgrind) leaks=full; [ "$src" = fork.c ] && leaks=no
                env $env valgrind -q --fair-sched=yes --error-exitcode=97 --leak-check=$leaks --errors-for-leak-kinds=definite \
                --show-leak-kinds=definite "$exe" $args >"$log" 2>&1 ;;
            *) env $env "$exe" $args >"$log" 2>&1 ;;
        esac
        rc=$?
        set -e
        # gb_verify on the system backend looks for evidence in glibc's
        # malloc counters (mallinfo2); under ASan and valgrind malloc is the
        # tool's, so that one check fails by construction. Any other failed
        # check still fails the run.
        if [ $rc -eq 1 ] && grep -qE 'CHECK failed: (gb_)?verify' "$log" &&
            ! grep 'CHECK failed' "$log" | grep -qvE 'CHECK failed: (gb_)?verify'; then
            echo "          ($name: gb_verify() is false under $tool: glibc's counters do not see the tool's malloc)"
            rc=0
        fi
        found=$(grep -cE '^==[0-9]+==ERROR|^WARNING: ThreadSanitizer|runtime error:|ERROR SUMMARY: [1-9]|definitely lost: [1-9]' "$log" || true)
        count=$((count + 1))
        reports=$((reports + found))
        printf '%-9s %-20s %-22s exit %-3s reports %s  (%ss)\n' "$tool" "$name" "${args:0:22}" "$rc" "$found" $((SECONDS - start))
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

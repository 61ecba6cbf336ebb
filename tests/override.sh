#!/usr/bin/env bash
# Whole-process mode (Cargo feature `override`): builds
# libgraphbit_alloc_override.so and checks it from outside, as a user would
# preload it.
#  1. the SONAME, and the exported dynamic symbols against the expected list
#     (the malloc family as the override's source declares it, every C++
#     operator new/delete the C++ runtime exports, the gb_* API of
#     include/graphbit_alloc.h, nothing else);
#  2. c_tests/override/override_semantics.c under glibc and under the
#     preload, row by row ("=" rows must match; "~" rows are shown);
#  3. c_tests/override/override_new.cpp (every new/delete form, built with
#     -fsized-deallocation -faligned-new) under both: same output, and every
#     block it checks is the backend's;
#  4. real programs (python3, perl, bash pipelines, git, sqlite3, lua5.4 when
#     installed) under both: same stdout, stderr and exit status, and a check
#     that the preloaded process's malloc really is the backend's.
# Exits non-zero on any difference.
#
# Usage: tests/override.sh [extra cargo args, e.g. --no-default-features --features backend-mimalloc,global-allocator]
#   GB_OVERRIDE_LIB=path/to/libgraphbit_alloc_override.so tests/override.sh
#                                   checks that library instead of building one
#                                   (ctest's override_script passes CMake's)
# Needs gcc, g++, python3, perl, git, sqlite3 and lua5.4 (tests/cmake/install-deps.sh).
set -u
shopt -s extglob
cd "$(dirname "$0")/.."
ROOT=$PWD
fail=0
failed() { echo "FAIL: $*"; fail=1; }
for tool in gcc g++ python3 perl git sqlite3 lua5.4 readelf nm; do
    command -v "$tool" >/dev/null || failed "$tool not found (bash tests/cmake/install-deps.sh installs it)"
done
((fail)) && exit 1
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
LIB=$WORK/libgraphbit_alloc_override.so
if [[ -n ${GB_OVERRIDE_LIB:-} ]]; then
    echo "== library: $GB_OVERRIDE_LIB"
    cp "$GB_OVERRIDE_LIB" "$LIB" || exit 1
else
    TARGET_DIR=${GB_OVERRIDE_TARGET_DIR:-$ROOT/target/variants/override}
    echo "== build"
    mkdir -p "$TARGET_DIR"
    cargo build --release --features override --target-dir "$TARGET_DIR" "$@" >/dev/null 2>"$TARGET_DIR.build.log" \
        || { cat "$TARGET_DIR.build.log"; echo "FAIL: build"; exit 1; }
    cp "$TARGET_DIR/release/libgraphbit_alloc.so" "$LIB"
fi

echo "== SONAME and exports"
soname=$(readelf -d "$LIB" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[[ $soname == libgraphbit_alloc_override?(_checked|_hardened).so.0.* ]] || failed "SONAME is '$soname'"
# No C++ runtime among its dependencies (src/override/new.cpp finds the
# program's when it needs one): libstdc++ and libm cost every C program
# about 0.9 MiB resident (docs/memory.md).
needed=$(readelf -d "$LIB" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
[[ $needed == *libstdc++* || $needed == *libc++* || $needed == *libm.so* ]] && failed "depends on: $needed"
# The expected exports, each from where it is declared rather than typed
# again here: the C functions are the #[no_mangle] ones of the override's
# source (src/override*: the whole malloc family, glibc's extensions and
# __libc_* names); the C++ operators are every operator new/delete that the
# C++ runtime (libstdc++.so.6) itself exports; the gb_* API is the header's.
# (src/override/exports.rs lists most of them in its export! table, one
# `name(args) = body;` line each; the rest are plain #[no_mangle] functions.)
expected_c=$( (grep -rh -A1 '#\[no_mangle\]' src/override | grep -oE '\bfn [A-Za-z_0-9]+' | awk '{print $2}'
    grep -hE '^\s+[A-Za-z_0-9]+\(.*\).*= [A-Za-z_:0-9]+;$' src/override/exports.rs | sed -E 's/^\s+([A-Za-z_0-9]+)\(.*/\1/') |
    sort -u)
[[ $(wc -w <<<"$expected_c") -gt 20 ]] || failed "the override's exports not found in src/override/"
libstdcxx=$(g++ -print-file-name=libstdc++.so.6)
expected_cxx=$(nm -D --defined-only "$libstdcxx" | awk '{print $3}' | sed 's/@.*//' | grep -E '^_Z(nw|na|dl|da)' | sort -u)
[[ -n $expected_cxx ]] || failed "no operator new/delete found in $libstdcxx"
expected_gb=$(grep -oE '\bgb_[a-z_0-9]+ *\(' include/graphbit_alloc.h | tr -d ' (' | sort -u)
printf '%s\n' $expected_c $expected_cxx $expected_gb | sort -u >"$WORK/expected.syms"
nm -D --defined-only "$LIB" | awk '{print $3}' | sed 's/@.*//' | sort -u >"$WORK/actual.syms"
if ! diff -u "$WORK/expected.syms" "$WORK/actual.syms" >"$WORK/syms.diff"; then
    failed "exported symbols differ from the expected list (- missing, + extra):"
    sed -n '3,$p' "$WORK/syms.diff" | grep '^[-+]'
else
    echo "ok: $(wc -l <"$WORK/actual.syms") symbols, as expected"
fi

# Runs "$@" without and with the preload; compares exit status, stdout and stderr.
compare() {
    local name=$1
    shift
    (cd "$WORK/run" && "$@") >"$WORK/$name.plain.out" 2>"$WORK/$name.plain.err"
    local plain=$?
    (cd "$WORK/run" && LD_PRELOAD=$LIB "$@") >"$WORK/$name.gb.out" 2>"$WORK/$name.gb.err"
    local gb=$?
    local ok=1
    [[ $plain == "$gb" ]] || { failed "$name: exit status $plain without the preload, $gb with it"; ok=0; }
    diff -q "$WORK/$name.plain.out" "$WORK/$name.gb.out" >/dev/null \
        || { failed "$name: stdout differs"; diff "$WORK/$name.plain.out" "$WORK/$name.gb.out" | head -20; ok=0; }
    diff -q "$WORK/$name.plain.err" "$WORK/$name.gb.err" >/dev/null \
        || { failed "$name: stderr differs"; diff "$WORK/$name.plain.err" "$WORK/$name.gb.err" | head -20; ok=0; }
    ((ok)) && echo "ok: $name (exit $plain, $(wc -l <"$WORK/$name.gb.out") lines of output, identical)"
}
mkdir -p "$WORK/run"

echo "== semantics side by side (c_tests/override/override_semantics.c)"
# -fno-builtin: GCC otherwise assumes posix_memalign leaves errno alone and
# folds the test's errno reads.
gcc -O1 -fno-builtin -Wall -Wno-deprecated-declarations -Wno-alloc-size-larger-than \
    -Wno-use-after-free -o "$WORK/semantics" c_tests/override/override_semantics.c -ldl \
    || failed "compile override_semantics.c"
"$WORK/semantics" >"$WORK/sem.glibc" || failed "override_semantics under glibc: exit status $?"
# Runs the semantics under the override with the given variables into FILE
# and compares its "=" rows with glibc's.
same_rows() { # FILE, then VARIABLE=VALUE... ("how" for the messages)
    local out=$1 how
    shift
    how=${*:-its defaults}
    env "$@" LD_PRELOAD="$LIB" "$WORK/semantics" >"$out" ||
        failed "override_semantics under the override ($how): exit status $?"
    if diff <(grep '^=' "$WORK/sem.glibc") <(grep '^=' "$out") >"$WORK/sem.diff"; then
        echo "ok: $(grep -c '^=' "$out") rows identical under glibc and the override ($how)"
    else
        failed "semantics rows differ (< glibc, > override with $how):"
        cat "$WORK/sem.diff"
    fi
}
same_rows "$WORK/sem.gb"
# The checked and hardened overrides once more with every block guarded that
# fits their pool (the other overrides ignore both variables): the same rows,
# mallinfo's counting of the guarded blocks among them.
same_rows "$WORK/sem.guarded" GB_CHECKED_SAMPLE=1 GB_HARDENED_SAMPLE=1
echo "   by design (glibc | override):"
paste -d'\n' <(grep '^~' "$WORK/sem.glibc" | sed 's/^~/   glibc   /') \
    <(grep '^~' "$WORK/sem.gb" | sed 's/^~/   override/')

echo "== C++ operators (c_tests/override/override_new.cpp)"
g++ -O2 -std=c++17 -fsized-deallocation -faligned-new -fno-builtin -o "$WORK/new" \
    c_tests/override/override_new.cpp -ldl || failed "compile override_new.cpp"
"$WORK/new" >"$WORK/new.glibc" 2>/dev/null; rc_glibc=$?
LD_PRELOAD=$LIB "$WORK/new" >"$WORK/new.gb" 2>"$WORK/new.gb.err"; rc_gb=$?
[[ $rc_glibc == 0 && $rc_gb == 0 ]] || failed "override_new exit status $rc_glibc / $rc_gb: $(cat "$WORK/new.gb.err")"
diff "$WORK/new.glibc" "$WORK/new.gb" || failed "override_new output differs"
grep -q "override: \([0-9]*\) of \1 blocks" "$WORK/new.gb.err" \
    && echo "ok: $(wc -l <"$WORK/new.gb") rows identical; $(cat "$WORK/new.gb.err")" \
    || failed "operator new blocks not the backend's: $(cat "$WORK/new.gb.err")"

echo "== threads, fork, posix_spawn, dynamic TLS, allocation before constructors"
gcc -O2 -shared -fPIC -o "$WORK/tlslib.so" c_tests/override/override_tls_lib.c \
    && gcc -O2 -pthread -o "$WORK/threads" c_tests/override/override_threads.c -ldl \
    || failed "compile override_threads.c"
compare threads "$WORK/threads" "$WORK/tlslib.so"

echo "== stress: threads in rounds, random sizes up to 4 MiB, cross-thread frees, contents checked"
# The short profile of c_tests/override/override_stress.c (the long one, 10^8
# operations: gb-bench/scripts/override-stress.sh, docs/runs/override-stress.txt).
gcc -O2 -std=c11 -Wall -Wextra -pthread -o "$WORK/stress" c_tests/override/override_stress.c -ldl \
    || failed "compile override_stress.c"
for run in glibc override; do
    if [[ $run == glibc ]]; then out=$("$WORK/stress" 4 2000000 10 2>&1); else
        out=$(LD_PRELOAD=$LIB "$WORK/stress" 4 2000000 10 2>&1); fi
    rc=$?
    if [[ $rc == 0 && ( $run == glibc || $out == *" ok allocator="@(jemalloc|mimalloc) ) ]]; then
        echo "ok: $run: ${out#override_stress: }" | cut -c1-150
    else
        failed "stress under $run (exit $rc): $out"
    fi
done

echo "== loading the override with dlopen after start-up"
# Initial-exec TLS: glibc refuses it where its static TLS reserve is too
# small (jemalloc's ~2 KiB); where it loads (mimalloc's TLS fits, or a
# bigger reserve), malloc stays glibc's: one line says to preload it, and
# gb_verify is false.
load='import ctypes, sys
try: print("loaded, gb_verify:", bool(ctypes.CDLL(sys.argv[1]).gb_verify()))
except OSError as e: print(e)'
loaded_ok() {
    [[ $1 == *"loaded after start-up (dlopen)"*"preload it"* && $1 == *"gb_verify: False"* \
        && $(grep -c graphbit-alloc <<<"$1") == 1 ]]
}
dl=$(/usr/bin/python3 -c "$load" "$LIB" 2>&1)
if [[ $dl == *"cannot allocate memory in static TLS block"* ]]; then
    echo "ok: refused by glibc: ${dl##*: }"
elif loaded_ok "$dl"; then
    echo "ok: loaded; one line says to preload it; gb_verify false"
else
    failed "dlopen of the override: '$dl'"
fi
dl=$(GLIBC_TUNABLES=glibc.rtld.optional_static_tls=8192 /usr/bin/python3 -c "$load" "$LIB" 2>&1)
loaded_ok "$dl" && echo "ok: with spare static TLS: loaded; one line says to preload it; gb_verify false" \
    || failed "dlopen with spare static TLS: '$dl'"

echo "== GB_STATS_AT_EXIT=1 prints a summary at exit"
stats=$(GB_STATS_AT_EXIT=1 LD_PRELOAD=$LIB /usr/bin/python3 -c 'print("x" * 10)' 2>&1 >/dev/null)
if [[ $stats == *"whole-process override: active"* && $stats == *"process resident: now"* \
      && $stats == *"allocations: "* ]]; then
    echo "ok: $(head -1 <<<"$stats" | cut -c1-60)... ($(wc -l <<<"$stats") lines)"
else
    failed "GB_STATS_AT_EXIT summary: '$stats'"
fi
[[ -z $(LD_PRELOAD=$LIB /usr/bin/python3 -c 'print(1)' 2>&1 >/dev/null) ]] \
    || failed "a summary or warning without GB_STATS_AT_EXIT"

echo "== the preloaded process's malloc is the backend's"
probe=$(LD_PRELOAD=$LIB /usr/bin/python3 -c '
import ctypes
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.strdup.restype = ctypes.c_void_p
libc.gb_owns.argtypes = [ctypes.c_void_p]
libc.gb_owns.restype = ctypes.c_bool
libc.gb_verify.restype = ctypes.c_bool
m = libc.malloc(100); s = libc.strdup(b"hello")
buf = ctypes.create_string_buffer(16384)
libc.gb_verify_report(buf, ctypes.c_size_t(len(buf)))
print(libc.gb_owns(m), libc.gb_owns(s), libc.gb_verify(), b"\"host_malloc_captured\"" in buf.value)
libc.free(ctypes.c_void_p(m)); libc.free(ctypes.c_void_p(s))
' 2>&1)
[[ $probe == "True True True True" ]] \
    && echo "ok: malloc and strdup blocks in python3 are the backend's; gb_verify passes with host_malloc_captured" \
    || failed "python3 under the preload: malloc/strdup/gb_verify ($probe)"

echo "== real programs, with and without the preload"
cat >"$WORK/run/churn.py" <<'PY'
import json, re, sqlite3, threading, hashlib
def work(seed, out):
    acc = {}
    for i in range(20000):
        key = f"k{(i * seed) % 5000}"
        acc[key] = acc.get(key, []) + [str(i) * (i % 7)]
        if i % 1000 == 0:
            acc = {k: v[-3:] for k, v in acc.items()}
    text = json.dumps(acc, sort_keys=True)
    words = re.findall(r"k(\d+)", text)
    out[seed] = (len(text), sum(map(int, words)) % 1000003,
                 hashlib.sha256(text.encode()).hexdigest()[:16])
out = {}
threads = [threading.Thread(target=work, args=(s, out)) for s in range(1, 9)]
for t in threads: t.start()
for t in threads: t.join()
db = sqlite3.connect(":memory:")
db.execute("create table t (k text primary key, n int, blob text)")
db.executemany("insert into t values (?, ?, ?)", ((f"key{i}", i, "x" * (i % 300)) for i in range(20000)))
print(db.execute("select count(*), sum(n), sum(length(blob)) from t where k like 'key1%'").fetchone())
for seed in sorted(out): print(seed, *out[seed])
PY
compare python3 /usr/bin/python3 churn.py
cat >"$WORK/run/churn.pl" <<'PL'
use strict; use warnings;
my %h; my $s = "";
for my $i (1..200000) { $h{"key" . ($i % 20011)} .= chr(65 + $i % 26); $s .= $i if $i % 7 == 0; }
my $total = 0; $total += length($h{$_}) for keys %h;
my @sorted = sort { length($h{$a}) <=> length($h{$b}) || $a cmp $b } keys %h;
my $joined = join(",", map { lc } @sorted[0..99]);
(my $t = $s) =~ s/(\d)(\d)/$2$1/g;
print scalar(keys %h), " $total ", length($s), " ", length($t), " ", substr($joined, 0, 60), "\n";
PL
compare perl /usr/bin/perl churn.pl
compare bash /bin/bash -c 'seq 1 200000 | awk "{print \$1 % 997, \$1}" | sort -n -k1,1 -k2,2 | uniq -c -w4 | tail -5;
    for i in $(seq 1 300); do a[$i]=$(printf "%0${i}d" 0); done; echo ${#a[@]} ${#a[300]};
    declare -A m; for i in $(seq 1 5000); do m[k$i]=$i; done; echo ${#m[@]};
    echo "$(printf "x%.0s" $(seq 1 10000))" | wc -c; ls / >/dev/null; (exit 3)'
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com
export GIT_AUTHOR_DATE="2026-01-01T00:00:00Z" GIT_COMMITTER_DATE="2026-01-01T00:00:00Z" GIT_CONFIG_NOSYSTEM=1 HOME=$WORK/run
git_script='rm -rf repo && git init -q -b main repo && cd repo &&
    for i in $(seq 1 40); do seq 1 $((i * 100)) >f$((i % 7)); git add -A && git commit -qm "commit $i"; done &&
    git log --stat --format="%H %s" | head -60 && git gc -q 2>&1 && git count-objects -v | grep -v size && git fsck 2>&1 | wc -l'
compare git /bin/bash -c "$git_script"
{
        echo "create table t (id integer primary key, name text, n int);"
        echo "begin;"
        for i in $(seq 1 3000); do echo "insert into t (name, n) values ('name$i', $((i * 7 % 1000)));"; done
        echo "commit;"
        echo "create index tn on t(n);"
        echo "select n, count(*), group_concat(name) from t group by n order by n limit 5;"
        echo "select sum(length(name)), max(n) from t;"
        echo "with recursive c(x) as (select 1 union all select x + 1 from c where x < 50000) select count(*), sum(x) from c;"
} >"$WORK/run/script.sql"
compare sqlite3 /bin/bash -c 'rm -f db.sqlite && sqlite3 db.sqlite <script.sql'
compare lua5.4 lua5.4 -e 'local t = {} for i = 1, 200000 do t[i] = tostring(i) .. ("x"):rep(i % 13) end
    local s = table.concat(t, ",", 1, 1000) print(#t, #s)'

echo "== jemalloc's background thread: only from the first request of 1 MiB"
gcc -O1 -Wall -o "$WORK/background" c_tests/override/override_background.c || failed "compile override_background.c"
backend=$(LD_PRELOAD=$LIB /usr/bin/python3 -c 'import ctypes; l = ctypes.CDLL(None); l.gb_allocator_name.restype = ctypes.c_char_p; print(l.gb_allocator_name().decode())')
expect="1 1"; [[ $backend == jemalloc ]] && expect="1 2"
got=$(LD_PRELOAD=$LIB "$WORK/background")
[[ $got == "$expect" ]] && echo "ok: $backend: threads before and after a 2 MiB block: $got" \
    || failed "$backend: threads before and after a 2 MiB block: '$got', expected '$expect'"
got=$(_RJEM_MALLOC_CONF=background_thread:false LD_PRELOAD=$LIB "$WORK/background")
[[ $got == "1 1" ]] && echo "ok: with _RJEM_MALLOC_CONF=background_thread:false: $got" \
    || failed "_RJEM_MALLOC_CONF=background_thread:false: '$got'"

echo "== a preloaded process stays single-threaded (unshare -U refuses multithreaded processes)"
# The override's jemalloc starts without its background thread
# (src/backend/jemalloc_conf.c): a thread of its own from the first malloc
# would make every program multithreaded; unshare asks for no large block.
if command -v unshare >/dev/null && unshare -U true 2>/dev/null; then
    if LD_PRELOAD=$LIB unshare -U true; then
        echo "   unshare -U: works under the preload"
    else
        echo "FAIL: unshare -U works without the preload and fails under it"
        fail=1
    fi
else
    echo "skip: unshare -U does not work here even without the preload"
fi

if ((fail)); then echo "override: FAILED"; exit 1; fi
echo "override: all checks passed"

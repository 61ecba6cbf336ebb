#!/usr/bin/env bash
# Tests of the Java binding: installs what it needs with apt when missing
# (OpenJDK 17, Debian's JNA and JUnit 5), compiles with javac, and runs the
# JUnit console launcher over the tests; no Maven, no network. Exits non-zero
# on any failure.
#   GRAPHBIT_ALLOC_LIB   the dlopen library (default: build/default/lib/ of
#                        this repository, as `cmake --build --preset default` makes it)
#   GB_INITIAL_EXEC_LIB  the initial-exec library, for the static TLS test
#                        (default: libgraphbit_alloc.so beside the dlopen one)
#   GB_EXPECT_BACKEND    the backend the library must report (optional)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
jna=/usr/share/java/jna.jar
junit=/usr/share/java/junit-platform-console-standalone.jar

. "$here/../test-common.sh"

missing=()
command -v javac >/dev/null && command -v jar >/dev/null || missing+=(openjdk-17-jdk-headless)
[ -f "$jna" ] || missing+=(libjna-java)
[ -f "$junit" ] || missing+=(junit5)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
echo "test.sh: $(javac -version 2>&1), JNA $(readlink -f "$jna" | sed 's/.*jna-//; s/[.]jar$//'), JUnit console $(unzip -p "$junit" META-INF/MANIFEST.MF 2>/dev/null | sed -n "s/^Implementation-Version: *//p" | tr -d "\r" | head -1)"

use_dlopen_lib
initial_exec=$GB_INITIAL_EXEC_LIB

cd "$here"
rm -rf build/classes build/test-classes
mkdir -p build/classes build/test-classes
javac --release 17 -Xlint:all -Werror -encoding UTF-8 -d build/classes -cp "$jna" \
  $(find src/main/java -name '*.java')
javac --release 17 -Xlint:all,-processing -Werror -encoding UTF-8 -d build/test-classes \
  -cp "build/classes:$jna:$junit" $(find src/test/java -name '*.java')

classpath="$here/build/classes:$here/build/test-classes:$jna"
status=0
java -Dgraphbit.test.repo="$repo" -Dgraphbit.test.classpath="$classpath" \
     -Dgraphbit.test.initialExecLib="$initial_exec" \
     -jar "$junit" --disable-banner --disable-ansi-colors --fail-if-no-tests --details=tree \
     --class-path "$classpath" --scan-class-path "$here/build/test-classes" \
  | tee build/junit.out || status=$?
passed="$(sed -n 's/^\[ *\([0-9]*\) tests successful *\]$/\1/p' build/junit.out)"
failed="$(sed -n 's/^\[ *\([0-9]*\) tests failed *\]$/\1/p' build/junit.out)"
echo "junit: ${passed:-0} passed, ${failed:-?} failed"
exit "$status"

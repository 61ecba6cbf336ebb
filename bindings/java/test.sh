#!/usr/bin/env bash
# Tests of the Java binding: installs what it needs with apt when missing
# (OpenJDK 17, Debian's JNA and JUnit 5), compiles with javac, packs the jar
# that pom.xml describes (build/graphbit-alloc-VERSION.jar, with the pom
# inside, as Maven packs it) with the JDK's jar tool, and runs the JUnit
# console launcher over the tests; no Maven, no network. JNA is the pom's
# version from a Maven repository where one has it ($HOME/.m2/repository,
# then Debian's /usr/share/maven-repo), Debian's jna.jar otherwise. Exits
# non-zero on any failure.
#   GRAPHBIT_ALLOC_LIB   the dlopen library (default: build/default/lib/ of
#                        this repository, as `cmake --build --preset default` makes it)
#   GB_INITIAL_EXEC_LIB  the initial-exec library, for the static TLS test
#                        (default: libgraphbit_alloc.so beside the dlopen one)
#   GB_EXPECT_BACKEND    the backend the library must report (optional)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
debian_jna=/usr/share/java/jna.jar
junit=/usr/share/java/junit-platform-console-standalone.jar

. "$here/../test-common.sh"

missing=()
command -v javac >/dev/null && command -v jar >/dev/null || missing+=(openjdk-17-jdk-headless)
[ -f "$debian_jna" ] || missing+=(libjna-java)
[ -f "$junit" ] || missing+=(junit5)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
# The coordinates, from the pom (the first <groupId>/<artifactId>/<version> are
# the project's), and JNA's version from its dependency.
pom_value() { sed -n "s|^  <$1>\(.*\)</$1>|\1|p" "$here/pom.xml" | head -1; }
group=$(pom_value groupId) artifact=$(pom_value artifactId) version=$(pom_value version)
jna_version=$(sed -n '/<artifactId>jna<\/artifactId>/{n;s|.*<version>\(.*\)</version>.*|\1|p}' "$here/pom.xml")
jna=$debian_jna
for maven_repo in "${HOME:-/nonexistent}/.m2/repository" /usr/share/maven-repo; do
  candidate="$maven_repo/net/java/dev/jna/jna/$jna_version/jna-$jna_version.jar"
  if [ -f "$candidate" ]; then jna=$candidate; break; fi
done
echo "test.sh: $(javac -version 2>&1), JNA $(readlink -f "$jna" | sed 's/.*jna-//; s/[.]jar$//') ($jna), JUnit console $(unzip -p "$junit" META-INF/MANIFEST.MF 2>/dev/null | sed -n "s/^Implementation-Version: *//p" | tr -d "\r" | head -1)"

use_dlopen_lib
initial_exec=$GB_INITIAL_EXEC_LIB

cd "$here"
rm -rf build/classes build/test-classes
mkdir -p build/classes build/test-classes
javac --release 17 -Xlint:all -Werror -encoding UTF-8 -d build/classes -cp "$jna" \
  $(find src/main/java -name '*.java')
# The jar, as Maven would pack it: classes, the pom and pom.properties under
# META-INF/maven/, an Automatic-Module-Name.
jar_file="$here/build/$artifact-$version.jar"
meta="build/jar-meta/META-INF/maven/$group/$artifact"
rm -rf build/jar-meta "$jar_file"
mkdir -p "$meta"
cp pom.xml "$meta/pom.xml"
printf 'groupId=%s\nartifactId=%s\nversion=%s\n' "$group" "$artifact" "$version" > "$meta/pom.properties"
printf 'Automatic-Module-Name: graphbit.alloc\nImplementation-Title: %s\nImplementation-Version: %s\n' \
  "$artifact" "$version" > build/jar-meta/MANIFEST.MF
jar --create --file "$jar_file" --manifest build/jar-meta/MANIFEST.MF \
  -C build/classes . -C build/jar-meta META-INF
echo "test.sh: packed $jar_file ($group:$artifact:$version)"
javac --release 17 -Xlint:all,-processing -Werror -encoding UTF-8 -d build/test-classes \
  -cp "build/classes:$jna:$junit" $(find src/test/java -name '*.java')

classpath="$here/build/classes:$here/build/test-classes:$jna"
status=0
java -Dgraphbit.test.repo="$repo" -Dgraphbit.test.classpath="$classpath" \
     -Dgraphbit.test.initialExecLib="$initial_exec" \
     -Dgraphbit.test.jar="$jar_file" -Dgraphbit.test.jna="$jna" \
     -jar "$junit" --disable-banner --disable-ansi-colors --fail-if-no-tests --details=tree \
     --class-path "$classpath" --scan-class-path "$here/build/test-classes" \
  | tee build/junit.out || status=$?
passed="$(sed -n 's/^\[ *\([0-9]*\) tests successful *\]$/\1/p' build/junit.out)"
failed="$(sed -n 's/^\[ *\([0-9]*\) tests failed *\]$/\1/p' build/junit.out)"
echo "junit: ${passed:-0} passed, ${failed:-?} failed"
exit "$status"

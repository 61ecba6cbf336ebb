#!/usr/bin/env bash
# Builds and runs tests/consumer/consumer.c against an installed
# graphbit-alloc found with pkg-config: shared, then static.
#   pkg-config.sh PREFIX EXPECTED_BACKEND WORK_DIR [OVERRIDE: ON if the build made the override]
set -euo pipefail
prefix=$1 backend=$2 work=$3 override=${4:-OFF}
here=$(cd "$(dirname "$0")" && pwd)
for tool in pkg-config cc c++; do
    command -v "$tool" >/dev/null || { echo "pkg-config.sh: $tool not found (install it)" >&2; exit 1; }
done
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
mkdir -p "$work"
set -x
test "$(pkg-config --variable=allocator graphbit-alloc)" = "$backend"
pkg-config --modversion graphbit-alloc
libdir=$(pkg-config --variable=libdir graphbit-alloc)
native=$(pkg-config --variable=native_static_libs graphbit-alloc)
# --static adds Libs.private (the archive's native dependencies).
static_libs=$(pkg-config --static --libs graphbit-alloc)
test "$(echo $static_libs)" = "$(echo $(pkg-config --libs graphbit-alloc) $native)"

# Shared.
cc -std=c11 -Wall -Wextra -Werror "$here/consumer.c" -o "$work/pc_shared" \
    -DGB_EXPECT_BACKEND="\"$backend\"" -DGB_EXPECT_LINK='"shared"' \
    $(pkg-config --cflags --libs graphbit-alloc) -Wl,-rpath,"$libdir" -ldl
"$work/pc_shared"

# Static: the archive, then what it needs.
cc -std=c11 -Wall -Wextra -Werror "$here/consumer.c" -o "$work/pc_static" \
    -DGB_EXPECT_BACKEND="\"$backend\"" -DGB_EXPECT_LINK='"static"' \
    $(pkg-config --cflags graphbit-alloc) "$libdir/libgraphbit_alloc.a" $native
"$work/pc_static"

# C++ header, shared.
c++ -std=c++17 -Wall -Wextra -Werror "$here/consumer.cpp" -o "$work/pc_cpp" \
    -DGB_EXPECT_BACKEND="\"$backend\"" \
    $(pkg-config --cflags --libs graphbit-alloc) -Wl,-rpath,"$libdir"
"$work/pc_cpp"

# Heap profiles: graphbit-alloc-profiling must be installed, shared and static, and gb_profile_start must work.
# (Linux only, where CMake builds it.)
if [ "$(uname -s)" = Linux ]; then
    pkg-config --exists graphbit-alloc-profiling \
        || { echo "pkg-config.sh: graphbit-alloc-profiling.pc is not installed" >&2; exit 1; }
    cc -std=c11 -Wall -Wextra -Werror "$here/consumer_profile.c" -o "$work/pc_profiling" \
        $(pkg-config --cflags --libs graphbit-alloc-profiling) -Wl,-rpath,"$libdir"
    "$work/pc_profiling" "$work/pc_profiling.pb.gz"
    cc -std=c11 -Wall -Wextra -Werror "$here/consumer_profile.c" -o "$work/pc_profiling_static" \
        $(pkg-config --cflags graphbit-alloc-profiling) "$libdir/libgraphbit_alloc_profiling.a" \
        $(pkg-config --variable=native_static_libs graphbit-alloc-profiling)
    "$work/pc_profiling_static" "$work/pc_profiling_static.pb.gz"
fi

# Whole-process mode, where it was built (Linux, jemalloc or mimalloc).
if pkg-config --exists graphbit-alloc-override; then
    cc -std=c11 -Wall -Wextra -Werror "$here/consumer_override.c" -o "$work/pc_override" \
        -DGB_EXPECT_BACKEND="\"$backend\"" \
        $(pkg-config --cflags --libs graphbit-alloc-override) -Wl,-rpath,"$libdir"
    "$work/pc_override"
    cc -std=c11 -Wall -Wextra -Werror "$here/consumer_override.c" -o "$work/pc_override_static" \
        -DGB_EXPECT_BACKEND="\"$backend\"" $(pkg-config --cflags graphbit-alloc-override) \
        $(pkg-config --variable=static_link graphbit-alloc-override)
    "$work/pc_override_static"
    # Preloaded into a program linked against the prefixed library.
    cc -std=c11 -Wall -Wextra -Werror "$here/consumer_override.c" -o "$work/pc_preloaded" \
        -DGB_EXPECT_BACKEND="\"$backend\"" $(pkg-config --cflags --libs graphbit-alloc) -Wl,-rpath,"$libdir"
    LD_PRELOAD=$(pkg-config --variable=preload graphbit-alloc-override) "$work/pc_preloaded"
    # The checked override, preloaded the same way.
    LD_PRELOAD=$(pkg-config --variable=preload graphbit-alloc-override-checked) "$work/pc_preloaded"
    # The profiling override: the prefixed library's gb_profile_* resolve to it.
    cc -std=c11 -Wall -Wextra -Werror "$here/consumer_profile.c" -o "$work/pc_preloaded_profiling" \
        $(pkg-config --cflags --libs graphbit-alloc) -Wl,-rpath,"$libdir"
    LD_PRELOAD=$(pkg-config --variable=preload graphbit-alloc-override-profiling) \
        "$work/pc_preloaded_profiling" "$work/pc_preloaded_profiling.pb.gz"
elif [ "$override" = ON ]; then
    echo "pkg-config.sh: graphbit-alloc-override.pc is missing, though the build made the override" >&2
    exit 1
fi

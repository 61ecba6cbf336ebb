# Sourced by bindings/<language>/test.sh (which sets $repo first).
#
# apt_install PACKAGE... installs what a binding's tests need with apt-get
# (as root), or says what to install.
apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "test.sh: $* missing and not root: install it (apt-get install $*)" >&2
    exit 1
  fi
  echo "test.sh: installing $* (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# use_dlopen_lib: exports GRAPHBIT_ALLOC_LIB (default: the dlopen library of
# build/default/lib) and GB_INITIAL_EXEC_LIB (default: libgraphbit_alloc.so
# beside it), or fails saying how to build the library.
use_dlopen_lib() {
  local lib="${GRAPHBIT_ALLOC_LIB:-$repo/build/default/lib/libgraphbit_alloc_dlopen.so}"
  if [ ! -f "$lib" ]; then
    echo "test.sh: no library at $lib: build it (cmake --preset default && cmake --build --preset default) or set GRAPHBIT_ALLOC_LIB" >&2
    exit 1
  fi
  export GRAPHBIT_ALLOC_LIB="$lib"
  export GB_INITIAL_EXEC_LIB="${GB_INITIAL_EXEC_LIB:-$(dirname "$lib")/libgraphbit_alloc.so}"
  echo "test.sh: GRAPHBIT_ALLOC_LIB=$GRAPHBIT_ALLOC_LIB"
}

# use_profiling_lib DIR: exports GB_PROFILING_LIB (default:
# DIR/libgraphbit_alloc_profiling.so, which the CMake build makes beside the
# others), the library each binding's profile test runs against, preloaded;
# fails when it is missing. GB_PROFILING_LIB=skip skips those tests, saying so.
use_profiling_lib() {
  local lib="${GB_PROFILING_LIB:-$1/libgraphbit_alloc_profiling.so}"
  if [ "$lib" = skip ]; then
    echo "test.sh: SKIPPED the profile wrappers' success path (GB_PROFILING_LIB=skip)"
    return 1
  fi
  if [ ! -f "$lib" ]; then
    echo "test.sh: no profiling library at $lib: build it (cmake --build --preset default)," \
         "set GB_PROFILING_LIB, or GB_PROFILING_LIB=skip" >&2
    exit 1
  fi
  GB_PROFILING_LIB="$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib")"
  export GB_PROFILING_LIB
  echo "test.sh: GB_PROFILING_LIB=$GB_PROFILING_LIB"
}

#!/usr/bin/env bash
# Tests of the Go binding: installs Go (and a C compiler for cgo) with apt when
# missing, links the initial-exec library, and runs gofmt, go vet, go test
# (again under the race detector for the concurrent tests) and the benchmark,
# briefly. Nothing is fetched: GOFLAGS=-mod=mod GOPROXY=off. Exits non-zero on
# any failure.
#   GRAPHBIT_ALLOC_LIB  the library file to link (default: build/default/lib/
#                       libgraphbit_alloc.so of this repository, then the
#                       system's linker path)
#   GB_EXPECT_BACKEND   the backend the library must report (optional)
#   GB_PROFILING_LIB    the profiling library for the profile test (default:
#                       libgraphbit_alloc_profiling.so beside the library; skip)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

. "$here/../test-common.sh"

command -v go >/dev/null || apt_install golang-go
command -v gcc >/dev/null || apt_install gcc libc6-dev
command -v pkg-config >/dev/null || apt_install pkg-config
echo "test.sh: $(go version)"

# The library, as the Python binding looks for it (a path, then the build,
# then the system); cgo links it, so it is the initial-exec build.
lib="${GRAPHBIT_ALLOC_LIB:-}"
origin='$GRAPHBIT_ALLOC_LIB'
if [ -z "$lib" ] && [ -e "$repo/build/default/lib/libgraphbit_alloc.so" ]; then
  lib="$repo/build/default/lib/libgraphbit_alloc.so"
  origin="the repository's build"
fi
if [ -z "$lib" ]; then
  lib="$(ldconfig -p 2>/dev/null | awk '/libgraphbit_alloc\.so /{print $NF; exit}')"
  origin="the system's linker path"
fi
if [ -n "${GRAPHBIT_ALLOC_LIB:-}" ] && [ ! -f "$lib" ]; then
  echo "test.sh: GRAPHBIT_ALLOC_LIB=$lib: no such file" >&2
  exit 1
fi
if [ -z "$lib" ]; then
  echo "test.sh: cannot find libgraphbit_alloc.so (tried \$GRAPHBIT_ALLOC_LIB, $repo/build/default/lib, ldconfig -p):" \
       "build it (cmake --preset default && cmake --build --preset default) or set GRAPHBIT_ALLOC_LIB" >&2
  exit 1
fi
case "$(basename "$lib")" in
  *dlopen*|*checked*|*override*) echo "test.sh: note: $lib is not the default (initial-exec) build" ;;
esac
libdir="$(cd "$(dirname "$lib")" && pwd)"
lib="$libdir/$(basename "$lib")"
echo "test.sh: linking $lib (from $origin)"

# -lgraphbit_alloc needs libgraphbit_alloc.so, and the loader the SONAME: the
# build has both; for another file name, symbolic links in a directory of our
# own, on the run-time path after the library's.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
linkdir="$libdir"
rpath="$libdir"
if [ "$(readlink -f "$libdir/libgraphbit_alloc.so" 2>/dev/null)" != "$(readlink -f "$lib")" ]; then
  linkdir="$scratch/lib"
  mkdir "$linkdir"
  ln -s "$lib" "$linkdir/libgraphbit_alloc.so"
  soname="$(readelf -d "$lib" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"
  [ -z "$soname" ] || [ -e "$linkdir/$soname" ] || ln -s "$lib" "$linkdir/$soname"
  rpath="$libdir:$linkdir"
fi

# The package finds the header and the library through pkg-config
# (#cgo pkg-config: graphbit-alloc), as from an installed prefix: a .pc of
# our own says where they are here.
mkdir "$scratch/pkgconfig"
cat > "$scratch/pkgconfig/graphbit-alloc.pc" <<PC
Name: graphbit-alloc
Description: graphbit-alloc for bindings/go/test.sh ($lib)
Version: 0.1.0
Cflags: -I$repo/include
Libs: -L$linkdir -Wl,-rpath,$rpath -lgraphbit_alloc
PC
export PKG_CONFIG_PATH="$scratch/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export CGO_ENABLED=1
# Go's build cache does not key cgo builds on pkg-config's answer: a test
# binary linked against another build of the library (jemalloc's, then
# mimalloc's) would be reused. The run-time path in CGO_LDFLAGS is part of
# the key.
export CGO_LDFLAGS="-Wl,-rpath,$rpath${CGO_LDFLAGS:+ $CGO_LDFLAGS}"
export GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local
export GB_EXPECT_LIB="$lib"
if [ -z "${GOCACHE:-}" ] && [ -z "${HOME:-}" ]; then
  export GOCACHE="${TMPDIR:-/tmp}/gballoc-go-cache"
fi

cd "$here"
unformatted="$(gofmt -l .)"
if [ -n "$unformatted" ]; then
  echo "test.sh: gofmt would change: $unformatted" >&2
  exit 1
fi
echo "test.sh: go vet ./..."
go vet ./...
echo "test.sh: go test ./..."
go test -count=1 ./...
# The profile wrappers' success path: the profiling library preloaded (its
# gb_* calls come before the linked library's), GB_EXPECT_PROFILING=1.
if use_profiling_lib "$libdir"; then
  echo "test.sh: TestProfileWithTheProfilingLibrary under LD_PRELOAD=$GB_PROFILING_LIB"
  go test -c -o "$scratch/gballoc.test" .
  if ! out="$(LD_PRELOAD="$GB_PROFILING_LIB" GB_EXPECT_PROFILING=1 "$scratch/gballoc.test" \
                -test.count=1 -test.v -test.run '^TestProfileWithTheProfilingLibrary$' 2>&1)" \
     || ! grep -q -- '--- PASS: TestProfileWithTheProfilingLibrary' <<<"$out"; then
    echo "$out"
    echo "test.sh: the profiling test did not pass" >&2
    exit 1
  fi
  echo "$out" | tail -3
fi
echo "test.sh: go test -race (the concurrent tests)"
go test -count=1 -race -run 'Goroutines|FreeWhileReading|LeakFinalizer|AllocateWriteReadFree' .
echo "test.sh: the benchmark, briefly (go test -bench . for real figures)"
go test -count=1 -run '^$' -bench . -benchtime 2000x .

#!/usr/bin/env bash
# Tests of the Ruby binding: installs Ruby and minitest with apt when missing,
# then runs the minitest tests against the dlopen library. Exits non-zero on
# any failure.
#   GRAPHBIT_ALLOC_LIB   the dlopen library (default: build/default/lib/ of
#                        this repository, as `cmake --build --preset default` makes it)
#   GB_INITIAL_EXEC_LIB  the initial-exec library, for the static TLS test
#                        (default: libgraphbit_alloc.so beside the dlopen one)
#   GB_EXPECT_BACKEND    the backend the library must report (optional)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

. "$here/../apt_install.sh"

command -v ruby >/dev/null || apt_install ruby
ruby -e 'require "fiddle"; require "minitest"' 2>/dev/null || apt_install ruby-minitest
echo "test.sh: $(ruby --version), minitest $(ruby -e 'require "minitest"; print Minitest::VERSION'), fiddle $(ruby -rfiddle -e 'print Fiddle::VERSION')"

lib="${GRAPHBIT_ALLOC_LIB:-$repo/build/default/lib/libgraphbit_alloc_dlopen.so}"
if [ ! -f "$lib" ]; then
  echo "test.sh: no library at $lib: build it (cmake --preset default && cmake --build --preset default) or set GRAPHBIT_ALLOC_LIB" >&2
  exit 1
fi
export GRAPHBIT_ALLOC_LIB="$lib"
export GB_INITIAL_EXEC_LIB="${GB_INITIAL_EXEC_LIB:-$(dirname "$lib")/libgraphbit_alloc.so}"
echo "test.sh: GRAPHBIT_ALLOC_LIB=$GRAPHBIT_ALLOC_LIB"

cd "$here"
exec ruby -w -Ilib -e 'Dir["test/*_test.rb"].sort.each { |f| require File.expand_path(f) }' -- --verbose

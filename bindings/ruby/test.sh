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

. "$here/../test-common.sh"

command -v ruby >/dev/null || apt_install ruby
ruby -e 'require "fiddle"; require "minitest"' 2>/dev/null || apt_install ruby-minitest
echo "test.sh: $(ruby --version), minitest $(ruby -e 'require "minitest"; print Minitest::VERSION'), fiddle $(ruby -rfiddle -e 'print Fiddle::VERSION')"

use_dlopen_lib

cd "$here"
exec ruby -w -Ilib -e 'Dir["test/*_test.rb"].sort.each { |f| require File.expand_path(f) }' -- --verbose

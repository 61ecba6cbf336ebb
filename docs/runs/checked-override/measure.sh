#!/usr/bin/env bash
# Interleaved runs: glibc, override, checked override; wall s and max RSS KiB.
O=${1:-/tmp/libgraphbit_alloc_override.so}; C=${2:-/tmp/libgraphbit_alloc_override_checked.so}
for r in 1 2 3 4 5; do
  for lib in none $O $C; do
    pre=$([[ $lib == none ]] || echo "$lib")
    t=$( { LD_PRELOAD=$pre /usr/bin/time -f "%e %M" sqlite3 :memory: < work.sql >/dev/null; } 2>&1 )
    echo "sqlite3 $(basename $lib) $t"
    t=$( { LD_PRELOAD=$pre /usr/bin/time -f "%e %M" python3 work.py >/dev/null; } 2>&1 )
    echo "python3 $(basename $lib) $t"
  done
done

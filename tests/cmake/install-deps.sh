#!/usr/bin/env bash
# Installs what `cmake --workflow --preset test*` needs, when missing:
# cmake (>= 3.25), pkg-config, a C and C++ compiler (apt), and the Python
# binding's test requirements (pip). Run as root (CI is).
set -euo pipefail
cd "$(dirname "$0")/../.."

missing=()
command -v cmake >/dev/null || missing+=(cmake)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v cc >/dev/null || missing+=(gcc)
command -v c++ >/dev/null || missing+=(g++)
command -v python3 >/dev/null || missing+=(python3 python3-pip)
if ((${#missing[@]})); then
    apt-get update
    apt-get install -y "${missing[@]}"
fi
version=$(cmake --version | sed -n 's/^cmake version \([0-9]*\.[0-9]*\).*/\1/p')
if [ "$(printf '%s\n' 3.25 "$version" | sort -V | head -1)" != 3.25 ]; then
    echo "cmake $version is too old: 3.25 or newer is needed" >&2
    exit 1
fi

if ! python3 -c 'import pytest, setuptools, wheel' 2>/dev/null; then
    python3 -m pip install --quiet -r bindings/python/requirements-test.txt
fi

#!/usr/bin/env bash
# The library built as a dependency outside this repository (no
# .cargo/config.toml, as from crates.io or vendored) runs with jemalloc's
# built-in options: a Rust program in a scratch directory depends on a copy of
# the crate by path and checks, through the crate's own diagnostics, that the
# options compiled into src/backend/jemalloc_conf.c are in effect and that
# jemalloc's thread-local data is initial-exec (the default build). Exits
# non-zero when they are not.
#
#   bash tests/outside-build.sh [SCRATCH_DIR]   (default: target/outside-build)
# The first run compiles jemalloc (a few minutes); later runs reuse the build.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
scratch=${1:-$repo/target/outside-build}
mkdir -p "$scratch"
rm -rf "$scratch/graphbit-alloc" "$scratch/app"
mkdir -p "$scratch/graphbit-alloc" "$scratch/app/src"
# The crate as cargo would package it: the committed files, without .cargo/.
git -C "$repo" ls-files -z | grep -zv '^\.cargo/' | (cd "$repo" && xargs -0 cp --parents -t "$scratch/graphbit-alloc")
# A workspace of its own, so that the copy is a plain dependency.
cat > "$scratch/app/Cargo.toml" <<TOML
[package]
name = "outside-app"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
graphbit-alloc = { path = "../graphbit-alloc" }

[workspace]
TOML
cat > "$scratch/app/src/main.rs" <<'RS'
use graphbit_alloc::diagnostics::{build, SettingValue};

fn main() {
    let b = build();
    let expect = [
        ("background_thread", SettingValue::Bool(true)),
        ("max_background_threads", SettingValue::UInt(1)),
        ("oversize_threshold", SettingValue::UInt(0)),
        ("disable_large_size_classes", SettingValue::Bool(false)),
    ];
    let mut ok = b.backend == "jemalloc";
    println!("backend {} {}; settings: {}", b.backend, b.backend_version, b.settings);
    println!("tls: {}", b.tls_model);
    for (name, value) in expect {
        let got = b.settings.get(name);
        println!("  {name}: {got:?} (want {value:?})");
        ok &= got == Some(value);
    }
    ok &= b.tls_model.starts_with("initial-exec");
    // gb_verify: the backend serves the library's allocations.
    ok &= graphbit_alloc::gb_verify();
    if !ok {
        eprintln!("outside-build: the library built outside the repository does not run as built inside it");
        std::process::exit(1);
    }
    println!("outside-build: ok");
}
RS
cd "$scratch/app"
# No settings from the environment either.
env -u CFLAGS -u CFLAGS_x86_64_unknown_linux_gnu -u JEMALLOC_SYS_WITH_MALLOC_CONF -u _RJEM_MALLOC_CONF \
    CARGO_TARGET_DIR="$scratch/target" cargo run --quiet --release

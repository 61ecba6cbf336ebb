#!/usr/bin/env bash
# The library built as a dependency outside this repository (no
# .cargo/config.toml, as from crates.io or vendored) runs with jemalloc's
# built-in options: a Rust program in a scratch directory depends on a copy of
# the crate by path and checks, through the crate's own diagnostics, that the
# options compiled into src/backend/jemalloc_conf.c are in effect and that
# jemalloc's thread-local data is initial-exec (the default build); it turns
# on the `global-allocator` feature, as the C library builds do, so the
# library installs the allocator and the Rust check requires the backend.
# Then two more programs depend on it with the default features, which
# install no allocator, as a Rust program that picks its own does: one
# installs graphbit_alloc::GraphbitAlloc as its #[global_allocator] (its Vec
# is the backend's, verify() passes), one std::alloc::System (it builds: no
# "conflicts with global allocator"; its Vec is not the backend's, and the
# Rust check says so but passes, not required). Exits non-zero when any of
# them does not.
#
#   bash tests/outside-build.sh [SCRATCH_DIR]   (default: target/outside-build)
# The first run compiles jemalloc (a few minutes); later runs reuse the build.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
scratch=${1:-$repo/target/outside-build}
mkdir -p "$scratch"
rm -rf "$scratch/graphbit-alloc" "$scratch/app" "$scratch/own-graphbit" "$scratch/own-system"
mkdir -p "$scratch/graphbit-alloc" "$scratch/app/src" "$scratch/own-graphbit/src" "$scratch/own-system/src"
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
graphbit-alloc = { path = "../graphbit-alloc", features = ["global-allocator"] }

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
    // gb_verify: the backend serves the library's allocations, Rust's
    // included (required: the library installed GraphbitAlloc).
    ok &= graphbit_alloc::gb_verify();
    let v: Vec<u8> = vec![7; 1 << 20];
    ok &= graphbit_alloc::owns(v.as_ptr());
    let report = graphbit_alloc::verify_report();
    for check in &report.checks {
        println!("  {}: {}: {}", check.name, check.passed, check.evidence);
        if let graphbit_alloc::diagnostics::Evidence::Probe(p) = check.evidence {
            ok &= p.required && p.owned == Some(true);
        }
    }
    if !ok {
        eprintln!("outside-build: the library built outside the repository does not run as built inside it");
        std::process::exit(1);
    }
    println!("outside-build: ok");
}
RS
# A program with its own #[global_allocator]: $1 names it, $2 is the type.
own_allocator_app() {
    local dir=$scratch/$1
    cat > "$dir/Cargo.toml" <<TOML
[package]
name = "$1"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
graphbit-alloc = { path = "../graphbit-alloc" }

[workspace]
TOML
    cat > "$dir/src/main.rs" <<RS
#[global_allocator]
static GLOBAL: $2 = $2;
const OURS: bool = $3;
RS
    cat >> "$dir/src/main.rs" <<'RS'

fn main() {
    let mut data: Vec<u64> = Vec::with_capacity(1 << 17);
    data.extend(0..1 << 17);
    let zeroed = vec![0u8; 1 << 20]; // alloc_zeroed
    data.reserve(1 << 20); // realloc
    let owned = graphbit_alloc::owns(data.as_ptr()) && graphbit_alloc::owns(zeroed.as_ptr());
    let sum: u64 = data.iter().sum();
    let report = graphbit_alloc::verify_report();
    let failed: Vec<&str> = report.checks.iter().filter(|c| !c.passed).map(|c| c.name).collect();
    // The Rust check: not required (the default features install nothing),
    // and its evidence says whether the program's allocator is the backend.
    let rust = report.checks.iter().find(|c| c.name == "rust_global_allocator_served_by_backend");
    let rust_evidence = match rust.map(|c| c.evidence) {
        Some(graphbit_alloc::diagnostics::Evidence::Probe(p)) => Some((p.required, p.owned)),
        _ => None,
    };
    println!("  rust check: {}", rust.map(|c| c.evidence.to_string()).unwrap_or_default());
    let stats = graphbit_alloc::stats();
    println!(
        "{}: backend {}, Vec owned by it: {owned}, verify(): {}, failed checks: {failed:?}, allocated: {:?}",
        env!("CARGO_PKG_NAME"),
        graphbit_alloc::allocator_name(),
        graphbit_alloc::verify(),
        stats.allocated
    );
    let ok = sum == (1u64 << 17) * ((1u64 << 17) - 1) / 2
        && graphbit_alloc::allocator_name() == "jemalloc"
        && owned == OURS
        && graphbit_alloc::verify()
        && failed.is_empty()
        && rust_evidence == Some((false, Some(OURS)))
        && stats.allocated.is_some_and(|bytes| bytes > 0)
        && graphbit_alloc::trim().is_ok();
    if !ok {
        eprintln!("outside-build: {} does not behave as its allocator says", env!("CARGO_PKG_NAME"));
        std::process::exit(1);
    }
}
RS
}
own_allocator_app own-graphbit graphbit_alloc::GraphbitAlloc true
own_allocator_app own-system std::alloc::System false

# No settings from the environment either.
for app in app own-graphbit own-system; do
    (cd "$scratch/$app" &&
        env -u CFLAGS -u CFLAGS_x86_64_unknown_linux_gnu -u JEMALLOC_SYS_WITH_MALLOC_CONF -u _RJEM_MALLOC_CONF \
            CARGO_TARGET_DIR="$scratch/target" cargo run --quiet --release)
done

//! Picks the allocator backend, sets the shared library's link options, and
//! (only with the `generate-header` feature) regenerates the C header.

use std::env;

#[cfg(feature = "generate-header")]
include!("tools/header.rs");

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();

    // Backend: a forced one (feature) or the platform default. Two forced at
    // once is reported by a compile_error! in src/lib.rs.
    let forced = ["jemalloc", "mimalloc", "system"]
        .into_iter()
        .find(|b| env::var_os(format!("CARGO_FEATURE_BACKEND_{}", b.to_uppercase())).is_some());
    let backend = forced.unwrap_or(match target_os.as_str() {
        "linux" => "jemalloc",
        "macos" | "windows" => "mimalloc",
        _ => "system",
    });
    println!(
        "cargo::rustc-check-cfg=cfg(gb_backend, values(\"jemalloc\", \"mimalloc\", \"system\"))"
    );
    println!("cargo::rustc-cfg=gb_backend=\"{backend}\"");
    // For the tests that compile C programs against the library.
    println!(
        "cargo::rustc-env=GB_TARGET={}",
        env::var("TARGET").unwrap_or_default()
    );
    println!("cargo::rustc-env=GB_BACKEND={backend}");

    if target_os == "linux" {
        // SONAME as cargo-c sets it: libgraphbit_alloc.so.0.MINOR while 0.x,
        // libgraphbit_alloc.so.MAJOR after.
        let major = env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_default();
        let minor = env::var("CARGO_PKG_VERSION_MINOR").unwrap_or_default();
        let soname_version = if major == "0" {
            format!("0.{minor}")
        } else {
            major
        };
        println!("cargo::rustc-cdylib-link-arg=-Wl,-soname,libgraphbit_alloc.so.{soname_version}");
        // The backend registers per-thread destructors; unloading its code
        // while threads still run would leave them pointing at nothing.
        println!("cargo::rustc-cdylib-link-arg=-Wl,-z,nodelete");
    }

    #[cfg(feature = "generate-header")]
    {
        let dir = std::path::PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
        let header = generate_header(&dir, &env::var("CARGO_PKG_VERSION").unwrap());
        std::fs::write(dir.join("include/graphbit_alloc.h"), header)
            .expect("write include/graphbit_alloc.h");
        println!("cargo::rerun-if-changed=src");
        println!("cargo::rerun-if-changed=cbindgen.toml");
        println!("cargo::rerun-if-changed=tools/header.rs");
    }
}

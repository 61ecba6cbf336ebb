//! Picks the allocator backend, sets the shared library's link options, and
//! (only with the `generate-header` feature) regenerates the C header.

use std::env;

#[cfg(feature = "generate-header")]
include!("tools/header.rs");

// LARGE_BLOCK, the library's own constant, for the C++ side.
include!("src/backend/large_block.rs");

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();

    // Backend: a forced one (feature) or, with `backend-auto`, the platform
    // default. Two forced at once is reported by a compile_error! in
    // src/lib.rs.
    let feature = |name: &str| {
        env::var_os(format!(
            "CARGO_FEATURE_{}",
            name.to_uppercase().replace('-', "_")
        ))
        .is_some()
    };
    let forced = ["jemalloc", "mimalloc", "system"]
        .into_iter()
        .find(|b| feature(&format!("backend-{b}")));
    let auto = match target_os.as_str() {
        "linux" => "jemalloc",
        "macos" | "windows" => "mimalloc",
        _ => "system",
    };
    let backend = match forced {
        Some(backend) => backend,
        None if feature("backend-auto") => auto,
        None => panic!(
            "graphbit-alloc: no backend selected; enable `backend-auto` (the default) or one of \
             `backend-jemalloc`, `backend-mimalloc`, `backend-system`"
        ),
    };
    // Whether the backend crate is the renamed `auto-*` dependency.
    println!("cargo::rustc-check-cfg=cfg(gb_backend_auto_dep)");
    if forced.is_none() {
        println!("cargo::rustc-cfg=gb_backend_auto_dep");
    }
    println!(
        "cargo::rustc-check-cfg=cfg(gb_backend, values(\"jemalloc\", \"mimalloc\", \"system\"))"
    );
    println!("cargo::rustc-cfg=gb_backend=\"{backend}\"");
    // gb_free as one indirect jump in assembly (src/ffi/alloc.rs): x86-64
    // Linux, outside checked mode (whose check comes first), with a Rust
    // that has naked functions (1.88; the crate's rust-version is 1.81).
    println!("cargo::rustc-check-cfg=cfg(gb_free_jumps)");
    println!("cargo::rustc-check-cfg=cfg(gb_shared_alloc_aliased)");
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if arch == "x86_64" && target_os == "linux" && !feature("checked") && rustc_minor() >= 88 {
        println!("cargo::rustc-cfg=gb_free_jumps");
    }
    // For the tests that compile C programs against the library.
    println!(
        "cargo::rustc-env=GB_TARGET={}",
        env::var("TARGET").unwrap_or_default()
    );
    println!("cargo::rustc-env=GB_BACKEND={backend}");
    // The variant's library name, for the tests and the verification report.
    let name = library_name(
        feature("checked"),
        feature("dlopen"),
        feature("override"),
        feature("override-checked"),
        feature("override-hardened"),
    );
    // The heap profiler (feature `profiling`) is its own variant of each.
    let name = if feature("profiling") {
        format!("{name}_profiling")
    } else {
        name.to_string()
    };
    println!("cargo::rustc-env=GB_LIBRARY_NAME={name}");

    if target_os == "linux" {
        // SONAME as cargo-c sets it: libNAME.so.0.MINOR while 0.x,
        // libNAME.so.MAJOR after. Each variant of the library has its own
        // name, so a program linked against one never loads another.
        let major = env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_default();
        let minor = env::var("CARGO_PKG_VERSION_MINOR").unwrap_or_default();
        let soname_version = if major == "0" {
            format!("0.{minor}")
        } else {
            major
        };
        println!("cargo::rustc-cdylib-link-arg=-Wl,-soname,lib{name}.so.{soname_version}");
        // The backend registers per-thread destructors; unloading its code
        // while threads still run would leave them pointing at nothing.
        println!("cargo::rustc-cdylib-link-arg=-Wl,-z,nodelete");
        // The library's calls to its own exported functions (an adapter's
        // table of gb_alloc/gb_free, the Rust API, gb_verify) bind to its own
        // definitions, never to another copy of the library that the process
        // loaded first (a binding's bundled copy beside a system one): that
        // copy's backend would free this one's blocks.
        println!("cargo::rustc-cdylib-link-arg=-Wl,-Bsymbolic-functions");
    }

    if backend == "jemalloc" {
        // jemalloc's built-in run-time options, compiled into the library
        // itself (src/backend/jemalloc_conf.c), so that every build of the
        // crate runs with them.
        // Linked whole: jemalloc defines a weak `_rjem_malloc_conf` itself,
        // so nothing would pull this object out of its archive otherwise
        // (a program that never asks for the settings would run without them).
        println!("cargo::rerun-if-changed=src/backend/jemalloc_conf.c");
        let mut conf = cc::Build::new();
        conf.file("src/backend/jemalloc_conf.c")
            .cargo_metadata(false);
        if feature("override") {
            conf.define("GB_WHOLE_PROCESS", None);
        }
        if feature("profiling") {
            // jemalloc's profiler calls `log` and `exp`: ours
            // (src/backend/jemalloc_math.c), so that the shared libraries
            // need no libm (its pages at load time, docs/profiling.md).
            println!("cargo::rerun-if-changed=src/backend/jemalloc_math.c");
            conf.define("GB_PROFILING", None)
                .file("src/backend/jemalloc_math.c");
            if target_os == "linux" {
                println!("cargo::rustc-cdylib-link-arg=-Wl,--defsym=log=graphbit_alloc_log");
                println!("cargo::rustc-cdylib-link-arg=-Wl,--defsym=exp=graphbit_alloc_exp");
            }
        }
        conf.compile("graphbit_alloc_jemalloc_conf");
        let out_dir = env::var("OUT_DIR").unwrap_or_default();
        println!("cargo::rustc-link-search=native={out_dir}");
        println!("cargo::rustc-link-lib=static:+whole-archive=graphbit_alloc_jemalloc_conf");
        let percpu = percpu_experiment();
        jeprof_experiment();
        // In the shared library, `gb_alloc` is jemalloc's `malloc` itself
        // (same contract: any size, ENOMEM, a unique block for 0): the
        // symbol names its address, which saves the jump of the definition
        // in src/ffi/alloc.rs (kept for the static library, which takes no
        // link arguments). Not where gb_alloc does more: checked mode, the
        // per-CPU experiment; nor in the overrides, whose exports the next
        // flag would bind too.
        // -Bsymbolic (after -Bsymbolic-functions above, which it widens):
        // a symbol made by --defsym is not a function to the linker, so the
        // library's own references to gb_alloc (function pointers in its
        // tables) would otherwise go through the dynamic linker
        // (tests/shared_object.rs, binds_its_own_functions_locally). This
        // library exports functions only (exports_exactly_the_header_functions).
        // The profiling library too: there jemalloc's own sampler serves the
        // shared library (src/profile/mod.rs), and gb_alloc would only jump
        // to jemalloc's malloc; cfg gb_shared_alloc_aliased tells the
        // profiler that its entry points' sampler cannot take over in the
        // shared library (it answers ENOTSUP where jemalloc's is turned off).
        let more = [
            "checked",
            "override",
            "override-checked",
            "override-hardened",
        ];
        if target_os == "linux" && !percpu && !more.iter().any(|f| feature(f)) {
            println!("cargo::rustc-cdylib-link-arg=-Wl,--defsym=gb_alloc=_rjem_malloc");
            println!("cargo::rustc-cdylib-link-arg=-Wl,-Bsymbolic");
            if feature("profiling") {
                println!("cargo::rustc-cfg=gb_shared_alloc_aliased");
            }
        }
    }

    if backend == "mimalloc" && target_os == "linux" {
        // mimalloc reads MIMALLOC_* from `environ`; in an AT_SECURE process
        // the shared library gives it an empty one (src/backend/mimalloc_environ.c).
        println!("cargo::rerun-if-changed=src/backend/mimalloc_environ.c");
        cc::Build::new()
            .file("src/backend/mimalloc_environ.c")
            .cargo_metadata(false)
            .compile("graphbit_alloc_mimalloc_environ");
        let out_dir = env::var("OUT_DIR").unwrap_or_default();
        println!("cargo::rustc-link-search=native={out_dir}");
        println!("cargo::rustc-link-lib=static:+whole-archive=graphbit_alloc_mimalloc_environ");
        println!("cargo::rustc-cdylib-link-arg=-Wl,--defsym=environ=graphbit_mimalloc_environ");
    }

    // (The system backend cannot serve the override: src/backend/system.rs
    // says so with a compile_error!.)
    if feature("override") && backend != "system" {
        // Whole-process mode: the C++ operator new/delete bodies
        // (src/override/new.cpp), calling the backend's entry points
        // (src/backend/<backend>_entry_points.h) with the library's own
        // constants (src/backend/large_block.rs); in the checked override,
        // checked mode's entry points instead (src/checked_override/).
        println!("cargo::rerun-if-changed=src/override/new.cpp");
        println!("cargo::rerun-if-changed=src/backend/{backend}_entry_points.h");
        println!("cargo::rerun-if-changed=src/backend/large_block.rs");
        println!("cargo::rerun-if-changed=src/override/checked_entry_points.h");
        println!("cargo::rerun-if-changed=src/hardened/entry_points.h");
        let mut new = cc::Build::new();
        if feature("override-checked") {
            new.define("GB_CHECKED_OVERRIDE", None);
        }
        // Without the C++ runtime on the link line: new.cpp finds it at run
        // time when a failed allocation needs it (no DT_NEEDED on
        // libstdc++ and libm in every program the override is loaded into).
        // No try/catch/throw in it, so no personality routine: the
        // runtime's own functions throw and catch, and the unwind tables let
        // std::bad_alloc pass through new.cpp's frames.
        new.cpp(true)
            .cpp_link_stdlib(None)
            .flag("-fno-exceptions")
            .flag("-funwind-tables")
            .file("src/override/new.cpp")
            .std("c++17")
            .define(
                "GB_BACKEND_HEADER",
                if feature("override-checked") {
                    "\"checked_entry_points.h\"".to_string()
                } else if feature("override-hardened") {
                    "\"../hardened/entry_points.h\"".to_string()
                } else {
                    format!("\"../backend/{backend}_entry_points.h\"")
                }
                .as_str(),
            )
            .define("GB_LARGE_BLOCK", LARGE_BLOCK.to_string().as_str())
            .define(
                if feature("profiling") {
                    "GB_PROFILING"
                } else {
                    "GB_NOT_PROFILING"
                },
                None,
            )
            .flag_if_supported("-fvisibility=hidden")
            .compile("graphbit_alloc_override_new");
        // An executable of this package built with the override (the unit
        // tests, gb-info) links it as GraphBitAlloc::override_static links a
        // program: nothing there calls `operator new`, so its object is
        // pulled in by name and the operators exported
        // (cmake/pick_variant.cmake), so that the process's C++ allocations
        // are the override's, as gb_verify's host_malloc_captured requires.
        // (In the shared library they are already.)
        println!("cargo::rustc-link-arg=-Wl,--undefined=_Znwm");
        for pattern in ["_Znw*", "_Zna*", "_Zdl*", "_Zda*"] {
            println!("cargo::rustc-link-arg=-Wl,--export-dynamic-symbol={pattern}");
        }
    }

    if target_os == "linux" {
        // The functions small programs run, together at the start of the
        // code: each fault maps 64-128 KiB of the library, and scattered
        // over it they made every page of its code resident in every
        // process (src/startup-order.ld, docs/memory.md). Written from runs
        // of the override; the prefixed libraries run the same start-up and
        // fast paths (a small C program's resident code: 640 -> 520 KiB).
        // The script only adds an output section (INSERT): GNU ld and lld.
        let dir = env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
        println!("cargo::rerun-if-changed=src/startup-order.ld");
        println!("cargo::rustc-cdylib-link-arg=-Wl,-T,{dir}/src/startup-order.ld");
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

/// The library's name for each variant (without `lib` and `.so`); a row of
/// cmake/variants.cmake each (tests/variants.rs calls this function).
pub(crate) fn library_name(
    checked: bool,
    dlopen: bool,
    whole_process: bool,
    whole_process_checked: bool,
    whole_process_hardened: bool,
) -> &'static str {
    match (checked, dlopen) {
        _ if whole_process_checked => "graphbit_alloc_override_checked",
        _ if whole_process_hardened => "graphbit_alloc_override_hardened",
        _ if whole_process => "graphbit_alloc_override",
        (true, _) => "graphbit_alloc_checked",
        (false, true) => "graphbit_alloc_dlopen",
        (false, false) => "graphbit_alloc",
    }
}

/// The minor version of the Rust compiler building the crate (`rustc
/// --version`: "rustc 1.MINOR.PATCH ..."); 0 when it cannot be told.
fn rustc_minor() -> u32 {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| {
            let version = text.split_whitespace().nth(1)?.to_string();
            version.split('.').nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

/// jemalloc's profiler with libunwind's stacks (src/profile/jemalloc_prof_experiment.c,
/// gb-bench/scripts/profile_jemalloc.sh), only when built with
/// GB_JEPROF_EXPERIMENT=1 (x86-64 Linux, jemalloc built with `profiling`).
fn jeprof_experiment() {
    experiment(
        "GB_JEPROF_EXPERIMENT",
        "src/profile/jemalloc_prof_experiment.c",
        "graphbit_alloc_jeprof_experiment",
    );
}

/// The per-CPU cache experiment (src/percpu/, docs/memory.md), only when
/// built with GB_PERCPU=1 (x86-64 Linux, jemalloc): gb_alloc, gb_free and
/// gb_free_sized then go through it. Not a Cargo feature: it is not sound
/// and fast enough to offer (docs/memory.md says why), only to measure.
/// Whether it is built.
fn percpu_experiment() -> bool {
    println!("cargo::rustc-check-cfg=cfg(gb_percpu)");
    let built = experiment("GB_PERCPU", "src/percpu/percpu.c", "graphbit_alloc_percpu");
    if built {
        println!("cargo::rustc-cfg=gb_percpu");
    }
    built
}

/// An experiment's C file, compiled and linked whole into the library only
/// when `variable` is 1 in the build's environment; whether it was.
fn experiment(variable: &str, file: &str, library: &str) -> bool {
    println!("cargo::rerun-if-env-changed={variable}");
    if env::var(variable).as_deref() != Ok("1") {
        return false;
    }
    println!("cargo::rerun-if-changed={file}");
    cc::Build::new()
        .file(file)
        .cargo_metadata(false)
        .compile(library);
    println!("cargo::rustc-link-lib=static:+whole-archive={library}");
    true
}

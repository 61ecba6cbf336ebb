//! Every run of c_tests/programs.txt (the one list of the C and C++ test
//! programs, which ctest and tests/sanitizers.sh read too) that names the
//! `cargo` harness: compiled and linked against the built library as a C host
//! would (shared and static, or loading it itself), and run; each exits
//! non-zero on failure. Then the headers alone (graphbit_alloc_hooks.h also
//! after each library's header), the Python ctypes smoke test and the
//! README's quick start.
//!
//! `GB_C_PROGRAMS=stress,fork cargo test --test c_programs` runs only the
//! manifest's runs with those names.

mod common;
mod manifest;

use common::*;
use std::collections::HashSet;
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

/// The manifest is complete and well formed: every program in c_tests/ has a
/// run, every run names every harness once and says why for each it skips,
/// and the other harnesses read the manifest rather than a list of their own.
#[test]
fn manifest_lists_every_program_and_harness() {
    let runs = manifest::runs();
    assert!(!runs.is_empty());
    let mut names = HashSet::new();
    for r in runs {
        let at = format!("{}:{} ({})", manifest::MANIFEST, r.line, r.name);
        assert!(
            !r.name.is_empty()
                && r.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{at}: a name is [A-Za-z0-9_]+"
        );
        assert!(names.insert(r.name.clone()), "{at}: name used twice");
        assert!(
            crate_dir().join("c_tests").join(&r.source).is_file(),
            "{at}: c_tests/{} does not exist",
            r.source
        );
        let mut seen: Vec<&str> = r.harnesses.iter().map(|(h, _)| h.as_str()).collect();
        seen.sort_unstable();
        let mut all = manifest::HARNESSES.to_vec();
        all.sort_unstable();
        assert_eq!(seen, all, "{at}: every harness once, as NAME or -NAME");
        let reasons: Vec<&str> = r.why_not.split(" / ").map(str::trim).collect();
        for (h, on) in &r.harnesses {
            let explained = reasons.iter().any(|reason| {
                reason.split_once(':').is_some_and(|(who, why)| {
                    !why.trim().is_empty() && who.split(',').any(|w| w.trim() == h)
                })
            });
            assert_eq!(
                explained, !on,
                "{at}: a reason (\"{h}: why\") for -{h}, and for nothing else"
            );
        }
        let first = runs.iter().find(|o| o.source == r.source).unwrap();
        assert_eq!(
            r.pkg_config, first.pkg_config,
            "{at}: every run of c_tests/{} names the same pkg-config modules",
            r.source
        );
        for kv in r
            .args
            .iter()
            .chain(r.env.iter().map(|(k, _)| k))
            .chain(&r.pkg_config)
        {
            assert!(
                !kv.contains([';', '[', ']']),
                "{at}: {kv:?} would break CMake lists"
            );
        }
        assert!(
            !r.links.is_empty() || r.args.iter().any(|a| a.contains("@LIB@")),
            "{at}: link none: the program must be given the library (@LIB@)"
        );
    }
    // Every program of c_tests/ and c_tests/hooks/ (not the compile-only
    // headers) is in the manifest, and the cargo harness runs each at least
    // once.
    for dir in ["", "hooks/"] {
        for entry in std::fs::read_dir(crate_dir().join("c_tests").join(dir)).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().to_string();
            if !(name.ends_with(".c") || name.ends_with(".cpp")) || name.starts_with("header_only")
            {
                continue;
            }
            let file = format!("{dir}{name}");
            assert!(
                runs.iter()
                    .any(|r| r.source == file && r.runs_under("cargo")),
                "c_tests/{file} has no run in {} that cargo test makes",
                manifest::MANIFEST
            );
        }
    }
    for harness in ["tests/cmake/CMakeLists.txt", "tests/sanitizers.sh"] {
        let text = std::fs::read_to_string(crate_dir().join(harness)).unwrap();
        assert!(
            text.contains(manifest::MANIFEST),
            "{harness} does not read {}",
            manifest::MANIFEST
        );
    }
}

/// Every manifest run for the cargo harness, with each library it names;
/// two at a time (the machines have few cores and some runs use 4 threads).
/// All runs are made; the test fails listing every one that failed.
#[test]
fn every_program_in_the_manifest() {
    let only: Option<Vec<String>> = std::env::var("GB_C_PROGRAMS")
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect());
    let mut jobs: Vec<(&manifest::Run, Option<Link>)> = Vec::new();
    for r in manifest::runs().iter().filter(|r| r.runs_under("cargo")) {
        if only.as_ref().is_some_and(|o| !o.contains(&r.name)) {
            continue;
        }
        for link in manifest::links_of(r) {
            jobs.push((r, link));
        }
    }
    assert!(!jobs.is_empty(), "no run selected (GB_C_PROGRAMS={only:?})");
    let total = jobs.len();
    let queue = Mutex::new(jobs);
    let failures = Mutex::new(Vec::<String>::new());
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(2));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let Some((r, link)) = queue.lock().unwrap().pop() else {
                    break;
                };
                let label = match link {
                    Some(l) => format!("{} ({l:?})", r.name),
                    None => r.name.clone(),
                };
                let start = Instant::now();
                let result = std::panic::catch_unwind(|| {
                    let out = run_ok(&mut manifest::command(r, link));
                    String::from_utf8_lossy(&out.stdout).to_string()
                });
                let secs = start.elapsed().as_secs_f64();
                match result {
                    Ok(stdout) => eprint!("{label}: ok in {secs:.1} s\n{stdout}"),
                    Err(e) => {
                        let why = e
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default();
                        eprintln!("{label}: FAILED in {secs:.1} s");
                        failures.lock().unwrap().push(format!("{label}: {why}"));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {total} runs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!("c_programs: {total} runs of {} passed", manifest::MANIFEST);
}

#[test]
fn header_compiles_alone_as_c_and_cpp() {
    let strict = ["-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only"];
    let include = crate_dir().join("include");
    for std in ["-std=c99", "-std=c11", "-std=c17"] {
        run_ok(
            compiler(false)
                .args(strict)
                .arg(std)
                .arg("-I")
                .arg(&include)
                .arg(crate_dir().join("c_tests/header_only.c")),
        );
    }
    for std in ["-std=c++11", "-std=c++17", "-std=c++20"] {
        run_ok(
            compiler(true)
                .args(strict)
                .arg(std)
                .arg("-I")
                .arg(&include)
                .arg(crate_dir().join("c_tests/header_only.cpp")),
        );
    }
}

/// include/graphbit_alloc_hooks.h (c_tests/compile/hooks_header.c, as C and
/// C++, strict): alone, with no section; after each library's header, with
/// that library's section only; and included before all of them and again
/// after, with every section.
#[test]
fn hooks_header_compiles_alone_and_after_each_library() {
    let strict = ["-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only"];
    let include = crate_dir().join("include");
    let libraries = [
        ("LUA", "lua5.4"),
        ("SQLITE3", "sqlite3"),
        ("ZLIB", "zlib"),
        ("OPENSSL", "openssl"),
        ("CURL", "libcurl"),
        ("XML", "libxml-2.0"),
        ("JANSSON", "jansson"),
    ];
    let mut configurations: Vec<(Vec<String>, Vec<String>)> = vec![(vec![], vec![])];
    for (name, module) in libraries {
        configurations.push((vec![format!("-DGB_WITH_{name}")], vec![module.to_string()]));
    }
    let mut all: Vec<String> = libraries
        .iter()
        .map(|(n, _)| format!("-DGB_WITH_{n}"))
        .collect();
    all.push("-DGB_HOOKS_FIRST".to_string());
    configurations.push((all, libraries.iter().map(|(_, m)| m.to_string()).collect()));
    for (defines, modules) in &configurations {
        let cflags: Vec<String> = manifest::pkg_config_flags(modules)
            .into_iter()
            .filter(|f| f.starts_with("-I") || f.starts_with("-D"))
            .collect();
        for (cpp, std) in [
            (false, "-std=c99"),
            (false, "-std=c17"),
            (true, "-std=c++11"),
            (true, "-std=c++20"),
        ] {
            let source = if cpp {
                "hooks_header.cpp"
            } else {
                "hooks_header.c"
            };
            run_ok(
                compiler(cpp)
                    .args(strict)
                    .arg(std)
                    .args(defines)
                    .arg("-I")
                    .arg(&include)
                    .args(&cflags)
                    .arg(crate_dir().join("c_tests/compile").join(source)),
            );
        }
    }
}

/// A fresh python3 loads the dlopen variant with ctypes (dlopen into a
/// running interpreter) and calls every function.
#[test]
fn python_ctypes_smoke() {
    let out = run_ok(
        Command::new("python3")
            .arg(crate_dir().join("tests/python_smoke.py"))
            .arg(variant_lib("dlopen"))
            .arg(BACKEND),
    );
    eprint!("{}", String::from_utf8_lossy(&out.stdout));
}

/// The README's C quick start: examples/hello.c, linked both ways the README
/// shows, runs and reports gb_verify() = true.
#[test]
fn readme_quick_start_example() {
    let out_dir = lib_dir().join("gb-c-tests");
    std::fs::create_dir_all(&out_dir).unwrap();
    let source = crate_dir().join("examples/hello.c");
    let include = crate_dir().join("include");

    let static_exe = out_dir.join("hello-static");
    run_ok(
        compiler(false)
            .arg(&source)
            .arg("-I")
            .arg(&include)
            .arg(static_lib())
            .args(readme_static_libs())
            .arg("-o")
            .arg(&static_exe),
    );
    let shared_exe = out_dir.join("hello-shared");
    let dir = staged_lib_dir();
    run_ok(
        compiler(false)
            .arg(&source)
            .arg("-I")
            .arg(&include)
            .arg("-L")
            .arg(&dir)
            .arg("-lgraphbit_alloc")
            .arg(format!("-Wl,-rpath,{}", dir.display()))
            .arg("-o")
            .arg(&shared_exe),
    );
    for exe in [static_exe, shared_exe] {
        let out = run_ok(&mut Command::new(&exe));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(&format!("backend {BACKEND}")), "{text}");
        assert!(text.contains("gb_verify() = true"), "{text}");
    }
}

/// The dlopen variant loads into a process whose static TLS reserve is
/// already nearly used up (a plugin with 1.4 KiB of initial-exec TLS loaded
/// first), and works from several threads there; the default library, whose
/// initial-exec TLS cannot fit, is refused with glibc's message, which is
/// what the dlopen variant exists for (on jemalloc; mimalloc's and glibc's
/// thread-local data is small enough to fit).
#[test]
fn dlopen_variant_loads_when_static_tls_is_nearly_used_up() {
    let out_dir = lib_dir().join("gb-c-tests");
    std::fs::create_dir_all(&out_dir).unwrap();
    let filler = out_dir.join("libtls_filler.so");
    run_ok(
        compiler(false)
            .args(["-shared", "-fPIC", "-std=c11"])
            .arg(crate_dir().join("c_tests/compile/tls_filler.c"))
            .arg("-o")
            .arg(&filler),
    );
    let exe = out_dir.join("dlopen_tls_pressure");
    run_ok(
        compiler(false)
            .args(["-Wall", "-Wextra", "-std=c11", "-D_GNU_SOURCE"])
            .arg("-I")
            .arg(crate_dir().join("include"))
            .arg(crate_dir().join("c_tests/compile/dlopen_tls_pressure.c"))
            .arg("-o")
            .arg(&exe)
            .args(["-ldl", "-lpthread"]),
    );
    let dlopen = variant_lib("dlopen");
    let out = run_ok(
        Command::new(&exe)
            .arg(&filler)
            .arg(&dlopen)
            .arg(shared_lib()),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    eprint!("{text}");
    assert!(
        text.contains("dlopen variant: loaded, verified, 4 threads ok"),
        "{text}"
    );
    if BACKEND == "jemalloc" {
        assert!(
            text.contains("default library: refused: ") && text.contains("static TLS"),
            "the initial-exec library loaded into a process without static TLS to spare: \
             the test did not use the reserve up\n{text}"
        );
    }
}

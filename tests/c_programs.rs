//! Every program in c_tests/, compiled and linked against the built library
//! as a C host would (shared and static), and run; each exits non-zero on
//! failure.

mod common;

use common::*;
use std::process::Command;

#[test]
fn api_contract() {
    run_c_test("api_contract.c");
}

#[test]
fn introspection_stats_trim_owns_report() {
    run_c_test("introspection.c");
}

#[test]
fn threads_with_cross_thread_free() {
    run_c_test("threads.c");
}

#[test]
fn fork_while_threads_allocate() {
    run_c_test("fork.c");
}

#[test]
fn cpp_translation_unit_uses_the_api() {
    run_c_test("cpp_use.cpp");
}

#[test]
fn dlopen_dlclose_then_thread_exit() {
    let out_dir = lib_dir().join("gb-c-tests");
    std::fs::create_dir_all(&out_dir).unwrap();
    let exe = out_dir.join("dlopen");
    run_ok(
        compiler(false)
            .args(["-Wall", "-Wextra", "-std=c11", "-D_GNU_SOURCE"])
            .arg(crate_dir().join("c_tests/dlopen.c"))
            .arg("-o")
            .arg(&exe)
            .args(["-ldl", "-lpthread"]),
    );
    run_ok(Command::new(&exe).arg(shared_lib()));
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

/// A fresh python3 loads the shared library with ctypes (dlopen into a
/// running interpreter) and calls every function.
#[test]
fn python_ctypes_smoke() {
    let out = run_ok(
        Command::new("python3")
            .arg(crate_dir().join("tests/python_smoke.py"))
            .arg(shared_lib())
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

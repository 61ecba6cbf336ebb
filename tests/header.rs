//! The committed header is what the sources generate, and its version macros
//! are Cargo.toml's.

include!("../tools/header.rs");

use std::path::PathBuf;

fn committed_header() -> String {
    std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("include/graphbit_alloc.h"),
    )
    .expect("include/graphbit_alloc.h is committed")
}

#[test]
fn committed_header_is_up_to_date() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let generated = generate_header(&dir, env!("CARGO_PKG_VERSION"));
    assert!(
        generated == committed_header(),
        "include/graphbit_alloc.h is stale: regenerate it with\n\n    \
         cargo build --features generate-header\n\nand commit the result"
    );
}

fn macro_value(header: &str, name: &str) -> String {
    header
        .lines()
        .find_map(|line| line.strip_prefix(&format!("#define {name} ")))
        .unwrap_or_else(|| panic!("header defines {name}"))
        .trim()
        .to_string()
}

#[test]
fn version_macros_match_cargo_toml() {
    let header = committed_header();
    assert_eq!(
        macro_value(&header, "GB_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MAJOR")
    );
    assert_eq!(
        macro_value(&header, "GB_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_MINOR")
    );
    assert_eq!(
        macro_value(&header, "GB_VERSION_PATCH"),
        env!("CARGO_PKG_VERSION_PATCH")
    );
    assert_eq!(
        macro_value(&header, "GB_VERSION_STRING"),
        format!("\"{}\"", env!("CARGO_PKG_VERSION"))
    );
    let number: u32 = env!("CARGO_PKG_VERSION_MAJOR").parse::<u32>().unwrap() * 10000
        + env!("CARGO_PKG_VERSION_MINOR").parse::<u32>().unwrap() * 100
        + env!("CARGO_PKG_VERSION_PATCH").parse::<u32>().unwrap();
    assert_eq!(graphbit_alloc::gb_version_number(), number);
}

mod common;

/// GCC 11+ warns when a block from gb_alloc is released with free (the
/// header's `malloc(gb_free, 1)`): the program must fail to compile with the
/// warning made an error, and compile without it.
#[test]
fn free_of_a_gb_alloc_block_warns() {
    let source = common::crate_dir().join("c_tests/compile/mismatched_free.c");
    let include = common::crate_dir().join("include");
    let version = common::run_ok(common::compiler(false).arg("-dumpversion"));
    let major: u32 = String::from_utf8_lossy(&version.stdout)
        .trim()
        .split('.')
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(
        major >= 11,
        "this test needs GCC 11 or newer (found {major})"
    );
    let compile = |extra: &[&str]| {
        common::compiler(false)
            .args(["-c", "-o", "/dev/null", "-Wall"])
            .args(extra)
            .arg("-I")
            .arg(&include)
            .arg(&source)
            .output()
            .expect("run the C compiler")
    };
    let strict = compile(&["-Werror=mismatched-dealloc"]);
    let stderr = String::from_utf8_lossy(&strict.stderr);
    assert!(
        !strict.status.success() && stderr.contains("mismatched-dealloc"),
        "free(gb_alloc(8)) compiled without -Wmismatched-dealloc:\n{stderr}"
    );
    let relaxed = compile(&["-Wno-mismatched-dealloc"]);
    assert!(
        relaxed.status.success(),
        "{}",
        String::from_utf8_lossy(&relaxed.stderr)
    );
}

/// With _FORTIFY_SOURCE=3 (and 2), writing all of gb_usable_size(p) must not
/// abort: the header leaves alloc_size out there.
#[test]
fn usable_size_is_writable_under_fortify_source() {
    let dir = common::lib_dir().join("gb-c-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let lib = common::staged_lib_dir();
    for level in ["2", "3"] {
        let exe = dir.join(format!("usable_size_fortify{level}"));
        common::run_ok(
            common::compiler(false)
                .args(["-O2", "-U_FORTIFY_SOURCE"])
                .arg(format!("-D_FORTIFY_SOURCE={level}"))
                .arg("-I")
                .arg(common::crate_dir().join("include"))
                .arg(common::crate_dir().join("c_tests/compile/usable_size_fortify.c"))
                .arg("-L")
                .arg(&lib)
                .arg("-lgraphbit_alloc")
                .arg(format!("-Wl,-rpath,{}", lib.display()))
                .arg("-o")
                .arg(&exe),
        );
        common::run_ok(&mut std::process::Command::new(&exe));
    }
}

//! What the shared library shows the dynamic linker: only the gb_ functions
//! the header declares, and a cargo-c style SONAME.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::process::Command;

/// Function names declared in include/graphbit_alloc.h.
fn header_functions() -> BTreeSet<String> {
    let header = std::fs::read_to_string(crate_dir().join("include/graphbit_alloc.h")).unwrap();
    header
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with('#') && !l.starts_with('/'))
        .filter_map(|l| l.split_once('(').map(|(head, _)| head))
        .filter_map(|head| head.split([' ', '*']).next_back())
        // Not the attribute macros of a wrapped declaration's last line.
        .filter(|name| !name.is_empty() && !name.starts_with("GB_"))
        .map(str::to_string)
        .collect()
}

/// The symbols the shared library defines in its dynamic symbol table.
fn defined_symbols() -> BTreeSet<String> {
    let out = run_ok(
        Command::new("nm")
            .args(["-D", "--defined-only"])
            .arg(shared_lib()),
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .map(str::to_string)
        .collect()
}

#[test]
fn exports_exactly_the_header_functions() {
    let exported = defined_symbols();
    let declared = header_functions();
    assert!(declared.len() >= 13, "header parse found {declared:?}");
    let stray: Vec<_> = exported.iter().filter(|s| !s.starts_with("gb_")).collect();
    assert!(
        stray.is_empty(),
        "symbols without the gb_ prefix leak: {stray:?}"
    );
    assert_eq!(
        exported, declared,
        "exported symbols differ from the header's functions"
    );
}

/// No call or function pointer inside the library goes through the dynamic
/// linker to a function the library defines itself: with a second copy of
/// the library loaded first (a binding's own copy beside an installed one),
/// such a reference would resolve to that copy, whose backend then frees
/// this copy's blocks (it did: ruby_binding, with `gb_free` called through
/// its GOT entry).
#[test]
fn binds_its_own_functions_locally() {
    let defined = defined_symbols();
    assert!(defined.contains("gb_alloc"), "nm found {defined:?}");
    let out = run_ok(Command::new("readelf").args(["-rW"]).arg(shared_lib()));
    let through_linker: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .filter(|sym| defined.contains(*sym))
        .map(str::to_string)
        .collect();
    assert!(
        through_linker.is_empty(),
        "the library reaches its own functions through the dynamic linker: {through_linker:?}"
    );
}

#[test]
fn does_not_define_malloc_family() {
    let exported = defined_symbols();
    for name in [
        "malloc",
        "free",
        "calloc",
        "realloc",
        "posix_memalign",
        "aligned_alloc",
        "mi_malloc",
    ] {
        assert!(
            !exported.contains(name),
            "the shared library exports {name}"
        );
    }
}

#[test]
fn soname_is_versioned_like_cargo_c() {
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    let expected = if major == "0" {
        format!("libgraphbit_alloc.so.0.{}", env!("CARGO_PKG_VERSION_MINOR"))
    } else {
        format!("libgraphbit_alloc.so.{major}")
    };
    assert_eq!(soname(&shared_lib()), expected);
}

#[test]
fn marked_nodelete_for_dlclose() {
    let out = run_ok(Command::new("readelf").arg("-d").arg(shared_lib()));
    assert!(String::from_utf8_lossy(&out.stdout).contains("NODELETE"));
}

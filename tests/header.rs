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

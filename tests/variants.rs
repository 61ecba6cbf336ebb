//! The variants table of cmake/variants.cmake against the build script: each
//! row's name is what build.rs's `library_name` gives for the row's Cargo
//! feature (with the features it enables in Cargo.toml), and every name
//! build.rs can give has a row. CMake builds, imports and installs exactly
//! the rows (file names, targets, pkg-config modules), so a variant added or
//! renamed on one side only fails here.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::Path;

// build.rs itself, for its `library_name` (its `main` is never called).
#[path = "../build.rs"]
mod build_script;
use build_script::library_name;

const TABLE: &str = "cmake/variants.cmake";

#[derive(Debug)]
struct Row {
    name: String,
    feature: String,
    shared_target: String,
    static_target: String,
    description: String,
}

fn crate_file(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// A CMake argument list: bare words and "quoted strings" (no escapes).
fn words(args: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = args.trim();
    while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').expect("unterminated string");
            out.push(quoted[..end].to_string());
            rest = quoted[end + 1..].trim_start();
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            out.push(rest[..end].to_string());
            rest = rest[end..].trim_start();
        }
    }
    out
}

fn rows() -> Vec<Row> {
    let text = crate_file(TABLE);
    let rows: Vec<Row> = text
        .lines()
        .enumerate()
        .filter(|(_, line)| line.starts_with("gb_variant("))
        .map(|(i, line)| {
            let args = line
                .strip_prefix("gb_variant(")
                .and_then(|l| l.strip_suffix(')'))
                .unwrap_or_else(|| panic!("{TABLE}:{}: one row per line: {line}", i + 1));
            let w = words(args);
            assert_eq!(w.len(), 5, "{TABLE}:{}: 5 columns expected: {line}", i + 1);
            Row {
                name: w[0].clone(),
                feature: w[1].clone(),
                shared_target: w[2].clone(),
                static_target: w[3].clone(),
                description: w[4].clone(),
            }
        })
        .collect();
    assert!(!rows.is_empty(), "{TABLE}: no gb_variant(...) rows");
    rows
}

/// The features `feature` turns on in Cargo.toml, itself included (names of
/// this crate's features only; `dep/feature` entries are left out).
fn enabled(feature: &str) -> BTreeSet<String> {
    let manifest = crate_file("Cargo.toml");
    let features = manifest
        .split("\n[features]\n")
        .nth(1)
        .expect("Cargo.toml has a [features] table");
    let features = features.split("\n[").next().unwrap();
    let mut on = BTreeSet::new();
    let mut todo = vec![feature.to_string()];
    while let Some(f) = todo.pop() {
        if f.is_empty() || !on.insert(f.clone()) {
            continue;
        }
        let start = features
            .find(&format!("\n{f} = ["))
            .unwrap_or_else(|| panic!("Cargo.toml: no feature {f:?}"));
        let list = &features[start..];
        let list = &list[list.find('[').unwrap() + 1..list.find(']').unwrap()];
        for item in list.split(',') {
            let item = item.trim().trim_matches('"');
            if !item.is_empty() && !item.contains('/') && !item.starts_with("dep:") {
                todo.push(item.to_string());
            }
        }
    }
    on
}

#[test]
fn every_row_is_named_as_build_rs_names_it() {
    for row in rows() {
        // "a,b": several features, as cargo's --features takes them.
        let on: BTreeSet<String> = row.feature.split(',').flat_map(enabled).collect();
        let name = library_name(
            on.contains("checked"),
            on.contains("dlopen"),
            on.contains("override"),
            on.contains("override-checked"),
            on.contains("override-hardened"),
        );
        // build.rs: the heap profiler is its own variant of each.
        let name = if on.contains("profiling") {
            format!("{name}_profiling")
        } else {
            name.to_string()
        };
        assert_eq!(
            row.name, name,
            "{TABLE}: the row for feature {:?} is {:?}, build.rs names that build {name:?}",
            row.feature, row.name
        );
    }
}

#[test]
fn every_name_build_rs_gives_has_a_row() {
    // The profiling variants are rows of their own (only those of the
    // default library and of the override: the others are not built).
    let table: BTreeSet<String> = rows()
        .into_iter()
        .map(|r| r.name)
        .filter(|n| !n.ends_with("_profiling"))
        .collect();
    let mut from_build_rs = BTreeSet::new();
    for bits in 0..32u8 {
        from_build_rs.insert(
            library_name(
                bits & 1 != 0,
                bits & 2 != 0,
                bits & 4 != 0,
                bits & 8 != 0,
                bits & 16 != 0,
            )
            .to_string(),
        );
    }
    assert_eq!(
        table, from_build_rs,
        "{TABLE} against build.rs's library_name"
    );
}

#[test]
fn the_profiling_libraries_have_rows() {
    let names: BTreeSet<String> = rows().into_iter().map(|r| r.name).collect();
    for name in [
        "graphbit_alloc_profiling",
        "graphbit_alloc_override_profiling",
    ] {
        assert!(names.contains(name), "{TABLE}: no row for {name}");
    }
}

#[test]
fn names_and_targets_are_unique_and_well_formed() {
    let rows = rows();
    let mut names = BTreeSet::new();
    let mut targets = BTreeSet::new();
    for row in &rows {
        assert!(
            names.insert(row.name.clone()),
            "{TABLE}: variant {:?} appears twice",
            row.name
        );
        for id in [&row.name, &row.shared_target, &row.static_target] {
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
                "{TABLE}: {id:?} is not a plain identifier"
            );
        }
        for target in [&row.shared_target, &row.static_target] {
            assert!(
                target == "-" || targets.insert(target.clone()),
                "{TABLE}: target GraphBitAlloc::{target} appears twice"
            );
        }
        assert!(
            !row.description.is_empty(),
            "{TABLE}: {} has no description",
            row.name
        );
    }
}

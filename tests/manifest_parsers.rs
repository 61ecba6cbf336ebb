//! c_tests/programs.txt has three readers: cargo's (tests/manifest/mod.rs),
//! CMake's (tests/cmake/manifest.cmake, used by tests/cmake/CMakeLists.txt)
//! and tests/sanitizers.sh's. Each prints its reading of every row (the
//! columns the harnesses use: name, source, link, pkg-config, args, env,
//! harnesses; lists as words joined by one space) and the three must be the
//! same, row for row.

mod common;
mod manifest;

use common::*;
use std::process::Command;

fn rows_of(command: &mut Command, what: &str) -> Vec<String> {
    let out = command
        .current_dir(crate_dir())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.strip_prefix("-- ").unwrap_or(l).to_string())
        .collect()
}

fn cargo_rows() -> Vec<String> {
    manifest::runs()
        .iter()
        .map(|r| {
            let link = if r.links.is_empty() {
                "none".to_string()
            } else {
                r.links
                    .iter()
                    .map(|l| match l {
                        Link::Shared => "shared",
                        Link::Static => "static",
                        Link::Checked => "checked",
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let env: Vec<String> = r.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let harnesses: Vec<String> = r
                .harnesses
                .iter()
                .map(|(h, on)| if *on { h.clone() } else { format!("-{h}") })
                .collect();
            [
                r.name.clone(),
                r.source.clone(),
                link,
                r.pkg_config.join(" "),
                r.args.join(" "),
                env.join(" "),
                harnesses.join(" "),
            ]
            .join("|")
        })
        .collect()
}

fn assert_same(reader: &str, theirs: &[String], ours: &[String]) {
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        assert_eq!(
            a,
            b,
            "row {} of {}: cargo against {reader}",
            i + 1,
            manifest::MANIFEST
        );
    }
    assert_eq!(
        ours.len(),
        theirs.len(),
        "{}: cargo reads {} rows, {reader} {}",
        manifest::MANIFEST,
        ours.len(),
        theirs.len()
    );
}

#[test]
fn cmake_reads_every_row_as_cargo_does() {
    let ours = cargo_rows();
    assert!(!ours.is_empty());
    let cmake = rows_of(
        Command::new("cmake").args([
            &format!("-DMANIFEST={}", manifest::MANIFEST),
            "-P",
            "tests/cmake/print_manifest.cmake",
        ]),
        "cmake -P tests/cmake/print_manifest.cmake",
    );
    assert_same("tests/cmake/manifest.cmake", &cmake, &ours);
}

#[test]
fn sanitizers_sh_reads_every_row_as_cargo_does() {
    let ours = cargo_rows();
    let sanitizers = rows_of(
        Command::new("bash").args(["tests/sanitizers.sh", "--print-manifest"]),
        "bash tests/sanitizers.sh --print-manifest",
    );
    assert_same("tests/sanitizers.sh", &sanitizers, &ours);
}

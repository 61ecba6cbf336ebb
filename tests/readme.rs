//! Keeps README.md true: every fenced block tagged `c`, `cpp`, `cmake` or
//! `sh` is compiled and run, or checked, or excluded with a reason:
//!
//! - `c`, `cpp`: a whole program, compiled (warnings are errors) and run
//!   against the shared and the static library; it must exit 0.
//! - `cmake`: every `GraphBitAlloc::<target>` and `${GraphBitAlloc_<var>}`
//!   must exist in both the build tree (CMakeLists.txt) and the installed
//!   package (cmake/GraphBitAllocConfig.cmake.in, cmake/pick_variant.cmake;
//!   the variants' targets: cmake/variants.cmake);
//!   `find_package(GraphBitAlloc X.Y)` must name this version.
//! - `sh`: every preset, `--bin`, Cargo feature, repository path, library
//!   file, `-l` name and pkg-config module (a row of cmake/variants.cmake)
//!   the commands name must exist.
//!
//! An HTML comment on the line before a block changes what is done with it:
//! `<!-- readme-test: skip (why) -->` excludes it (the reason is required),
//! `declarations` compiles a C block after the header (each declaration must
//! agree with it, and every function of the header must be listed),
//! `checked` runs a C program with the checked library preloaded (it must
//! abort, saying "double free"), and `figures` before a table checks each
//! row's number against docs/runs/instructions.txt; `quoted` before `> ` lines
//! checks that each is a line of docs/runs/bench.txt (the recorded run).
//!
//! Run: `cargo test --test readme`.

mod common;

use std::collections::BTreeSet;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Command;

use common::*;

/// The README's hard length limit (it is for the people who use the library;
/// method and measurements go to docs/).
const MAX_LINES: usize = 500;

#[derive(Debug)]
struct Block {
    tag: String,
    /// The `readme-test:` directive on the line before, if any.
    directive: Option<String>,
    /// 1-based line of the opening fence.
    line: usize,
    code: String,
}

fn directive_of(line: &str) -> Option<String> {
    let rest = line.trim().strip_prefix("<!--")?.trim_start();
    let rest = rest.strip_prefix("readme-test:")?;
    Some(rest.trim_end().trim_end_matches("-->").trim().to_string())
}

fn blocks(text: &str) -> Vec<Block> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if let Some(tag) = lines[i].strip_prefix("```") {
            let start = i;
            let mut code = String::new();
            i += 1;
            while i < lines.len() && !lines[i].starts_with("```") {
                code.push_str(lines[i]);
                code.push('\n');
                i += 1;
            }
            assert!(
                i < lines.len(),
                "README.md:{}: unclosed code block",
                start + 1
            );
            let directive = lines[..start]
                .iter()
                .rev()
                .find(|l| !l.trim().is_empty())
                .and_then(|l| directive_of(l));
            out.push(Block {
                tag: tag.trim().to_string(),
                directive,
                line: start + 1,
                code,
            });
        }
        i += 1;
    }
    out
}

fn readme() -> String {
    std::fs::read_to_string(crate_dir().join("README.md")).expect("README.md")
}

fn work_dir() -> PathBuf {
    let dir = lib_dir().join("gb-readme");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_source(name: &str, code: &str) -> PathBuf {
    let path = work_dir().join(name);
    std::fs::write(&path, code).unwrap();
    path
}

/// Compiles `source` into `exe`, linked with the shared library (staged
/// under its SONAME) or the static one and the README's native libraries.
fn build(source: &PathBuf, cpp: bool, link: Link, exe: &PathBuf, extra: &[&str]) {
    let mut cmd = compiler(cpp);
    cmd.args(["-Wall", "-Wextra"]);
    if cpp {
        cmd.arg("-std=c++17");
    }
    cmd.arg("-I")
        .arg(crate_dir().join("include"))
        .arg(source)
        .args(extra);
    match link {
        Link::Shared => {
            let dir = staged_lib_dir();
            cmd.arg("-L").arg(&dir).arg("-lgraphbit_alloc");
            cmd.arg(format!("-Wl,-rpath,{}", dir.display()));
        }
        Link::Static => {
            cmd.arg(static_lib()).args(readme_static_libs());
        }
        Link::Checked => {
            let dir = variant_lib("checked").parent().unwrap().to_path_buf();
            cmd.arg("-L").arg(&dir).arg("-lgraphbit_alloc_checked");
            cmd.arg(format!("-Wl,-rpath,{}", dir.display()));
        }
    }
    cmd.arg("-o").arg(exe);
    run_ok(&mut cmd);
}

fn run_program(block: &Block) {
    let cpp = block.tag == "cpp";
    let stem = format!("block-{}", block.line);
    let source = write_source(
        &format!("{stem}.{}", if cpp { "cpp" } else { "c" }),
        &block.code,
    );
    for link in [Link::Shared, Link::Static] {
        let exe = work_dir().join(format!("{stem}-{link:?}"));
        build(&source, cpp, link, &exe, &[]);
        let out = run_ok(&mut Command::new(&exe));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let first: String = stdout
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(100)
            .collect();
        eprintln!("README.md:{} ({link:?}): {first}", block.line);
        if block.code.contains("GB_REPLACE_GLOBAL_NEW") && BACKEND != "system" {
            assert!(
                stdout.contains(": yes"),
                "README.md:{}: new/delete were not served by graphbit-alloc: {stdout}",
                block.line
            );
        }
    }
}

/// The functions the header declares.
fn header_functions() -> BTreeSet<String> {
    let header = std::fs::read_to_string(crate_dir().join("include/graphbit_alloc.h")).unwrap();
    words_followed_by_paren(&header)
}

fn words_followed_by_paren(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(pos) = text[i..].find("gb_") {
        let start = i + pos;
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        let boundary =
            start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        if boundary && bytes.get(end) == Some(&b'(') {
            names.insert(text[start..end].to_string());
        }
        i = end.max(start + 1);
    }
    names
}

fn check_declarations(block: &Block) {
    let source = write_source(
        &format!("block-{}-decls.c", block.line),
        &format!("#include \"graphbit_alloc.h\"\n{}", block.code),
    );
    run_ok(
        compiler(false)
            .args(["-Wall", "-Wextra", "-fsyntax-only", "-I"])
            .arg(crate_dir().join("include"))
            .arg(&source),
    );
    let listed = words_followed_by_paren(&block.code);
    let declared = header_functions();
    assert_eq!(
        listed, declared,
        "README.md:{}: the API list must name exactly the header's functions",
        block.line
    );
}

fn check_checked_mode(block: &Block) {
    let checked = variant_lib("checked");
    let source = write_source(&format!("block-{}-checked.c", block.line), &block.code);
    // Both ways the README names: preloaded into a program linked against
    // libgraphbit_alloc.so, and relinked with -lgraphbit_alloc_checked.
    for link in [Link::Shared, Link::Checked] {
        let exe = work_dir().join(format!("block-{}-{link:?}", block.line));
        // The block's bug is deliberate: a compiler may warn about it.
        build(&source, false, link, &exe, &["-Wno-error"]);
        let mut cmd = Command::new(&exe);
        if link == Link::Shared {
            cmd.env("LD_PRELOAD", &checked);
        }
        let out = cmd.output().expect("run the checked-mode example");
        expect_double_free_abort(block, &out);
    }
}

fn expect_double_free_abort(block: &Block, out: &std::process::Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(libc_sigabrt()),
        "README.md:{}: expected an abort, got {} (stderr: {stderr})",
        block.line,
        out.status
    );
    assert!(
        stderr.contains("graphbit-alloc: gb_free(0x") && stderr.contains("double free"),
        "README.md:{}: stderr does not say what the README says: {stderr}",
        block.line
    );
}

const fn libc_sigabrt() -> i32 {
    6 // SIGABRT on Linux
}

/// Problems with the names a CMake snippet uses (empty: none).
fn cmake_problems(code: &str) -> Vec<String> {
    let read = |p: &str| std::fs::read_to_string(crate_dir().join(p)).unwrap();
    // The variants' targets are rows of cmake/variants.cmake, which both the
    // build tree and the installed package define.
    let variants = read("cmake/variants.cmake");
    let build_tree = read("CMakeLists.txt") + &read("cmake/pick_variant.cmake") + &variants;
    let package =
        read("cmake/GraphBitAllocConfig.cmake.in") + &read("cmake/pick_variant.cmake") + &variants;
    let has_word = |text: &str, word: &str| {
        text.match_indices(word).any(|(i, _)| {
            let before = text[..i].chars().last();
            let after = text[i + word.len()..].chars().next();
            let part = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
            !part(before) && !part(after)
        })
    };
    let mut problems = Vec::new();
    for (i, _) in code.match_indices("GraphBitAlloc::") {
        let name: String = code[i + "GraphBitAlloc::".len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        for (what, text) in [
            ("CMakeLists.txt", &build_tree),
            ("the installed package", &package),
        ] {
            if !has_word(text, &name) {
                problems.push(format!("GraphBitAlloc::{name} is not defined by {what}"));
            }
        }
    }
    for (i, _) in code.match_indices("GraphBitAlloc_") {
        let name: String = code[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !has_word(&package, &name) || !has_word(&build_tree, &name) {
            problems.push(format!(
                "{name} is not set by both the build tree and the package"
            ));
        }
    }
    let version = env!("CARGO_PKG_VERSION");
    let major_minor = version.rsplit_once('.').unwrap().0;
    for (i, _) in code.match_indices("find_package(GraphBitAlloc ") {
        let asked: String = code[i + "find_package(GraphBitAlloc ".len()..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        if asked != major_minor {
            problems.push(format!(
                "find_package asks for {asked}, the version is {version}"
            ));
        }
    }
    problems
}

/// Problems with the names shell commands use (empty: none).
fn sh_problems(code: &str) -> Vec<String> {
    let root = crate_dir();
    let presets = std::fs::read_to_string(root.join("CMakePresets.json")).unwrap();
    let cargo_toml = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let features: BTreeSet<String> = cargo_toml
        .split("[features]")
        .nth(1)
        .unwrap()
        .split("\n[")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(" = ").map(|(k, _)| k.trim().to_string()))
        .filter(|k| !k.starts_with('#'))
        .collect();
    // The workspace's packages: each member directory's package name.
    let packages: BTreeSet<String> = cargo_toml
        .split("members = [")
        .nth(1)
        .unwrap()
        .split(']')
        .next()
        .unwrap()
        .split(',')
        .map(|m| m.trim().trim_matches('"'))
        .filter(|m| !m.is_empty())
        .filter_map(|m| std::fs::read_to_string(root.join(m).join("Cargo.toml")).ok())
        .filter_map(|t| {
            let name = t.split("\nname = \"").nth(1)?.split('"').next()?;
            Some(name.to_string())
        })
        .collect();
    let shared = [
        "graphbit_alloc",
        "graphbit_alloc_dlopen",
        "graphbit_alloc_checked",
        "graphbit_alloc_override",
    ];
    let statics = [
        "graphbit_alloc",
        "graphbit_alloc_dlopen",
        "graphbit_alloc_override",
    ];
    let mut problems = Vec::new();
    for line in code.lines() {
        let line = line.split(" # ").next().unwrap();
        let words: Vec<&str> = line.split_whitespace().collect();
        for (i, word) in words.iter().enumerate() {
            let word =
                word.trim_matches(|c| c == '"' || c == '\'' || c == '(' || c == ')' || c == '$');
            let next = words.get(i + 1).copied().unwrap_or("");
            if word == "--preset" && !presets.contains(&format!("\"name\": \"{next}\"")) {
                problems.push(format!("no CMake preset {next}"));
            }
            if word == "--bin"
                && !root.join(format!("src/bin/{next}.rs")).exists()
                && !root.join(format!("src/bin/{next}")).is_dir()
            {
                problems.push(format!("no binary {next}"));
            }
            if (word == "-p" || word == "--package") && !packages.contains(next) {
                problems.push(format!("no workspace package {next}"));
            }
            if word == "--features" {
                for f in next.split(',') {
                    if !features.contains(f) {
                        problems.push(format!("no Cargo feature {f}"));
                    }
                }
            }
            for dir in [
                "examples/",
                "tests/",
                "gb-bench/",
                "include/",
                "bindings/",
                "c_tests/",
                "docs/",
                ".ci/",
            ] {
                if word.starts_with(dir) && !root.join(word).exists() {
                    problems.push(format!("no file {word}"));
                }
            }
            if let Some(name) = word.strip_prefix("-l") {
                if name.starts_with("graphbit") && !shared.contains(&name) {
                    problems.push(format!("no library {word}"));
                }
            }
            if let Some(pos) = word.find("libgraphbit") {
                let file = &word[pos + 3..];
                let known = if let Some(stem) = file.strip_suffix(".a") {
                    statics.contains(&stem)
                } else if let Some(stem) = file.split(".so").next().filter(|_| file.contains(".so"))
                {
                    shared.contains(&stem)
                } else {
                    true
                };
                if !known {
                    problems.push(format!("no library file lib{file}"));
                }
            }
            if word.starts_with("graphbit-alloc") && line.contains("pkg-config") {
                let module: String = word
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect();
                // One module per row of cmake/variants.cmake: the variant's
                // name with "-" for "_".
                let variants = std::fs::read_to_string(root.join("cmake/variants.cmake"))
                    .expect("cmake/variants.cmake");
                let known = variants.lines().any(|l| {
                    l.strip_prefix("gb_variant(")
                        .and_then(|row| row.split_whitespace().next())
                        .is_some_and(|name| name.replace('_', "-") == module)
                });
                if !known {
                    problems.push(format!("no pkg-config module {module}"));
                }
            }
        }
    }
    problems
}

fn check_figures(text: &str) {
    let instructions = std::fs::read_to_string(crate_dir().join("docs/runs/instructions.txt"))
        .expect("docs/runs/instructions.txt (bash gb-bench/scripts/instructions.sh writes it)");
    let lines: Vec<&str> = text.lines().collect();
    let mut checked = 0;
    for (n, line) in lines.iter().enumerate() {
        if directive_of(line).as_deref()
            != Some("figures (each must equal its row in docs/runs/instructions.txt)")
        {
            continue;
        }
        for row in lines[n + 1..]
            .iter()
            .take_while(|l| l.starts_with('|'))
            .skip(2)
        {
            let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
            let (label, figure) = (cells[0], cells[1]);
            let measured = instructions
                .lines()
                .filter_map(|l| l.trim().strip_prefix(label))
                .map(str::trim)
                .find(|rest| rest.chars().all(|c| c.is_ascii_digit()) && !rest.is_empty());
            assert_eq!(
                measured,
                Some(figure),
                "README.md:{}: `{label}` is {figure} in the README; docs/runs/instructions.txt says {measured:?}",
                n + 1
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "no figures table was checked");
}

/// `<!-- readme-test: quoted ... -->`: each `> ` line after it, as written,
/// is a line of docs/runs/bench.txt (after its leading spaces), so the README's
/// performance summary is the recorded run's own words.
fn check_quoted(text: &str) {
    let bench = std::fs::read_to_string(crate_dir().join("docs/runs/bench.txt"))
        .expect("docs/runs/bench.txt (gb-bench writes it; docs/performance.md says how)");
    let recorded: BTreeSet<&str> = bench.lines().map(str::trim).collect();
    let lines: Vec<&str> = text.lines().collect();
    let mut checked = 0;
    for (n, line) in lines.iter().enumerate() {
        if directive_of(line).as_deref()
            != Some("quoted (each line must be a line of docs/runs/bench.txt)")
        {
            continue;
        }
        for (k, quote) in lines[n + 1..]
            .iter()
            .map_while(|l| l.strip_prefix("> "))
            .enumerate()
        {
            assert!(
                recorded.contains(quote.trim()),
                "README.md:{}: not a line of docs/runs/bench.txt: {quote}",
                n + 2 + k
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "no quoted lines were checked");
}

#[test]
fn readme_code_blocks_compile_run_or_check() {
    let text = readme();
    let count = text.lines().count();
    assert!(
        count <= MAX_LINES,
        "README.md has {count} lines; the limit is {MAX_LINES}"
    );
    let mut done = std::collections::BTreeMap::<&str, usize>::new();
    let mut problems = Vec::new();
    let all = blocks(&text);
    for block in &all {
        if !["c", "cpp", "cmake", "sh"].contains(&block.tag.as_str()) {
            continue;
        }
        let directive = block.directive.as_deref().unwrap_or("");
        let kind = directive.split_whitespace().next().unwrap_or("");
        match (block.tag.as_str(), kind) {
            (_, "skip") => {
                let reason = directive["skip".len()..]
                    .trim()
                    .trim_matches(|c| c == '(' || c == ')');
                assert!(
                    !reason.is_empty(),
                    "README.md:{}: a skip needs a reason",
                    block.line
                );
                *done.entry("skipped").or_default() += 1;
            }
            ("c", "declarations") => {
                check_declarations(block);
                *done.entry("declarations").or_default() += 1;
            }
            ("c", "checked") => {
                check_checked_mode(block);
                *done.entry("checked").or_default() += 1;
            }
            ("c" | "cpp", "") => {
                run_program(block);
                *done
                    .entry(if block.tag == "c" { "c run" } else { "cpp run" })
                    .or_default() += 1;
            }
            ("cmake", "") => {
                problems.extend(
                    cmake_problems(&block.code)
                        .into_iter()
                        .map(|p| format!("README.md:{}: {p}", block.line)),
                );
                *done.entry("cmake checked").or_default() += 1;
            }
            ("sh", "") => {
                problems.extend(
                    sh_problems(&block.code)
                        .into_iter()
                        .map(|p| format!("README.md:{}: {p}", block.line)),
                );
                *done.entry("sh checked").or_default() += 1;
            }
            (tag, other) => panic!(
                "README.md:{}: unknown directive `{other}` for a {tag} block",
                block.line
            ),
        }
    }
    // Target names in the prose are held to the same rule as the blocks.
    problems.extend(
        cmake_problems(&text)
            .into_iter()
            .map(|p| format!("README.md: {p}")),
    );
    check_figures(&text);
    check_quoted(&text);
    assert!(
        problems.is_empty(),
        "README.md is out of date:\n{}",
        problems.join("\n")
    );
    eprintln!("README blocks: {done:?}");
    for needed in [
        "c run",
        "cpp run",
        "cmake checked",
        "sh checked",
        "declarations",
        "checked",
    ] {
        assert!(
            done.contains_key(needed),
            "README.md has no block of kind `{needed}`: {done:?}"
        );
    }
}

/// The checks above can fail: each is fed something wrong here.
#[test]
fn readme_checks_reject_what_is_wrong() {
    assert!(!cmake_problems(
        "target_link_libraries(a PRIVATE GraphBitAlloc::graphbit_alloc_shared)"
    )
    .is_empty());
    assert!(!cmake_problems("find_package(GraphBitAlloc 9.9 REQUIRED)").is_empty());
    assert!(cmake_problems(
        "target_link_libraries(a PRIVATE GraphBitAlloc::graphbit_alloc_dlopen)"
    )
    .is_empty());
    for wrong in [
        "cmake --preset nope",
        "cargo run --bin gb-nope",
        "cargo run -p gb-nope",
        "cargo build --features backend-nope",
        "cc examples/nope.c",
        "cc app.c -lgraphbit_alloc_nope",
        "cc app.c lib/libgraphbit_alloc_checked.a",
        "pkg-config --libs graphbit-alloc-nope",
    ] {
        assert!(
            !sh_problems(wrong).is_empty(),
            "`{wrong}` passed the sh check"
        );
    }
    assert!(sh_problems(
        "cc examples/hello.c -lgraphbit_alloc_dlopen $(pkg-config --libs graphbit-alloc-checked)"
    )
    .is_empty());
    let decls = words_followed_by_paren("void *gb_alloc(size_t size); int gb_nope(void);");
    assert!(decls != header_functions());
    let parsed = blocks("<!-- readme-test: skip (why) -->\n```sh\nls\n```\n");
    assert_eq!(parsed[0].directive.as_deref(), Some("skip (why)"));
    // A C block that does not compile fails the build step.
    let bad = write_source("block-bad.c", "int main(void) { return undefined_name; }\n");
    let exe = work_dir().join("block-bad");
    assert!(std::panic::catch_unwind(|| build(&bad, false, Link::Shared, &exe, &[])).is_err());
}

/// The README's test command (the `sh` line that runs the `test` workflow)
/// is one line that sets up and tests, and .ci/run runs it as written.
#[test]
fn ci_runs_the_readme_test_command() {
    let text = readme();
    let command = text
        .lines()
        .map(|l| l.split(" #").next().unwrap().trim())
        .find(|l| l.ends_with("cmake --workflow --preset test"))
        .expect("README.md: no line ending in `cmake --workflow --preset test`");
    assert!(
        command.starts_with("bash tests/cmake/install-deps.sh && "),
        "README.md: the test command must set up first: {command}"
    );
    let ci = std::fs::read_to_string(crate_dir().join(".ci/run")).expect(".ci/run");
    assert!(
        ci.lines().any(|l| l.trim() == command),
        ".ci/run does not run the README's test command as written: {command}"
    );
}

//! c_tests/programs.txt, the one list of the C and C++ test programs (read
//! by cargo test, ctest and tests/sanitizers.sh): parsing, and building and
//! running its programs against the library as a C host would.
#![allow(dead_code)]

use crate::common::*;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, OnceLock};

/// The harnesses a run names, each once, as NAME or -NAME.
pub const HARNESSES: &[&str] = &["cargo", "ctest", "asan", "valgrind", "tsan"];

pub const MANIFEST: &str = "c_tests/programs.txt";

/// One line of the manifest: one run of one program.
#[derive(Clone, Debug)]
pub struct Run {
    pub line: usize,
    pub name: String,
    pub source: String,
    /// The libraries it is linked against (one run with each); empty for
    /// `none` (it loads the shared library itself, from `@LIB@`).
    pub links: Vec<Link>,
    /// pkg-config modules it is also compiled and linked with.
    pub pkg_config: Vec<String>,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Harness -> whether it runs this line.
    pub harnesses: Vec<(String, bool)>,
    pub why_not: String,
}

impl Run {
    pub fn runs_under(&self, harness: &str) -> bool {
        self.harnesses.iter().any(|(h, on)| h == harness && *on)
    }

    /// The arguments with `@LIB@` replaced by the path of the library a
    /// program loads with dlopen (the `dlopen` variant).
    pub fn args_for(&self) -> Vec<String> {
        self.args
            .iter()
            .map(|a| {
                if a.contains("@LIB@") {
                    a.replace("@LIB@", &variant_lib("dlopen").display().to_string())
                } else {
                    a.clone()
                }
            })
            .collect()
    }
}

/// The manifest, parsed; a malformed line panics with its number.
pub fn runs() -> &'static [Run] {
    static RUNS: OnceLock<Vec<Run>> = OnceLock::new();
    RUNS.get_or_init(|| {
        let path = crate_dir().join(MANIFEST);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        parse(&text)
    })
}

pub fn parse(text: &str) -> Vec<Run> {
    let mut runs = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        // CMake reads the same lines as lists (tests/cmake/CMakeLists.txt).
        assert!(
            !raw.contains([';', '[', ']']),
            "{MANIFEST}:{line}: no \";\", \"[\" or \"]\" (CMake list syntax): {raw}"
        );
        let fields: Vec<&str> = raw.split('|').map(str::trim).collect();
        assert_eq!(
            fields.len(),
            8,
            "{MANIFEST}:{line}: 8 columns separated by | expected: {raw}"
        );
        let links = match fields[2] {
            "none" => vec![],
            words => words
                .split_whitespace()
                .map(|w| match w {
                    "shared" => Link::Shared,
                    "static" => Link::Static,
                    "checked" => Link::Checked,
                    other => panic!("{MANIFEST}:{line}: unknown link {other:?}"),
                })
                .collect(),
        };
        let env = fields[5]
            .split_whitespace()
            .map(|kv| {
                let (k, v) = kv
                    .split_once('=')
                    .unwrap_or_else(|| panic!("{MANIFEST}:{line}: env {kv:?} is not NAME=VALUE"));
                (k.to_string(), v.to_string())
            })
            .collect();
        let harnesses = fields[6]
            .split_whitespace()
            .map(|h| match h.strip_prefix('-') {
                Some(off) => (off.to_string(), false),
                None => (h.to_string(), true),
            })
            .collect();
        runs.push(Run {
            line,
            name: fields[0].to_string(),
            source: fields[1].to_string(),
            links,
            pkg_config: fields[3].split_whitespace().map(str::to_string).collect(),
            args: fields[4].split_whitespace().map(str::to_string).collect(),
            env,
            harnesses,
            why_not: fields[7].to_string(),
        });
    }
    runs
}

/// The manifest's run called `name`.
pub fn run_named(name: &str) -> &'static Run {
    runs()
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("{MANIFEST} has no run named {name:?}"))
}

/// Builds `c_tests/<source>` once per test process and link (tests run in
/// parallel and would otherwise write one executable while another runs it).
/// `None` is a program that loads the library itself.
pub fn program(source: &str, link: Option<Link>) -> PathBuf {
    type Slot = Arc<OnceLock<PathBuf>>;
    static BUILT: OnceLock<Mutex<HashMap<(String, String), Slot>>> = OnceLock::new();
    let slot = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry((source.to_string(), format!("{link:?}")))
        .or_default()
        .clone();
    slot.get_or_init(|| build(source, link)).clone()
}

/// Warnings are errors here (ctest shows them only), except gcc's on what
/// the programs do on purpose to see it fail cleanly or be caught: sizes
/// above PTRDIFF_MAX, and (misuse.c) frees that do not match the header's
/// allocation attributes.
const NOT_ERRORS: &[&str] = &[
    "-Wno-error=alloc-size-larger-than=",
    "-Wno-error=mismatched-dealloc",
    "-Wno-error=use-after-free",
    "-Wno-error=free-nonheap-object",
];

/// The pkg-config modules the manifest's runs of `source` name (every run of
/// one source names the same: `manifest_lists_every_program_and_harness`).
pub fn pkg_config_of(source: &str) -> Vec<String> {
    runs()
        .iter()
        .find(|r| r.source == source)
        .map(|r| r.pkg_config.clone())
        .unwrap_or_default()
}

/// `pkg-config --cflags --libs` of `modules` (nothing for none), split into
/// arguments; panics naming the module when one is missing.
pub fn pkg_config_flags(modules: &[String]) -> Vec<String> {
    if modules.is_empty() {
        return Vec::new();
    }
    let out = Command::new("pkg-config")
        .args(["--cflags", "--libs"])
        .args(modules)
        .output()
        .unwrap_or_else(|e| panic!("cannot run pkg-config (apt-get install pkg-config): {e}"));
    assert!(
        out.status.success(),
        "pkg-config {modules:?}: {}(tests/cmake/install-deps.sh installs the libraries the tests use)",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn build(source: &str, link: Option<Link>) -> PathBuf {
    let cpp = source.ends_with(".cpp");
    let std: &[&str] = if cpp { &["-std=c++17"] } else { &[] };
    let pkg_flags = pkg_config_flags(&pkg_config_of(source));
    match link {
        Some(link) => {
            let mut extra = std.to_vec();
            extra.extend(NOT_ERRORS);
            extra.extend(pkg_flags.iter().map(String::as_str));
            extra.extend(["-lpthread", "-ldl"]);
            build_program(source, link, &extra)
        }
        None => {
            let out_dir = lib_dir().join("gb-c-tests");
            std::fs::create_dir_all(&out_dir).unwrap();
            let exe = out_dir.join(program_stem(source));
            run_ok(
                compiler(cpp)
                    .args(["-Wall", "-Wextra", "-D_GNU_SOURCE"])
                    .args(if cpp { ["-std=c++17"] } else { ["-std=c11"] })
                    .args(NOT_ERRORS)
                    .arg("-I")
                    .arg(crate_dir().join("include"))
                    .arg(crate_dir().join("c_tests").join(source))
                    .args(&pkg_flags)
                    .arg("-o")
                    .arg(&exe)
                    .args(["-ldl", "-lpthread"]),
            );
            exe
        }
    }
}

/// A command for `run` against `link` (None: a program that loads the
/// library itself), with the manifest's arguments and environment.
pub fn command(run: &Run, link: Option<Link>) -> Command {
    let mut cmd = Command::new(program(&run.source, link));
    cmd.args(run.args_for());
    cmd.envs(run.env.iter().map(|(k, v)| (k, v)));
    cmd
}

/// The links a run is made with: each library, or once without (None).
pub fn links_of(run: &Run) -> Vec<Option<Link>> {
    if run.links.is_empty() {
        vec![None]
    } else {
        run.links.iter().copied().map(Some).collect()
    }
}

/// Runs `run` once per link, panicking unless each exits 0; the outputs
/// (stdout then stderr), in link order.
pub fn run_ok_each(run: &Run) -> Vec<Output> {
    links_of(run)
        .into_iter()
        .map(|link| run_ok(&mut command(run, link)))
        .collect()
}

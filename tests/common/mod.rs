//! Helpers for the tests that treat the built library as a C host would:
//! find it, compile C/C++ programs against it, run them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The backend this build uses, as build.rs chose it.
pub const BACKEND: &str = env!("GB_BACKEND");

pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `target/<profile>/deps`, where `cargo test` puts the libgraphbit_alloc.so
/// and .a it built for this run (it does not copy them up to
/// `target/<profile>` as `cargo build` does).
pub fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test>-<hash>
    exe.parent().expect("target/<profile>/deps").to_path_buf()
}

pub fn shared_lib() -> PathBuf {
    let path = lib_dir().join("libgraphbit_alloc.so");
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// The static library as an install has it: on mimalloc, with the weak
/// `std::get_new_handler` stub that mimalloc's C sources define made local,
/// as cmake/cargo_build.cmake does when it stages the library (linked into a
/// C++ program the stub would win over libstdc++'s, and every
/// std::set_new_handler would be ignored: c_tests/cpp_global_new.cpp).
pub fn static_lib() -> PathBuf {
    let path = lib_dir().join("libgraphbit_alloc.a");
    assert!(path.exists(), "{} was not built", path.display());
    if BACKEND != "mimalloc" {
        return path;
    }
    static STAGED: OnceLock<PathBuf> = OnceLock::new();
    STAGED
        .get_or_init(|| {
            let dir = lib_dir().join("gb-test-stage");
            std::fs::create_dir_all(&dir).unwrap();
            let staged = dir.join("libgraphbit_alloc.a");
            run_ok(
                Command::new("objcopy")
                    .arg("--localize-symbol=_ZSt15get_new_handlerv")
                    .arg(&path)
                    .arg(&staged),
            );
            staged
        })
        .clone()
}

/// A directory holding the shared library under its SONAME
/// (libgraphbit_alloc.so.0.MINOR) and its link name, as an install would:
/// programs linked against it record the SONAME and need that file at run time.
pub fn staged_lib_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = lib_dir().join("gb-test-stage");
        std::fs::create_dir_all(&dir).unwrap();
        let soname = soname(&shared_lib());
        for name in [soname.as_str(), "libgraphbit_alloc.so"] {
            let link = dir.join(name);
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(shared_lib(), &link).unwrap();
        }
        dir
    })
    .clone()
}

/// The SONAME recorded in a shared object (readelf -d).
pub fn soname(path: &Path) -> String {
    let out = run_ok(Command::new("readelf").arg("-d").arg(path));
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.contains("(SONAME)"))
        .and_then(|l| l.split('[').nth(1))
        .and_then(|l| l.split(']').next())
        .unwrap_or_else(|| panic!("{} has no SONAME", path.display()))
        .to_string()
}

/// The C (or C++) compiler the `cc` crate would use for this target.
pub fn compiler(cpp: bool) -> Command {
    let target = env!("GB_TARGET");
    cc::Build::new()
        .cpp(cpp)
        .target(target)
        .host(target)
        .opt_level(1)
        .debug(true)
        .cargo_metadata(false)
        .warnings_into_errors(true)
        .get_compiler()
        .to_command()
}

/// The libraries the static library needs, as the README's link line names
/// them (the line is pinned by the tests that link with it).
pub fn readme_static_libs() -> Vec<String> {
    let readme = std::fs::read_to_string(crate_dir().join("README.md")).expect("README.md");
    let line = readme
        .lines()
        .find(|l| l.contains("libgraphbit_alloc.a -l"))
        .expect("README.md shows the static link line (`... libgraphbit_alloc.a -l...`)");
    line.split_whitespace()
        .skip_while(|w| !w.ends_with("libgraphbit_alloc.a"))
        .skip(1)
        .take_while(|w| w.starts_with("-l"))
        .map(str::to_string)
        .collect()
}

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Link {
    /// The default shared library (initial-exec TLS), linked at start-up.
    Shared,
    /// The static library.
    Static,
    /// The checked library (libgraphbit_alloc_checked), linked at start-up.
    Checked,
}

/// The executable's name for `c_tests/<source>`: the path without its
/// extension, `/` made `_` (`hooks/lua.c` -> `hooks_lua`).
pub fn program_stem(source: &str) -> String {
    let path = Path::new(source);
    path.with_extension("")
        .to_string_lossy()
        .replace(['/', '\\'], "_")
}

/// Compiles `c_tests/<source>` into an executable linked against the library.
pub fn build_program(source: &str, link: Link, extra: &[&str]) -> PathBuf {
    let cpp = source.ends_with(".cpp");
    let stem = program_stem(source);
    let out_dir = lib_dir().join("gb-c-tests");
    std::fs::create_dir_all(&out_dir).unwrap();
    let exe = out_dir.join(format!(
        "{stem}-{}",
        match link {
            Link::Shared => "shared",
            Link::Static => "static",
            Link::Checked => "checked",
        }
    ));
    let mut cmd = compiler(cpp);
    cmd.args(["-Wall", "-Wextra", "-D_GNU_SOURCE"])
        .arg(format!("-DGB_EXPECT_BACKEND=\"{BACKEND}\""))
        .arg("-I")
        .arg(crate_dir().join("include"))
        .arg(crate_dir().join("c_tests").join(source))
        .args(extra)
        .arg("-o")
        .arg(&exe);
    if !cpp {
        cmd.arg("-std=c11");
    }
    match link {
        Link::Shared => {
            let dir = staged_lib_dir();
            cmd.arg("-L").arg(&dir).arg("-lgraphbit_alloc");
            cmd.arg(format!("-Wl,-rpath,{}", dir.display()));
            cmd.arg("-lpthread");
        }
        Link::Static => {
            cmd.arg(static_lib());
            cmd.args(readme_static_libs());
        }
        Link::Checked => {
            let lib = variant_lib("checked");
            let dir = lib.parent().unwrap();
            cmd.arg("-L").arg(dir).arg("-lgraphbit_alloc_checked");
            cmd.arg(format!("-Wl,-rpath,{}", dir.display()));
            cmd.arg("-lpthread");
        }
    }
    run_ok(&mut cmd);
    exe
}

/// Runs a command, panicking with its output unless it exits 0.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{cmd:?} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

/// Builds and runs a C test program against the shared and the static library.
pub fn run_c_test(source: &str) {
    for link in [Link::Shared, Link::Static] {
        let exe = build_program(source, link, &[]);
        let out = run_ok(&mut Command::new(&exe));
        eprint!("{}", String::from_utf8_lossy(&out.stdout));
    }
}

/// The library built as another variant (`dlopen` or `checked`, a Cargo
/// feature of the same name) with this build's backend: its path under its
/// own file name (`libgraphbit_alloc_dlopen.so`, `libgraphbit_alloc_checked.so`),
/// next to a link named by its SONAME, in `<target>/variants/<variant>-<backend>/`.
/// Taken from `GB_<VARIANT>_LIB` when set (ctest passes the libraries CMake
/// built); otherwise built here with cargo, once per test process (cargo's
/// own lock orders concurrent test processes; the first build of a variant
/// compiles its backend, about two minutes).
pub fn variant_lib(variant: &str) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<(String, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    if let Some(path) = std::env::var_os(format!("GB_{}_LIB", variant.to_uppercase())) {
        return PathBuf::from(path);
    }
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, path)) = built.iter().find(|(v, _)| v == variant) {
        return path.clone();
    }
    // lib_dir() is <target>/<profile>/deps.
    let profile_dir = lib_dir().parent().expect("target/<profile>").to_path_buf();
    let profile = profile_dir
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    let target = profile_dir.parent().expect("target").to_path_buf();
    let variants_target = target.join("variants");
    run_ok(
        Command::new(env!("CARGO"))
            .current_dir(crate_dir())
            .args(["build", "--lib", "--no-default-features"])
            .arg("--features")
            .arg(format!("backend-{BACKEND},global-allocator,{variant}"))
            .arg("--profile")
            .arg(if profile == "debug" { "dev" } else { &profile })
            .arg("--target-dir")
            .arg(&variants_target),
    );
    let out = variants_target.join(&profile).join("libgraphbit_alloc.so");
    let dir = variants_target.join(format!("{variant}-{BACKEND}"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("libgraphbit_alloc_{variant}.so"));
    std::fs::copy(&out, &path).unwrap();
    let link = dir.join(soname(&path));
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&path, &link).unwrap();
    built.push((variant.to_string(), path.clone()));
    path
}

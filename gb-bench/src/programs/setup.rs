//! Before the runs: each program's tool found (or hooks_bench compiled
//! against the library), the scripts written, the command lines filled in,
//! and the allocators each program runs under.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::catalogue::{command_line, How};
use super::Program;
use crate::command::Allocator;
use crate::contenders::Setup;
use crate::Options;

/// The scripts and hooks_bench, embedded so gb-bench runs from any
/// directory, and written into the work directory.
const SCRIPTS: [(&str, &str); 4] = [
    ("churn.lua", include_str!("../../programs/churn.lua")),
    ("churn.py", include_str!("../../programs/churn.py")),
    ("churn.pl", include_str!("../../programs/churn.pl")),
    ("churn.sql", include_str!("../../programs/churn.sql")),
];
const HOOKS_BENCH: &str = include_str!("../../hooks_bench.c");
const HOOKS_HEADER: &str = include_str!("../../../include/graphbit_alloc_hooks.h");

/// A program in PATH (or the first of `names` that is an absolute path
/// and exists).
fn find_tool(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    names.iter().find_map(|name| {
        if name.starts_with('/') {
            return Path::new(name).is_file().then(|| PathBuf::from(name));
        }
        std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// What `exe` links for malloc instead of glibc's, if anything (ldd).
fn own_allocator(exe: &Path) -> Option<String> {
    let out = Command::new("ldd").arg(exe).output().ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .find(|lib| {
            ["libjemalloc", "libmimalloc", "libtcmalloc"]
                .iter()
                .any(|a| lib.starts_with(a))
        })
        .map(str::to_string)
}

/// Compiles hooks_bench in `dir` against the staged shared library.
fn compile_hooks_bench(setup: &Setup, dir: &Path) -> Result<PathBuf, String> {
    let flags = Command::new("pkg-config")
        .args(["--cflags", "--libs", "lua5.4", "sqlite3"])
        .output()
        .map_err(|e| format!("cannot run pkg-config ({e}): apt-get install pkg-config"))?;
    if !flags.status.success() {
        return Err(format!(
            "pkg-config finds no lua5.4 or sqlite3 (apt-get install liblua5.4-dev libsqlite3-dev): {}",
            String::from_utf8_lossy(&flags.stderr).trim()
        ));
    }
    std::fs::write(dir.join("hooks_bench.c"), HOOKS_BENCH)
        .and_then(|()| std::fs::write(dir.join("graphbit_alloc_hooks.h"), HOOKS_HEADER))
        .map_err(|e| format!("cannot write hooks_bench.c: {e}"))?;
    let stage = setup.lib.driver_dir.join("lib");
    let exe = dir.join("hooks_bench");
    let mut cmd = Command::new(crate::contenders::compiler());
    cmd.args(["-O2", "-std=gnu11", "-Wall", "-Wextra"])
        .arg("-I")
        .arg(dir)
        .arg("-I")
        .arg(&setup.lib.driver_dir)
        .arg(dir.join("hooks_bench.c"))
        .arg("-o")
        .arg(&exe)
        .args(String::from_utf8_lossy(&flags.stdout).split_whitespace())
        .arg(format!("-L{}", stage.display()))
        .arg("-lgraphbit_alloc")
        .arg(format!("-Wl,-rpath,{}", stage.display()));
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run the C compiler: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(exe)
}

/// Finds each program's tool (or compiles hooks_bench), writes the scripts
/// into `dir` and fills in the command lines.
pub(super) fn prepare(setup: &Setup, programs: &mut [Program], dir: &Path) -> Result<(), String> {
    for (name, text) in SCRIPTS {
        std::fs::write(dir.join(name), text)
            .map_err(|e| format!("cannot write {}: {e}", dir.join(name).display()))?;
    }
    let mut hooks_bench: Option<Result<PathBuf, String>> = None;
    for p in programs.iter_mut() {
        match p.how {
            How::Hooks(_) => {
                let built = hooks_bench.get_or_insert_with(|| compile_hooks_bench(setup, dir));
                match built {
                    Ok(exe) => p.exe = exe.clone(),
                    Err(e) => p.info.unavailable = Some(format!("cannot build hooks_bench: {e}")),
                }
            }
            How::Tool(names, _, package) => match find_tool(names) {
                Some(exe) => p.exe = exe,
                None => {
                    p.info.unavailable = Some(format!(
                        "{} not installed (apt-get install {package})",
                        names[names.len() - 1]
                    ))
                }
            },
            How::Redis => match (
                find_tool(&["redis-server"]),
                find_tool(&["redis-benchmark"]),
            ) {
                (Some(server), Some(generator)) => {
                    p.exe = server;
                    p.load_generator = generator;
                }
                _ => {
                    p.info.unavailable = Some(
                        "redis-server or redis-benchmark not installed (apt-get install \
                         redis-server redis-tools)"
                            .into(),
                    )
                }
            },
        }
        if p.info.unavailable.is_some() {
            continue;
        }
        let mut shown = command_line(p, "default", Path::new(""));
        if let How::Hooks(workload) = p.how {
            shown[0] = "hooks_bench".into();
            shown[2] = match workload {
                "lua-states" => "default|gb|gb-heap|gb-heap-drop",
                _ => "default|gb",
            }
            .into();
        }
        p.info.command = shown
            .iter()
            .map(|a| match a.contains(' ') && p.how != How::Redis {
                true => format!("'{a}'"),
                false => a.clone(),
            })
            .collect::<Vec<_>>()
            .join(" ");
        if let (How::Tool(..) | How::Redis, Some(lib)) = (p.how, own_allocator(&p.exe)) {
            p.info.note = Some(format!(
                "{} links {lib}: its glibc row (no preload) is that allocator, and a preload \
                 replaces only what it exports of the malloc family{}",
                p.exe.display(),
                if p.how == How::Redis {
                    " (redis's mallctl and nallocx stay that library's: INFO's allocator_* \
                     figures; nallocx only spares a realloc)"
                } else {
                    ""
                }
            ));
        }
    }
    Ok(())
}

/// The contender of the hooks programs that runs hooks_bench through the
/// adapters (`gb_lua_alloc`, `gb_sqlite3_install`), with nothing preloaded.
pub(super) const GB_HOOKS: &str = "gb-hooks";
/// lua-states' contenders with a heap per Lua state: closed then destroyed,
/// and destroyed without lua_close.
const GB_HEAP: &str = "gb-heap";
const GB_HEAP_DROP: &str = "gb-heap-drop";

/// hooks_bench's mode for a contender: the adapters for gb-hooks, a heap
/// per state for gb-heap and gb-heap-drop, the program's own allocator for
/// glibc and the preloads.
pub(super) fn hooks_mode(contender: &str) -> &'static str {
    match contender {
        GB_HOOKS => "gb",
        GB_HEAP => "gb-heap",
        GB_HEAP_DROP => "gb-heap-drop",
        _ => "default",
    }
}

/// The contenders of a program: glibc, for the hooks programs gb-hooks,
/// then the override and Debian's preloads (not for the hooks programs in
/// the quick run, which keeps to about 10 s of programs). `--contenders`
/// keeps only those it names, and glibc, the reference.
pub(super) fn contenders_for(
    p: &Program,
    allocators: &[Allocator],
    opts: &Options,
) -> Vec<Allocator> {
    let mut list = allocators.to_vec();
    let hooks = matches!(p.how, How::Hooks(_));
    if hooks {
        let mut own = vec![GB_HOOKS];
        if p.how == How::Hooks("lua-states") {
            own.extend([GB_HEAP, GB_HEAP_DROP]);
        }
        for (i, id) in own.into_iter().enumerate() {
            list.insert(
                1 + i,
                Allocator {
                    id: id.into(),
                    preload: None,
                },
            );
        }
    }
    list.retain(|c| {
        !(hooks && opts.mode == "quick" && c.preload.is_some() && c.id != "gb-override")
    });
    list.retain(|c| {
        c.id == "glibc"
            || opts
                .only_contenders
                .as_ref()
                .map_or(true, |o| o.contains(&c.id))
    });
    list
}

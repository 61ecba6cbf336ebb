//! Reliability under threads, process-level faults and misuse, through C
//! programs linked against the shared and the static library. The programs
//! and their plain runs (exit 0: first_call_free, rlimit, fork, threads,
//! stress, misuse's correct use, checked mode on correct use, ...) are in
//! c_tests/programs.txt, which tests/c_programs.rs runs; this file takes the
//! programs it drives from there and checks what they print:
//! - `stress`: the multi-threaded stress with a chosen profile (the
//!   manifest's by default; the long one is `GB_STRESS_OPS=100000000 cargo
//!   test --release --test reliability stress -- --nocapture`);
//! - hostile and honoured backend environment variables, on `stress`;
//! - `misuse_ok`: checked mode (the checked library, linked or preloaded)
//!   catches each misuse with its exact message and SIGABRT;
//!   `misuse_wrong_size`: the default library has no checks.

mod common;
mod manifest;

use common::*;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;

/// The executable of the manifest's run `name`, linked against `link`.
fn program(name: &str, link: Link) -> std::path::PathBuf {
    manifest::program(&manifest::run_named(name).source, Some(link))
}

fn run_with_env(name: &str, env: &[(&str, &str)], args: &[&str]) -> Vec<String> {
    let mut outputs = Vec::new();
    for link in [Link::Shared, Link::Static] {
        let exe = program(name, link);
        let mut cmd = Command::new(&exe);
        cmd.args(args).envs(env.iter().copied());
        let out = run_ok(&mut cmd);
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        eprint!("{text}");
        outputs.push(text);
    }
    outputs
}

/// Short profile by default (both links); with `GB_STRESS_OPS` set (the long
/// profile) only the shared library runs, the static build being the same code.
#[test]
fn stress_threads_cross_thread_free() {
    let defaults = &manifest::run_named("stress").args;
    assert_eq!(defaults.len(), 3, "stress THREADS OPS SEED in the manifest");
    let long = std::env::var("GB_STRESS_OPS").ok();
    let ops = long.clone().unwrap_or_else(|| defaults[1].clone());
    let threads = std::env::var("GB_STRESS_THREADS").unwrap_or_else(|_| defaults[0].clone());
    let seed = std::env::var("GB_STRESS_SEED").unwrap_or_else(|_| defaults[2].clone());
    let links: &[Link] = if long.is_some() {
        &[Link::Shared]
    } else {
        &[Link::Shared, Link::Static]
    };
    for &link in links {
        let out = run_ok(Command::new(program("stress", link)).args([&threads, &ops, &seed]));
        let text = String::from_utf8_lossy(&out.stdout);
        println!("{link:?}: {text}");
        assert!(text.contains(" ok"), "{text}");
    }
}

/// Malformed, unknown and out-of-range values in the backends' environment
/// variables: the library keeps working (the backend may print a warning).
#[test]
fn hostile_backend_environment_is_survived() {
    let long = "x".repeat(100_000);
    let hostile: Vec<Vec<(&str, &str)>> = vec![
        vec![(
            "_RJEM_MALLOC_CONF",
            "narenas:0,tcache_max:-1,lg_extent_max_active_fit:999,,,:",
        )],
        vec![(
            "_RJEM_MALLOC_CONF",
            "no_such_option:true,dirty_decay_ms:99999999999999999999",
        )],
        vec![("_RJEM_MALLOC_CONF", &long)],
        vec![("MALLOC_CONF", "junk:true,abort_conf:true,no_such_option:1")],
        vec![
            ("MIMALLOC_ARENA_EAGER_COMMIT", "banana"),
            ("MIMALLOC_PURGE_DELAY", "-99999999999999999999"),
            ("MIMALLOC_ARENA_RESERVE", "-1"),
            ("MIMALLOC_SHOW_ERRORS", "maybe"),
            ("MIMALLOC_VERBOSE", ""),
            ("MIMALLOC_LARGE_OS_PAGES", "1"),
            ("MIMALLOC_RESERVE_OS_MEMORY", "99999999999999999999"),
        ],
        vec![
            ("MIMALLOC_NO_SUCH_OPTION", &long),
            ("MIMALLOC_EAGER_COMMIT", "2"),
        ],
        vec![
            ("MALLOC_ARENA_MAX", "0"),
            ("MALLOC_TOP_PAD_", "-5"),
            (
                "GLIBC_TUNABLES",
                "glibc.malloc.tcache_count=999999:glibc.malloc.mmap_threshold=1",
            ),
        ],
        vec![("GB_CHECK", "yes")],
    ];
    for env in &hostile {
        eprintln!(
            "environment: {:?}",
            env.iter()
                .map(|(k, v)| (k, &v[..v.len().min(60)]))
                .collect::<Vec<_>>()
        );
        for out in run_with_env("stress", env, &["2", "20000", "3"]) {
            assert!(out.contains(" ok"), "{out}");
        }
    }
}

/// The backend's own variable is honoured: jemalloc prints its statistics at
/// exit with `_RJEM_MALLOC_CONF=stats_print:true`; mimalloc prints its options
/// with `MIMALLOC_VERBOSE=1`; the system backend follows glibc's tunables,
/// and a bad `glibc.malloc.check` is simply ignored.
#[test]
fn backend_environment_is_honoured() {
    let (env, marker): (&[(&str, &str)], &str) = match BACKEND {
        "jemalloc" => (
            &[("_RJEM_MALLOC_CONF", "stats_print:true")],
            "jemalloc statistics",
        ),
        "mimalloc" => (&[("MIMALLOC_VERBOSE", "1")], "option 'verbose': 1"),
        _ => (&[("GLIBC_TUNABLES", "glibc.malloc.perturb=165")], " ok"),
    };
    for out in run_with_env("stress", env, &["2", "20000", "4"]) {
        assert!(out.contains(marker), "{marker:?} missing in:\n{out}");
    }
}

/// Each misuse: (case, message after "graphbit-alloc: FUNCTION(PTR"). The
/// pointer is the one the program printed.
fn misuse_cases() -> Vec<(&'static str, String)> {
    let foreign = if BACKEND == "system" {
        "not a live block (freed already, or not allocated by graphbit-alloc)"
    } else {
        "pointer not allocated by graphbit-alloc"
    };
    vec![
        ("foreign_free", format!("gb_free(PTR): {foreign}")),
        ("foreign_free_sized", format!("gb_free_sized(PTR, 100): {foreign}")),
        ("foreign_realloc", format!("gb_realloc(PTR): {foreign}")),
        ("foreign_free_aligned_sized", format!("gb_free_aligned_sized(PTR, 64, 100): {foreign}")),
        ("double_free", "gb_free(PTR): double free".into()),
        ("double_free_sized", "gb_free_sized(PTR, 100): double free".into()),
        ("realloc_after_free", "gb_realloc(PTR): double free".into()),
        ("double_free_aligned_sized", "gb_free_aligned_sized(PTR, 64, 100): double free".into()),
        ("wrong_size", "gb_free_sized(PTR, 99): wrong size: the block was allocated with size 100".into()),
        ("wrong_size_after_realloc", "gb_free_sized(PTR, 100): wrong size: the block was allocated with size 5000".into()),
        ("wrong_aligned_size", "gb_free_aligned_sized(PTR, 64, 99): wrong size: the block was allocated with size 100".into()),
        ("wrong_alignment", "gb_free_aligned_sized(PTR, 32, 100): wrong alignment: the block was allocated with alignment 64".into()),
        ("not_aligned_block", "gb_free_aligned_sized(PTR, 16, 100): wrong alignment: the block was allocated with no alignment (not by gb_aligned_alloc)".into()),
        ("aligned_free_sized", "gb_free_sized(PTR, 100): block from gb_aligned_alloc(64, 100): free it with gb_free_aligned_sized or gb_free".into()),
        ("interior_pointer", "gb_free(PTR): interior pointer: 16 bytes into a live block of size 100".into()),
        ("interior_pointer_large", "gb_free(PTR): interior pointer: 65536 bytes into a live block of size 1048576".into()),
    ]
}

/// Against the checked library, linked in (`-lgraphbit_alloc_checked`) or
/// preloaded into a program linked against the default library (the
/// drop-in way: LD_PRELOAD's definitions of the gb_* functions win).
#[test]
fn checked_mode_aborts_on_each_misuse_with_its_message() {
    let cases = misuse_cases();
    let mut detected = 0;
    let checked = variant_lib("checked");
    for how in ["linked", "preloaded"] {
        let exe = if how == "linked" {
            program("misuse_ok", Link::Checked)
        } else {
            program("misuse_wrong_size", Link::Shared)
        };
        let link = how;
        for (case, expected) in &cases {
            let mut cmd = Command::new(&exe);
            cmd.arg(case);
            if how == "preloaded" {
                cmd.env("LD_PRELOAD", &checked);
            }
            let out = cmd.output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            let ptr = stdout.lines().last().unwrap_or_default();
            let line = format!("graphbit-alloc: {}", expected.replace("PTR", ptr));
            assert_eq!(
                out.status.signal(),
                Some(libc::SIGABRT),
                "{case} ({link:?}): {stderr}"
            );
            assert_eq!(stderr.trim_end(), line, "{case} ({link:?})");
            detected += 1;
        }
    }
    println!(
        "checked mode ({BACKEND}): {detected} of {} misuse runs detected",
        2 * cases.len()
    );
}

/// The default library has no checked mode, whatever the environment says
/// (GB_CHECK=1 was the switch before checked mode became its own library): a
/// wrong size within the block's size class goes unnoticed. (Against the
/// checked library the same run aborts: `wrong_size` in the cases above.)
#[test]
fn default_library_has_no_checked_mode() {
    let run = manifest::run_named("misuse_wrong_size");
    assert!(
        run.env.is_empty(),
        "misuse_wrong_size runs with no environment"
    );
    for value in [None, Some("1")] {
        for link in [Link::Shared, Link::Static] {
            let exe = program(&run.name, link);
            let mut cmd = Command::new(&exe);
            cmd.args(&run.args).env_remove("GB_CHECK");
            if let Some(v) = value {
                cmd.env("GB_CHECK", v);
            }
            run_ok(&mut cmd);
        }
    }
}

/// jemalloc's "background thread creation failed" (the thread the built-in
/// options ask for, refused under `RLIMIT_NPROC`) is not written to the
/// host's stderr: a library writes there only when asked. The program runs
/// as `nobody` (root is exempt from `RLIMIT_NPROC`) with one process
/// allowed, so jemalloc cannot start its thread. Linked against the shared
/// library: the filter lives in the object of the built-in options
/// (src/backend/jemalloc_conf.c), which a static link pulls in only with
/// them, and a debug build's archive may leave both out.
#[test]
fn a_refused_background_thread_is_not_reported_on_stderr() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("gb-nproc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = program("api_contract", Link::Shared);
    let copy = dir.join("api_contract");
    std::fs::copy(&exe, &copy).unwrap();
    // The library beside it, under every name the loader may ask for.
    for entry in std::fs::read_dir(staged_lib_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("libgraphbit_alloc.so") {
            std::fs::copy(&path, dir.join(&name)).unwrap();
            std::fs::set_permissions(dir.join(&name), std::fs::Permissions::from_mode(0o755))
                .unwrap();
        }
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let mut cmd = if root {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "prlimit",
        ]);
        c
    } else {
        Command::new("prlimit")
    };
    cmd.arg("--nproc=1")
        .arg(&copy)
        .current_dir(&dir)
        .env("LD_LIBRARY_PATH", &dir);
    let out = cmd.output().expect("setpriv and prlimit (util-linux) run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    std::fs::remove_dir_all(&dir).ok();
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("<jemalloc>"), "{stderr}");
}

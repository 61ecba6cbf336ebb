//! Real programs among the workloads (issue 16), each checking its result:
//!   - through the hooks, with the project's adapters: gb-bench/hooks_bench.c
//!     (compiled here against the library) runs Lua 5.4 on
//!     gb-bench/programs/churn.lua and SQLite (inserts, an index, queries);
//!     glibc is the program's own allocator, `gb-hooks` the adapters
//!     (gb_lua_alloc, gb_sqlite3_install), the preloads replace the malloc
//!     the own allocator calls;
//!   - whole-process, under graphbit-alloc's override and each installed
//!     preload, as `gb-bench run` measures a command: the `lua5.4`
//!     interpreter on the same script, the `sqlite3` shell on
//!     gb-bench/programs/churn.sql, `python3` and `perl` on churn.py and
//!     churn.pl (churn.lua's algorithm with their own containers), and
//!     `redis-server` on a free loopback port, without persistence, driven
//!     by `redis-benchmark` (which is not preloaded).
//!
//! Each program's result is a function of its size alone, computed here
//! too (the churn checksum, the SQL results, the redis check keys read back);
//! for hooks_bench's SQLite, which draws its rows from its own generator,
//! glibc's run of the same repetition is the reference. A wrong result, an
//! exit unlike a clean one, or a server that does not answer is a FAILED
//! run. A program whose tool is not installed is reported as unavailable.

use std::fs::File;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::command;
use crate::contenders::Setup;
use crate::resp::{args, Redis, Reply};
use crate::stats::median;
use crate::Options;

const CHURN_LUA: &str = include_str!("../programs/churn.lua");
const CHURN_PY: &str = include_str!("../programs/churn.py");
const CHURN_PL: &str = include_str!("../programs/churn.pl");
const CHURN_SQL: &str = include_str!("../programs/churn.sql");
const HOOKS_BENCH: &str = include_str!("../hooks_bench.c");
const HOOKS_HEADER: &str = include_str!("../../include/graphbit_alloc_hooks.h");

/// How a program runs.
#[derive(Debug, Clone, Copy, PartialEq)]
enum How {
    /// hooks_bench's workload ("lua" or "sqlite").
    Hooks(&'static str),
    /// A tool from PATH on a script: its names (the first found runs), the
    /// script, the Debian packages that install the tool.
    Tool(&'static [&'static str], &'static str, &'static str),
    /// redis-server driven by redis-benchmark.
    Redis,
}

/// The programs: id, description, size at scale 1 (and its unit), how.
const PROGRAMS: &[(&str, &str, f64, &str, How)] = &[
    (
        "lua-hooks",
        "Lua 5.4 in gb-bench/hooks_bench.c on churn.lua: glibc = Lua's own l_alloc (realloc/free), \
         gb-hooks = lua_newstate(gb_lua_alloc), a preload = l_alloc on its malloc",
        1000.0,
        "rounds",
        How::Hooks("lua"),
    ),
    (
        "sqlite-hooks",
        "SQLite in gb-bench/hooks_bench.c (inserts, an index, lookups, GROUP BY, UPDATE, DELETE): \
         glibc = SQLite's own allocator (malloc), gb-hooks = gb_sqlite3_install()",
        150_000.0,
        "rows",
        How::Hooks("sqlite"),
    ),
    (
        "lua",
        "the lua5.4 interpreter on the same churn.lua",
        1000.0,
        "rounds",
        How::Tool(&["lua5.4"], "churn.lua", "lua5.4"),
    ),
    (
        "sqlite3",
        "the sqlite3 shell on churn.sql (recursive-CTE inserts, an index, a self-join, GROUP BY \
         with group_concat, UPDATE, DELETE)",
        150_000.0,
        "rows",
        How::Tool(&["sqlite3"], "churn.sql", "sqlite3"),
    ),
    (
        "python3",
        "python3 on churn.py: churn.lua's algorithm on str, list, tuple and dict",
        4000.0,
        "rounds",
        How::Tool(&["/usr/bin/python3", "python3"], "churn.py", "python3"),
    ),
    (
        "perl",
        "perl on churn.pl: churn.lua's algorithm on strings, arrays and hashes",
        2500.0,
        "rounds",
        How::Tool(&["perl"], "churn.pl", "perl"),
    ),
    (
        "redis",
        "redis-server on 127.0.0.1, no persistence, under the preload; redis-benchmark (not \
         preloaded): 13 tests (SET, GET, INCR, list, set, hash, sorted-set, MSET), 16 \
         connections, pipeline 16, 100 000 keys of 100 B",
        40_000.0,
        "requests per test",
        How::Redis,
    ),
];

/// redis-benchmark's tests, and the keys gb-bench writes before the load and
/// reads back after it.
const REDIS_TESTS: &str = "set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,mset";
const REDIS_CHECK_KEYS: usize = 2000;

/// One real program as selected for this run.
#[derive(Debug, Clone)]
pub struct Program {
    /// What the report keeps of it.
    pub info: ProgramInfo,
    how: How,
    /// The program's path (the tool, or hooks_bench) and, for redis, the
    /// load generator's.
    exe: PathBuf,
    load_generator: PathBuf,
}

/// One allocator for the programs.
#[derive(Debug, Clone)]
pub struct Contender {
    pub id: String,
    pub preload: Option<PathBuf>,
    /// hooks_bench's mode: the adapters ("gb") or the library's own
    /// allocator ("default").
    pub gb_hooks: bool,
}

/// One run of one program with one contender.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProgramRun {
    pub program: String,
    pub contender: String,
    pub repetition: usize,
    /// The process's wall time; for the server, the load's.
    pub wall_seconds: f64,
    /// User + system CPU of the process (the server's, whole life).
    pub cpu_seconds: f64,
    pub peak_rss_kib: f64,
    /// The server's RSS after the load (VmRSS), before it is stopped.
    pub end_rss_kib: Option<f64>,
    /// The load generator's requests per second, all tests together.
    pub requests_per_second: Option<f64>,
    /// What the program computed (its checksum, output or check).
    pub result: String,
    pub error: Option<String>,
}

/// What the report keeps of a program.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProgramInfo {
    pub id: String,
    pub description: String,
    /// Its size (rounds, rows, requests per test) and the unit.
    pub size: u64,
    pub unit: String,
    /// The command line, for the report (paths relative to the work dir).
    pub command: String,
    /// Why it cannot run here.
    pub unavailable: Option<String>,
    /// How the program allocates when nothing is preloaded, where that is
    /// not glibc's malloc.
    pub note: Option<String>,
}

/// Everything measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    pub programs: Vec<ProgramInfo>,
    pub runs: Vec<ProgramRun>,
    pub repetitions: usize,
}

/// The ids of the real programs, for `--workloads`.
pub fn ids() -> impl Iterator<Item = &'static str> {
    PROGRAMS.iter().map(|(id, ..)| *id)
}

/// The programs `--workloads` selects (all of them without it), sized for
/// `--scale`; none when it names only built-in workloads.
pub fn select(opts: &Options) -> Vec<Program> {
    PROGRAMS
        .iter()
        .filter(|(id, ..)| {
            opts.only_workloads
                .as_ref()
                .map_or(true, |o| o.iter().any(|w| w == id))
        })
        .map(|&(id, description, size, unit, how)| Program {
            info: ProgramInfo {
                id: id.to_string(),
                description: description.to_string(),
                size: ((size * opts.scale).round() as u64).max(match how {
                    How::Redis => 100,
                    _ => 1,
                }),
                unit: unit.to_string(),
                command: String::new(),
                unavailable: None,
                note: None,
            },
            how,
            exe: PathBuf::new(),
            load_generator: PathBuf::new(),
        })
        .collect()
}

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
fn prepare(setup: &Setup, programs: &mut [Program], dir: &Path) -> Result<(), String> {
    for (name, text) in [
        ("churn.lua", CHURN_LUA),
        ("churn.py", CHURN_PY),
        ("churn.pl", CHURN_PL),
        ("churn.sql", CHURN_SQL),
    ] {
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
        let mut shown = command_line(p, false, Path::new(""));
        if let How::Hooks(_) = p.how {
            shown[0] = "hooks_bench".into();
            shown[2] = "default|gb".into();
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

/// The command of a hooks or tool program (for redis: the server's).
fn command_line(p: &Program, gb_hooks: bool, dir: &Path) -> Vec<String> {
    let n = p.info.size.to_string();
    let exe = p.exe.display().to_string();
    let mode = if gb_hooks { "gb" } else { "default" }.to_string();
    let script = |name: &str| dir.join(name).display().to_string();
    match p.how {
        How::Hooks("lua") => vec![exe, "lua".into(), mode, n, script("churn.lua")],
        How::Hooks(workload) => vec![exe, workload.into(), mode, n],
        How::Tool(_, "churn.sql", _) => vec![
            exe,
            ":memory:".into(),
            "-cmd".into(),
            format!(".parameter set @n {n}"),
            format!(".read {}", script("churn.sql")),
        ],
        How::Tool(_, name, _) => vec![exe, script(name), n],
        How::Redis => vec![
            exe,
            "--port PORT --bind 127.0.0.1 --save '' --appendonly no".into(),
            format!(
                "; {} -h 127.0.0.1 -p PORT -n {n} -r 100000 -c 16 -P 16 -d 100 -t {REDIS_TESTS} --csv",
                p.load_generator.display()
            ),
        ],
    }
}

/// The contenders of a program: glibc, for the hooks programs gb-hooks,
/// then the override and Debian's preloads (not for the hooks programs in
/// the quick run, which keeps to about 10 s of programs). `--contenders`
/// keeps only those it names, and glibc, the reference.
fn contenders_for(
    p: &Program,
    allocators: &[command::Allocator],
    opts: &Options,
) -> Vec<Contender> {
    let mut list: Vec<Contender> = allocators
        .iter()
        .map(|a| Contender {
            id: a.id.clone(),
            preload: a.preload.clone(),
            gb_hooks: false,
        })
        .collect();
    if let How::Hooks(_) = p.how {
        list.insert(
            1,
            Contender {
                id: "gb-hooks".into(),
                preload: None,
                gb_hooks: true,
            },
        );
    }
    let hooks = matches!(p.how, How::Hooks(_));
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

/// Runs the selected programs (after the built-in workloads); None when
/// none are selected. Says on stderr which cannot run here.
pub fn measure(
    setup: &Setup,
    opts: &Options,
    programs: Vec<Program>,
) -> Result<Option<Results>, String> {
    if programs.is_empty() {
        return Ok(None);
    }
    let started = Instant::now();
    let results = run(setup, opts, programs)?;
    for p in results.programs.iter().filter(|p| p.unavailable.is_some()) {
        eprintln!(
            "gb-bench: {} unavailable: {}",
            p.id,
            p.unavailable.as_deref().unwrap_or("")
        );
    }
    eprintln!(
        "gb-bench: real programs measured in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(Some(results))
}

/// Reports each failed run on stderr; true when a graphbit-alloc one failed.
pub fn graphbit_failed(results: &Results) -> bool {
    let mut failed = false;
    for r in results.runs.iter().filter(|r| r.error.is_some()) {
        eprintln!(
            "gb-bench: FAILED {} / {} (repetition {}): {}",
            r.contender,
            r.program,
            r.repetition,
            r.error.as_deref().unwrap_or("")
        );
        failed |= r.contender.starts_with("gb-");
    }
    failed
}

/// Runs every available program with every contender, interleaved
/// (A B C A B C ...), `opts.reps` times.
pub fn run(setup: &Setup, opts: &Options, mut programs: Vec<Program>) -> Result<Results, String> {
    // A directory of this process's own: a parallel gb-bench (the tests)
    // must not compile over a hooks_bench that this one runs.
    let dir = setup
        .lib
        .driver_dir
        .join(format!("programs.{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let results = (|| -> Result<Results, String> {
        prepare(setup, &mut programs, &dir)?;
        let override_library = match setup.contenders.iter().find(|c| c.id == "gb-override") {
            Some(c) => match (&c.unavailable, &c.preload) {
                (None, Some(lib)) => Ok(lib.clone()),
                (reason, _) => Err(reason.clone().unwrap_or_default()),
            },
            // prepare() leaves it out when --contenders does not name it.
            None => Err("not among --contenders".into()),
        };
        let allocators = command::allocators(override_library);
        let plan: Vec<(&Program, Vec<Contender>)> = programs
            .iter()
            .filter(|p| p.info.unavailable.is_none())
            .map(|p| (p, contenders_for(p, &allocators, opts)))
            .collect();
        let total = opts.reps * plan.iter().map(|(_, c)| c.len()).sum::<usize>();
        let mut progress = crate::progress::Progress::new(total, opts.progress);
        let mut runs = Vec::with_capacity(total);
        for rep in 0..opts.reps {
            for (p, contenders) in &plan {
                for c in contenders {
                    progress.step(&format!("{} · {}", p.info.id, c.id));
                    runs.push(run_one(p, c, rep, &dir));
                }
            }
        }
        progress.finish();
        check_against_glibc(&programs, &mut runs);
        Ok(Results {
            programs: programs.iter().map(|p| p.info.clone()).collect(),
            runs,
            repetitions: opts.reps,
        })
    })();
    let _ = std::fs::remove_dir_all(&dir);
    results
}

/// What a correct run of `p` computes, when it is known beforehand.
fn expected(p: &Program) -> Option<String> {
    match p.how {
        How::Hooks("lua") | How::Tool(_, "churn.lua" | "churn.py" | "churn.pl", _) => {
            Some(churn_checksum(p.info.size).to_string())
        }
        How::Tool(_, "churn.sql", _) => Some(sqlite3_expected(p.info.size)),
        How::Redis => Some(format!("{REDIS_CHECK_KEYS} check keys intact")),
        _ => None,
    }
}

/// Runs where no result is known beforehand must compute glibc's.
fn check_against_glibc(programs: &[Program], runs: &mut [ProgramRun]) {
    for p in programs.iter().filter(|p| expected(p).is_none()) {
        let reference: Vec<(usize, Option<String>)> = runs
            .iter()
            .filter(|r| r.program == p.info.id && r.contender == "glibc")
            .map(|r| (r.repetition, r.error.is_none().then(|| r.result.clone())))
            .collect();
        for r in runs
            .iter_mut()
            .filter(|r| r.program == p.info.id && r.contender != "glibc" && r.error.is_none())
        {
            match reference.iter().find(|(rep, _)| *rep == r.repetition) {
                Some((_, Some(want))) if *want == r.result => {}
                Some((_, Some(want))) => {
                    r.error = Some(format!("computed {:?}, glibc {want:?}", r.result))
                }
                _ => r.error = Some("no glibc result to compare with".into()),
            }
        }
    }
}

/// The figures of one run.
struct Measured {
    wall: f64,
    cpu: f64,
    peak_rss_kib: f64,
    end_rss_kib: Option<f64>,
    requests_per_second: Option<f64>,
    result: String,
}

fn run_one(p: &Program, c: &Contender, repetition: usize, dir: &Path) -> ProgramRun {
    let measured = match p.how {
        How::Redis => run_redis(p, c, dir),
        _ => run_process(p, c, dir),
    };
    let mut run = ProgramRun {
        program: p.info.id.clone(),
        contender: c.id.clone(),
        repetition,
        wall_seconds: 0.0,
        cpu_seconds: 0.0,
        peak_rss_kib: 0.0,
        end_rss_kib: None,
        requests_per_second: None,
        result: String::new(),
        error: None,
    };
    match measured {
        Ok(m) => {
            if let Some(want) = expected(p).filter(|want| *want != m.result) {
                run.error = Some(format!("computed {:?}, not {want:?}", m.result));
            }
            run.wall_seconds = m.wall;
            run.cpu_seconds = m.cpu;
            run.peak_rss_kib = m.peak_rss_kib;
            run.end_rss_kib = m.end_rss_kib;
            run.requests_per_second = m.requests_per_second;
            run.result = m.result;
        }
        Err(e) => run.error = Some(e),
    }
    run
}

/// The last lines of a log file, for an error message.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" / ")
}

/// A hooks or tool program: one process, its stdout the result.
fn run_process(p: &Program, c: &Contender, dir: &Path) -> Result<Measured, String> {
    let argv = command_line(p, c.gb_hooks, dir);
    let log = dir.join(format!("{}-{}.stderr", p.info.id, c.id));
    let stderr = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr);
    if let Some(lib) = &c.preload {
        cmd.env("LD_PRELOAD", lib);
    }
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", argv[0]))?;
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    let sample = command::wait_measured(child, start)?;
    if !sample.status.success() {
        return Err(format!("{}: {}", sample.status, tail(&log)));
    }
    let result = match p.how {
        How::Tool(_, "churn.sql", _) => stdout.trim().to_string(),
        _ => stdout
            .split_whitespace()
            .skip_while(|w| *w != "checksum")
            .nth(1)
            .ok_or_else(|| format!("no checksum in the output: {:?}", stdout.trim()))?
            .to_string(),
    };
    Ok(Measured {
        wall: sample.wall,
        cpu: sample.cpu,
        peak_rss_kib: sample.peak_rss_kib,
        end_rss_kib: None,
        requests_per_second: None,
        result,
    })
}

/// The value of check key `i`: sizes from 12 B to over 500 B.
fn check_value(i: usize) -> Vec<u8> {
    let mut v = format!("gb-check-{i}-").into_bytes();
    v.resize(v.len() + i * 37 % 500, b'a' + (i % 26) as u8);
    v
}

/// Whether process `pid`, our child, has exited (without reaping it).
fn exited(pid: u32) -> bool {
    // SAFETY: an all-zero siginfo_t is a valid value to be overwritten.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: our own child; WNOWAIT leaves it to be reaped by wait4.
    let rc = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    // SAFETY: waitid filled in info (si_pid 0 when the child still runs).
    rc != 0 || unsafe { info.si_pid() } != 0
}

/// The server, killed when dropped before it was stopped.
struct Server(Option<Child>);

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A "VmXXX:  N kB" line of /proc/PID/status.
fn proc_status_kib(pid: u32, key: &str) -> Option<f64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim_start_matches(':').split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// redis-server under the contender's preload: started on a free loopback
/// port, check keys written, redis-benchmark's load, the check keys read
/// back, its RSS read, then stopped (SHUTDOWN NOSAVE).
fn run_redis(p: &Program, c: &Contender, dir: &Path) -> Result<Measured, String> {
    let port = TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free loopback port: {e}"))?
        .port();
    let log = dir.join(format!("redis-{}.log", c.id));
    let out = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(&p.exe);
    cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .args(["--logfile", "", "--dir"])
        .arg(dir)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    if let Some(lib) = &c.preload {
        cmd.env("LD_PRELOAD", lib);
    }
    let start = Instant::now();
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", p.exe.display()))?;
    let pid = child.id();
    let mut server = Server(Some(child));
    let failed = |what: String| format!("{what} (server log: {})", tail(&log));

    // Ready when it answers PING.
    let mut conn = loop {
        if exited(pid) {
            return Err(failed("redis-server exited at start-up".into()));
        }
        match Redis::connect(port).and_then(|mut r| {
            r.send(&[args(&[b"PING"])]).map_err(std::io::Error::other)?;
            r.reply()
                .map(|reply| (r, reply))
                .map_err(std::io::Error::other)
        }) {
            Ok((r, Reply::Status(s))) if s == "PONG" => break r,
            Ok((_, reply)) if start.elapsed() > Duration::from_secs(20) => {
                return Err(failed(format!("redis-server answers PING with {reply:?}")))
            }
            Err(e) if start.elapsed() > Duration::from_secs(20) => {
                return Err(failed(format!("redis-server not ready after 20 s: {e}")))
            }
            _ => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    let keys: Vec<Vec<u8>> = (0..REDIS_CHECK_KEYS)
        .map(|i| format!("gb-check:{i}").into_bytes())
        .collect();
    let sets: Vec<Vec<Vec<u8>>> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| args(&[b"SET", k, &check_value(i)]))
        .collect();
    for reply in conn.call(&sets).map_err(&failed)? {
        if reply != Reply::Status("OK".into()) {
            return Err(failed(format!("SET answered {reply:?}")));
        }
    }

    // The load, with a deadline.
    let n = p.info.size.to_string();
    let port_arg = port.to_string();
    let load_start = Instant::now();
    let mut generator = Command::new(&p.load_generator)
        .args(["-h", "127.0.0.1", "-p", &port_arg, "-n", &n, "-r", "100000"])
        .args([
            "-c",
            "16",
            "-P",
            "16",
            "-d",
            "100",
            "-t",
            REDIS_TESTS,
            "--csv",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", p.load_generator.display()))?;
    let deadline = Duration::from_secs(120) + Duration::from_secs_f64(p.info.size as f64 / 1000.0);
    loop {
        match generator.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if load_start.elapsed() > deadline => {
                let _ = generator.kill();
                let _ = generator.wait();
                return Err(failed(format!(
                    "redis-benchmark still running after {} s",
                    deadline.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("redis-benchmark: {e}")),
        }
    }
    let wall = load_start.elapsed().as_secs_f64();
    let output = generator
        .wait_with_output()
        .map_err(|e| format!("redis-benchmark: {e}"))?;
    let csv = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(failed(format!(
            "redis-benchmark {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    // "test","rps",...: every test ran n requests.
    let rates: Vec<f64> = csv
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(1))
        .filter_map(|v| v.trim_matches('"').parse::<f64>().ok())
        .filter(|r| *r > 0.0)
        .collect();
    let tests = REDIS_TESTS.split(',').count();
    if rates.len() != tests {
        return Err(failed(format!(
            "redis-benchmark reported {} of {tests} tests: {csv:?}",
            rates.len()
        )));
    }
    let requests_per_second = (tests as f64 * p.info.size as f64)
        / rates.iter().map(|r| p.info.size as f64 / r).sum::<f64>();

    // The check keys, read back.
    let gets: Vec<Vec<Vec<u8>>> = keys.iter().map(|k| args(&[b"GET", k])).collect();
    let replies = conn.call(&gets).map_err(&failed)?;
    let intact = replies
        .iter()
        .enumerate()
        .filter(|(i, r)| **r == Reply::Bulk(Some(check_value(*i))))
        .count();
    let peak_rss_kib = proc_status_kib(pid, "VmHWM").unwrap_or(f64::NAN);
    let end_rss_kib = proc_status_kib(pid, "VmRSS");

    // Stopped: SHUTDOWN closes the connection without a reply.
    conn.send(&[args(&[b"SHUTDOWN", b"NOSAVE"])])?;
    match conn.reply() {
        Err(_) => {}
        Ok(reply) => return Err(failed(format!("SHUTDOWN answered {reply:?}"))),
    }
    let stopping = Instant::now();
    while !exited(pid) {
        if stopping.elapsed() > Duration::from_secs(20) {
            return Err(failed(
                "redis-server still running 20 s after SHUTDOWN".into(),
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let child = server.0.take().expect("the server is running");
    let sample = command::wait_measured(child, start)?;
    if !sample.status.success() {
        return Err(failed(format!("redis-server {}", sample.status)));
    }
    Ok(Measured {
        wall,
        cpu: sample.cpu,
        peak_rss_kib,
        end_rss_kib,
        requests_per_second: Some(requests_per_second),
        result: format!("{intact} check keys intact"),
    })
}

/// churn.lua's checksum for `rounds` (churn.py and churn.pl compute the
/// same): per round, the text's length and the sum of the indices left in
/// the table (every index but those from 1 in steps of 3).
pub fn churn_checksum(rounds: u64) -> u64 {
    let kept: u64 = (1..=400u64).filter(|i| i % 3 != 1).sum();
    let digits = |v: u64| v.to_string().len() as u64;
    (1..=rounds).fold(0, |sum, r| {
        let text: u64 = (1..=400u64)
            .map(|i| digits(i * r) + 1 + (i * 7 + r) % 48)
            .sum::<u64>()
            + 399;
        (sum + kept + text) % 1_000_000_007
    })
}

/// What the sqlite3 shell prints for churn.sql with @n = `rows`.
pub fn sqlite3_expected(rows: u64) -> String {
    let name = |i: u64| {
        format!(
            "k{}-{}-{}",
            (i * 7919) % 1_000_003,
            i,
            "0".repeat((i % 64) as usize)
        )
    };
    let digits = |v: u64| v.to_string().len() as u64;
    let (mut names, mut payload, mut with_7) = (0, 0, 0);
    let (mut kept, mut kept_names, mut kept_payload) = (0, 0, 0);
    for i in 1..=rows {
        let len = name(i).len() as u64;
        names += len;
        payload += i % 200;
        if name(i).contains('7') {
            with_7 += 2 * len;
        }
        if i % 2 == 1 {
            kept += 1;
            kept_names += len + if i % 3 == 0 { 1 + digits(i % 100) } else { 0 };
            kept_payload += i % 200;
        }
    }
    let groups = rows.min(100);
    format!(
        "{rows}|{names}|{payload}\n{rows}\n{rows}\n{rows}|{}\n{with_7}\n{kept}|{kept_names}|{kept_payload}",
        names + rows - groups
    )
}

/// The "Real programs" table: per program and contender the medians of the
/// runs that passed, and their ratios to glibc's.
pub fn table(results: &Results) -> String {
    let mut text = format!(
        "\nReal programs ({} repetition{}, interleaved; medians; x: relative to glibc, below 1 \
         is faster or smaller, above 1 for req/s):\n",
        results.repetitions,
        if results.repetitions == 1 { "" } else { "s" }
    );
    for p in &results.programs {
        match &p.unavailable {
            Some(reason) => text += &format!("  {:<13} unavailable: {reason}\n", p.id),
            None => {
                text += &format!(
                    "  {:<13} {} {}: {}\n  {:<13} command: {}\n",
                    p.id, p.size, p.unit, p.description, "", p.command
                );
                if let Some(note) = &p.note {
                    text += &format!("  {:<13} note: {note}\n", "");
                }
            }
        }
    }
    text += &format!(
        "  {:<13} {:<12} {:>8} {:>8} {:>9} {:>9} {:>10} {:>7} {:>7} {:>7} {:>7} {:>7}  {}\n",
        "program",
        "contender",
        "wall s",
        "cpu s",
        "peak MiB",
        "end MiB",
        "req/s",
        "wall x",
        "cpu x",
        "peak x",
        "end x",
        "req/s x",
        "result"
    );
    type Field = fn(&ProgramRun) -> Option<f64>;
    let fields: [Field; 5] = [
        |r| Some(r.wall_seconds),
        |r| Some(r.cpu_seconds),
        |r| Some(r.peak_rss_kib),
        |r| r.end_rss_kib,
        |r| r.requests_per_second,
    ];
    for p in results.programs.iter().filter(|p| p.unavailable.is_none()) {
        let mut ids: Vec<&str> = Vec::new();
        for r in results.runs.iter().filter(|r| r.program == p.id) {
            if !ids.contains(&r.contender.as_str()) {
                ids.push(&r.contender);
            }
        }
        let medians = |id: &str| -> Vec<Option<f64>> {
            let ok: Vec<&ProgramRun> = results
                .runs
                .iter()
                .filter(|r| r.program == p.id && r.contender == id && r.error.is_none())
                .collect();
            fields
                .iter()
                .map(|f| median(ok.iter().filter_map(|r| f(r)).collect()))
                .collect()
        };
        let base = medians("glibc");
        for (row, id) in ids.iter().enumerate() {
            let m = medians(id);
            let runs: Vec<&ProgramRun> = results
                .runs
                .iter()
                .filter(|r| r.program == p.id && r.contender == *id)
                .collect();
            let failed: Vec<&&ProgramRun> = runs.iter().filter(|r| r.error.is_some()).collect();
            let result = match failed.first() {
                None => "ok".to_string(),
                Some(r) => format!(
                    "FAILED {}/{}: {}",
                    failed.len(),
                    runs.len(),
                    r.error.as_deref().unwrap_or("")
                ),
            };
            let show = |v: Option<f64>, scale: f64, precision: usize| match v {
                Some(v) => format!("{:.*}", precision, v / scale),
                None => "-".into(),
            };
            let ratio = |i: usize| match (m[i], base[i]) {
                (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
                _ => "-".into(),
            };
            text += &format!(
                "  {:<13} {:<12} {:>8} {:>8} {:>9} {:>9} {:>10} {:>7} {:>7} {:>7} {:>7} {:>7}  {}\n",
                if row == 0 { p.id.as_str() } else { "" },
                id,
                show(m[0], 1.0, 3),
                show(m[1], 1.0, 3),
                show(m[2], 1024.0, 1),
                show(m[3], 1024.0, 1),
                show(m[4], 1.0, 0),
                ratio(0),
                ratio(1),
                ratio(2),
                ratio(3),
                ratio(4),
                result
            );
        }
    }
    text += "  (wall and cpu: the whole process; for redis wall is the load's, cpu the server's \
             whole life, peak and end its VmHWM and VmRSS after the load)\n";
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The figures lua5.4 churn.lua printed (python3 and perl the same).
    #[test]
    fn churn_checksum_is_the_scripts() {
        assert_eq!(churn_checksum(10), 648660);
        assert_eq!(churn_checksum(200), 13070153);
        assert_eq!(churn_checksum(1000), 65641135);
    }

    /// sqlite-hooks has no result known beforehand: glibc's is the
    /// reference of its repetition, and without one nothing passes.
    #[test]
    fn hooks_sqlite_is_checked_against_glibc() {
        let mut opts = crate::default_options();
        opts.only_workloads = Some(vec!["sqlite-hooks".into()]);
        let programs = select(&opts);
        assert_eq!(programs.len(), 1);
        assert_eq!(expected(&programs[0]), None);
        let run = |contender: &str, repetition, result: &str, error: Option<&str>| ProgramRun {
            program: "sqlite-hooks".into(),
            contender: contender.into(),
            repetition,
            wall_seconds: 1.0,
            cpu_seconds: 1.0,
            peak_rss_kib: 1.0,
            end_rss_kib: None,
            requests_per_second: None,
            result: result.into(),
            error: error.map(String::from),
        };
        let mut runs = vec![
            run("glibc", 0, "42", None),
            run("gb-hooks", 0, "42", None),
            run("jemalloc", 0, "41", None),
            run("glibc", 1, "", Some("exit status: 1")),
            run("gb-hooks", 1, "42", None),
        ];
        check_against_glibc(&programs, &mut runs);
        let errors: Vec<Option<&str>> = runs.iter().map(|r| r.error.as_deref()).collect();
        assert_eq!(
            errors,
            [
                None,
                None,
                Some("computed \"41\", glibc \"42\""),
                Some("exit status: 1"),
                Some("no glibc result to compare with"),
            ]
        );
    }

    /// What sqlite3 3.40 printed for churn.sql.
    #[test]
    fn sqlite3_expected_is_the_shells() {
        assert_eq!(
            sqlite3_expected(100),
            "100|3761|5050\n100\n100\n100|3761\n4558\n50|1935|2500"
        );
        assert_eq!(
            sqlite3_expected(200_000),
            "200000|9166680|19900000\n200000\n200000\n200000|9366580\n12583704\n\
             100000|4730007|10000000"
        );
    }
}

//! Real programs among the workloads, each checking its result:
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
//! A wrong result (expected.rs says what each computes), an exit unlike a
//! clean one, or a server that does not answer is a FAILED run. A program
//! whose tool is not installed is reported as unavailable.
//!
//! A file per job: the catalogue (catalogue.rs), finding the tools and
//! compiling hooks_bench (setup.rs), the runs (process.rs, redis.rs), the
//! results they must compute (expected.rs) and the table (table.rs); this
//! file holds the data they share and runs them in order.

mod catalogue;
mod expected;
mod process;
mod redis;
mod setup;
mod table;

use std::path::PathBuf;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::command;
use crate::contenders::Setup;
use crate::Options;
use catalogue::How;

pub use catalogue::{ids, select};
pub use table::table;

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
        setup::prepare(setup, &mut programs, &dir)?;
        let override_library = match setup.contenders.iter().find(|c| c.id == "gb-override") {
            Some(c) => match (&c.unavailable, &c.preload) {
                (None, Some(lib)) => Ok(lib.clone()),
                (reason, _) => Err(reason.clone().unwrap_or_default()),
            },
            // prepare() leaves it out when --contenders does not name it.
            None => Err("not among --contenders".into()),
        };
        let allocators = command::allocators(override_library);
        let plan: Vec<(&Program, Vec<command::Allocator>)> = programs
            .iter()
            .filter(|p| p.info.unavailable.is_none())
            .map(|p| (p, setup::contenders_for(p, &allocators, opts)))
            .collect();
        let total = opts.reps * plan.iter().map(|(_, c)| c.len()).sum::<usize>();
        let mut progress = crate::progress::Progress::new(total, opts.progress);
        let mut runs = Vec::with_capacity(total);
        for rep in 0..opts.reps {
            for (p, contenders) in &plan {
                for c in contenders {
                    progress.step(&format!("{} · {}", p.info.id, c.id));
                    runs.push(process::run_one(p, c, rep, &dir));
                }
            }
        }
        progress.finish();
        expected::check_against_glibc(&programs, &mut runs);
        Ok(Results {
            programs: programs.iter().map(|p| p.info.clone()).collect(),
            runs,
            repetitions: opts.reps,
        })
    })();
    let _ = std::fs::remove_dir_all(&dir);
    results
}

//! The catalogue of real programs: what each one is, its size at scale 1,
//! how it runs (`How`) and its command line.

use std::path::{Path, PathBuf};

use super::{Program, ProgramInfo};
use crate::Options;

/// How a program runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum How {
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
        "lua-states",
        "Lua 5.4 in gb-bench/hooks_bench.c: short sandboxed states one after the other (base, \
         string, table and math libraries; a script that builds 150 strings and 60 tables), \
         glibc = luaL_newstate + lua_close, gb-hooks = lua_newstate(gb_lua_alloc, NULL) + \
         lua_close, gb-heap = lua_newstate(gb_lua_alloc, heap of 8 MiB) + lua_close + \
         gb_heap_destroy, gb-heap-drop = the same without lua_close (the heap frees the state)",
        20_000.0,
        "states",
        How::Hooks("lua-states"),
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
pub(super) const REDIS_TESTS: &str =
    "set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,mset";
pub(super) const REDIS_CHECK_KEYS: usize = 2000;

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

/// The command of a hooks or tool program (for redis: the server's);
/// `mode` is hooks_bench's (`setup::hooks_mode`).
pub(super) fn command_line(p: &Program, mode: &str, dir: &Path) -> Vec<String> {
    let n = p.info.size.to_string();
    let exe = p.exe.display().to_string();
    let mode = mode.to_string();
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

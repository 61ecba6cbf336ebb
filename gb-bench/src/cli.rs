//! The command line: `gb-bench [OPTIONS]`, `gb-bench run ... -- CMD`,
//! `gb-bench report FILE.json` and `gb-bench profile ... -- CMD` (its
//! options in profile.rs), parsed with clap, and checked against what
//! gb-bench knows (workload, program and contender ids; the command to run)
//! before anything is built.

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::Options;

const AFTER_HELP: &str = "\
Environment: CC picks the C compiler (default cc). Variables such as
_RJEM_MALLOC_CONF (graphbit-alloc's jemalloc), MALLOC_CONF (Debian's
jemalloc) or MIMALLOC_* reach every child process unchanged.";

/// graphbit-alloc against the system allocator and the raw backends, on this
/// machine.
///
/// Without a subcommand: the built-in workloads (driver.c) under every
/// contender, then real programs (lua, sqlite3, python3, perl, redis) under
/// the same preloads as `gb-bench run`; a table on stdout, and the report as
/// JSON and SVG when asked.
#[derive(Debug, Parser)]
#[command(
    name = "gb-bench",
    version,
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Sub>,
    #[command(flatten)]
    pub bench: BenchArgs,
}

#[derive(Debug, Subcommand)]
pub enum Sub {
    /// CMD under glibc, graphbit-alloc's override and each installed Debian
    /// preload (jemalloc, mimalloc, tcmalloc): wall, CPU, peak RSS, ratios
    /// to glibc; a run that exits unlike glibc's is reported as failed.
    Run(RunArgs),
    /// The table (and the chart) of a saved --json report, of a benchmark
    /// run or of `gb-bench run`.
    Report(ReportArgs),
    /// CMD under the profiling override (GB_PROFILE): the top call stacks
    /// by live bytes at exit and at the peak, the pprof files, flame graphs.
    Profile(crate::profile::ProfileArgs),
}

/// The options of the benchmark itself.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Short run: under a minute of measuring on 2 cores (the first run also
    /// builds the library's dlopen and override variants: a few minutes
    /// more, once).
    #[arg(long, conflicts_with = "smoke")]
    pub quick: bool,
    /// Tiny run for the test suite (figures meaningless).
    #[arg(long)]
    pub smoke: bool,
    /// Repetitions per (contender, workload) [default 5, quick 2, smoke 1].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub reps: Option<u32>,
    /// Workload size factor [default 1, quick 0.06, smoke 0.01].
    #[arg(long, value_name = "X", value_parser = factor)]
    pub scale: Option<f64>,
    /// Size factor of the timed workloads, server (60 s x X) and burst-idle
    /// [default: --scale, quick 0.02].
    #[arg(long, value_name = "X", value_parser = factor)]
    pub time_scale: Option<f64>,
    /// Base seed.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// Write the report: the machine, every raw figure, the medians, ratios
    /// and verdicts (what the table shows).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write bar charts of the speed and memory ratios.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Write line charts of RSS over time (and the live bytes) of the
    /// server and burst-idle workloads.
    #[arg(long, value_name = "FILE.svg")]
    pub plot_rss: Option<PathBuf>,
    /// Where libgraphbit_alloc.so and .a are (and, if built, the _dlopen and
    /// _override variants) [default: next to this executable, in deps/ or
    /// beside it].
    #[arg(long, value_name = "DIR")]
    pub lib_dir: Option<PathBuf>,
    /// Also measure another graphbit-alloc build (its shared library, linked
    /// at start-up), e.g. a TLS experiment.
    #[arg(long = "variant", value_name = "LABEL=DIR", value_parser = variant)]
    pub variants: Vec<(String, PathBuf)>,
    /// Only these contender ids (see the table).
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    pub contenders: Option<Vec<String>>,
    /// Only these workload ids (see the table); the real programs, run after
    /// them: lua-hooks, lua-states, sqlite-hooks, lua, sqlite3, python3, perl, redis.
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    pub workloads: Option<Vec<String>>,
    /// No progress on stderr (by default: a bar on a terminal, a plain line
    /// every few runs otherwise).
    #[arg(long)]
    pub no_progress: bool,
}

/// The options of `gb-bench run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Repetitions per allocator.
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub reps: u32,
    /// Write the report (every sample) as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write bar charts of wall time and peak RSS relative to glibc.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Write the table as CSV (one row per allocator: medians, spreads,
    /// ratios).
    #[arg(long, value_name = "FILE.csv")]
    pub export_csv: Option<PathBuf>,
    /// Write the table as a Markdown table.
    #[arg(long, value_name = "FILE.md")]
    pub export_markdown: Option<PathBuf>,
    /// Only these allocators (glibc, the reference, is always run):
    /// gb-override, jemalloc, mimalloc, tcmalloc.
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    pub allocators: Option<Vec<String>>,
    /// Take graphbit-alloc's override from DIR/libgraphbit_alloc_override.so
    /// (an install's lib/ or a CMake build directory) instead of building it.
    #[arg(long, value_name = "DIR", conflicts_with = "pkg_config")]
    pub lib_dir: Option<PathBuf>,
    /// Take graphbit-alloc's override from the installed package:
    /// `pkg-config --variable=preload graphbit-alloc-override`.
    #[arg(long)]
    pub pkg_config: bool,
    /// No progress on stderr.
    #[arg(long)]
    pub no_progress: bool,
    /// The command to measure, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// The options of `gb-bench report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A report written by `gb-bench --json` or `gb-bench run --json`.
    #[arg(value_name = "FILE.json")]
    pub file: PathBuf,
    /// Write its chart.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
}

/// A size factor: a number above 0.
fn factor(s: &str) -> Result<f64, String> {
    let x: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if x.is_nan() || x <= 0.0 || x.is_infinite() {
        return Err("must be a finite number above 0".into());
    }
    Ok(x)
}

/// `LABEL=DIR`, the label non-empty and made of [A-Za-z0-9_.-].
fn variant(s: &str) -> Result<(String, PathBuf), String> {
    let (label, dir) = s.split_once('=').ok_or("needs LABEL=DIR")?;
    if label.is_empty()
        || !label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    {
        return Err(format!("{label:?}: a label is letters, digits, _ . -"));
    }
    if dir.is_empty() {
        return Err("needs LABEL=DIR".into());
    }
    Ok((label.to_string(), dir.into()))
}

impl BenchArgs {
    /// The options, with the mode's defaults filled in.
    pub fn options(&self) -> Options {
        let mode = if self.quick {
            "quick"
        } else if self.smoke {
            "smoke"
        } else {
            "default"
        };
        // Quick: under a minute of measuring on 2 cores; the 7 contenders'
        // 64 server threads run 1.2 s each.
        let (reps, scale, time_scale) = match mode {
            "quick" => (2, 0.06, Some(0.02)),
            "smoke" => (1, 0.01, None),
            _ => (5, 1.0, None),
        };
        let scale = self.scale.unwrap_or(scale);
        Options {
            mode,
            reps: self.reps.map_or(reps, |n| n as usize),
            scale,
            time_scale: self.time_scale.or(time_scale).unwrap_or(scale),
            seed: self.seed,
            json: self.json.clone(),
            plot: self.plot.clone(),
            plot_rss: self.plot_rss.clone(),
            lib_dir: self.lib_dir.clone(),
            variants: self.variants.clone(),
            only_contenders: self.contenders.clone(),
            only_workloads: self.workloads.clone(),
            progress: !self.no_progress,
        }
    }
}

/// The contender ids a benchmark run can have, for `--contenders`.
pub fn contender_ids(opts: &Options) -> Vec<String> {
    let mut ids: Vec<String> = [
        "gb-static",
        "gb-shared",
        "gb-dlopen",
        "gb-override",
        "system",
        "jemalloc",
        "mimalloc",
    ]
    .map(String::from)
    .to_vec();
    for (label, _) in &opts.variants {
        for link in ["static", "shared", "dlopen"] {
            ids.push(format!("gb@{label}-{link}"));
        }
    }
    ids
}

/// Checks `--contenders`, `--workloads` and `--variant` against what
/// gb-bench knows, before anything is built (`--lib-dir` is checked by
/// `contenders::prepare`, first of all).
pub fn validate(opts: &Options, workload_ids: &[String]) -> Result<(), String> {
    let unknown = |given: &Option<Vec<String>>, known: &[String], what: &str| {
        let Some(given) = given else {
            return Ok(());
        };
        if given.iter().all(|g| g.is_empty()) {
            return Err(format!("--{what} names none"));
        }
        match given.iter().find(|g| !known.contains(g)) {
            Some(bad) => Err(format!(
                "--{what}: unknown id {bad:?}; known: {}",
                known.join(", ")
            )),
            None => Ok(()),
        }
    };
    unknown(&opts.only_contenders, &contender_ids(opts), "contenders")?;
    unknown(&opts.only_workloads, workload_ids, "workloads")?;
    for (label, dir) in &opts.variants {
        if !dir.join("libgraphbit_alloc.so").is_file() {
            return Err(format!(
                "--variant {label}: {} not found",
                dir.join("libgraphbit_alloc.so").display()
            ));
        }
    }
    Ok(())
}

/// The program `command` names, as `execvp` would find it: a path with a
/// slash as it is, else the first executable file of that name on PATH.
pub fn find_program(command: &str) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if command.is_empty() {
        return Err("the command is empty".into());
    }
    if command.contains('/') {
        let p = PathBuf::from(command);
        return if executable(&p) {
            Ok(p)
        } else if p.exists() {
            Err(format!("{command}: not an executable file"))
        } else {
            Err(format!("{command}: no such file"))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(command))
        .find(|p| executable(p))
        .ok_or_else(|| format!("{command}: not found on PATH"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn modes_fill_in_their_defaults() {
        let quick = Cli::try_parse_from(["gb-bench", "--quick"]).unwrap();
        let o = quick.bench.options();
        assert_eq!(
            (o.mode, o.reps, o.scale, o.time_scale),
            ("quick", 2, 0.06, 0.02)
        );
        let custom = Cli::try_parse_from(["gb-bench", "--scale", "0.5", "--reps", "3"]).unwrap();
        let o = custom.bench.options();
        assert_eq!((o.reps, o.scale, o.time_scale), (3, 0.5, 0.5));
    }

    #[test]
    fn bad_values_are_refused_by_the_parser() {
        for args in [
            &["gb-bench", "--reps", "0"][..],
            &["gb-bench", "--scale", "-1"],
            &["gb-bench", "--scale", "nan"],
            &["gb-bench", "--variant", "nolabel"],
            &["gb-bench", "--quick", "--smoke"],
            &["gb-bench", "run", "--reps", "2"],
            &["gb-bench", "report"],
        ] {
            assert!(Cli::try_parse_from(args).is_err(), "{args:?}");
        }
    }

    #[test]
    fn unknown_ids_are_refused_before_any_build() {
        let cli = Cli::try_parse_from(["gb-bench", "--workloads", "pair,nosuch"]).unwrap();
        let ids = vec!["pair".to_string()];
        let e = validate(&cli.bench.options(), &ids).unwrap_err();
        assert!(e.contains("\"nosuch\"") && e.contains("pair"), "{e}");
        let cli = Cli::try_parse_from(["gb-bench", "--contenders", "gb-shared,glibc"]).unwrap();
        let e = validate(&cli.bench.options(), &ids).unwrap_err();
        assert!(e.contains("\"glibc\""), "{e}");
        let cli = Cli::try_parse_from(["gb-bench", "--contenders", "gb-shared,system"]).unwrap();
        validate(&cli.bench.options(), &ids).unwrap();
    }

    #[test]
    fn the_program_is_found_as_execvp_would() {
        assert!(find_program("sh").is_ok());
        assert!(find_program("/nonexistent")
            .unwrap_err()
            .contains("no such file"));
        assert!(find_program("/etc/passwd")
            .unwrap_err()
            .contains("not an executable"));
        assert!(find_program("no-such-program-here").is_err());
    }
}

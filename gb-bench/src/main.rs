//! gb-bench: measures graphbit-alloc against the system allocator and the
//! raw backends (Debian's libjemalloc.so.2 and libmimalloc.so.2), side by
//! side, on this machine.
//!
//! How it works: the workloads live in one C program, `driver.c`,
//! embedded in this binary. gb-bench compiles it with the system C compiler
//! once per contender (graphbit-alloc linked static, linked shared and
//! dlopen-ed; the C library's malloc; each raw backend linked first so its
//! malloc replaces the C library's; graphbit-alloc's whole-process library,
//! `gb-override`, as LD_PRELOAD under a driver that calls the plain malloc
//! family). Every contender is called through the
//! same table of function pointers, so none pays a call the others do not.
//! Each (contender, workload, repetition) runs in a fresh process; peak RSS
//! comes from `wait4`. Contenders are interleaved (A B C A B C ...).
//! Real programs follow, in a table of their own (programs.rs): Lua and
//! SQLite through the adapters, and lua5.4, sqlite3, python3, perl and
//! redis-server under the same preloads as `gb-bench run`.
//!
//! The figures make one report (`report::Report`), which `--json` writes;
//! the table on stdout and the `--plot` chart are rendered from it alone,
//! and `gb-bench report FILE.json` renders a saved one again. A new family
//! of workloads adds its `run::Workload`s to the list `bench` measures and
//! its `run::Run`s to the runs; the report covers them.
//!
//! Usage: `cargo run --release -p gb-bench -- [--quick] [--json FILE]
//! [--plot FILE.svg]`; `--help` lists every option.

mod command;
mod contenders;
mod machine;
mod programs;
mod report;
mod run;
mod svg;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use contenders::Contender;
use run::{Run, Workload};

const HELP: &str = "\
gb-bench: graphbit-alloc against the system allocator and the raw backends

USAGE: gb-bench [OPTIONS]
       gb-bench run [--reps N] [--json FILE] [--plot FILE.svg] -- CMD [ARGS...]
                       CMD under glibc, graphbit-alloc's override and each
                       installed Debian preload (jemalloc, mimalloc,
                       tcmalloc): wall, CPU, peak RSS, ratios to glibc; a
                       run that exits unlike glibc's is reported as failed
       gb-bench report FILE.json [--plot FILE.svg]
                       the table (and the chart) of a saved --json report,
                       of a run or of `gb-bench run`
  --quick              short run: under a minute of measuring on 2 cores
                       (the first run also builds the library's dlopen and
                       override variants: a few minutes more, once)
  --smoke              tiny run for the test suite (figures meaningless)
  --reps N             repetitions per (contender, workload) [default 5, quick 2, smoke 1]
  --scale X            workload size factor [default 1, quick 0.06, smoke 0.01]
  --time-scale X       size factor of the timed workloads, server (60 s x X)
                       and burst-idle [default: --scale, quick 0.02]
  --seed N             base seed [default 1]
  --json FILE          write the report: the machine, every raw figure, the
                       medians, ratios and verdicts (what the table shows)
  --plot FILE.svg      write bar charts of the speed and memory ratios
  --lib-dir DIR        where libgraphbit_alloc.so and .a are [default: next to
                       this executable, in deps/ or beside it]
  --variant LABEL=DIR  also measure another graphbit-alloc build (its shared
                       library, linked at start-up), e.g. a TLS experiment
  --contenders A,B     only these contender ids (see the table)
  --workloads A,B      only these workload ids (see the table); the real
                       programs, run after them: lua-hooks, sqlite-hooks,
                       lua, sqlite3, python3, perl, redis
  --no-progress        no progress bar on stderr
  -h, --help           this text

Environment: CC picks the C compiler (default cc). Variables such as
_RJEM_MALLOC_CONF (graphbit-alloc's jemalloc), MALLOC_CONF (Debian's
jemalloc) or MIMALLOC_* reach every child process unchanged.
";

/// Command-line options.
#[derive(Debug, Clone)]
pub struct Options {
    pub mode: &'static str,
    pub reps: usize,
    pub scale: f64,
    /// The scale of the timed workloads (`Workload::timed`).
    pub time_scale: f64,
    pub seed: u64,
    pub json: Option<PathBuf>,
    pub plot: Option<PathBuf>,
    pub lib_dir: Option<PathBuf>,
    pub variants: Vec<(String, PathBuf)>,
    pub only_contenders: Option<Vec<String>>,
    pub only_workloads: Option<Vec<String>>,
    pub progress: bool,
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut opts = Options {
        mode: "default",
        reps: 0,
        scale: 0.0,
        time_scale: 0.0,
        seed: 1,
        json: None,
        plot: None,
        lib_dir: None,
        variants: Vec::new(),
        only_contenders: None,
        only_workloads: None,
        progress: true,
    };
    let mut it = args.iter();
    let value = |it: &mut std::slice::Iter<String>, name: &str| -> Result<String, String> {
        it.next()
            .cloned()
            .ok_or_else(|| format!("{name} needs a value"))
    };
    // A size factor: a number above 0.
    let factor = |it: &mut std::slice::Iter<String>, name: &str| -> Result<f64, String> {
        let x: f64 = value(it, name)?
            .parse()
            .map_err(|_| format!("{name} needs a number"))?;
        if x.is_nan() || x <= 0.0 {
            return Err(format!("{name} must be above 0"));
        }
        Ok(x)
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => opts.mode = "quick",
            "--smoke" => opts.mode = "smoke",
            "--reps" => {
                opts.reps = value(&mut it, arg)?
                    .parse()
                    .map_err(|_| "--reps needs a whole number")?;
                if opts.reps == 0 {
                    return Err("--reps must be at least 1".into());
                }
            }
            "--scale" => opts.scale = factor(&mut it, arg)?,
            "--time-scale" => opts.time_scale = factor(&mut it, arg)?,
            "--seed" => {
                opts.seed = value(&mut it, arg)?
                    .parse()
                    .map_err(|_| "--seed needs a whole number")?
            }
            "--json" => opts.json = Some(value(&mut it, arg)?.into()),
            "--plot" => opts.plot = Some(value(&mut it, arg)?.into()),
            "--lib-dir" => opts.lib_dir = Some(value(&mut it, arg)?.into()),
            "--variant" => {
                let v = value(&mut it, arg)?;
                let (label, dir) = v.split_once('=').ok_or("--variant needs LABEL=DIR")?;
                opts.variants.push((label.to_string(), dir.into()));
            }
            "--contenders" => {
                opts.only_contenders =
                    Some(value(&mut it, arg)?.split(',').map(String::from).collect())
            }
            "--workloads" => {
                opts.only_workloads =
                    Some(value(&mut it, arg)?.split(',').map(String::from).collect())
            }
            "--no-progress" => opts.progress = false,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option {other:?} (see --help)")),
        }
    }
    // Quick: under a minute of measuring on 2 cores; the 7 contenders' 64
    // server threads run 1.2 s each.
    let (reps, scale, time_scale) = match opts.mode {
        "quick" => (2, 0.06, Some(0.02)),
        "smoke" => (1, 0.01, None),
        _ => (5, 1.0, None),
    };
    if opts.reps == 0 {
        opts.reps = reps;
    }
    if opts.scale == 0.0 {
        opts.scale = scale;
    }
    if opts.time_scale == 0.0 {
        opts.time_scale = time_scale.unwrap_or(opts.scale);
    }
    Ok(opts)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run_command(&args[1..]),
        Some("report") => report_command(&args[1..]),
        _ => match parse_args(&args) {
            Ok(opts) => bench(&args, &opts),
            Err(e) if e.is_empty() => {
                print!("{HELP}");
                return ExitCode::SUCCESS;
            }
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("gb-bench: {e}");
            ExitCode::from(2)
        }
    }
}

/// `gb-bench run ... -- CMD`: the user's command under every allocator.
fn run_command(args: &[String]) -> Result<bool, String> {
    let opts = command::parse(args)?;
    let defaults = parse_args(&[]).expect("the defaults parse");
    command::run(&opts, contenders::override_library_for_run(&defaults))
}

/// `gb-bench report FILE.json [--plot FILE.svg]`: prints the table of a
/// saved report (either schema) and writes its chart, from the JSON alone.
fn report_command(args: &[String]) -> Result<bool, String> {
    const USAGE: &str = "usage: gb-bench report FILE.json [--plot FILE.svg]";
    let (file, plot) = match args {
        [file] => (file, None),
        [file, flag, svg] if flag == "--plot" => (file, Some(PathBuf::from(svg))),
        _ => return Err(USAGE.into()),
    };
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {file}: {e}"))?;
    let doc: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{file}: not JSON: {e}"))?;
    let schema = doc
        .get("schema")
        .and_then(|s| s.as_str())
        .unwrap_or("")
        .to_string();
    let bad = |e: serde_json::Error| format!("{file}: not a {schema} report: {e}");
    let (table, chart) = match schema.as_str() {
        report::SCHEMA => {
            let r: report::Report = serde_json::from_value(doc).map_err(bad)?;
            (report::table(&r), report::chart(&r))
        }
        command::SCHEMA => {
            let r: command::RunReport = serde_json::from_value(doc).map_err(bad)?;
            (command::table(&r), command::chart(&r))
        }
        other => {
            return Err(format!(
                "{file}: schema {other:?}; gb-bench reads {} and {}",
                report::SCHEMA,
                command::SCHEMA
            ))
        }
    };
    print!("{table}");
    if let Some(path) = &plot {
        write_file(path, &svg::render(&chart))?;
    }
    Ok(true)
}

/// Writes `text` to `path` and says so on stderr.
fn write_file(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    eprintln!("gb-bench: wrote {}", path.display());
    Ok(())
}

/// `--json` and `--plot`, where asked for: the report as JSON, its chart
/// as SVG.
pub fn write_outputs(
    report: &impl serde::Serialize,
    chart: &svg::Chart,
    json: &Option<PathBuf>,
    plot: &Option<PathBuf>,
) -> Result<(), String> {
    if let Some(path) = json {
        let mut doc = serde_json::to_string_pretty(report)
            .map_err(|e| format!("cannot serialize the report: {e}"))?;
        doc.push('\n');
        write_file(path, &doc)?;
    }
    if let Some(path) = plot {
        write_file(path, &svg::render(chart))?;
    }
    Ok(())
}

/// Runs the whole benchmark; Ok(false) when a graphbit-alloc run failed its
/// checks.
fn bench(args: &[String], opts: &Options) -> Result<bool, String> {
    let started = Instant::now();
    let started_utc = machine::utc_now();
    let setup = contenders::prepare(opts)?;
    let contenders: Vec<&Contender> = setup.contenders.iter().filter(|c| c.available()).collect();
    for c in setup.contenders.iter().filter(|c| !c.available()) {
        eprintln!(
            "gb-bench: {} unavailable: {}",
            c.label,
            c.unavailable.as_deref().unwrap_or("")
        );
    }
    let workloads: Vec<Workload> = run::workloads(machine::cpus())
        .into_iter()
        .filter(|w| {
            opts.only_workloads
                .as_ref()
                .map_or(true, |o| o.contains(&w.id))
        })
        .filter(|w| w.id != "jansson" || setup.jansson.is_ok())
        .collect();
    let programs = programs::select(opts);
    if contenders.is_empty() || (workloads.is_empty() && programs.is_empty()) {
        return Err("nothing to measure (check --contenders / --workloads)".into());
    }

    // A B C A B C ...: every repetition runs every workload for every
    // contender before the next repetition starts.
    let total = opts.reps * workloads.len() * contenders.len();
    let mut progress = run::Progress::new(total, opts.progress);
    let mut runs: Vec<Run> = Vec::with_capacity(total);
    for rep in 0..opts.reps {
        let seed = opts.seed.wrapping_add(rep as u64);
        for w in &workloads {
            for c in &contenders {
                progress.step(&format!("{} · {}", w.id, c.id));
                runs.push(run::run_one(c, w, rep, seed, w.scale(opts)));
            }
        }
    }
    progress.finish();
    run::check_checksums(&mut runs);
    let programs = programs::measure(&setup, opts, programs)?;

    let elapsed = started.elapsed().as_secs_f64();
    let report = report::Report::new(
        args,
        opts,
        started_utc,
        elapsed,
        setup,
        workloads,
        runs,
        programs,
    );
    print!("{}", report::table(&report));
    let failed: Vec<&Run> = report.runs.iter().filter(|r| r.error.is_some()).collect();
    for r in &failed {
        eprintln!(
            "gb-bench: FAILED {} / {} (repetition {}): {}",
            r.contender,
            r.workload,
            r.repetition,
            r.error.as_deref().unwrap_or("")
        );
    }
    write_outputs(&report, &report::chart(&report), &opts.json, &opts.plot)?;
    eprintln!("gb-bench: finished in {elapsed:.0} s");
    // A failed run of another allocator is a finding, reported above; a
    // failed run of graphbit-alloc is this project's failure.
    let graphbit_failed = failed.iter().any(|r| {
        report
            .measured()
            .any(|c| c.id == r.contender && c.kind == contenders::Kind::Graphbit)
    });
    let programs_failed = report
        .programs
        .as_ref()
        .is_some_and(programs::graphbit_failed);
    Ok(!graphbit_failed && !programs_failed)
}

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
//! Real programs follow, in a table of their own (programs/): Lua and
//! SQLite through the adapters, and lua5.4, sqlite3, python3, perl and
//! redis-server under the same preloads as `gb-bench run`.
//!
//! Where the driver counts the bytes it holds (server, burst-idle), the
//! report sets the peak RSS against them and judges the memory targets
//! (memory.rs); `--plot-rss` charts their RSS over time.
//!
//! The figures make one report (`report::Report`), which `--json` writes;
//! the table on stdout and the `--plot` chart are rendered from it alone,
//! and `gb-bench report FILE.json` renders a saved one again. A new family
//! of workloads adds its `run::Workload`s to the list `bench` measures and
//! its `run::Run`s to the runs; the report covers them.
//!
//! Usage: `cargo run --release -p gb-bench -- [--quick] [--json FILE]
//! [--plot FILE.svg]`; `--help` lists every option, `run --help`,
//! `report --help` and `profile --help` those of the subcommands (cli.rs;
//! `gb-bench profile -- CMD`, heap profiles of any program: profile.rs).

mod cli;
mod command;
mod contenders;
mod machine;
mod memory;
mod profile;
mod programs;
mod progress;
mod report;
mod requests;
mod resp;
mod run;
mod stats;
mod svg;
// The library's symbolizer, shared with its profiler (it uses nothing else
// of the library).
#[path = "../../src/profile/symbolize.rs"]
mod symbolize;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;

use contenders::Contender;
use run::{Run, Workload};

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
    /// `--plot-rss`: the RSS-over-time chart.
    pub plot_rss: Option<PathBuf>,
    pub lib_dir: Option<PathBuf>,
    pub variants: Vec<(String, PathBuf)>,
    pub only_contenders: Option<Vec<String>>,
    pub only_workloads: Option<Vec<String>>,
    pub progress: bool,
}

/// The options of a benchmark run with every default (no arguments).
pub fn default_options() -> Options {
    cli::Cli::parse_from(["gb-bench"]).bench.options()
}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match &cli.command {
        Some(cli::Sub::Run(args)) => command::run(args),
        Some(cli::Sub::Report(args)) => report_command(args),
        Some(cli::Sub::Profile(args)) => profile::profile(args),
        None => {
            let args: Vec<String> = std::env::args().skip(1).collect();
            let opts = cli.bench.options();
            let mut known: Vec<String> = run::workloads(machine::cpus())
                .into_iter()
                .map(|w| w.id)
                .collect();
            known.extend(programs::ids().map(String::from));
            cli::validate(&opts, &known).and_then(|()| bench(&args, &opts))
        }
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

/// `gb-bench report FILE.json [--plot FILE.svg]`: prints the table of a
/// saved report (either schema) and writes its chart, from the JSON alone.
fn report_command(args: &cli::ReportArgs) -> Result<bool, String> {
    let file = args.file.display();
    let text =
        std::fs::read_to_string(&args.file).map_err(|e| format!("cannot read {file}: {e}"))?;
    let doc: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{file}: not JSON: {e}"))?;
    let schema = doc
        .get("schema")
        .and_then(|s| s.as_str())
        .unwrap_or("")
        .to_string();
    let bad = |e: serde_json::Error| format!("{file}: not a {schema} report: {e}");
    let (table, chart) = match schema.as_str() {
        report::SCHEMA | report::SCHEMA_2 => {
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
    if let Some(path) = &args.plot {
        write_file(path, &svg::render(&chart))?;
    }
    Ok(true)
}

/// Writes `text` to `path` and says so on stderr.
pub fn write_file(path: &Path, text: &str) -> Result<(), String> {
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
    let mut progress = progress::Progress::new(total, opts.progress);
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
    if let Some(path) = &opts.plot_rss {
        write_file(path, &svg::render_lines(&report::rss_chart(&report)))?;
    }
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

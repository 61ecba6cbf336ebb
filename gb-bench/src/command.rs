//! `gb-bench run [OPTIONS] -- CMD [ARGS...]` (options: cli.rs):
//! the user's own command under every allocator that can replace the
//! process's `malloc`: glibc (no preload), graphbit-alloc's override for the
//! backend gb-bench was built with, and each of Debian's preloadable
//! allocators that is installed. Runs are interleaved (A B C A B C ...); each
//! reports wall time, user+system CPU and peak RSS (`wait4`). A contender
//! whose run ends differently from glibc's (another exit status, a signal)
//! is reported as failed, never as fast. The samples make a `RunReport`,
//! written as `--json`; the table and the chart are rendered from it.

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::cli::RunArgs;
use crate::machine::Machine;
use crate::stats::median;
use crate::svg::{Chart, Panel};

/// The `schema` of `gb-bench run`'s report.
pub const SCHEMA: &str = "gb-bench-run/1";

/// One allocator a process runs under: its id and the library to preload
/// (None: glibc's malloc; for the real programs' gb-hooks, the adapters).
#[derive(Clone)]
pub(crate) struct Allocator {
    pub(crate) id: String,
    pub(crate) preload: Option<PathBuf>,
}

/// One run of the command.
pub(crate) struct Sample {
    pub(crate) wall: f64,
    pub(crate) cpu: f64,
    pub(crate) peak_rss_kib: f64,
    pub(crate) status: ExitStatus,
}

/// The report of `gb-bench run`, as `--json` writes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    /// `SCHEMA`.
    pub schema: String,
    pub command: Vec<String>,
    pub repetitions: usize,
    pub machine: Machine,
    /// glibc first: the reference of every ratio and exit.
    pub allocators: Vec<AllocatorRuns>,
}

/// One allocator's samples, one per repetition.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AllocatorRuns {
    pub id: String,
    /// The library preloaded (None: glibc).
    pub preload: Option<PathBuf>,
    /// How each run ended ("exit status: 0", "signal: 11 (SIGSEGV)", ...).
    pub exits: Vec<String>,
    /// Whether every run ended as glibc's first run did.
    pub exited_as_glibc: bool,
    pub wall_seconds: Vec<f64>,
    pub cpu_seconds: Vec<f64>,
    pub peak_rss_kib: Vec<f64>,
}

impl AllocatorRuns {
    /// The medians of wall time, CPU time and peak RSS.
    fn medians(&self) -> [f64; 3] {
        [&self.wall_seconds, &self.cpu_seconds, &self.peak_rss_kib]
            .map(|v| median(v.clone()).unwrap_or(f64::NAN))
    }
}

/// Debian's preloadable allocators, where installed (`ldconfig -p`).
fn debian_preloads() -> Vec<Allocator> {
    let listing = Command::new("ldconfig")
        .arg("-p")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    [
        ("jemalloc", "libjemalloc.so.2"),
        ("mimalloc", "libmimalloc.so.2"),
        ("tcmalloc", "libtcmalloc_minimal.so.4"),
    ]
    .into_iter()
    .filter_map(|(id, so)| {
        let path = listing
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{so} ")))?
            .rsplit(" => ")
            .next()?
            .trim()
            .to_string();
        Some(Allocator {
            id: id.into(),
            preload: Some(path.into()),
        })
    })
    .collect()
}

/// Runs the command once with `allocator`, its output discarded.
fn run_once(command: &[String], allocator: &Allocator) -> Result<Sample, String> {
    let mut cmd = Command::new(&command[0]);
    cmd.args(&command[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(lib) = &allocator.preload {
        cmd.env("LD_PRELOAD", lib);
    }
    let start = Instant::now();
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", command[0]))?;
    wait_measured(child, start)
}

/// Waits for `child`, started at `start`, and measures it (wait4).
pub(crate) fn wait_measured(child: Child, start: Instant) -> Result<Sample, String> {
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value to be overwritten.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: our own child, not yet reaped; valid pointers.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    if pid < 0 {
        return Err(format!("wait4: {}", std::io::Error::last_os_error()));
    }
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    Ok(Sample {
        wall: start.elapsed().as_secs_f64(),
        cpu: seconds(usage.ru_utime) + seconds(usage.ru_stime),
        peak_rss_kib: usage.ru_maxrss as f64,
        status: ExitStatus::from_raw(status),
    })
}

/// glibc (no preload), graphbit-alloc's override (when there is one) and
/// Debian's preloads, in that order.
pub(crate) fn allocators(override_library: Result<PathBuf, String>) -> Vec<Allocator> {
    let mut allocators = vec![Allocator {
        id: "glibc".into(),
        preload: None,
    }];
    if let Ok(lib) = override_library {
        allocators.push(Allocator {
            id: "gb-override".into(),
            preload: Some(lib),
        });
    }
    allocators.extend(debian_preloads());
    allocators
}

/// The allocators `--allocators` can name (glibc, the reference, always runs).
pub const ALLOCATOR_IDS: &[&str] = &["glibc", "gb-override", "jemalloc", "mimalloc", "tcmalloc"];

/// A median below this many seconds is mostly process start-up and timer
/// resolution: its ratios say little about the allocator.
pub const SHORT_RUN_SECONDS: f64 = 0.05;

/// Where graphbit-alloc's override comes from, as the options say; checked
/// before anything runs or is built.
enum OverrideSource {
    /// A file found through --lib-dir or pkg-config.
    Found(PathBuf),
    /// Found or built as for the benchmark's gb-override contender.
    Build,
    /// Left out by --allocators.
    Skipped,
}

fn override_source(args: &RunArgs) -> Result<OverrideSource, String> {
    let wanted = args
        .allocators
        .as_ref()
        .map_or(true, |a| a.iter().any(|x| x == "gb-override"));
    let name = "libgraphbit_alloc_override.so";
    if let Some(dir) = &args.lib_dir {
        let lib = dir.join(name);
        if !lib.is_file() {
            return Err(format!(
                "--lib-dir: {} not found (an install's lib/ or a CMake build directory \
                 with the override variant)",
                lib.display()
            ));
        }
        return Ok(OverrideSource::Found(lib));
    }
    if args.pkg_config {
        let out = Command::new("pkg-config")
            .args(["--variable=preload", "graphbit-alloc-override"])
            .output()
            .map_err(|e| format!("--pkg-config: cannot run pkg-config: {e}"))?;
        let lib = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !out.status.success() || lib.is_empty() {
            return Err(format!(
                "--pkg-config: graphbit-alloc-override.pc gives no preload variable \
                 (installed? PKG_CONFIG_PATH?): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let lib = PathBuf::from(lib);
        if !lib.is_file() {
            return Err(format!(
                "--pkg-config: preload={} is not a file",
                lib.display()
            ));
        }
        return Ok(OverrideSource::Found(lib));
    }
    Ok(if wanted {
        OverrideSource::Build
    } else {
        OverrideSource::Skipped
    })
}

/// `gb-bench run`: checks the options, measures, prints the table, writes
/// the JSON, the chart and the exports if asked; Ok(true) when every
/// contender's runs ended as glibc's.
pub fn run(args: &RunArgs) -> Result<bool, String> {
    crate::cli::find_program(&args.command[0])?;
    if let Some(only) = &args.allocators {
        if let Some(bad) = only.iter().find(|a| !ALLOCATOR_IDS.contains(&a.as_str())) {
            return Err(format!(
                "--allocators: unknown allocator {bad:?}; known: {}",
                ALLOCATOR_IDS.join(", ")
            ));
        }
    }
    let override_library = match override_source(args)? {
        OverrideSource::Found(lib) => Ok(lib),
        OverrideSource::Build => {
            crate::contenders::override_library_for_run(&crate::default_options())
        }
        OverrideSource::Skipped => Err("left out by --allocators".to_string()),
    };
    if let Err(e) = &override_library {
        if args.allocators.is_none() || !e.starts_with("left out") {
            eprintln!("gb-bench: gb-override unavailable: {e}");
        }
    }
    let mut allocators = allocators(override_library);
    if let Some(only) = &args.allocators {
        allocators.retain(|a| a.id == "glibc" || only.contains(&a.id));
        for id in only {
            if !allocators.iter().any(|a| &a.id == id) {
                eprintln!("gb-bench: {id} is not installed here; left out");
            }
        }
    }
    let reps = args.reps as usize;
    let mut samples: Vec<Vec<Sample>> = allocators.iter().map(|_| Vec::new()).collect();
    let mut progress = crate::progress::Progress::new(reps * allocators.len(), !args.no_progress);
    for rep in 0..reps {
        for (i, a) in allocators.iter().enumerate() {
            progress.step(&format!("repetition {}/{reps} · {}", rep + 1, a.id));
            samples[i].push(run_once(&args.command, a)?);
        }
    }
    progress.finish();
    let reference = samples[0][0].status;
    let report = RunReport {
        schema: SCHEMA.into(),
        command: args.command.clone(),
        repetitions: reps,
        machine: Machine::describe(""),
        allocators: allocators
            .into_iter()
            .zip(&samples)
            .map(|(a, s)| {
                let list = |f: fn(&Sample) -> f64| s.iter().map(f).collect();
                AllocatorRuns {
                    id: a.id,
                    preload: a.preload,
                    exits: s.iter().map(|x| x.status.to_string()).collect(),
                    exited_as_glibc: s.iter().all(|x| x.status == reference),
                    wall_seconds: list(|x| x.wall),
                    cpu_seconds: list(|x| x.cpu),
                    peak_rss_kib: list(|x| x.peak_rss_kib),
                }
            })
            .collect(),
    };
    print!("{}", table(&report));
    crate::write_outputs(&report, &chart(&report), &args.json, &args.plot)?;
    if let Some(path) = &args.export_csv {
        crate::write_file(path, &export(&report, Export::Csv))?;
    }
    if let Some(path) = &args.export_markdown {
        crate::write_file(path, &export(&report, Export::Markdown))?;
    }
    Ok(report.allocators.iter().all(|a| a.exited_as_glibc))
}

/// The smallest and largest of `v`.
fn min_max(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
            (lo.min(*x), hi.max(*x))
        })
}

/// A format `export` writes.
#[derive(Clone, Copy, PartialEq)]
pub enum Export {
    Csv,
    Markdown,
}

/// The table's figures as CSV or as a Markdown table: one row per
/// allocator, medians with their min and max, and the ratios to glibc.
pub fn export(r: &RunReport, format: Export) -> String {
    let header = [
        "allocator",
        "wall_s_median",
        "wall_s_min",
        "wall_s_max",
        "cpu_s_median",
        "peak_rss_mib_median",
        "peak_rss_mib_min",
        "peak_rss_mib_max",
        "wall_vs_glibc",
        "cpu_vs_glibc",
        "rss_vs_glibc",
        "exited_as_glibc",
    ];
    let mut rows: Vec<Vec<String>> = Vec::new();
    let base = r.allocators.first().map(AllocatorRuns::medians);
    for a in &r.allocators {
        let [wall, cpu, rss] = a.medians();
        let (wall_lo, wall_hi) = min_max(&a.wall_seconds);
        let (rss_lo, rss_hi) = min_max(&a.peak_rss_kib);
        let ratio = |i: usize, x: f64| base.map_or(String::new(), |b| format!("{:.4}", x / b[i]));
        rows.push(vec![
            a.id.clone(),
            format!("{wall:.6}"),
            format!("{wall_lo:.6}"),
            format!("{wall_hi:.6}"),
            format!("{cpu:.6}"),
            format!("{:.3}", rss / 1024.0),
            format!("{:.3}", rss_lo / 1024.0),
            format!("{:.3}", rss_hi / 1024.0),
            ratio(0, wall),
            ratio(1, cpu),
            ratio(2, rss),
            a.exited_as_glibc.to_string(),
        ]);
    }
    let mut text = String::new();
    match format {
        Export::Csv => {
            text += &header.join(",");
            text.push('\n');
            for row in rows {
                // Ids are gb-bench's own ([a-z-]): no quoting needed.
                text += &row.join(",");
                text.push('\n');
            }
        }
        Export::Markdown => {
            text += &format!(
                "`gb-bench run -- {}` ({} repetitions, interleaved)\n\n",
                r.command.join(" "),
                r.repetitions
            );
            text += &format!("| {} |\n", header.join(" | "));
            text += &format!("|{}\n", "---|".repeat(header.len()));
            for row in rows {
                text += &format!("| {} |\n", row.join(" | "));
            }
        }
    }
    text
}

/// The text table of a `gb-bench run` report.
pub fn table(r: &RunReport) -> String {
    let mut text = format!(
        "gb-bench run: {} ({} repetitions, interleaved; medians, wall min-max)\n",
        r.command.join(" "),
        r.repetitions
    );
    text += &format!(
        "  {:<12} {:>10} {:>15} {:>10} {:>13} {:>9} {:>9} {:>9}  {}\n",
        "allocator",
        "wall s",
        "(min-max)",
        "cpu s",
        "peak RSS MiB",
        "wall/glibc",
        "cpu/glibc",
        "RSS/glibc",
        "exit"
    );
    let Some(glibc) = r.allocators.first() else {
        return text;
    };
    let base = glibc.medians();
    let reference = glibc.exits.first().map_or("", String::as_str);
    for a in &r.allocators {
        let [wall, cpu, rss] = a.medians();
        let status = if a.exited_as_glibc {
            reference.to_string()
        } else {
            format!(
                "FAILED: {} (glibc: {reference})",
                a.exits
                    .iter()
                    .find(|x| *x != reference)
                    .map_or("", String::as_str)
            )
        };
        let (lo, hi) = min_max(&a.wall_seconds);
        text += &format!(
            "  {:<12} {:>10.3} {:>15} {:>10.3} {:>13.1} {:>9.2}x {:>8.2}x {:>8.2}x  {}\n",
            a.id,
            wall,
            format!("({lo:.3}-{hi:.3})"),
            cpu,
            rss / 1024.0,
            wall / base[0],
            cpu / base[1],
            rss / base[2],
            status
        );
    }
    text += "  (x: time or memory relative to glibc; below 1 is faster or smaller)\n";
    if base[0] < SHORT_RUN_SECONDS {
        text += &format!(
            "  warning: glibc's median run took {:.1} ms, under {:.0} ms: process start-up and \
             timer resolution dominate, so the time ratios say little about the allocator; \
             give the command more work (a bigger input, a loop)\n",
            base[0] * 1e3,
            SHORT_RUN_SECONDS * 1e3
        );
    }
    text
}

/// `--plot`: each allocator's median wall time and peak RSS relative to
/// glibc's; none for an allocator whose runs ended unlike glibc's.
pub fn chart(r: &RunReport) -> Chart {
    let others = r.allocators.get(1..).unwrap_or_default();
    let base = r.allocators.first().map(AllocatorRuns::medians);
    let panel = |title: &str, measure: usize| Panel {
        title: title.to_string(),
        values: vec![others
            .iter()
            .map(|a| {
                let base = base?[measure];
                a.exited_as_glibc.then(|| a.medians()[measure] / base)
            })
            .collect()],
    };
    let mut row = r.command.join(" ");
    if row.chars().count() > 20 {
        row = row.chars().take(19).collect::<String>() + "…";
    }
    Chart {
        title: format!(
            "gb-bench run: {} ({} repetitions; medians, log scale)",
            r.command.join(" "),
            r.repetitions
        ),
        subtitle: r.machine.one_line(),
        series: others.iter().map(|a| a.id.clone()).collect(),
        rows: vec![row],
        panels: vec![
            panel("wall time vs glibc (left of 1x = faster)", 0),
            panel("peak RSS vs glibc (left of 1x = smaller)", 2),
        ],
    }
}

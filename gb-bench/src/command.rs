//! `gb-bench run [--reps N] [--json FILE] [--plot FILE.svg] -- CMD [ARGS...]`:
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

use crate::machine::Machine;
use crate::svg::{Chart, Panel};

/// The `schema` of `gb-bench run`'s report.
pub const SCHEMA: &str = "gb-bench-run/1";

/// One allocator: a label and the library to preload (None: glibc).
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

/// The options of `gb-bench run`.
pub struct RunOptions {
    reps: usize,
    json: Option<PathBuf>,
    plot: Option<PathBuf>,
    command: Vec<String>,
}

const USAGE: &str =
    "usage: gb-bench run [--reps N] [--json FILE] [--plot FILE.svg] -- CMD [ARGS...]";

/// Parses what follows `run`: `[--reps N] [--json FILE] [--plot FILE.svg] --
/// CMD [ARGS...]`.
pub fn parse(args: &[String]) -> Result<RunOptions, String> {
    let mut opts = RunOptions {
        reps: 5,
        json: None,
        plot: None,
        command: Vec::new(),
    };
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--" => {
                opts.command = args[i + 1..].to_vec();
                break;
            }
            "--reps" => {
                i += 1;
                opts.reps = args
                    .get(i)
                    .and_then(|v| v.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or("--reps needs a whole number of at least 1")?;
            }
            "--json" => {
                i += 1;
                opts.json = Some(args.get(i).ok_or("--json needs a file")?.into());
            }
            "--plot" => {
                i += 1;
                opts.plot = Some(args.get(i).ok_or("--plot needs a file")?.into());
            }
            other => return Err(format!("run: unknown option {other:?}; {USAGE}")),
        }
        i += 1;
    }
    if opts.command.is_empty() {
        return Err(USAGE.into());
    }
    Ok(opts)
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
        [&self.wall_seconds, &self.cpu_seconds, &self.peak_rss_kib].map(|v| median(v.clone()))
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

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
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

/// `gb-bench run`: measures, prints the table, writes the JSON and the
/// chart if asked; Ok(true) when every contender's runs ended as glibc's.
pub fn run(opts: &RunOptions, override_library: Result<PathBuf, String>) -> Result<bool, String> {
    if let Err(e) = &override_library {
        eprintln!("gb-bench: gb-override unavailable: {e}");
    }
    let allocators = allocators(override_library);
    let mut samples: Vec<Vec<Sample>> = allocators.iter().map(|_| Vec::new()).collect();
    for rep in 0..opts.reps {
        for (i, a) in allocators.iter().enumerate() {
            eprint!(
                "\rgb-bench: repetition {}/{} · {:<12}",
                rep + 1,
                opts.reps,
                a.id
            );
            samples[i].push(run_once(&opts.command, a)?);
        }
    }
    eprintln!();
    let reference = samples[0][0].status;
    let report = RunReport {
        schema: SCHEMA.into(),
        command: opts.command.clone(),
        repetitions: opts.reps,
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
    crate::write_outputs(&report, &chart(&report), &opts.json, &opts.plot)?;
    Ok(report.allocators.iter().all(|a| a.exited_as_glibc))
}

/// The text table of a `gb-bench run` report.
pub fn table(r: &RunReport) -> String {
    let mut text = format!(
        "gb-bench run: {} ({} repetitions, interleaved; medians)\n",
        r.command.join(" "),
        r.repetitions
    );
    text += &format!(
        "  {:<12} {:>10} {:>10} {:>13} {:>9} {:>9} {:>9}  {}\n",
        "allocator",
        "wall s",
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
        text += &format!(
            "  {:<12} {:>10.3} {:>10.3} {:>13.1} {:>9.2}x {:>8.2}x {:>8.2}x  {}\n",
            a.id,
            wall,
            cpu,
            rss / 1024.0,
            wall / base[0],
            cpu / base[1],
            rss / base[2],
            status
        );
    }
    text += "  (x: time or memory relative to glibc; below 1 is faster or smaller)\n";
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
